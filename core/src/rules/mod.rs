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
                d.help = e.help;
                diags.push(d);
            }
        }
    }
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
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help(format!("services defined: {}", services.names().collect::<Vec<_>>().join(", "))),
    }
}
