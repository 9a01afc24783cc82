//! Where a scalar's text sits in the source, and how to write a value back as YAML: the
//! helpers that diagnostics (rules, lowering) and quick fixes (the IDE layer) share to point at
//! and rewrite scalars exactly as the file writes them.

use crate::source::{SourceFile, Span};

/// The span of the bytes `range` of a scalar's `value`, when the source writes the value as is
/// (plain, or quoted without escapes or line folding); otherwise the scalar's start, which is
/// still the right line.
pub fn span_in(file: &SourceFile, span: Span, value: &str, range: std::ops::Range<usize>) -> Span {
    let raw = file.slice(span);
    let quoted = matches!(raw.as_bytes().first(), Some(b'"' | b'\''));
    let inner = if quoted && raw.len() >= 2 { &raw[1..raw.len() - 1] } else { raw };
    if inner == value && range.start <= range.end && range.end <= value.len() {
        let start = span.start + u32::from(quoted);
        Span::new(start + range.start as u32, start + range.end as u32)
    } else {
        Span::at(span.start)
    }
}

/// The span of `name` at the start of the scalar at `span` (inside its quotes, before a
/// `:alias`), when the source writes it as is.
pub fn name_span(file: &SourceFile, span: Span, name: &str) -> Option<Span> {
    let raw = file.slice(span);
    let quoted = matches!(raw.as_bytes().first(), Some(b'"' | b'\''));
    let start = span.start + u32::from(quoted);
    let at = Span::new(start, start + name.len() as u32);
    (file.slice(at) == name).then_some(at)
}

/// `value` as the scalar replacing the one at `span` of `file`: JSON-quoted inside a flow
/// collection (a JSON steps file, `- {type: push, …}`), where a plain scalar may not hold
/// `,[]{}` and JSON needs its quotes; else as [`yaml_scalar`] writes it.
pub fn scalar_at(file: &SourceFile, span: Span, value: &str) -> String {
    if in_flow(&file.text, span.start as usize) {
        serde_json::to_string(value).expect("a string serializes")
    } else {
        yaml_scalar(value)
    }
}

/// Whether `offset` is inside a flow collection (`[…]`, `{…}`; a JSON document is one),
/// reading the text before it: brackets outside quoted scalars and comments.
pub fn in_flow(text: &str, offset: usize) -> bool {
    let offset = offset.min(text.len());
    let first = text.len() - text.trim_start().len();
    if first < offset && text[first..].starts_with(['[', '{']) {
        return true; // a JSON document: everything in it is flow
    }
    // Within a block document a flow collection cannot reach back past a line that starts
    // at column 0 (a top-level item or key): read from the last one, not the whole file.
    let from = text[..offset]
        .match_indices('\n')
        .rev()
        .map(|(i, _)| i + 1)
        .find(|&i| text[i..].starts_with(|c: char| !c.is_whitespace() && c != '#'))
        .unwrap_or(0);
    in_flow_from(&text[from..offset])
}

/// [`in_flow`] for the end of `text`, read from its start.
fn in_flow_from(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    let token_start = |i: usize| i == 0 || b" \t\r\n[{,:".contains(&bytes[i - 1]);
    // A quote or a bracket opens a node only where one starts: after `key:`, `-`, `[`, `{`
    // or `,` (`name: don't [x` is one plain scalar).
    let node_start = |i: usize| {
        let before = bytes[..i].iter().rev().find(|b| !b.is_ascii_whitespace());
        token_start(i) && before.is_none_or(|b| b"[{,:-".contains(b))
    };
    while i < bytes.len() {
        match bytes[i] {
            b'"' if node_start(i) => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' if node_start(i) => {
                i += 1;
                // `''` inside is an escaped quote: the loop reopens on it.
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += 1;
                }
            }
            b'#' if token_start(i) => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'[' | b'{' if node_start(i) => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    depth > 0
}

/// `value` as a YAML scalar in block context: plain when YAML reads it back as this very
/// string, else double-quoted.
pub fn yaml_scalar(value: &str) -> String {
    let plain_safe = !value.is_empty()
        && !value.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        && !value.ends_with(|c: char| c.is_whitespace() || c == ':')
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.contains(['\n', '\t'])
        && matches!(super::parse(&SourceFile::new("", format!("k: {value}"))).map(|n| n.root.get("k").and_then(|v| v.as_str().map(str::to_string))), Ok(Some(ref s)) if s == value);
    if plain_safe { value.to_string() } else { serde_json::to_string(value).expect("a string serializes") }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brackets in quotes, comments and plain words do not open a flow collection.
    #[test]
    fn flow_context() {
        let at = |text: &str| in_flow(text, text.find('‸').expect("a cursor"));
        assert!(at("[\n  {\"image_name\": ‸\"a\"}]"));
        assert!(at("- {type: push,\n   image_name: ‸a}"));
        assert!(!at("- type: push # [not flow\n  image_name: ‸a"));
        assert!(!at("- command: \"echo [\"\n  image_name: ‸a"));
        assert!(!at("- name: don't [x\n  image_name: ‸a"));
        assert!(!at("- services: [a, b]\n  image_name: ‸a"));
        let json = SourceFile::new("s.json", "[{\"image_name\": \"A\"}]");
        assert_eq!(scalar_at(&json, Span::new(16, 19), "a"), "\"a\"");
    }
}
