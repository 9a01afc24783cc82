//! SW208 `template-syntax` and SW209 `template-unknown-variable`: an `image_tag` or a build arg
//! is a Go text/template; it must parse, and may only name the variables CodeShip provided
//! (`.Branch`, `.CommitID`, …). The two share a file because they share the parse: names can
//! only be checked in a template that parses.

use crate::codes::Code;
use crate::diagnostics::{Diagnostic, Suggestion};
use crate::model::{ServicesFile, Step, StepKind};
use crate::source::{SourceFile, Span};
use crate::syntax::scalar::span_in;
use crate::template::{Template, TemplateError};

/// Every build arg of every service.
pub(super) fn in_build_args(file: &SourceFile, services: &ServicesFile, diags: &mut Vec<Diagnostic>) {
    for s in &services.services {
        let Some(b) = &s.build else { continue };
        for (k, v) in &b.args {
            check(file, v.span, &v.value, &format!("build arg `{}`", k.value), diags);
        }
    }
}

/// A push step's `image_tag`.
pub(super) fn in_image_tag(file: &SourceFile, s: &Step, diags: &mut Vec<Diagnostic>) {
    if let StepKind::Push { image_tag: Some(t), .. } = &s.kind {
        check(file, t.span, &t.value, "`image_tag`", diags);
    }
}

/// Report template syntax errors and unknown variables in a YAML string value at `span`.
fn check(file: &SourceFile, span: Span, text: &str, what: &str, diags: &mut Vec<Diagnostic>) {
    // The bytes the error is about, when the source writes the value as is; else the point
    // where they start (offsets inside a quoted scalar start after the quote).
    let quote = matches!(file.text.as_bytes().get(span.start as usize), Some(b'"' | b'\''));
    let at = |e: &TemplateError| match span_in(file, span, text, e.offset..e.end) {
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
fn template_suggestion(file: &SourceFile, span: Span, e: &TemplateError) -> Option<Box<Suggestion>> {
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
    Some(Box::new(Suggestion { span: Span::new(start, start + name.len() as u32), replacement: wanted.to_string() }))
}
