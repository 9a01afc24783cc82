//! No two sibling modules import each other, directly or round a longer loop, in `core/`,
//! `server/` and `frontend/`.
//!
//! A loop between siblings (`export/github.rs` ↔ `export/gitlab.rs`, `model` ↔ `rules`) means
//! neither can be read, tested or moved without the other; the fix is usually a third module
//! below both. A module and its own parent referring to each other (`super::Cx` in a child the
//! parent declares) is how Rust modules work and is not a loop.
//!
//! How: every `crate::…`, `super::…` and `self::…` path in a crate's `src/` (grouped `use`
//! lists included; comments and the `#[cfg(test)]` module at the end of a file left out) is an
//! edge from the file's module to the module it names, counted between the two siblings under
//! their nearest common parent. Reading source is a heuristic; it errs towards finding edges.
//!
//! Loops that are known and due to go (issue "A server floor that is easy to change") are in
//! [`KNOWN`]: a new loop fails the test, and so does a known one that is gone (strike it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// (crate folder, the loop's modules sorted and joined with " ↔ ", what removes it).
const KNOWN: &[(&str, &str, &str)] = &[];

/// Arrows that must not exist even without a loop: (crate folder, from, to, why). A lower
/// layer that names a higher one is the first half of a loop.
const FORBIDDEN: &[(&str, &str, &str, &str)] = &[(
    "server",
    "store",
    "runs",
    "the store keeps what the run manager decided and must not know it (the trigger record lives in forge::run_trigger)",
)];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The module path of a source file: `src/rules/walk.rs` is `[rules, walk]`, `src/rules/mod.rs`
/// `[rules]`, `src/lib.rs` and `src/main.rs` `[]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !(matches!(stem, "mod") || (parts.is_empty() && matches!(stem, "lib" | "main"))) {
        parts.push(stem.to_string());
    }
    parts
}

/// The text that counts: no `//` comments, nothing from a top-level `#[cfg(test)]` on.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let line = match line.find("//") {
            // `//` inside a string (a URL) is rare in the paths that matter: cut anyway.
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every module path a file's code names, as `(anchor, segments)`: anchor `crate`, `self` or a
/// number of `super`s; a grouped `use a::{b, c::d}` gives `a::b` and `a::c`.
fn paths(code: &str) -> Vec<(Anchor, Vec<String>)> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let starts_word = i == 0 || !is_ident(bytes[i - 1] as char) && bytes[i - 1] != b':';
        let anchor = ["crate::", "super::", "self::"].into_iter().find(|a| code[i..].starts_with(a));
        let Some(anchor) = anchor.filter(|_| starts_word) else {
            i += 1;
            continue;
        };
        let mut j = i;
        let mut supers = 0;
        let mut kind = Anchor::Crate;
        while code[j..].starts_with("super::") {
            supers += 1;
            j += "super::".len();
        }
        if supers > 0 {
            kind = Anchor::Super(supers);
        } else {
            j += anchor.len();
            if anchor == "self::" {
                kind = Anchor::SelfMod;
            }
        }
        let (segs, end) = segments(code, j);
        if let Some(group) = code[end..].strip_prefix("::{").or_else(|| code[end..].strip_prefix('{')) {
            for item in top_level_items(group) {
                let (more, _) = segments(item.trim(), 0);
                out.push((kind, segs.iter().cloned().chain(more.into_iter().take(1)).collect()));
            }
        } else {
            out.push((kind, segs));
        }
        i = end.max(i + 1);
    }
    out
}

#[derive(Clone, Copy, Debug)]
enum Anchor {
    Crate,
    SelfMod,
    Super(usize),
}

/// The `a::b::c` idents from `at` (stopping before `::{` or anything else).
fn segments(code: &str, at: usize) -> (Vec<String>, usize) {
    let mut segs = Vec::new();
    let mut j = at;
    loop {
        let len = code[j..].chars().take_while(|c| is_ident(*c)).map(char::len_utf8).sum::<usize>();
        if len == 0 {
            break;
        }
        segs.push(code[j..j + len].to_string());
        j += len;
        if code[j..].starts_with("::") && code[j + 2..].starts_with(|c: char| is_ident(c)) {
            j += 2;
        } else {
            break;
        }
    }
    (segs, j)
}

/// The comma-separated items of a `{…}` group up to its closing brace (nested groups kept whole).
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

/// The modules of a crate's `src/`, and the sibling edges: parent module → (from child, to child).
fn graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<(String, String)>> {
    let mut files = Vec::new();
    collect(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in &files {
        let from = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap();
        for (anchor, segs) in paths(&code(&text)) {
            let base: Vec<String> = match anchor {
                Anchor::Crate => Vec::new(),
                Anchor::SelfMod => from.clone(),
                Anchor::Super(n) => from[..from.len().saturating_sub(n)].to_vec(),
            };
            let mut to: Vec<String> = base.into_iter().chain(segs).collect();
            // The longest prefix that is a module file (the rest names items in it).
            while !to.is_empty() && !modules.contains(&to) {
                to.pop();
            }
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue; // itself, an ancestor or a descendant
            }
            edges.entry(from[..common].to_vec()).or_default().insert((from[common].clone(), to[common].clone()));
        }
    }
    edges
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The strongly connected groups of two or more siblings, each as "parent: a ↔ b ↔ c".
fn loops(edges: &BTreeMap<Vec<String>, BTreeSet<(String, String)>>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (parent, pairs) in edges {
        let nodes: BTreeSet<&str> = pairs.iter().flat_map(|(a, b)| [a.as_str(), b.as_str()]).collect();
        let reach = |from: &'_ str| -> BTreeSet<String> {
            let mut seen = BTreeSet::from([from.to_string()]);
            let mut todo = vec![from];
            while let Some(n) = todo.pop() {
                for (a, b) in pairs {
                    if a == n && seen.insert(b.clone()) {
                        todo.push(b.as_str());
                    }
                }
            }
            seen
        };
        let reaches: BTreeMap<&str, BTreeSet<String>> = nodes.iter().map(|n| (*n, reach(n))).collect();
        for n in &nodes {
            let group: Vec<&str> =
                nodes.iter().copied().filter(|m| reaches[n].contains(*m) && reaches[m].contains(*n)).collect();
            if group.len() > 1 {
                let at = if parent.is_empty() { "crate".to_string() } else { parent.join("::") };
                found.insert(format!("{at}: {}", group.join(" ↔ ")));
            }
        }
    }
    found
}

fn check(krate: &str) -> Vec<String> {
    let found = loops(&graph(&root().join(krate).join("src")));
    let known: BTreeSet<String> = KNOWN.iter().filter(|(k, ..)| *k == krate).map(|(_, l, _)| l.to_string()).collect();
    let mut problems: Vec<String> = found.difference(&known).map(|l| format!("{krate}: new import loop {l}")).collect();
    problems
        .extend(known.difference(&found).map(|l| format!("{krate}: {l} is no longer a loop: strike it from KNOWN")));
    problems
}

#[test]
fn core_has_no_import_loop() {
    let problems = check("core");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn server_has_no_new_import_loop() {
    let problems = check("server");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_forbidden_arrow() {
    let mut problems = Vec::new();
    for (krate, from, to, why) in FORBIDDEN {
        let edges = graph(&root().join(krate).join("src"));
        if edges.get(&Vec::new()).is_some_and(|pairs| pairs.contains(&(from.to_string(), to.to_string()))) {
            problems.push(format!("{krate}: {from} imports {to}: {why}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The forbidden-arrow check sees `store` naming `runs` however it is written, also without
/// a loop.
#[test]
fn the_reader_finds_a_forbidden_arrow() {
    // Not `tempdir()`: the loop test running beside this one empties that folder.
    let dir = std::env::temp_dir().join(format!("module-arrows-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("store")).unwrap();
    std::fs::write(src.join("main.rs"), "mod runs; mod store;").unwrap();
    std::fs::write(src.join("runs.rs"), "use crate::store::Store;").unwrap();
    std::fs::write(src.join("store/mod.rs"), "mod lines;").unwrap();
    std::fs::write(src.join("store/lines.rs"), "fn f(t: &crate::runs::trigger::RunTrigger) {}").unwrap();
    let edges = graph(&src);
    assert!(edges[&Vec::new()].contains(&("store".to_string(), "runs".to_string())), "{edges:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn frontend_has_no_new_import_loop() {
    let problems = check("frontend");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The reader finds the loops this guard is for, written the ways the code writes imports.
#[test]
fn the_reader_finds_loops_in_each_import_form() {
    let dir = tempdir();
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("export")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod export; mod model; mod rules;").unwrap();
    std::fs::write(src.join("export/mod.rs"), "mod github; mod gitlab; use github::x;").unwrap();
    std::fs::write(src.join("export/github.rs"), "use super::{Cx, gitlab::needs_key};").unwrap();
    std::fs::write(src.join("export/gitlab.rs"), "fn f() { super::github::flags(); }").unwrap();
    std::fs::write(
        src.join("model.rs"),
        "// crate::rules::nothing in a comment\nfn f() { crate::rules::name_span(); }",
    )
    .unwrap();
    std::fs::write(
        src.join("rules.rs"),
        "use crate::{codes::Code, model::suggest};\n#[cfg(test)]\nuse crate::export::x;",
    )
    .unwrap();
    let found = loops(&graph(&src));
    let expected: BTreeSet<String> =
        ["crate: model ↔ rules", "export: github ↔ gitlab"].into_iter().map(String::from).collect();
    assert_eq!(found, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("module-cycles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
