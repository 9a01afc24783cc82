//! Completion: keys valid at the position, service names where a service is expected, step
//! types, and inside `{{ }}` of templates the build variables and functions.

use super::context::{At, Lines, Place, Seg, context_at, place, value_place};
use super::docs::{self, GROUP, KEYS, KeyScope, PUSH, RUN};
use super::navigation::SERVICE_VALUE_KEYS as SERVICE_LISTS;
use super::{Analysis, CompletionItem, CompletionKind, Completions, FileId, scan};
use crate::source::Span;

pub(crate) fn completions(a: &Analysis, file: FileId, offset: u32) -> Completions {
    let text = &a.file(file).text;
    let offset = offset.min(text.len() as u32);
    let lines = a.lines(file);
    let cx = context_at(&lines, offset);
    let none = Completions { span: Span::at(offset), items: Vec::new() };
    match &cx.at {
        At::Nothing => none,
        At::Key { span } | At::Bare { span } => {
            let with_colon = matches!(cx.at, At::Bare { .. });
            let span = Span::new(span.start, span.end.max(offset));
            let layout = Layout::at(text, span.start);
            let here = place(file, &cx.path);
            let items = match &here {
                Place::Service => {
                    keys(KeyScope::Service, RUN | PUSH | GROUP, &cx.siblings, with_colon.then_some(&layout))
                }
                Place::Build => keys(KeyScope::Build, RUN | PUSH | GROUP, &cx.siblings, with_colon.then_some(&layout)),
                Place::Step => {
                    keys(KeyScope::Step, step_types(&cx.siblings), &cx.siblings, with_colon.then_some(&layout))
                }
                Place::ServiceItem(k) if SERVICE_LISTS.contains(&k.as_str()) => {
                    let listed = listed_items(&lines, offset);
                    services(a, own_service(&cx.path).as_deref())
                        .into_iter()
                        .filter(|i| !listed.contains(&i.label))
                        .collect()
                }
                Place::StepItem(k) if k == "services" => {
                    let listed = listed_items(&lines, offset);
                    services(a, None).into_iter().filter(|i| !listed.contains(&i.label)).collect()
                }
                Place::BuildArg if with_colon => {
                    return template(text, span.start, offset).unwrap_or(none);
                }
                _ => Vec::new(),
            };
            Completions { span, items }
        }
        At::Value { key, token, value, flow_list } => {
            let vp = value_place(file, &cx.path, key);
            if matches!(&vp, Place::BuildArg) || vp == Place::StepValue("image_tag".into()) {
                return template(text, value.start, offset).unwrap_or(none);
            }
            // A flow list's other elements are not offered again.
            let listed: Vec<String> = if *flow_list {
                text[value.start as usize..value.end as usize]
                    .split([',', '[', ']'])
                    .map(super::context::plain)
                    .filter(|e| !e.is_empty())
                    .collect()
            } else {
                Vec::new()
            };
            let items = match &vp {
                Place::ServiceValue(k)
                    if (*flow_list && SERVICE_LISTS.contains(&k.as_str())) || k == "dockercfg_service" =>
                {
                    services(a, own_service(&cx.path).as_deref())
                }
                Place::ServiceValue(k) if k == "add_docker" || k == "cached" => booleans(),
                Place::StepValue(k) if k == "service" || k == "dockercfg_service" => services(a, None),
                Place::StepValue(k) if k == "services" && *flow_list => services(a, None),
                Place::StepValue(k) if k == "type" => docs::STEP_TYPES
                    .iter()
                    .map(|(t, doc)| item(t, CompletionKind::StepType, None, Some(doc), t))
                    .collect(),
                _ => Vec::new(),
            };
            let typed = &text[token.start as usize..token.end as usize];
            let items = items.into_iter().filter(|i| i.label == typed || !listed.contains(&i.label)).collect();
            Completions { span: *token, items }
        }
    }
}

fn item(label: &str, kind: CompletionKind, detail: Option<&str>, doc: Option<&str>, insert: &str) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind,
        detail: detail.map(str::to_string),
        doc: doc.map(str::to_string),
        insert: insert.to_string(),
    }
}

/// Where a completed key is written: its column and the file's line ending, so a key whose
/// value is a block gets the block's first line.
struct Layout {
    column: usize,
    newline: &'static str,
    /// Inside `{…}` (a JSON file, a flow mapping) a block cannot start: `key: ` only.
    flow: bool,
}

impl Layout {
    fn at(text: &str, offset: u32) -> Layout {
        let offset = offset as usize;
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        Layout {
            column: text[line_start..offset].chars().count(),
            newline: if text.contains("\r\n") { "\r\n" } else { "\n" },
            flow: crate::syntax::scalar::in_flow(text, offset),
        }
    }

    /// `key: ` for a scalar; for a list `key:` and a first `- ` under it, for a map `key:` and
    /// the indentation of its first entry: typing on after `depends_on: ` would write a scalar
    /// where a list must be.
    fn insert(&self, key: &str, shape: &str) -> String {
        let indent = " ".repeat(self.column + 2);
        if self.flow {
            format!("{key}: ")
        } else if shape.starts_with("list") {
            format!("{key}:{}{indent}- ", self.newline)
        } else if shape.starts_with("map") {
            format!("{key}:{}{indent}", self.newline)
        } else {
            format!("{key}: ")
        }
    }
}

/// The keys of `scope` for step types `types`, without those already in the mapping; with
/// their colon and value's shape when `layout` says where (the key is typed bare).
fn keys(scope: KeyScope, types: u8, siblings: &[(String, String)], layout: Option<&Layout>) -> Vec<CompletionItem> {
    KEYS.iter()
        .filter(|d| d.scope == scope && !d.hidden && d.types & types != 0)
        .filter(|d| !siblings.iter().any(|(k, _)| k == d.key || exclusive(k, d.key)))
        .map(|d| {
            let insert = layout.map_or_else(|| d.key.to_string(), |l| l.insert(d.key, d.shape));
            item(d.key, CompletionKind::Key, Some(d.shape), Some(d.doc), &insert)
        })
        .collect()
}

/// Keys that cannot stand together in one mapping: a step names one `service` or a group
/// runs over `services`.
fn exclusive(present: &str, key: &str) -> bool {
    matches!((present, key), ("service", "services") | ("services", "service"))
}

/// Which step keys apply, from the mapping's `type:`. A step without one is a run step (as
/// the model reads it); a `type:` being typed (not a type yet) may become any.
pub(crate) fn step_types(siblings: &[(String, String)]) -> u8 {
    match siblings.iter().find(|(k, _)| k == "type").map(|(_, v)| v.as_str()) {
        None | Some("run") => RUN,
        Some("push") => PUSH,
        Some("serial" | "parallel" | "manual" | "matrix") => GROUP,
        Some(_) => RUN | PUSH | GROUP,
    }
}

/// The service whose mapping a services-file path is in.
fn own_service(path: &[Seg]) -> Option<String> {
    let keys: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Item => None,
        })
        .collect();
    // A top-level `services:` wraps the services (as `place` reads it), at any depth below.
    match keys.as_slice() {
        ["services"] => None,
        ["services", name, ..] => Some(name.to_string()),
        [name, ..] => Some(name.to_string()),
        _ => None,
    }
}

fn services(a: &Analysis, except: Option<&str>) -> Vec<CompletionItem> {
    let model = &a.checked().services;
    scan::services(a)
        .into_iter()
        .filter(|d| Some(d.name.as_str()) != except)
        .map(|d| {
            let detail = model.get(&d.name).and_then(scan::service_detail);
            item(&d.name, CompletionKind::Service, detail.as_deref(), None, &d.name)
        })
        .collect()
}

fn booleans() -> Vec<CompletionItem> {
    ["true", "false"].iter().map(|b| item(b, CompletionKind::Value, None, None, b)).collect()
}

/// Inside `{{ }}` of a template value that starts at `from`: variables after `.`, `.Time`'s
/// methods after `.Time.`, functions and keywords elsewhere. `None` outside an action.
fn template(text: &str, from: u32, offset: u32) -> Option<Completions> {
    let before = text.get(from as usize..offset as usize)?;
    let open = before.rfind("{{")?;
    if before[open..].contains("}}") {
        return None;
    }
    let bytes = before.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut s = bytes.len();
    while s > open + 2 && ident(bytes[s - 1]) {
        s -= 1;
    }
    let word_start = from + s as u32;
    let after = &text[offset as usize..];
    let word_end = offset + after.bytes().take_while(|b| ident(*b)).count() as u32;
    if s > open + 2 && bytes[s - 1] == b'.' {
        let dot = s - 1;
        let span = Span::new(from + dot as u32, word_end);
        let is_time =
            before[..dot].ends_with(".Time") && !before[..dot - 5].ends_with(|c: char| ident(c as u8) || c == '.');
        let items = if is_time {
            docs::TIME_METHODS
                .iter()
                .map(|(m, doc)| {
                    let label = format!(".{m}");
                    item(&label, CompletionKind::Method, Some("method of .Time"), Some(doc), &label)
                })
                .collect()
        } else {
            docs::VARIABLES
                .iter()
                .map(|(v, doc)| {
                    let label = format!(".{v}");
                    item(&label, CompletionKind::Variable, Some("build variable"), Some(doc), &label)
                })
                .collect()
        };
        return Some(Completions { span, items });
    }
    let span = Span::new(word_start, word_end);
    let mut items: Vec<CompletionItem> = docs::FUNCTIONS
        .iter()
        .map(|(f, doc)| item(f, CompletionKind::Function, Some("function"), Some(doc), f))
        .collect();
    items.extend(docs::KEYWORDS.iter().map(|(k, doc)| item(k, CompletionKind::Keyword, Some("keyword"), Some(doc), k)));
    items.extend(docs::VARIABLES.iter().map(|(v, doc)| {
        let label = format!(".{v}");
        item(&label, CompletionKind::Variable, Some("build variable"), Some(doc), &label)
    }));
    Some(Completions { span, items })
}

/// The other items of the block list the line at `offset` is an item of (`- db`).
fn listed_items(lines: &Lines, offset: u32) -> Vec<String> {
    let n = lines.line_of(offset);
    let Some(&col) = lines.parse(n).items.first() else { return Vec::new() };
    let mut out = Vec::new();
    let mut take = |j: usize| -> bool {
        let line = lines.parse(j);
        if line.blank {
            return true;
        }
        if line.first_col() != col || line.key.is_some() {
            return false;
        }
        out.push(super::context::plain(&lines.text(j)[line.value.clone()]));
        true
    };
    for j in (0..n).rev() {
        if !take(j) {
            break;
        }
    }
    for j in n + 1..lines.len() {
        if !take(j) {
            break;
        }
    }
    out
}
