//! YAML (and JSON, which we read as YAML) into a tree that keeps the span of every node.
//! This is the only module that knows the YAML crate. We drive granit-parser (the event parser
//! under serde-saphyr) with an explicit stack instead of deserializing through serde-saphyr:
//! serde's recursive visitors overflowed a 2 MiB stack at ~55 levels of nesting in debug
//! builds, and the browser's stack is smaller. Merge keys, aliases and budgets are ours.

mod builder;
mod explain;
mod incremental;
mod node;
pub mod scalar;

pub use incremental::{LastParse, Reparser};
pub use node::{Node, NodeKind};

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::source::{SourceFile, Span};

/// Bounds on untrusted input.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;
pub const MAX_DEPTH: usize = 64;
/// Total events replayed through aliases; a normal config replays a few hundred.
pub const MAX_ALIAS_REPLAY_EVENTS: usize = 100_000;

/// A parsed file: its tree, and the keys it repeats (accepted, with a warning each).
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub root: Node,
    /// In the order of the repeats' positions.
    pub duplicates: Vec<Duplicate>,
}

/// A key written twice in one mapping (`service:` twice in a step). jet's YAML parser (Go's
/// yaml.v2) took the later value without a word, and real projects rely on it, so the tree
/// holds the later value and [`Duplicate::diagnostic`] warns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The key's use before this one (whose value is dropped).
    pub first: Span,
    /// The repeat, whose value is kept.
    pub again: Span,
}

impl Duplicate {
    pub fn diagnostic(&self, file: &SourceFile) -> Diagnostic {
        let name = file.slice(self.again);
        let (line, _) = file.line_col(self.first.start);
        Diagnostic::warning(
            Code::DuplicateKey,
            file,
            self.again,
            format!("mapping key `{name}` is already defined at line {line}; this later value replaces that one"),
        )
        .with_help("jet used the later value too; delete one of the two to say which you mean")
    }
}

impl Parsed {
    /// The warnings about repeated keys.
    pub fn warnings<'a>(&'a self, file: &'a SourceFile) -> impl Iterator<Item = Diagnostic> + 'a {
        self.duplicates.iter().map(move |d| d.diagnostic(file))
    }
}

/// Parse one file. Returns a positioned diagnostic when the file is not YAML or breaks a limit.
pub fn parse(file: &SourceFile) -> Result<Parsed, Diagnostic> {
    check_size(file)?;
    builder::build(file).map(|b| Parsed { root: b.root, duplicates: b.duplicates })
}

fn check_size(file: &SourceFile) -> Result<(), Diagnostic> {
    if file.text.len() > MAX_INPUT_BYTES {
        return Err(Diagnostic::error(
            Code::InputTooLarge,
            file,
            Span::at(0),
            format!("file is {} bytes; the limit is {} bytes (1 MiB)", file.text.len(), MAX_INPUT_BYTES),
        ));
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::Severity;

    fn p(text: &str) -> Result<Node, Diagnostic> {
        parse(&SourceFile::new("t.yml", text)).map(|p| p.root)
    }

    /// The warnings of a text that parses.
    fn warnings(text: &str) -> Vec<Diagnostic> {
        let file = SourceFile::new("t.yml", text);
        parse(&file).unwrap().warnings(&file).collect()
    }

    #[test]
    fn spans_and_merge_keys() {
        let n = p("base: &b\n  x: 1\napp:\n  <<: *b\n  y: 'two'\n").unwrap();
        let app = n.get("app").unwrap();
        let mut keys: Vec<_> = app.entries().iter().map(|(k, _)| k.as_str().unwrap().to_string()).collect();
        keys.sort();
        assert_eq!(keys, ["x", "y"]);
        let (line, col) = SourceFile::new("t", "base: &b\n  x: 1\napp:\n  <<: *b\n  y: 'two'\n")
            .line_col(app.get("y").unwrap().span.start);
        assert_eq!((line, col), (5, 6));
    }

    #[test]
    fn syntax_error_has_position() {
        let d = p("a: [1, 2\nb: 3").unwrap_err();
        assert_eq!(d.code, Code::YamlSyntax);
        assert_eq!((d.line, d.column), (2, 2));
    }

    #[test]
    fn too_large_is_rejected() {
        let d = p(&"a: b\n".repeat(300_000)).unwrap_err();
        assert_eq!(d.code, Code::InputTooLarge);
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let text = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let d = p(&text).unwrap_err();
        assert_eq!(d.code, Code::InputLimits, "{d:?}");
        let mut block = String::new();
        for i in 0..100 {
            block.push_str(&" ".repeat(i));
            block.push_str("k:\n");
        }
        assert_eq!(p(&block).unwrap_err().code, Code::InputLimits);
    }

    #[test]
    fn alias_bomb_is_rejected_quickly() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", [prev.as_str(); 10].join(", ")));
        }
        let start = std::time::Instant::now();
        let d = p(&text).unwrap_err();
        assert_eq!(d.code, Code::InputLimits, "{d:?}");
        // Not a timing assertion on speed goals; guards against an unbounded expansion.
        assert!(start.elapsed().as_secs() < 5);
    }

    #[test]
    fn a_repeated_key_keeps_the_later_value_with_a_warning_at_the_repeat() {
        let text = "a: 1\nb: 2\na: 3\n";
        let n = p(text).unwrap();
        assert_eq!(n.get("a").unwrap().kind, NodeKind::Int(3), "the later value wins, as in jet");
        assert_eq!(n.entries().len(), 2);
        let w = warnings(text);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!((w[0].code, w[0].severity, w[0].line, w[0].column), (Code::DuplicateKey, Severity::Warning, 3, 1));
        assert_eq!(w[0].span, Span::new(10, 11), "the repeated key is underlined");
        assert!(w[0].message.starts_with("mapping key `a` is already defined at line 1"), "{}", w[0].message);
        // Nested maps have their own keys; the same key in two maps is fine.
        assert!(warnings("x:\n  a: 1\ny:\n  a: 2\n").is_empty());
        // A key three times: each repeat names the use before it; the last value wins.
        let text = "k: 1\nk: 2\nk: 3\n";
        assert_eq!(p(text).unwrap().get("k").unwrap().kind, NodeKind::Int(3));
        let lines: Vec<(u32, String)> = warnings(text).into_iter().map(|d| (d.line, d.message)).collect();
        assert!(lines[0].0 == 2 && lines[0].1.contains("at line 1"), "{lines:?}");
        assert!(lines[1].0 == 3 && lines[1].1.contains("at line 2"), "{lines:?}");
    }

    /// Repeats come in the order of their positions, a repeat inside a repeated key's value
    /// after that key (the incremental parser splices them by position).
    #[test]
    fn repeats_are_listed_by_position() {
        let text = "a: 1\na:\n  b: 1\n  b: 2\n";
        let got: Vec<u32> = warnings(text).iter().map(|d| d.line).collect();
        assert_eq!(got, [2, 4]);
    }

    /// Keys are the same when their values are, as YAML 1.1 resolves them (octal `01` is 1,
    /// `yes` is `true`), not when their text is; NaN equals nothing, not even itself.
    #[test]
    fn keys_are_compared_by_value() {
        for (text, dup) in [
            ("1: a\n01: b\n", Some("01")),
            ("true: a\nyes: b\n", Some("yes")),
            ("~: a\nnull: b\n", Some("null")),
            ("0.0: a\n-0.0: b\n", Some("-0.0")),
            (".nan: a\n.nan: b\n", None),
            ("1: a\n1.0: b\n", None),
            ("'1': a\n1: b\n", None),
            ("a: 1\n'a': 2\n", Some("'a'")),
        ] {
            let w = warnings(text);
            match dup {
                None => assert!(w.is_empty(), "{text:?}: {w:?}"),
                Some(name) => {
                    assert_eq!(w.len(), 1, "{text:?}: {w:?}");
                    let want = format!("mapping key `{name}` is already defined at line 1");
                    assert!(w[0].message.starts_with(&want), "{text:?}: {}", w[0].message);
                    assert_eq!(w[0].line, 2, "{text:?}");
                }
            }
        }
    }

    #[test]
    fn explicit_keys_win_over_merged_ones_and_earlier_merges_over_later() {
        let n = p("b: &b {x: 1, y: 2}\no: &o {y: 3, z: 4}\napp:\n  <<: [*b, *o]\n  x: 0\n").unwrap();
        let app = n.get("app").unwrap();
        let got: Vec<(String, i64)> = app
            .entries()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().unwrap().to_string(),
                    match v.kind {
                        NodeKind::Int(i) => i,
                        _ => panic!("{v:?}"),
                    },
                )
            })
            .collect();
        let want = [("x", 0), ("y", 2), ("z", 4)].map(|(k, v)| (k.to_string(), v));
        assert_eq!(got, want);
    }

    /// A mapping of 100,000 keys (the most a 1 MiB file holds): the duplicate scan used to
    /// compare each key with every earlier one (5·10⁹ comparisons, 30 s in a release build;
    /// `POST /api/validate` took that from anyone). The bound is generous (a debug build on a
    /// busy machine); the measured figures are in docs/perf.md.
    #[test]
    fn a_mapping_of_100_000_keys_is_checked_quickly() {
        let mut text: String = (0..100_000).map(|i| format!("k{i}: 1\n")).collect();
        text.push_str("k7: 2\n");
        assert!(text.len() <= MAX_INPUT_BYTES);
        let start = std::time::Instant::now();
        let w = warnings(&text);
        let took = start.elapsed();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, 100_001);
        assert!(w[0].message.starts_with("mapping key `k7` is already defined at line 8"), "{}", w[0].message);
        assert!(took.as_secs() < 10, "took {took:?}");
    }

    /// `<<: *big` used to look up each merged key among all the keys before it, too.
    #[test]
    fn merging_a_mapping_of_49_000_keys_is_quick() {
        let keys: Vec<String> = (0..49_000).map(|i| format!("k{i}: 1")).collect();
        let text = format!("base: &b {{{}}}\nx:\n  k3: 2\n  <<: *b\n", keys.join(", "));
        let start = std::time::Instant::now();
        let n = p(&text).unwrap();
        let took = start.elapsed();
        let x = n.get("x").unwrap();
        assert_eq!(x.entries().len(), 49_000);
        assert_eq!(x.get("k3").unwrap().kind, NodeKind::Int(2), "the explicit key wins");
        assert!(took.as_secs() < 10, "took {took:?}");
    }

    #[test]
    fn json_parses() {
        let n = p("[\n  {\"service\": \"app\", \"command\": \"true\"}\n]").unwrap();
        assert_eq!(n.items().len(), 1);
    }
}
