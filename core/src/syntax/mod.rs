//! YAML (and JSON, which we read as YAML) into a tree that keeps the span of every node.
//! This is the only module that knows the YAML crate. We drive granit-parser (the event parser
//! under serde-saphyr) with an explicit stack instead of deserializing through serde-saphyr:
//! serde's recursive visitors overflowed a 2 MiB stack at ~55 levels of nesting in debug
//! builds, and the browser's stack is smaller. Merge keys, aliases and budgets are ours.

mod builder;
mod incremental;
mod node;

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

/// Parse one file. Returns a positioned diagnostic when the file is not YAML or breaks a limit.
pub fn parse(file: &SourceFile) -> Result<Node, Diagnostic> {
    check_size(file)?;
    builder::build(file).map(|b| b.root)
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

    fn p(text: &str) -> Result<Node, Diagnostic> {
        parse(&SourceFile::new("t.yml", text))
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
    fn a_duplicate_key_is_reported_at_its_second_use_with_the_first_line() {
        let d = p("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!((d.code, d.line, d.column), (Code::YamlSyntax, 3, 1));
        assert_eq!(d.message, "mapping key `a` already defined at line 1");
        // Nested maps have their own keys; the same key in two maps is fine.
        assert!(p("x:\n  a: 1\ny:\n  a: 2\n").is_ok());
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
            match (p(text), dup) {
                (Ok(_), None) => {}
                (Err(d), Some(name)) => {
                    assert_eq!(d.message, format!("mapping key `{name}` already defined at line 1"), "{text:?}");
                    assert_eq!(d.line, 2, "{text:?}");
                }
                (other, _) => panic!("{text:?}: {other:?}"),
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
        let d = p(&text).unwrap_err();
        let took = start.elapsed();
        assert_eq!((d.line, d.message.as_str()), (100_001, "mapping key `k7` already defined at line 8"));
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
