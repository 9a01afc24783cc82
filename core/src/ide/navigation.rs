//! Go to definition and find references, for service names across both files.

use super::context::{At, Context, Place, context_at, place, value_place};
use super::scan::{self, ServiceDef};
use super::{Analysis, FileId, Location};
use crate::source::Span;

/// Keys whose value names a service (or, for lists, whose items do), in either file.
pub(crate) const SERVICE_VALUE_KEYS: &[&str] =
    &["service", "services", "dockercfg_service", "links", "depends_on", "volumes_from"];

/// The service name at `offset`: a reference to one, or a definition (the top-level key).
/// Returns the name and its span; works from the text alone.
pub(crate) fn name_at(a: &Analysis, file: FileId, offset: u32) -> Option<(String, Span, bool)> {
    name_in_model(a, file, offset).or_else(|| name_in(a, file, &context_at(&a.lines(file), offset), offset))
}

/// The reference or definition at `offset` from the typed model, whose spans are exact also
/// where the line-based reading is not (a flow mapping: `- { service: app, command: x }`).
/// `None` for a file that does not parse: the text is read then.
pub(crate) fn name_in_model(a: &Analysis, file: FileId, offset: u32) -> Option<(String, Span, bool)> {
    if scan::broken(a, file) {
        return None;
    }
    let inside = |span: Span| span.start <= offset && offset <= span.end;
    if file == FileId::Services
        && let Some(def) = scan::services(a).into_iter().find(|d| inside(d.span))
    {
        return Some((def.name, def.span, true));
    }
    uses(a).into_iter().find(|(_, l)| l.file == file && inside(l.span)).map(|(name, l)| (name, l.span, false))
}

/// [`name_at`] for the context `cx` of `offset` (read once by a caller that needs it too).
pub(crate) fn name_in(a: &Analysis, file: FileId, cx: &Context, offset: u32) -> Option<(String, Span, bool)> {
    let text = &a.file(file).text;
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
    if !(span.start <= offset && offset <= span.end) {
        return None;
    }
    let raw = text.get(span.start as usize..span.end as usize)?;
    let mut name = super::context::plain(raw);
    let mut span = if name.len() < raw.trim().len() { Span::new(span.start + 1, span.end - 1) } else { span };
    // `links: [db:database]`: the service is before the colon.
    if let Some((svc, _)) = name.split_once(':') {
        span.end = span.start + svc.len() as u32;
        name = svc.to_string();
    }
    (!name.is_empty()).then_some((name, span, is_definition))
}

pub(crate) fn definition(a: &Analysis, file: FileId, offset: u32) -> Option<Location> {
    let (name, _, _) = name_at(a, file, offset)?;
    let defs = scan::services(a);
    let def: &ServiceDef = scan::find(&defs, &name)?;
    Some(Location { file: FileId::Services, span: def.span })
}

/// Every use of `name` and the definition, in both files (from the typed model: a file that
/// does not parse contributes none).
pub(crate) fn references(a: &Analysis, file: FileId, offset: u32, include_definition: bool) -> Vec<Location> {
    let Some((name, _, _)) = name_at(a, file, offset) else { return Vec::new() };
    let mut out: Vec<Location> = uses(a).into_iter().filter(|(n, _)| *n == name).map(|(_, l)| l).collect();
    // A file that does not parse (a line being typed) is read from its text instead.
    for f in [FileId::Services, FileId::Steps] {
        if scan::broken(a, f) {
            out.retain(|l| l.file != f);
            out.extend(uses_in_text(a, f).into_iter().filter(|(n, _)| *n == name).map(|(_, l)| l));
        }
    }
    out.sort();
    if include_definition && let Some(def) = scan::find(&scan::services(a), &name) {
        out.insert(0, Location { file: FileId::Services, span: def.span });
    }
    out
}

/// Every service reference in both files, with the span of the name alone (no quotes, no
/// `:alias`). References whose text is not the name as written (an alias `*x` or a merge
/// key, an escaped string) are left out: an edit there would not rename the service.
pub(crate) fn uses(a: &Analysis) -> Vec<(String, Location)> {
    let mut out = Vec::new();
    let mut push = |file: FileId, name: &str, span: Span| {
        let src = a.file(file);
        let inner = scan::unquoted(src, span);
        let span = Span::new(inner.start, inner.start + name.len() as u32);
        if src.slice(span) == name {
            out.push((name.to_string(), Location { file, span }));
        }
    };
    for s in &a.checked().services.services {
        for l in &s.links {
            push(FileId::Services, &l.service.value, l.service.span);
        }
        for r in s.depends_on.iter().chain(&s.volumes_from).chain(&s.dockercfg_service) {
            push(FileId::Services, &r.value, r.span);
        }
    }
    fn walk(steps: &[crate::model::Step], push: &mut dyn FnMut(FileId, &str, Span)) {
        for s in steps {
            for r in s.service.iter().chain(&s.services).chain(&s.dockercfg_service) {
                push(FileId::Steps, &r.value, r.span);
            }
            if let crate::model::StepKind::Group { steps, .. } = &s.kind {
                walk(steps, push);
            }
            walk(&s.on_fail, push);
        }
    }
    walk(&a.checked().steps.steps, &mut push);
    out
}

/// Service references found line by line: each `key: value` of a service key, each element
/// of its flow list, and each list item whose context is a service list.
fn uses_in_text(a: &Analysis, file: FileId) -> Vec<(String, Location)> {
    let lines = a.lines(file);
    let mut out = Vec::new();
    for i in 0..lines.len() {
        let line = lines.parse(i);
        if line.blank || line.value.is_empty() {
            continue;
        }
        match &line.key {
            Some((_, k, _)) if !SERVICE_VALUE_KEYS.contains(&k.as_str()) => continue,
            None if line.items.is_empty() => continue,
            _ => {}
        }
        let value = &lines.text(i)[line.value.clone()];
        let mut starts = vec![line.value.start];
        if value.starts_with('[') {
            starts = value.match_indices(['[', ',']).map(|(j, _)| line.value.start + j + 1).collect();
        }
        for s in starts {
            let at = lines.text(i)[s..].len() - lines.text(i)[s..].trim_start().len();
            let offset = line.start + (s + at) as u32;
            if let Some((name, span, false)) = name_in(a, file, &context_at(&lines, offset), offset) {
                out.push((name, Location { file, span }));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    /// Reading references from the text finds what the model finds, on files that parse.
    #[test]
    fn text_and_model_agree() {
        let (services, steps) = crate::synth::large_project(60);
        let projects = [
            (
                include_str!("../../tests/fixtures/examples/00.aggregate/codeship-services.yml").to_string(),
                include_str!("../../tests/fixtures/examples/00.aggregate/codeship-steps.yml").to_string(),
            ),
            (services, steps),
        ];
        for (sv, st) in projects {
            let a = Analysis::new(
                SourceFile::new("s.yml", sv),
                SourceFile::new("t.yml", st),
                crate::plan::PlanOptions::default(),
            );
            let mut model = uses(&a);
            let mut text: Vec<_> =
                [FileId::Services, FileId::Steps].into_iter().flat_map(|f| uses_in_text(&a, f)).collect();
            model.sort_by_key(|(_, l)| *l);
            text.sort_by_key(|(_, l)| *l);
            assert!(!model.is_empty());
            assert_eq!(text, model);
        }
    }

    /// A flow-mapping step (`- { service: app, … }`) is not readable line by line; the model
    /// has its spans. Before, F12 there found nothing.
    #[test]
    fn definition_and_references_work_inside_a_flow_mapping_step() {
        let steps = "- { name: t, service: app, command: x }\n- service: app\n  command: y\n";
        let services = "db:\n  image: busybox\napp:\n  image: busybox\n";
        let a = Analysis::new(
            SourceFile::new("s.yml", services),
            SourceFile::new("t.yml", steps),
            crate::plan::PlanOptions::default(),
        );
        let at = steps.find("app").unwrap() as u32 + 1;
        let def = definition(&a, FileId::Steps, at).expect("a definition");
        let app = services.find("app").unwrap() as u32;
        assert_eq!((def.file, def.span), (FileId::Services, Span::new(app, app + 3)));
        let hover = a.hover(FileId::Steps, at).expect("a hover on the service name");
        assert!(hover.markdown.contains("busybox"), "{}", hover.markdown);
        let refs = references(&a, FileId::Steps, at, false);
        let starts: Vec<u32> = refs.iter().map(|l| l.span.start).collect();
        assert_eq!(starts, [steps.find("app").unwrap() as u32, steps.rfind("app").unwrap() as u32]);
    }

    /// References in a file that does not parse split its lines once, not once per
    /// candidate line (that was quadratic: 94 s at 5,000 steps).
    #[test]
    fn broken_file_references_split_lines_once() {
        let (services, steps) = crate::synth::large_project(200);
        let steps = format!("{steps}- service: [\n");
        let at = steps.find("service: ").unwrap() as u32 + 9;
        let a = Analysis::new(
            SourceFile::new("s.yml", services),
            SourceFile::new("t.yml", steps),
            crate::plan::PlanOptions::default(),
        );
        assert!(scan::broken(&a, FileId::Steps));
        let before = super::super::work::LINES.with(|n| n.get());
        let refs = references(&a, FileId::Steps, at, true);
        let built = super::super::work::LINES.with(|n| n.get()) - before;
        assert!(refs.len() > 2, "{refs:?}");
        assert!(built <= 4, "split the lines {built} times");
    }
}
