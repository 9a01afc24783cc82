//! The YAML scanner's errors in the words a person needs, with a fix that is right.
//!
//! The scanner says "mapping values are not allowed in this context" or "while parsing a block
//! mapping, did not find expected key"; almost always the line is indented wrongly, or two
//! lines were joined into one. So the error is explained from the text around it: the line it
//! is on and the lines above. The fix (re-indent the line and the lines under it, or split the
//! joined line) is offered only when the file then parses, at least up to the end of the lines
//! it touched: it is tried, not guessed.

use crate::codes::Code;
use crate::diagnostics::Diagnostic;
use crate::source::{SourceFile, Span};
use granit_parser::Parser;

/// Indentation columns tried for a fix, nearest first.
const MAX_TRIES: usize = 8;

/// The diagnostic for a scanner error at `offset` with the scanner's words `info`.
pub(super) fn scan_error(file: &SourceFile, offset: u32, info: &str) -> Diagnostic {
    let text = file.text.as_str();
    let explained = if info.contains("found a tab") {
        tab(text, offset as usize)
    } else if info.contains("mapping values are not allowed") {
        joined(text, offset as usize).or_else(|| misindented(text, offset as usize))
    } else if info.contains("did not find expected") {
        misindented(text, offset as usize)
    } else {
        None
    };
    match explained {
        Some(e) => {
            let mut d = Diagnostic::error(Code::YamlSyntax, file, e.span, e.message).with_help(e.help);
            if let Some((span, replacement)) = e.fix {
                d = d.with_suggestion(span, replacement);
            }
            d
        }
        None => Diagnostic::error(Code::YamlSyntax, file, Span::at(offset), info),
    }
}

struct Explained {
    span: Span,
    message: String,
    help: String,
    fix: Option<(Span, String)>,
}

/// A line of the text: where it starts, and its content without the line ending.
#[derive(Clone, Copy)]
struct Line<'a> {
    start: usize,
    text: &'a str,
    /// `\n`, `\r\n`, or nothing on a last line without one.
    ending: &'a str,
}

impl<'a> Line<'a> {
    fn indent(&self) -> usize {
        self.text.len() - self.text.trim_start_matches(' ').len()
    }
    fn is_blank_or_comment(&self) -> bool {
        let t = self.text.trim_start();
        t.is_empty() || t.starts_with('#')
    }
    /// The column of the line's first key or scalar, after any `- ` list markers.
    fn content_col(&self) -> usize {
        let mut col = self.indent();
        while self.text[col..].starts_with("- ") {
            col += 2;
            col += self.text[col..].len() - self.text[col..].trim_start_matches(' ').len();
        }
        col
    }
    /// The line's first token, as the message quotes it: `command:`, `- service:`, `-`.
    fn token(&self) -> &'a str {
        let t = self.text.trim_start();
        let after_dash = t.strip_prefix("- ").map_or(t, str::trim_start);
        let key_end =
            after_dash.find(": ").map(|i| i + 1).or_else(|| after_dash.ends_with(':').then_some(after_dash.len()));
        let len = t.len() - after_dash.len() + key_end.unwrap_or(after_dash.split(' ').next().unwrap_or("").len());
        &t[..len]
    }
    /// The key the line starts with, if any.
    fn key(&self) -> Option<&'a str> {
        let t = &self.text[self.content_col()..];
        let end = t.find(": ").or_else(|| t.ends_with(':').then(|| t.len() - 1))?;
        Some(&t[..end])
    }
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for l in text.split_inclusive('\n') {
        let text = l.trim_end_matches(['\n', '\r']);
        out.push(Line { start, text, ending: &l[text.len()..] });
        start += l.len();
    }
    out
}

fn line_at(lines: &[Line], offset: usize) -> usize {
    lines.partition_point(|l| l.start <= offset).saturating_sub(1)
}

/// Whether `text` parses up to at least `through` (a later, other error is not this one's).
fn parses_through(text: &str, through: usize) -> bool {
    for event in Parser::new_from_str(text) {
        if let Err(e) = event {
            return e.marker().byte_offset().unwrap_or(0) > through;
        }
    }
    true
}

/// The line at `offset` (or, for "mapping values", the line the scanner was reading) is not
/// lined up with the lines it belongs with: find the column that makes the file parse.
fn misindented(text: &str, offset: usize) -> Option<Explained> {
    let ls = lines(text);
    let n = line_at(&ls, offset);
    let line = *ls.get(n)?;
    if line.is_blank_or_comment() {
        return None;
    }
    let col = line.indent();
    // The lines the block under this one takes along: more indented than it.
    let mut end = n + 1;
    while end < ls.len() && (ls[end].is_blank_or_comment() || ls[end].indent() > col) {
        end += 1;
    }
    let block_end = ls.get(end).map_or(text.len(), |l| l.start);
    // Candidate columns: where the lines above start their items and keys.
    let above: Vec<(usize, usize)> = ls[..n]
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, l)| !l.is_blank_or_comment())
        .flat_map(|(i, l)| [(l.indent(), i), (l.content_col(), i)])
        .collect();
    let mut columns: Vec<(usize, usize)> = Vec::new();
    for &(c, i) in &above {
        if c != col && !columns.iter().any(|(seen, _)| *seen == c) {
            columns.push((c, i));
        }
    }
    columns.sort_by_key(|(c, i)| (c.abs_diff(col), std::cmp::Reverse(*i)));
    for &(c, reference) in columns.iter().take(MAX_TRIES) {
        let Some(moved) = reindent(&ls[n..end], col, c) else { continue };
        let candidate = format!("{}{moved}{}", &text[..line.start], &text[block_end..]);
        let through = line.start + moved.len();
        if !parses_through(&candidate, through) {
            continue;
        }
        let r = ls[reference];
        let what = if c < col { "more" } else { "less" };
        // Right under a `key: value` line, a deeper line continues that value.
        let of_value = c < col
            && reference + 1 == n
            && r.key().is_some_and(|k| !r.text[r.content_col() + k.len() + 1..].trim().is_empty());
        let mut message = format!(
            "`{}` is indented {what} than `{}` on line {} ({col} spaces, not {c})",
            line.token(),
            r.token(),
            reference + 1
        );
        if let Some(key) = r.key().filter(|_| of_value) {
            message.push_str(&format!(", so YAML reads it as part of `{key}`'s value"));
        }
        let help = format!("indent it {c} spaces, to line up with `{}` on line {}", r.token(), reference + 1);
        let token = Span::new((line.start + col) as u32, (line.start + col + line.token().len()) as u32);
        return Some(Explained {
            span: token,
            message,
            help,
            fix: Some((Span::new(line.start as u32, block_end as u32), moved)),
        });
    }
    None
}

/// `lines` moved from column `from` to `to` (each keeps its indentation relative to the first);
/// `None` when a line would have to move left past text.
fn reindent(lines: &[Line], from: usize, to: usize) -> Option<String> {
    let mut out = String::new();
    for l in lines {
        if l.text.trim().is_empty() {
            out.push_str(l.text);
        } else if to >= from {
            out.push_str(&" ".repeat(to - from));
            out.push_str(l.text);
        } else {
            let cut = from - to;
            if l.indent() < cut {
                return None;
            }
            out.push_str(&l.text[cut..]);
        }
        out.push_str(l.ending);
    }
    Some(out)
}

/// Two lines joined into one (`command: true  type: push`, `command: true- service: app`):
/// the scanner found a second `key:` inside a value.
fn joined(text: &str, colon: usize) -> Option<Explained> {
    let ls = lines(text);
    let n = line_at(&ls, colon);
    let line = *ls.get(n)?;
    let in_line = colon - line.start;
    if !line.text[in_line..].starts_with(':') {
        return None;
    }
    // The second key: the word before the colon.
    let key_start = line.text[..in_line].rfind(' ').map_or(0, |i| i + 1);
    if key_start <= line.content_col() {
        return None; // the key starts the line: an indentation problem
    }
    let first = line.key()?;
    let second = &line.text[key_start..in_line];
    // `command: echo note: tricky` is a value with `: ` in it, not two lines joined.
    if !known_key(second) {
        return None;
    }
    let before = line.text[..key_start].trim_end();
    // `true- service: app`: the joined line began a new list item.
    let (split_at, item) = match before.strip_suffix('-') {
        Some(rest) if !rest.ends_with(' ') && !rest.is_empty() => (rest.len(), true),
        _ => (before.len(), false),
    };
    let head = &line.text[..split_at];
    let tail = line.text[split_at..].trim_start();
    let mut cols: Vec<usize> = if item {
        ls[..=n].iter().rev().filter(|l| l.text.trim_start().starts_with("- ")).map(|l| l.indent()).collect()
    } else {
        vec![line.content_col()]
    };
    cols.dedup();
    let fix = cols.into_iter().take(MAX_TRIES).find_map(|c| {
        let replacement = format!("{head}\n{}{tail}", " ".repeat(c));
        let end = line.start + line.text.len();
        let candidate = format!("{}{replacement}{}", &text[..line.start], &text[end..]);
        parses_through(&candidate, line.start + replacement.len())
            .then(|| (Span::new(line.start as u32, end as u32), replacement))
    });
    let what = if item { format!("a new list item, `- {second}:`,") } else { format!("a second key, `{second}:`,") };
    Some(Explained {
        span: Span::new((line.start + key_start) as u32, colon as u32 + 1),
        message: format!("{what} starts on the line of `{first}:`; each needs a line of its own"),
        help: format!(
            "put `{tail}` on a line of its own{}; if `: ` belongs to the value of `{first}`, quote the value",
            if item { "" } else { ", lined up with the key before it" }
        ),
        fix,
    })
}

fn known_key(name: &str) -> bool {
    use crate::keys::*;
    [SERVICE_KEYS, PASSTHROUGH_KEYS, IGNORED_KEYS, UNSUPPORTED_KEYS, BUILD_KEYS, STEP_KEYS]
        .iter()
        .any(|k| k.contains(&name))
}

/// A tab in the indentation: YAML indents with spaces only.
fn tab(text: &str, offset: usize) -> Option<Explained> {
    let ls = lines(text);
    let n = line_at(&ls, offset);
    let (i, line) = ls.iter().enumerate().skip(n).find(|(_, l)| {
        let ws = &l.text[..l.text.len() - l.text.trim_start().len()];
        ws.contains('\t')
    })?;
    let ws_len = line.text.len() - line.text.trim_start().len();
    // The column the lines above use for their keys, nearest first; else two spaces a tab.
    let above = ls[..i].iter().rev().find(|l| !l.is_blank_or_comment());
    let guess = above.map_or(2, |l| l.content_col());
    let replacement = " ".repeat(guess);
    let span = Span::new(line.start as u32, (line.start + ws_len) as u32);
    let candidate = format!("{}{replacement}{}", &text[..line.start], &text[line.start + ws_len..]);
    let fix = parses_through(&candidate, line.start + guess + 1).then_some((span, replacement));
    Some(Explained {
        span,
        message: "a tab in the indentation: YAML indents with spaces only".into(),
        help: format!(
            "indent line {} with spaces{}",
            i + 1,
            if fix.is_some() { format!(" ({guess})") } else { String::new() }
        ),
        fix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain(text: &str) -> (String, String, Option<String>) {
        let file = SourceFile::new("codeship-steps.yml", text);
        let d = crate::syntax::parse(&file).expect_err("a syntax error");
        let fixed = d.suggestion.as_ref().map(|s| {
            let mut t = text.to_string();
            t.replace_range(s.span.start as usize..s.span.end as usize, &s.replacement);
            t
        });
        if let Some(f) = &fixed {
            let file = SourceFile::new("codeship-steps.yml", f.as_str());
            assert!(crate::syntax::parse(&file).is_ok(), "the fix does not parse:\n{f}");
        }
        (d.message, d.help.unwrap_or_default(), fixed)
    }

    #[test]
    fn a_key_indented_under_a_value_is_lined_up() {
        let (m, h, f) = explain("- service: app\n  command: true\n    type: push\n");
        assert_eq!(
            m,
            "`type:` is indented more than `command:` on line 2 (4 spaces, not 2), so YAML reads it as part of `command`'s value"
        );
        assert_eq!(h, "indent it 2 spaces, to line up with `command:` on line 2");
        assert_eq!(f.as_deref(), Some("- service: app\n  command: true\n  type: push\n"));
    }

    #[test]
    fn a_key_indented_less_than_its_siblings() {
        let (m, _, f) = explain("- service: app\n command: true\n");
        assert!(m.contains("`command:` is indented less than `- service:` on line 1"), "{m}");
        assert_eq!(f.as_deref(), Some("- service: app\n  command: true\n"));
    }

    #[test]
    fn a_list_item_and_its_block_move_together() {
        let text =
            "- type: parallel\n  steps:\n  - service: app\n    command: true\n   - service: app\n     command: true\n";
        let (m, _, f) = explain(text);
        assert!(m.starts_with("`- service:` is indented more than"), "{m}");
        assert_eq!(
            f.as_deref(),
            Some(
                "- type: parallel\n  steps:\n  - service: app\n    command: true\n  - service: app\n    command: true\n"
            )
        );
    }

    #[test]
    fn joined_lines_are_split_not_quoted() {
        let (m, h, f) = explain("- service: app\n  command: echo hi  type: push\n");
        assert_eq!(m, "a second key, `type:`, starts on the line of `command:`; each needs a line of its own");
        assert!(h.contains("quote the value"), "{h}");
        assert_eq!(f.as_deref(), Some("- service: app\n  command: echo hi\n  type: push\n"));

        let (m, _, f) = explain("- service: app\n  command: true- service: app\n  command: false\n");
        assert!(m.starts_with("a new list item, `- service:`,"), "{m}");
        assert_eq!(f.as_deref(), Some("- service: app\n  command: true\n- service: app\n  command: false\n"));
    }

    #[test]
    fn a_value_holding_colon_space_is_not_split() {
        let (_, _, f) = explain("- service: app\n  command: echo note: tricky\n");
        assert_eq!(f, None);
    }

    #[test]
    fn a_tab_is_replaced_by_spaces() {
        let (m, _, f) = explain("- service: app\n\tcommand: true\n");
        assert_eq!(m, "a tab in the indentation: YAML indents with spaces only");
        assert_eq!(f.as_deref(), Some("- service: app\n  command: true\n"));
    }

    /// Every prefix and every one-byte deletion of broken files explains without a panic, and
    /// every fix offered parses (checked in `explain`).
    #[test]
    fn mangled_files_never_panic() {
        let texts = [
            "- type: parallel\n  steps:\n  - service: app\n    command: true\n   - service: app\n     command: x\n",
            "- service: app\n  command: true- service: app\n\tcommand: \"a: b\"  name: x\n",
            "app:\n  image: busybox\n   build: .\n links: [db\n",
        ];
        for text in texts {
            let check = |t: String| {
                let Err(d) = crate::syntax::parse(&SourceFile::new("f.yml", t.as_str())) else { return };
                let Some(s) = d.suggestion else { return };
                let mut fixed = t.clone();
                fixed.replace_range(s.span.start as usize..s.span.end as usize, &s.replacement);
                let fix_end = s.span.start as usize + s.replacement.len();
                assert!(
                    parses_through(&fixed, fix_end),
                    "the fix of {:?} does not parse:\n{t}\n=>\n{fixed}",
                    d.message
                );
            };
            for end in (0..=text.len()).filter(|i| text.is_char_boundary(*i)) {
                check(text[..end].to_string());
                if end < text.len() {
                    let mut gap = text.to_string();
                    gap.remove(end);
                    check(gap);
                }
            }
        }
    }

    #[test]
    fn what_cannot_be_explained_keeps_the_scanner_words() {
        let (m, _, f) = explain("a: [b\n");
        assert!(m.contains("bracket"), "{m}");
        assert_eq!(f, None);
    }
}
