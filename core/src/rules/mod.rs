//! Validation rules over the typed model. Shape problems (wrong types, unknown keys) are
//! reported while lowering; these rules check meaning and cross-references. Each rule's
//! user documentation is its entry in `codes.rs`.

mod command_vars;
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
    steps::check(steps_file, steps, services, diags);
}

/// Report template syntax errors and unknown variables in a YAML string value at `span`.
pub(crate) fn check_template(file: &SourceFile, span: Span, text: &str, what: &str, diags: &mut Vec<Diagnostic>) {
    // Offsets inside a quoted scalar start after the quote.
    let quote = matches!(file.text.as_bytes().get(span.start as usize), Some(b'"' | b'\''));
    let at = |offset: usize| Span::at(span.start + u32::from(quote) + offset as u32);
    match Template::parse(text) {
        Err(e) => {
            let mut d = Diagnostic::error(
                Code::TemplateSyntax,
                file,
                at(e.offset),
                format!("{what} is not a valid Go template: {}", e.message),
            );
            d.help = e.help;
            diags.push(d);
        }
        Ok(t) => {
            for e in t.unknown_variables() {
                let mut d = Diagnostic::error(
                    Code::TemplateUnknownVariable,
                    file,
                    at(e.offset),
                    format!("{what}: {}", e.message),
                );
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

/// `value` as a YAML scalar: plain when YAML reads it back as this very string, else
/// double-quoted.
pub(crate) fn yaml_scalar(value: &str) -> String {
    let plain_safe = !value.is_empty()
        && !value.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        && !value.ends_with(|c: char| c.is_whitespace() || c == ':')
        && !value.contains(": ")
        && !value.contains(" #")
        && !value.contains(['\n', '\t'])
        && matches!(crate::syntax::parse(&SourceFile::new("", format!("k: {value}"))).map(|n| n.get("k").and_then(|v| v.as_str().map(str::to_string))), Ok(Some(ref s)) if s == value);
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
        None => d.with_help(format!("services defined: {}", services.names().collect::<Vec<_>>().join(", "))),
    }
}
