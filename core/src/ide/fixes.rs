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
        let replace = TextEdit { file, span: s.span, new_text: s.replacement.clone() };
        match (d.code == Code::ImageNameWithTag).then(|| tag_from_image_name(a, d)).flatten() {
            Some(TagMove::Insert(edit)) => out.push(fix("Move the tag to `image_tag`".into(), vec![replace, edit])),
            Some(TagMove::Replace { edit, old }) => {
                // `image_tag` is set already: dropping the tag is the fix; moving it over the
                // old value is offered too, saying so.
                out.push(fix("Remove the tag (`image_tag` sets it)".into(), vec![replace.clone()]));
                out.push(QuickFix {
                    title: format!("Move the tag to `image_tag`, replacing `{old}`"),
                    diagnostic: Some(index),
                    preferred: false,
                    edits: vec![replace, edit],
                });
            }
            None if d.code == Code::YamlSyntax => out.push(fix(syntax_fix_title(d).into(), vec![replace])),
            None => out.push(fix(format!("Replace with `{}`", s.replacement), vec![replace])),
        }
    }
    match d.code {
        Code::IgnoredKey | Code::UnsupportedKey => {
            out.extend(remove_key(a, file, d).map(|e| fix("Remove the key".into(), vec![e])))
        }
        Code::PushWithoutImageName => {
            out.extend(add_image_name(a, d).map(|(name, e)| fix(format!("Add `image_name: {name}`"), vec![e])))
        }
        Code::WrongType | Code::YamlSyntax => {
            // A syntax error's own fix (re-indent, split a joined line) is the right one; quoting
            // comes second, for a value whose `: ` belongs to it.
            let preferred = d.suggestion.is_none();
            out.extend(
                quote_value(a, file, d).map(|e| QuickFix { preferred, ..fix("Quote the value".into(), vec![e]) }),
            )
        }
        _ => {}
    }
    out
}

/// What the fix `syntax::explain` attached to a YAML syntax error does.
fn syntax_fix_title(d: &Diagnostic) -> &'static str {
    if d.message.starts_with("a tab") {
        "Indent with spaces"
    } else if d.message.contains("needs a line of its own") {
        "Split the line"
    } else {
        "Fix the indentation"
    }
}

/// An edit inserting `text` as a new line after the line holding `offset`, with the line
/// ending that line has.
fn insert_line_after(a: &Analysis, file: FileId, offset: u32, text: String) -> TextEdit {
    let src = &a.file(file).text;
    let newline = src[offset as usize..].find('\n').map(|i| offset as usize + i);
    let crlf = newline.map_or_else(|| src.contains("\r\n"), |n| src[..n].ends_with('\r'));
    let end = newline.map_or(src.len(), |n| if crlf { n - 1 } else { n }) as u32;
    TextEdit { file, span: Span::at(end), new_text: format!("{}{text}", if crlf { "\r\n" } else { "\n" }) }
}

/// Whether the step at `step` is written as a flow mapping (`- {type: push, …}`, or any step
/// of a JSON file), where a new key cannot go on a line of its own.
fn is_flow(a: &Analysis, step: &crate::model::Step) -> bool {
    let text = &a.file(FileId::Steps).text;
    text[step.span.start as usize..].starts_with('{') || crate::syntax::scalar::in_flow(text, step.span.start as usize)
}

/// An edit adding `key: value` to the mapping of `step` after the value at `after` (a new
/// line in a block mapping, `, "key": value` in a flow one).
fn add_entry(a: &Analysis, step: &crate::model::Step, after: Span, key: &str, value: &str) -> Option<TextEdit> {
    if is_flow(a, step) {
        let entry = format!(", {}: {}", serde_json::to_string(key).expect("a string serializes"), value);
        return Some(TextEdit { file: FileId::Steps, span: Span::at(after.end), new_text: entry });
    }
    let indent = " ".repeat(key_col_of(a, after.start)?);
    Some(insert_line_after(a, FileId::Steps, after.start, format!("{indent}{key}: {value}")))
}

/// How to move an `image_name`'s tag into `image_tag`.
enum TagMove {
    /// Add `image_tag` (there is none).
    Insert(TextEdit),
    /// Overwrite the `image_tag` there is, whose text is `old`.
    Replace { edit: TextEdit, old: String },
}

/// `image_name: acme/app:1.2` → also set `image_tag: "1.2"`.
fn tag_from_image_name(a: &Analysis, d: &Diagnostic) -> Option<TagMove> {
    let holds = |s: &crate::model::Step| match &s.kind {
        StepKind::Push { image_name: Some(n), .. } => n.span.start <= d.span.start && d.span.start <= n.span.end,
        _ => false,
    };
    let step = outline::find_step(&a.checked().steps.steps, &holds)?;
    let StepKind::Push { image_name: Some(name), image_tag, .. } = &step.kind else { return None };
    let r = crate::image_ref::ImageRef::parse(&name.value).ok()?;
    let tag = r.tag.as_ref()?;
    let steps = a.file(FileId::Steps);
    Some(match image_tag {
        Some(t) => TagMove::Replace {
            edit: TextEdit {
                file: FileId::Steps,
                span: t.span,
                new_text: crate::syntax::scalar::scalar_at(steps, t.span, tag),
            },
            old: t.value.clone(),
        },
        None => {
            let value = crate::syntax::scalar::scalar_at(steps, name.span, tag);
            TagMove::Insert(add_entry(a, step, name.span, "image_tag", &value)?)
        }
    })
}

/// The column of the key on the line of `offset` in the steps file.
fn key_col_of(a: &Analysis, offset: u32) -> Option<usize> {
    let lines = a.lines(FileId::Steps);
    let line = lines.parse(lines.line_of(offset));
    line.key.map(|(col, _, _)| col)
}

/// A push step without `image_name`: the image its service builds, when that is named.
fn add_image_name(a: &Analysis, d: &Diagnostic) -> Option<(String, TextEdit)> {
    let step = outline::find_step(&a.checked().steps.steps, &|s| s.span == d.span)?;
    // The service may be inherited from a group: the plan knows.
    let planned = outline::planned_for(&a.plan().steps, step.span);
    let service = planned.first()?.service.as_deref()?;
    let image = a.checked().services.get(service)?.build.as_ref()?.image.as_ref()?.value.clone();
    if is_flow(a, step) {
        // `{"image_name": "acme/app", …`: first in the mapping, before its first key.
        let text = &a.file(FileId::Steps).text;
        let inner = text[d.span.start as usize..].strip_prefix('{')?;
        let at = text.len() - inner.trim_start().len();
        let json = |s: &str| serde_json::to_string(s).expect("a string serializes");
        let entry = format!("{}: {}, ", json("image_name"), json(&image));
        return Some((image, TextEdit { file: FileId::Steps, span: Span::at(at as u32), new_text: entry }));
    }
    let indent = " ".repeat(key_col_of(a, d.span.start)?);
    let value = crate::syntax::scalar::yaml_scalar(&image);
    Some((image, insert_line_after(a, FileId::Steps, d.span.start, format!("{indent}image_name: {value}"))))
}

/// A push step at `range` without `image_tag`: add one after `image_name`.
fn add_image_tag(a: &Analysis, range: Span) -> Option<QuickFix> {
    let lines = a.lines(FileId::Steps);
    let holds = |s: &crate::model::Step| {
        if !matches!(s.kind, StepKind::Push { image_tag: None, .. }) || s.span.start > range.start {
            return false;
        }
        let n = lines.line_of(s.span.start);
        let col = (s.span.start - lines.parse(n).start) as usize;
        range.start <= block_end(&lines, n, col)
    };
    let step = outline::innermost(&a.checked().steps.steps, &holds)?;
    let StepKind::Push { image_name, .. } = &step.kind else { return None };
    // A flow mapping has no line to add; a tag in `image_name` is SW217's fix to move.
    let has_tag = image_name.as_ref().is_some_and(|n| {
        a.report().diagnostics.iter().any(|d| {
            d.code == Code::ImageNameWithTag
                && d.file == a.file(FileId::Steps).name
                && n.span.start <= d.span.start
                && d.span.start <= n.span.end
        })
    });
    if has_tag || is_flow(a, step) {
        return None;
    }
    let n = lines.line_of(step.span.start);
    let col = (step.span.start - lines.parse(n).start) as usize;
    let after = image_name.as_ref().map_or_else(|| block_end(&lines, n, col), |i| i.span.start);
    let edit = insert_line_after(a, FileId::Steps, after, format!("{}image_tag: {DEFAULT_IMAGE_TAG}", " ".repeat(col)));
    Some(QuickFix { title: "Add `image_tag`".into(), diagnostic: None, preferred: false, edits: vec![edit] })
}

/// Delete an ignored key's entry: its line and the lines of its value.
fn remove_key(a: &Analysis, file: FileId, d: &Diagnostic) -> Option<TextEdit> {
    let text = &a.file(file).text;
    let lines = a.lines(file);
    let n = lines.line_of(d.span.start);
    let line = lines.parse(n);
    let (col, _, range) = line.key.clone()?;
    // Only when the diagnostic is on this key as written (not a merged one).
    if line.start + range.start as u32 != d.span.start || !line.items.is_empty() {
        return None;
    }
    if crate::syntax::scalar::in_flow(text, d.span.start as usize) {
        return None;
    }
    // The entry with its line ending: up to the start of the line after it.
    let last = entry_last_line(&lines, n, col);
    let end = if last + 1 < lines.len() { lines.start(last + 1) } else { text.len() as u32 };
    // At the end of the file, take the line ending before instead.
    let start = if end as usize == text.len() && !text.ends_with('\n') && n > 0 {
        lines.start(n - 1) + lines.text(n - 1).len() as u32
    } else {
        line.start
    };
    Some(TextEdit { file, span: Span::new(start, end), new_text: String::new() })
}

/// The last line of the entry whose key is on line `n` at `col`: its value's lines are
/// further right, or list items at the key's own column.
fn entry_last_line(lines: &Lines, n: usize, col: usize) -> usize {
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
    last
}

/// `image_tag: {{ .Branch }}` is a YAML map (or a syntax error); so is `command: a: b`.
/// Quote the value on the diagnostic's line (or the line before, where YAML noticed late).
fn quote_value(a: &Analysis, file: FileId, d: &Diagnostic) -> Option<TextEdit> {
    let lines = a.lines(file);
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
        let new_text = serde_json::to_string(v).expect("a string serializes");
        // Offered only when the file then reads as YAML: a fix must not make a new error.
        let src = &a.file(file).text;
        let fixed = format!("{}{new_text}{}", &src[..span.start as usize], &src[span.end as usize..]);
        if crate::syntax::parse(&crate::source::SourceFile::new("", fixed)).is_err() {
            continue;
        }
        return Some(TextEdit { file, span, new_text });
    }
    None
}
