//! The guard behind tests/env/programs.tsv: every external program the test suites start is
//! either part of the minimal base system or installed by tests/env/, and listed there.
//!
//! A fresh machine once failed the README's test command because `lighttpd`, which
//! server/tests/support/git.rs starts, was installed by nothing: CI passed only because it ran on
//! a machine where it had been installed by hand. This test reads what the suites start —
//! `Command::new(…)` in server/tests, core/tests, xtask, the benches and the server code those
//! tests run, and the command words of the shell scripts in tests/env/ — and fails, naming the
//! program and where it is started, when programs.tsv does not list it.
//!
//! Reading source is a heuristic, so it is strict the other way round: a `Command::new` whose
//! program it cannot work out (a variable) must be acknowledged in [`DYNAMIC`], with what it
//! starts, so a new one makes this test fail until somebody looks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `Command::new(EXPR)` calls whose EXPR is not a string literal, a `const` of one, our own
/// binary or a tests/env tool variable: (file, EXPR, the programs it starts — checked against
/// programs.tsv like the others —, why it is a variable).
const DYNAMIC: &[(&str, &str, &[&str], &str)] = &[
    ("xtask/src/main.rs", "program", &[], "`run`/`run_with`/`has`'s first argument, read below as literals"),
    ("xtask/src/fuzz.rs", "&bin", &[], "a fuzz target that cargo-fuzz built"),
    ("xtask/src/fuzz.rs", "bin", &[], "a fuzz target that cargo-fuzz built"),
    ("server/tests/support/git.rs", "daemon", &["git-daemon"], "found with `git --exec-path`"),
    ("server/benches/runner.rs", "slipway", &[], "target/release/slipway"),
    ("server/tests/api_schema.rs", "&st", &["st"], "the path schemathesis.sh prints"),
    ("server/tests/ecr.rs", "moto", &["moto_server"], "the path moto.sh prints"),
    ("server/tests/notifications.rs", "aiosmtpd", &["aiosmtpd"], "the path aiosmtpd.sh prints"),
    ("server/tests/export.rs", "&actionlint", &["actionlint"], "the path export-tools.sh prints"),
    ("server/tests/export.rs", "bin", &["gitlab-ci-local"], "the path export-tools.sh prints"),
    ("server/tests/export_regex.rs", "&gitlab", &["gitlab-ci-local"], "the path export-tools.sh prints"),
    ("xtask/src/main.rs", "slipway", &[], "the slipway the README's Install section installed"),
];

/// Functions whose first argument is a program they start (xtask's helpers).
const SPAWNING_HELPERS: &[&str] = &["run(", "run_with(", "has("];

/// Shell words that are not programs: keywords, builtins, and what the scripts define.
const SHELL_WORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while", "until", "case", "esac", "function",
    "echo", "printf", "cd", "set", "local", "return", "exit", "export", "read", "[", "[[", "test", "true", "false",
    "shift", "mapfile", "trap", "source", ".", "eval", "exec", "wait", "command", "type", ":", "{", "}", "!", "break",
    "continue", "unset", "declare",
];

/// programs.tsv: program → source.
fn table() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("tests/env/programs.tsv")).unwrap();
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split_whitespace();
        let (Some(program), Some(source)) = (cols.next(), cols.next()) else {
            panic!("tests/env/programs.tsv:{}: needs a program and a source: {line}", i + 1)
        };
        let known = source == "base"
            || source == "xtask"
            || source == "not-a-test"
            || source.strip_prefix("apt:").is_some_and(|p| !p.is_empty())
            || source.strip_prefix("script:").is_some_and(|s| root().join("tests/env").join(s).is_file());
        assert!(known, "tests/env/programs.tsv:{}: unknown source `{source}` for {program}", i + 1);
        assert!(out.insert(program.to_string(), source.to_string()).is_none(), "{program} is listed twice");
    }
    out
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if !matches!(p.file_name().and_then(|n| n.to_str()), Some("target" | "node_modules" | "fixtures")) {
                files(&p, ext, out);
            }
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap().display().to_string()
}

/// The text between the parenthesis that ends `from` and its matching `)`.
fn call_argument(text: &str, from: usize) -> &str {
    let mut depth = 1;
    for (i, c) in text[from..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[from..from + i];
                }
            }
            _ => {}
        }
    }
    &text[from..]
}

/// The first string literal of `arg`, when `arg` starts with one.
fn literal(arg: &str) -> Option<&str> {
    let rest = arg.trim().strip_prefix('"')?;
    rest.split('"').next()
}

/// Where the tests/env scripts' `export VAR=…` lines point: VAR → the program's file name.
fn tool_variables() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut scripts = Vec::new();
    files(&root().join("tests/env"), "sh", &mut scripts);
    for s in scripts {
        for line in std::fs::read_to_string(&s).unwrap().lines() {
            let Some(rest) = line.split("echo \"export ").nth(1) else { continue };
            let Some((var, value)) = rest.split_once('=') else { continue };
            let value = value.trim_end_matches('"').trim_end_matches(')');
            let program = value.rsplit(['/', ' ']).next().unwrap_or(value);
            out.insert(var.to_string(), program.to_string());
        }
    }
    out
}

/// (program, where) for every `Command::new` and spawning helper in the Rust sources.
fn rust_programs(unacknowledged: &mut Vec<String>) -> Vec<(String, String)> {
    let tools = tool_variables();
    let mut sources = Vec::new();
    for dir in ["server/tests", "server/src", "server/benches", "core/tests", "xtask/src"] {
        files(&root().join(dir), "rs", &mut sources);
    }
    let mut out = Vec::new();
    for path in sources {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = rel(&path);
        let line_of = |at: usize| text[..at].lines().count().max(1);
        let consts: BTreeMap<&str, &str> = text
            .lines()
            .filter_map(|l| {
                let l = l.trim().strip_prefix("const ")?;
                let (name, value) = l.split_once(": &str = ")?;
                Some((name, literal(value)?))
            })
            .collect();
        let mut calls: Vec<(usize, &str)> =
            text.match_indices("Command::new(").map(|(i, m)| (i + m.len(), m)).collect();
        if file.starts_with("xtask/") {
            for helper in SPAWNING_HELPERS {
                calls.extend(
                    text.match_indices(helper)
                        .filter(|(i, _)| {
                            // A call, not the definition (`fn run(`) or a longer name (`cargo_run(`).
                            !text[..*i].ends_with("fn ")
                                && !text[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                        })
                        .map(|(i, m)| (i + m.len(), m)),
                );
            }
        }
        for (at, what) in calls {
            let arg = call_argument(&text, at);
            let arg = arg.split(',').next().unwrap_or(arg).trim();
            let here = format!("{file}:{}", line_of(at));
            let program = if arg.contains("CARGO_BIN_EXE_") {
                continue; // our own binary
            } else if let Some(l) = literal(arg) {
                l.to_string()
            } else if let Some(l) = consts.get(arg) {
                l.to_string()
            } else if let Some((_, p)) = tools.iter().find(|(var, _)| arg.contains(&format!("\"{var}\""))) {
                p.clone()
            } else if let Some((_, _, programs, _)) = DYNAMIC.iter().find(|(f, e, ..)| *f == file && *e == arg) {
                out.extend(programs.iter().map(|p| (p.to_string(), here.clone())));
                continue;
            } else if what != "Command::new(" {
                continue;
            } else {
                unacknowledged.push(format!("{here}: Command::new({arg})"));
                continue;
            };
            out.push((program, here));
        }
    }
    out
}

/// `line` with each quoted text replaced by `$Q` (a word that is not a program), except the
/// command substitutions (`$(…)`) inside double quotes, which are commands too and stay, each
/// as a command of its own.
fn unquote(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let (mut single, mut double) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '\'' if !double => {
                single = !single;
                if single {
                    out.push_str("$Q");
                }
            }
            '"' if !single => {
                double = !double;
                if double {
                    out.push_str("$Q");
                }
            }
            '$' if double && chars.peek() == Some(&'(') => {
                chars.next();
                let mut depth = 1;
                out.push_str(" ; ");
                for c in chars.by_ref() {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    if depth == 0 {
                        break;
                    }
                    out.push(c);
                }
                // The rest of the quoted word continues the outer command: a word, not a command.
                out.push_str(" ; $Q");
            }
            _ if single || double => {}
            _ => out.push(c),
        }
    }
    out
}

/// The words of `line` that stand where a shell starts a command.
fn command_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let line = unquote(line);
    // Split at the places a new command starts; `$(` and `(` open one too.
    let spaced =
        line.replace("$(", " ; ").replace("&&", " ; ").replace("||", " ; ").replace(['|', '(', ')', '`'], " ; ");
    for segment in spaced.split(';') {
        let mut words = segment.split_whitespace().peekable();
        // Leading keywords and negation do not start a program; assignments neither.
        while let Some(w) = words.peek() {
            if matches!(*w, "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "!" | "{" | "exec" | "nohup")
                || (w.contains('=') && !w.starts_with('=') && !w.starts_with('-'))
            {
                words.next();
            } else {
                break;
            }
        }
        let Some(first) = words.next() else { continue };
        // `command -v PROG` and `have PROG`/`need PROG…` name programs the script needs.
        if first == "command" && words.peek() == Some(&"-v") {
            words.next();
            out.extend(words.next().map(str::to_string));
            continue;
        }
        if first == "need" || first == "have" {
            out.extend(words.filter(|w| !w.starts_with('"') && !w.starts_with('$')).map(str::to_string));
            continue;
        }
        if first == "env" {
            if let Some(w) = words.find(|w| !w.contains('=') && !w.starts_with('-')) {
                out.push(w.to_string());
            }
            continue;
        }
        out.push(first.to_string());
    }
    out
}

/// (program, where) for the command words of the shell scripts in tests/env/, skipping
/// comments, here-documents, builtins, the functions they define and variable expansions.
fn shell_programs() -> Vec<(String, String)> {
    let mut scripts = Vec::new();
    files(&root().join("tests/env"), "sh", &mut scripts);
    let mut defined: BTreeSet<String> = BTreeSet::new();
    for s in &scripts {
        for l in std::fs::read_to_string(s).unwrap().lines() {
            if let Some(name) = l.trim().split_once("() {").map(|(n, _)| n) {
                defined.insert(name.to_string());
            }
        }
    }
    let mut out = Vec::new();
    for s in &scripts {
        let text = std::fs::read_to_string(s).unwrap();
        let mut heredoc: Option<String> = None;
        let mut in_case = false;
        for (i, raw) in text.lines().enumerate() {
            if let Some(end) = &heredoc {
                if raw.trim() == end {
                    heredoc = None;
                }
                continue;
            }
            let line = raw.trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some((_, rest)) = line.split_once("<<") {
                let end = rest.trim_start_matches('-').trim().trim_matches(['\'', '"']);
                heredoc = Some(end.split_whitespace().next().unwrap_or("").to_string());
            }
            let line = line.split(" #").next().unwrap_or(line);
            // `case` patterns (`/*)`) are not commands; the body after `)` is.
            if line.starts_with("case ") {
                in_case = true;
                continue;
            }
            if line == "esac" {
                in_case = false;
                continue;
            }
            let line = if in_case { line.split_once(')').map_or(line, |(_, body)| body) } else { line };
            for w in command_words(line) {
                let w = w.trim_matches(['"', '\'']);
                if w.is_empty()
                    || w.starts_with('$')
                    || w.starts_with('-')
                    || w.starts_with('>')
                    || w.starts_with('<')
                    || w.chars().next().is_some_and(|c| c.is_ascii_digit())
                    || SHELL_WORDS.contains(&w)
                    || defined.contains(w)
                    || w.ends_with(";;")
                {
                    continue;
                }
                out.push((w.to_string(), format!("{}:{}", rel(s), i + 1)));
            }
        }
    }
    out
}

#[test]
fn every_program_the_tests_start_is_installed_by_tests_env() {
    let table = table();
    let mut unacknowledged = Vec::new();
    let mut started = rust_programs(&mut unacknowledged);
    started.extend(shell_programs());
    let listed = |p: &str| {
        table.contains_key(p)
            || table.keys().any(|k| k.starts_with('/') && Path::new(k).file_name().is_some_and(|n| n == p))
    };
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (program, at) in &started {
        if !listed(program) {
            missing.entry(program.clone()).or_default().push(at.clone());
        }
    }
    let report: Vec<String> = missing.iter().map(|(p, at)| format!("  {p}  (started at {})", at.join(", "))).collect();
    assert!(
        report.is_empty(),
        "programs the tests start that tests/env/programs.tsv does not list (add each with its source — \
         `base` only if a fresh machine has it, else `apt:PACKAGE` so tests/env/lib.sh installs it):\n{}",
        report.join("\n")
    );
    assert!(
        unacknowledged.is_empty(),
        "Command::new with a program this test cannot read; add it to DYNAMIC in {} with what it starts:\n  {}",
        file!(),
        unacknowledged.join("\n  ")
    );
}

#[test]
fn the_scan_finds_what_it_must() {
    // The guard is only as good as its reading: these are started today and must be seen.
    let mut ignored = Vec::new();
    let started: BTreeSet<String> =
        rust_programs(&mut ignored).into_iter().chain(shell_programs()).map(|(p, _)| p).collect();
    for p in [
        "lighttpd",
        "chromedriver",
        "/usr/sbin/sshd",
        "nvim",
        "check-jsonschema",
        "dockerd",
        "docker-registry",
        "htpasswd",
        "npm",
        "trunk",
    ] {
        assert!(started.contains(p), "the scan no longer finds `{p}`; found: {started:?}");
    }
    // And it must not take a here-document's lines or a builtin for programs.
    for p in ["createLinter", "version:", "echo", "local"] {
        assert!(!started.contains(p), "the scan took `{p}` for a program");
    }
}

#[test]
fn every_apt_program_is_installed_by_up_sh() {
    // up.sh's `need` with no arguments installs every apt: program of the table; nothing else
    // in tests/env/ may call apt-get (the list would drift again).
    let up = std::fs::read_to_string(root().join("tests/env/up.sh")).unwrap();
    assert!(up.lines().any(|l| l.trim() == "need"), "tests/env/up.sh must call `need` (all apt: programs)");
    let mut scripts = Vec::new();
    files(&root().join("tests/env"), "sh", &mut scripts);
    for s in scripts.iter().filter(|s| !s.ends_with("lib.sh")) {
        let text = std::fs::read_to_string(s).unwrap();
        let apt_lines: Vec<&str> =
            text.lines().filter(|l| !l.trim_start().starts_with('#') && l.contains("apt-get")).collect();
        assert!(apt_lines.is_empty(), "{} calls apt-get itself; use lib.sh's `need`: {apt_lines:?}", rel(s));
    }
}
