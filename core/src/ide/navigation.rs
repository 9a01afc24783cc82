//! Go to definition and find references, for service names across both files.

use super::context::{At, Place, context, place, value_place};
use super::scan::{self, ServiceDef};
use super::{Analysis, FileId, Location};
use crate::source::Span;

/// Keys whose value names a service (or, for lists, whose items do).
const SERVICE_VALUE_KEYS: &[&str] =
    &["service", "services", "dockercfg_service", "links", "depends_on", "volumes_from"];

/// The service name at `offset`: a reference to one, or a definition (the top-level key).
/// Returns the name and its span; works from the text alone.
pub(crate) fn name_at(a: &Analysis, file: FileId, offset: u32) -> Option<(String, Span, bool)> {
    let text = &a.file(file).text;
    let cx = context(text, offset);
    let (span, is_definition) = match &cx.at {
        At::Key { span } => match place(file, &cx.path) {
            Place::ServicesTop => (*span, true),
            _ => return None,
        },
        At::Bare { span } => match place(file, &cx.path) {
            Place::ServiceItem(k) | Place::StepItem(k) if SERVICE_VALUE_KEYS.contains(&k.as_str()) => (*span, false),
            _ => return None,
        },
        At::Value { key, token, .. } => match value_place(file, &cx.path, key) {
            Place::ServiceValue(k) | Place::StepValue(k) if SERVICE_VALUE_KEYS.contains(&k.as_str()) => (*token, false),
            _ => return None,
        },
        At::Nothing => return None,
    };
    let raw = text.get(span.start as usize..span.end as usize)?;
    let mut name = super::context::plain(raw);
    let mut span = if name.len() < raw.trim().len() { Span::new(span.start + 1, span.end - 1) } else { span };
    // `links: [db:database]`: the service is before the colon.
    if let Some((svc, _)) = name.split_once(':') {
        span.end = span.start + svc.len() as u32;
        name = svc.to_string();
    }
    (!name.is_empty() && span.start <= offset && offset <= span.end).then_some((name, span, is_definition))
}

pub(crate) fn definition(a: &Analysis, file: FileId, offset: u32) -> Option<Location> {
    let (name, _, _) = name_at(a, file, offset)?;
    let defs = scan::services(a);
    let def: &ServiceDef = scan::find(&defs, &name)?;
    Some(Location { file: FileId::Services, span: def.span })
}

pub(crate) fn references(_a: &Analysis, _file: FileId, _offset: u32, _include_definition: bool) -> Vec<Location> {
    Vec::new()
}
