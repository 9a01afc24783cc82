//! YAML (and JSON, which we read as YAML) into a tree that keeps the span of every node.
//! This is the only module that knows the YAML crate. We drive granit-parser (the event parser
//! under serde-saphyr) with an explicit stack instead of deserializing through serde-saphyr:
//! serde's recursive visitors overflowed a 2 MiB stack at ~55 levels of nesting in debug
//! builds, and the browser's stack is smaller. Merge keys, aliases and budgets are ours.

mod builder;
mod node;

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
    if file.text.len() > MAX_INPUT_BYTES {
        return Err(Diagnostic::error(
            Code::InputTooLarge,
            file,
            Span::at(0),
            format!("file is {} bytes; the limit is {} bytes (1 MiB)", file.text.len(), MAX_INPUT_BYTES),
        ));
    }
    builder::build(file)
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
    fn json_parses() {
        let n = p("[\n  {\"service\": \"app\", \"command\": \"true\"}\n]").unwrap();
        assert_eq!(n.items().len(), 1);
    }
}
