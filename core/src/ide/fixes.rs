//! Quick fixes: the edit a diagnostic suggests ("did you mean `app`?"), and a few more where
//! the fix is obvious: quote a value YAML misreads, remove an ignored key, add `image_tag`
//! to a push step, move a tag out of `image_name`.

use super::context::{Lines, parse_line};
use super::outline::{self, block_end};
use super::{Analysis, FileId, QuickFix, TextEdit};
use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::model::StepKind;
use crate::source::Span;

/// The tag a new `image_tag` gets: the branch and the short commit, as projects often do.
const DEFAULT_IMAGE_TAG: &str = "\"{{ .Branch }}-{{ printf \\\"%.7s\\\" .CommitID }}\"";

pub(crate) fn quick_fixes(a: &Analysis, file: FileId, range: Span) -> Vec<QuickFix> {
    let name = &a.file(file).name;
    let mut out: Vec<QuickFix> = Vec::new();
    let text = &a.file(file).text;
    // A diagnostic counts on its whole lines: its span is often one character or empty.
    let line_start = |o: u32| text[..o as usize].rfind('\n').map_or(0, |i| i as u32 + 1);
    let line_end = |o: u32| text[o as usize..].find('\n').map_or(text.len() as u32, |i| o + i as u32);
    for (i, d) in a.report().diagnostics.iter().enumerate() {
        let (start, end) =
            (line_start(d.span.start.min(text.len() as u32)), line_end(d.span.end.min(text.len() as u32)));
        if &d.file == name && start <= range.end && range.start <= end {
            out.extend(fixes_for(a, i));
        }
    }
    if file == FileId::Steps {
        out.extend(add_image_tag(a, range));
    }
    out
}

pub(crate) fn fixes_for(a: &Analysis, index: usize) -> Vec<QuickFix> {
    let Some(d) = a.report().diagnostics.get(index) else { return Vec::new() };
    let Some(file) = a.file_of(d) else { return Vec::new() };
    let fix = |title: String, edits: Vec<TextEdit>| QuickFix { title, diagnostic: Some(index), preferred: true, edits };
    let mut out = Vec::new();
    if let Some(s) = &d.suggestion {
        let mut edits = vec![TextEdit { file, span: s.span, new_text: s.replacement.clone() }];
        if d.code == Code::ImageNameWithTag {
            edits.extend(tag_from_image_name(a, d));
        }
        let title = if d.code == Code::ImageNameWithTag && edits.len() > 1 {
            "Move the tag to `image_tag`".to_string()
        } else {
            format!("Replace with `{}`", s.replacement)
        };
        out.push(fix(title, edits));
    }
    match d.code {
        Code::IgnoredKey | Code::UnsupportedKey => {
            out.extend(remove_key(a, file, d).map(|e| fix("Remove the key".into(), vec![e])))
        }
        Code::PushWithoutImageName => {
            out.extend(add_image_name(a, d).map(|(name, e)| fix(format!("Add `image_name: {name}`"), vec![e])))
        }
        Code::WrongType | Code::YamlSyntax => {
            out.extend(quote_value(a, file, d).map(|e| fix("Quote the value".into(), vec![e])))
        }
        _ => {}
    }
    out
}

/// An edit inserting `text` as a new line after the line holding `offset`.
fn insert_line_after(a: &Analysis, file: FileId, offset: u32, text: String) -> TextEdit {
    let src = &a.file(file).text;
    let end = src[offset as usize..].find('\n').map_or(src.len(), |i| offset as usize + i) as u32;
    TextEdit { file, span: Span::at(end), new_text: format!("\n{text}") }
}

/// `image_name: acme/app:1.2` → also set `image_tag: "1.2"` (replacing one already there).
fn tag_from_image_name(a: &Analysis, d: &Diagnostic) -> Option<TextEdit> {
    let pairs = outline::pair(&a.checked().steps.steps, &a.plan().steps);
    let holds = |s: &crate::model::Step| match &s.kind {
        StepKind::Push { image_name: Some(n), .. } => n.span.start <= d.span.start && d.span.start <= n.span.end,
        _ => false,
    };
    let step = outline::find(&pairs, &holds)?.step;
    let StepKind::Push { image_name: Some(name), image_tag, .. } = &step.kind else { return None };
    let r = crate::image_ref::ImageRef::parse(&name.value).ok()?;
    let tag = r.tag.as_ref()?;
    let value = crate::rules::yaml_scalar(tag);
    Some(match image_tag {
        Some(t) => TextEdit { file: FileId::Steps, span: t.span, new_text: value },
        None => {
            let indent = " ".repeat(key_col_of(a, name.span.start).unwrap_or(0));
            insert_line_after(a, FileId::Steps, name.span.start, format!("{indent}image_tag: {value}"))
        }
    })
}

/// The column of the key on the line of `offset` in the steps file.
fn key_col_of(a: &Analysis, offset: u32) -> Option<usize> {
    let text = &a.file(FileId::Steps).text;
    let lines = Lines::new(text);
    let line = lines.parse(lines.line_of(offset));
    line.key.map(|(col, _, _)| col)
}

/// A push step without `image_name`: the image its service builds, when that is named.
fn add_image_name(a: &Analysis, d: &Diagnostic) -> Option<(String, TextEdit)> {
    let pairs = outline::pair(&a.checked().steps.steps, &a.plan().steps);
    let p = outline::find(&pairs, &|s| s.span == d.span)?;
    let service = p.planned.first()?.service.as_deref()?;
    let image = a.checked().services.get(service)?.build.as_ref()?.image.as_ref()?.value.clone();
    let indent = " ".repeat(key_col_of(a, d.span.start)?);
    let value = crate::rules::yaml_scalar(&image);
    Some((image, insert_line_after(a, FileId::Steps, d.span.start, format!("{indent}image_name: {value}"))))
}

/// A push step at `range` without `image_tag`: add one after `image_name`.
fn add_image_tag(a: &Analysis, range: Span) -> Option<QuickFix> {
    let text = &a.file(FileId::Steps).text;
    let lines = Lines::new(text);
    let pairs = outline::pair(&a.checked().steps.steps, &a.plan().steps);
    let holds = |s: &crate::model::Step| {
        if !matches!(s.kind, StepKind::Push { image_tag: None, .. }) || s.span.start > range.start {
            return false;
        }
        let n = lines.line_of(s.span.start);
        let col = (s.span.start - lines.parse(n).start) as usize;
        range.start <= block_end(&lines, n, col)
    };
    let step = innermost(&pairs, &holds)?;
    let StepKind::Push { image_name, .. } = &step.kind else { return None };
    let n = lines.line_of(step.span.start);
    let col = (step.span.start - lines.parse(n).start) as usize;
    let after = image_name.as_ref().map_or_else(|| block_end(&lines, n, col), |i| i.span.start);
    let edit = insert_line_after(a, FileId::Steps, after, format!("{}image_tag: {DEFAULT_IMAGE_TAG}", " ".repeat(col)));
    Some(QuickFix { title: "Add `image_tag`".into(), diagnostic: None, preferred: false, edits: vec![edit] })
}

/// The deepest step for which `hit` holds.
fn innermost<'a>(
    pairs: &[outline::Paired<'a>],
    hit: &dyn Fn(&crate::model::Step) -> bool,
) -> Option<&'a crate::model::Step> {
    for p in pairs {
        if let Some(s) = innermost(&p.children, hit) {
            return Some(s);
        }
        if hit(p.step) {
            return Some(p.step);
        }
    }
    None
}

/// Delete an ignored key's entry: its line and the lines of its value.
fn remove_key(a: &Analysis, file: FileId, d: &Diagnostic) -> Option<TextEdit> {
    let text = &a.file(file).text;
    let lines = Lines::new(text);
    let n = lines.line_of(d.span.start);
    let line = lines.parse(n);
    let (col, _, range) = line.key.clone()?;
    // Only when the diagnostic is on this key as written (not a merged one).
    if line.start + range.start as u32 != d.span.start || !line.items.is_empty() {
        return None;
    }
    let end = entry_end(&lines, n, col);
    let end = if (end as usize) < text.len() { end + 1 } else { end };
    // At the end of the file, take the newline before instead.
    let start =
        if end as usize == text.len() && !text.ends_with('\n') && line.start > 0 { line.start - 1 } else { line.start };
    Some(TextEdit { file, span: Span::new(start, end), new_text: String::new() })
}

/// The end of the entry whose key is on line `n` at `col`: its value's lines are further
/// right, or list items at the key's own column.
fn entry_end(lines: &Lines, n: usize, col: usize) -> u32 {
    let mut last = n;
    for j in n + 1..lines.len() {
        let line = lines.parse(j);
        if line.blank {
            continue;
        }
        if line.first_col() < col || (line.first_col() == col && line.items.is_empty()) {
            break;
        }
        last = j;
    }
    lines.parse(last).start + lines.text(last).len() as u32
}

/// `image_tag: {{ .Branch }}` is a YAML map (or a syntax error); so is `command: a: b`.
/// Quote the value on the diagnostic's line (or the line before, where YAML noticed late).
fn quote_value(a: &Analysis, file: FileId, d: &Diagnostic) -> Option<TextEdit> {
    let text = &a.file(file).text;
    let lines = Lines::new(text);
    let n = lines.line_of(d.span.start);
    let candidates: &[usize] = if d.code == Code::YamlSyntax { &[n, n.saturating_sub(1)] } else { &[n] };
    for &i in candidates {
        let t = lines.text(i);
        let line = parse_line(t, lines.parse(i).start);
        if line.key.is_none() || line.value.is_empty() {
            continue;
        }
        let v = &t[line.value.clone()];
        let misread = v.starts_with("{{") || (v.contains(": ") && !v.starts_with(['"', '\'', '[', '{']));
        if !misread || (d.code == Code::WrongType && d.span.start != line.start + line.value.start as u32) {
            continue;
        }
        let span = Span::new(line.start + line.value.start as u32, line.start + line.value.end as u32);
        return Some(TextEdit { file, span, new_text: serde_json::to_string(v).expect("a string serializes") });
    }
    None
}
