//! Validation rules over the typed model. Shape problems (wrong types, unknown keys) are
//! reported while lowering; these rules check meaning and cross-references. Each rule's
//! user documentation is its entry in `codes.rs`.

mod command_vars;
mod not_applied;
mod push;
mod services;
mod steps;

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::{ServicesFile, StepsFile};
use crate::source::{SourceFile, Span};
use crate::template::Template;

pub(crate) fn run(
    services_file: &SourceFile,
    services: &ServicesFile,
    steps_file: &SourceFile,
    steps: &StepsFile,
    diags: &mut Vec<Diagnostic>,
) {
    services::check(services_file, services, diags);
    not_applied::check(services_file, services, diags);
    steps::check(steps_file, steps, services, diags);
}

/// Report template syntax errors and unknown variables in a YAML string value at `span`.
pub(crate) fn check_template(file: &SourceFile, span: Span, text: &str, what: &str, diags: &mut Vec<Diagnostic>) {
    // The bytes the error is about, when the source writes the value as is; else the point
    // where they start (offsets inside a quoted scalar start after the quote).
    let quote = matches!(file.text.as_bytes().get(span.start as usize), Some(b'"' | b'\''));
    let at = |e: &crate::template::TemplateError| match span_in(file, span, text, e.offset..e.end) {
        exact if exact.end > exact.start => exact,
        _ => Span::at(span.start + u32::from(quote) + e.offset as u32),
    };
    match Template::parse(text) {
        Err(e) => {
            let mut d = Diagnostic::error(
                Code::TemplateSyntax,
                file,
                at(&e),
                format!("{what} is not a valid Go template: {}", e.message),
            );
            d.help = e.help;
            diags.push(d);
        }
        Ok(t) => {
            for e in t.unknown_variables() {
                let mut d =
                    Diagnostic::error(Code::TemplateUnknownVariable, file, at(&e), format!("{what}: {}", e.message));
                d.suggestion = template_suggestion(file, span, &e);
                d.help = e.help;
                diags.push(d);
            }
        }
    }
}

/// For "did you mean `Branch`?" on `.Brnch` (or `.Time.Fromat`): replace the unknown name,
/// the first field of the chain at the error's offset that the message names.
fn template_suggestion(
    file: &SourceFile,
    span: Span,
    e: &crate::template::TemplateError,
) -> Option<Box<crate::diagnostics::Suggestion>> {
    let wanted = e.help.as_deref()?.strip_prefix("did you mean `")?.strip_suffix("`?")?;
    // The unknown name, as the template checker words it.
    let m = e.message.as_str();
    let name = m
        .strip_prefix("unknown variable `.")
        .or_else(|| m.split_once("has no method `").map(|(_, rest)| rest))?
        .split('`')
        .next()?;
    // Found in the source by its text, which escapes elsewhere in a quoted scalar do not
    // move; only when it occurs once, so the edit cannot land on another use.
    let raw = file.slice(span);
    let dotted = format!(".{name}");
    let ident = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    let hits: Vec<usize> =
        raw.match_indices(&dotted).map(|(i, _)| i).filter(|i| !ident(raw.as_bytes().get(i + dotted.len()))).collect();
    let [hit] = hits.as_slice() else { return None };
    let start = span.start + *hit as u32 + 1;
    Some(Box::new(crate::diagnostics::Suggestion {
        span: Span::new(start, start + name.len() as u32),
        replacement: wanted.to_string(),
    }))
}

/// The span of the bytes `range` of a scalar's `value`, when the source writes the value as is
/// (plain, or quoted without escapes or line folding); otherwise the scalar's start, which is
/// still the right line.
pub(crate) fn span_in(file: &SourceFile, span: Span, value: &str, range: std::ops::Range<usize>) -> Span {
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
pub(crate) fn name_span(file: &SourceFile, span: Span, name: &str) -> Option<Span> {
    let raw = file.slice(span);
    let quoted = matches!(raw.as_bytes().first(), Some(b'"' | b'\''));
    let start = span.start + u32::from(quoted);
    let at = Span::new(start, start + name.len() as u32);
    (file.slice(at) == name).then_some(at)
}

/// `value` as the scalar replacing the one at `span` of `file`: JSON-quoted inside a flow
/// collection (a JSON steps file, `- {type: push, …}`), where a plain scalar may not hold
/// `,[]{}` and JSON needs its quotes; else as [`yaml_scalar`] writes it.
pub(crate) fn scalar_at(file: &SourceFile, span: Span, value: &str) -> String {
    if in_flow(&file.text, span.start as usize) {
        serde_json::to_string(value).expect("a string serializes")
    } else {
        yaml_scalar(value)
    }
}

/// Whether `offset` is inside a flow collection (`[…]`, `{…}`; a JSON document is one),
/// reading the text before it: brackets outside quoted scalars and comments.
pub(crate) fn in_flow(text: &str, offset: usize) -> bool {
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
pub(crate) fn yaml_scalar(value: &str) -> String {
    let plain_safe = !value.is_empty()
        && !value.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        && !value.ends_with(|c: char| c.is_whitespace() || c == ':')
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.contains(['\n', '\t'])
        && matches!(crate::syntax::parse(&SourceFile::new("", format!("k: {value}"))).map(|n| n.root.get("k").and_then(|v| v.as_str().map(str::to_string))), Ok(Some(ref s)) if s == value);
    if plain_safe { value.to_string() } else { serde_json::to_string(value).expect("a string serializes") }
}

/// "unknown service `x`" with a suggestion.
pub(crate) fn unknown_service(
    file: &SourceFile,
    span: Span,
    name: &str,
    services: &ServicesFile,
    context: &str,
) -> Diagnostic {
    let d = Diagnostic::error(Code::UnknownService, file, span, format!("{context} names unknown service `{name}`"));
    match crate::model::lower::suggest(name, services.names()) {
        Some(s) => {
            let d = d.with_help(format!("did you mean `{s}`?"));
            match name_span(file, span, name) {
                Some(at) => d.with_suggestion(at, s),
                None => d,
            }
        }
        None => d.with_help(services_defined(services)),
    }
}

/// The help that lists the services a step may name, or says there are none (an empty list
/// read as "services defined: " with nothing after it).
pub(crate) fn services_defined(services: &ServicesFile) -> String {
    let names: Vec<_> = services.names().collect();
    if names.is_empty() {
        "the services file defines no services yet".to_string()
    } else {
        format!("services defined: {}", names.join(", "))
    }
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
