//! The services defined, from the typed model when the services file parses and from its
//! text otherwise (while a line is being typed), so names complete and resolve either way.

use super::context::{Lines, plain};
use super::{Analysis, FileId};
use crate::codes::Code;
use crate::source::{SourceFile, Span};

/// A service's name and where it is written (without quotes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServiceDef {
    pub name: String,
    pub span: Span,
}

/// Whether a file failed to parse as YAML.
pub(crate) fn broken(a: &Analysis, file: FileId) -> bool {
    let name = &a.file(file).name;
    a.report()
        .diagnostics
        .iter()
        .any(|d| d.file == *name && matches!(d.code, Code::YamlSyntax | Code::InputLimits | Code::InputTooLarge))
}

pub(crate) fn services(a: &Analysis) -> Vec<ServiceDef> {
    if !broken(a, FileId::Services) {
        let file = a.file(FileId::Services);
        return a
            .checked()
            .services
            .services
            .iter()
            .map(|s| ServiceDef { name: s.name.value.clone(), span: unquoted(file, s.name.span) })
            .collect();
    }
    from_text(&a.lines(FileId::Services))
}

/// The top-level keys (or those under a top-level `services:`), read line by line.
fn from_text(lines: &Lines) -> Vec<ServiceDef> {
    let (mut top, mut nested) = (Vec::new(), Vec::new());
    let mut nested_col: Option<usize> = None;
    let mut in_services = false;
    for i in 0..lines.len() {
        let line = lines.parse(i);
        let Some((col, name, range)) = &line.key else { continue };
        if !line.items.is_empty() {
            continue;
        }
        let def = ServiceDef { name: name.clone(), span: key_span(&line, range) };
        if *col == 0 {
            in_services = name == "services" && line.value.is_empty();
            if !in_services && !matches!(name.as_str(), "version" | "volumes" | "networks") {
                top.push(def);
            }
        } else if in_services && *nested_col.get_or_insert(*col) == *col {
            nested.push(def);
        }
    }
    if nested.is_empty() { top } else { nested }
}

fn key_span(line: &super::context::Line, range: &std::ops::Range<usize>) -> Span {
    Span::new(line.start + range.start as u32, line.start + range.end as u32)
}

/// A scalar's span without its quotes.
pub(crate) fn unquoted(file: &SourceFile, span: Span) -> Span {
    let raw = file.slice(span);
    let b = raw.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        Span::new(span.start + 1, span.end - 1)
    } else {
        span
    }
}

/// The service named by a value's text, if it is a defined service.
pub(crate) fn find<'a>(defs: &'a [ServiceDef], text: &str) -> Option<&'a ServiceDef> {
    let name = plain(text);
    defs.iter().find(|d| d.name == name)
}

/// What a service is in a few words, for completion details and the outline: `builds IMAGE`
/// (or the build context when the build names no image), or `image IMAGE`.
pub(crate) fn service_detail(s: &crate::model::Service) -> Option<String> {
    match (&s.build, &s.image) {
        (Some(b), _) => Some(match &b.image {
            Some(i) => format!("builds {}", i.value),
            None => format!("builds {}", b.context.value),
        }),
        (None, Some(i)) => Some(format!("image {}", i.value)),
        _ => None,
    }
}
