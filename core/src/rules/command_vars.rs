//! SW218: `$VAR` / `${VAR}` in a run step's `command` reaches the program as those very
//! characters. Commands are split into arguments like a shell would quote them, but no shell
//! runs (as in jet), so nothing expands them, unless the command itself starts a shell with
//! `-c` (`sh -c 'echo $HOME'`): then the script after `-c` is expanded, and only it.
//!
//! Not reported: `$$` (an escape in other tools' files), `\$` and `'$…'` (quoted literally, as a
//! shell would also leave them), `$1`, `$?` and other specials (rarely meant as variables).

use crate::model::Command;

/// Programs that expand variables in the script they get with `-c`.
const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"];
/// Programs that run their arguments as a command line: `env X=1 sh -c …`.
const WRAPPERS: &[&str] = &["env", "exec", "nice", "nohup", "time", "tini", "dumb-init", "--"];

/// One `$NAME` or `${…}` found in the command text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reference {
    /// Byte range in the command text.
    pub start: usize,
    pub end: usize,
    /// Which argument (0-based) of the split command it is in.
    pub word: usize,
}

impl Reference {
    pub fn text<'a>(&self, command: &'a str) -> &'a str {
        &command[self.start..self.end]
    }
}

/// Every reference that no shell will expand, given the service's `entrypoint` (an
/// entrypoint such as `[sh, -c]` makes the command's first argument the script).
pub(super) fn unexpanded(command: &str, entrypoint: Option<&Command>) -> Vec<Reference> {
    let refs = references(command);
    if refs.is_empty() {
        return refs;
    }
    let Ok(words) = crate::argv::split(command) else { return Vec::new() };
    let prefix = entrypoint.map_or_else(Vec::new, entrypoint_argv);
    let argv: Vec<&str> = prefix.iter().map(String::as_str).chain(words.iter().map(String::as_str)).collect();
    let script = shell_script_index(&argv).and_then(|i| i.checked_sub(prefix.len()));
    refs.into_iter().filter(|r| Some(r.word) != script).collect()
}

fn entrypoint_argv(e: &Command) -> Vec<String> {
    match e {
        Command::Line(s) => crate::argv::split(&s.value).unwrap_or_default(),
        Command::Argv(v) => v.iter().map(|s| s.value.clone()).collect(),
    }
}

/// The index in `argv` of the script a shell runs with `-c`, if the command starts a shell
/// (possibly through `env`, `exec`, … or `busybox sh`).
fn shell_script_index(argv: &[&str]) -> Option<usize> {
    let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
    let mut i = 0;
    // Skip wrappers, their options and `NAME=value` assignments.
    while i < argv.len()
        && (WRAPPERS.contains(&base(argv[i]).as_str()) || is_assignment(argv[i]) || argv[i].starts_with('-'))
    {
        i += 1;
    }
    if base(argv.get(i)?) == "busybox" {
        i += 1;
    }
    if !SHELLS.contains(&base(argv.get(i)?).as_str()) {
        return None;
    }
    // Options up to the first operand; `-c` may be combined (`-ec`), `-o NAME` takes a value.
    let mut seen_c = false;
    i += 1;
    while let Some(a) = argv.get(i) {
        match *a {
            "--" => {
                i += 1;
                break;
            }
            "-o" | "+o" => i += 2,
            a if a.starts_with('-') || a.starts_with('+') => {
                seen_c |= a.starts_with('-') && !a.starts_with("--") && a.contains('c');
                i += 1;
            }
            _ => break,
        }
    }
    (seen_c && i < argv.len()).then_some(i)
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// Scan the command as `shell-words` splits it (single quotes literal, `\` escapes, double
/// quotes keep `$`) and collect `$NAME` / `${…}` outside single quotes, with their word index.
fn references(command: &str) -> Vec<Reference> {
    #[derive(PartialEq)]
    enum Q {
        None,
        Single,
        Double,
    }
    let bytes = command.as_bytes();
    let mut out = Vec::new();
    let (mut q, mut word, mut in_word, mut i) = (Q::None, 0usize, false, 0usize);
    while i < bytes.len() {
        let b = bytes[i];
        if q == Q::None && matches!(b, b' ' | b'\t' | b'\n') {
            if in_word {
                word += 1;
                in_word = false;
            }
            i += 1;
            continue;
        }
        if q == Q::None && !in_word {
            match (b, bytes.get(i + 1)) {
                // A comment runs to the end of the line.
                (b'#', _) => {
                    i += bytes[i..].iter().position(|b| *b == b'\n').unwrap_or(bytes.len() - i);
                    continue;
                }
                // A line continuation between words.
                (b'\\', Some(b'\n')) => {
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        in_word = true;
        match (&q, b) {
            (Q::Single, b'\'') | (Q::Double, b'"') => q = Q::None,
            (Q::Single, _) => {}
            (Q::None, b'\'') => q = Q::Single,
            (Q::None, b'"') => q = Q::Double,
            (_, b'\\') => i += 1,
            (_, b'$') => {
                if let Some(end) = reference_end(bytes, i) {
                    out.push(Reference { start: i, end, word });
                    i = end;
                    continue;
                }
                // `$$`: skip both so the second does not start a reference.
                if bytes.get(i + 1) == Some(&b'$') {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The end of `$NAME` or `${…}` starting at `at`, if there is one.
fn reference_end(bytes: &[u8], at: usize) -> Option<usize> {
    let name_char = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    match bytes.get(at + 1)? {
        b'{' => {
            let close = bytes[at + 2..].iter().position(|b| *b == b'}')?;
            let name = &bytes[at + 2..at + 2 + close];
            (name.first().is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')).then_some(at + 3 + close)
        }
        b if b.is_ascii_alphabetic() || *b == b'_' => {
            Some(at + 1 + bytes[at + 1..].iter().take_while(|b| name_char(b)).count())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Spanned;

    fn found(command: &str) -> Vec<&str> {
        unexpanded(command, None).iter().map(|r| r.text(command)).collect::<Vec<_>>()
    }

    #[test]
    fn plain_and_braced_references() {
        assert_eq!(found("echo \"packaged build $CI_COMMIT_ID\""), ["$CI_COMMIT_ID"]);
        assert_eq!(found("./deploy.sh ${ENV} $REGION-x"), ["${ENV}", "$REGION"]);
        // Words are counted as `shell-words` splits them: comments and line continuations too.
        assert_eq!(found("sh \\\n -c 'echo $A' # $B"), Vec::<&str>::new());
    }

    #[test]
    fn escapes_quotes_and_specials_are_not_references() {
        for c in [
            "echo '$HOME'",
            "echo \\$HOME",
            "echo $$",
            "echo $$HOME",
            "echo $1 $? $@ $",
            "echo \"\\$X\"",
            "echo ${}",
            "price 5$",
        ] {
            assert_eq!(found(c), Vec::<&str>::new(), "{c}");
        }
    }

    #[test]
    fn a_shell_expands_its_script_only() {
        for c in [
            "sh -c 'echo $HOME'",
            "/bin/bash -c \"echo $HOME\"",
            "bash -ec 'echo ${HOME}'",
            "bash -o pipefail -c 'echo $HOME'",
            "env FOO=1 sh -c 'echo $FOO'",
            "busybox sh -c 'echo $X'",
            "/usr/bin/env -i bash -lc 'echo $X'",
        ] {
            assert_eq!(found(c), Vec::<&str>::new(), "{c}");
        }
        // Arguments after the script are $0, $1…: passed, not expanded.
        assert_eq!(found("sh -c 'echo $0' $NAME"), ["$NAME"]);
        // A shell running a script file does not expand its own arguments.
        assert_eq!(found("bash deploy.sh $TARGET"), ["$TARGET"]);
        assert_eq!(found("sh -x $SCRIPT"), ["$SCRIPT"]);
    }

    #[test]
    fn an_entrypoint_shell_makes_the_first_argument_the_script() {
        let sh = |s: &str| Spanned::new(s.to_string(), Default::default());
        let entry = Command::Argv(vec![sh("/bin/sh"), sh("-c")]);
        let c = "'echo $HOME' $OTHER";
        let left: Vec<_> = unexpanded(c, Some(&entry)).iter().map(|r| r.text(c).to_string()).collect();
        assert_eq!(left, ["$OTHER"]);
        let line = Command::Line(sh("sh -c"));
        assert!(unexpanded("'echo $X'", Some(&line)).is_empty());
        assert_eq!(unexpanded("echo $X", Some(&Command::Line(sh("tini --")))).len(), 1);
    }
}
