//! rustc-style text for a [`Report`], drawn by `annotate-snippets` (the renderer rustc and
//! ruff use): the header with code and message, `--> file:line:col`, the source lines of the
//! span with carets under it, and the help. It measures display width, so carets stay under
//! the right columns after tabs (shown as four spaces), CJK characters and emoji, and it
//! trims very long lines (minified JSON) around the span instead of printing them whole. It is
//! handed only the lines of the span (of a very long line, a window around it), so the cost per
//! finding does not grow with the file or the line.

use super::{Diagnostic, Report, Severity};
use crate::source::SourceFile;
use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet, normalize_untrusted_str};

/// Source lines shown for one span; a longer span is cut after them.
const MAX_SNIPPET_LINES: usize = 6;

/// Bytes of a very long line (over four times this) kept on each side of a span: at least 256
/// characters, more than the renderer shows of a line anyway (it cuts to 140 columns around the
/// span and marks the cuts with `...`).
const WINDOW: usize = 1024;

impl Report {
    /// rustc-style text. `files` supplies the source lines for the snippets; a diagnostic whose
    /// file is not among them is printed without a snippet.
    pub fn render_text(&self, files: &[&SourceFile]) -> String {
        let renderer = Renderer::plain();
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&render_one(&renderer, d, files.iter().copied().find(|f| f.name == d.file)));
            out.push_str("\n\n");
        }
        out.push_str(&summary(self));
        out
    }
}

fn summary(r: &Report) -> String {
    if r.diagnostics.is_empty() {
        return "no problems found\n".to_string();
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    format!("{} error{}, {} warning{}\n", r.errors, plural(r.errors), r.warnings, plural(r.warnings))
}

fn level(s: Severity) -> Level<'static> {
    match s {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    }
}

fn render_one(renderer: &Renderer, d: &Diagnostic, file: Option<&SourceFile>) -> String {
    let shown = file.and_then(|f| shown(d, f));
    let text = renderer.render(&[group(d, shown.as_ref())]);
    match shown {
        Some(s) if s.cut => with_column(text, s.column, d.column),
        _ => text,
    }
}

fn group<'a>(d: &'a Diagnostic, shown: Option<&Shown<'a>>) -> Group<'a> {
    let title = level(d.severity).primary_title(d.message.as_str()).id(d.code.as_str());
    let mut group = match shown {
        Some(s) => title.element(
            Snippet::source(s.text)
                .line_start(d.line as usize)
                .path(d.file.as_str())
                .fold(false)
                .annotation(AnnotationKind::Primary.span(s.lo..s.hi)),
        ),
        // No text to show: the position alone, as an origin line.
        None => title.element(Origin::path(d.file.as_str()).line(d.line as usize).char_column(d.column as usize)),
    };
    if let Some(help) = &d.help {
        // Help text quotes the user's files; drop control characters before the terminal sees them.
        group = group.element(Level::HELP.message(normalize_untrusted_str(help)));
    }
    group
}

/// The source text a snippet shows, with the span as byte offsets `lo..hi` into it.
struct Shown<'a> {
    text: &'a str,
    lo: usize,
    hi: usize,
    /// Whether `text` starts inside its line (a window of a long line, see [`shown`]).
    cut: bool,
    /// The 1-based character column of `lo` in `text`.
    column: usize,
}

/// The lines the span covers (at most [`MAX_SNIPPET_LINES`]); of one very long line, only a
/// window around the span. Only that text is handed over, so rendering costs the span, not the
/// file or the line (a minified JSON file is one line). `None` when the span does not fit the
/// text (a diagnostic paired with the wrong file).
fn shown<'a>(d: &Diagnostic, file: &'a SourceFile) -> Option<Shown<'a>> {
    let text = file.text.as_str();
    let lo = (d.span.start as usize).min(text.len());
    let hi = (d.span.end as usize).clamp(lo, text.len());
    if !text.is_char_boundary(lo) || !text.is_char_boundary(hi) {
        return None;
    }
    let mut start = text[..lo].rfind('\n').map_or(0, |i| i + 1);
    // The end of the line holding the span's last character, but no more than the line limit.
    let last_char = text[lo..hi].char_indices().last().map_or(lo, |(i, _)| lo + i);
    let mut end = line_end(text, last_char);
    if let Some(cut) = text[start..end].match_indices('\n').nth(MAX_SNIPPET_LINES - 1) {
        end = start + cut.0;
    }
    let cut = end - start > 4 * WINDOW && !text[start..end].contains('\n');
    if cut {
        start = text.floor_char_boundary(lo.saturating_sub(WINDOW).max(start));
        end = text.ceil_char_boundary((hi.min(lo + WINDOW) + WINDOW).min(end));
    }
    let shown = &text[start..end];
    let (lo, hi) = (lo - start, hi.min(end) - start);
    // An empty span (a missing value, the end of the file) still gets one caret.
    let hi = if hi == lo { shown[lo..].chars().next().map_or(lo, |c| lo + c.len_utf8()) } else { hi };
    Some(Shown { text: shown, lo, hi, cut, column: shown[..lo].chars().count() + 1 })
}

/// `rendered` with the column of its `-->` line, counted in a window of the line, replaced by
/// the column in the whole line.
fn with_column(rendered: String, in_window: usize, in_line: u32) -> String {
    let (from, to) = (format!(":{in_window}\n"), format!(":{in_line}\n"));
    let origin_end = rendered.find(" --> ").and_then(|at| rendered[at..].find('\n').map(|nl| at + nl + 1));
    match origin_end {
        Some(end) if rendered[..end].ends_with(&from) => {
            format!("{}{to}{}", &rendered[..end - from.len()], &rendered[end..])
        }
        _ => rendered,
    }
}

/// The offset of the line break ending the line that holds `at` (or the end of the text):
/// before a `\r\n`, whose `\r` would be shown as `␍`.
fn line_end(text: &str, at: usize) -> usize {
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    if end > at && text[..end].ends_with('\r') { end - 1 } else { end }
}

#[cfg(test)]
mod tests {
    use crate::{Code, Diagnostic, Report, SourceFile, Span, check};

    fn render(services: &str, steps: &str) -> String {
        let (sv, st) = (SourceFile::new("s.yml", services), SourceFile::new("t.yml", steps));
        check(&sv, &st).report.render_text(&[&sv, &st])
    }

    /// Each line of `text` with its leading `|` gutter cut off, to compare the snippet only.
    fn snippet_lines(text: &str) -> Vec<&str> {
        text.lines().filter_map(|l| l.split_once(" | ").map(|(_, rest)| rest)).collect()
    }

    #[test]
    fn carets_sit_under_wide_characters_by_display_width() {
        // 你好 and 🚀🚀 take two columns per character: `$` is at column 16 + 4 + 1 + 4 + 1 = 26.
        let out = render("app:\n  image: busybox\n", "- service: app\n  command: echo 你好 🚀🚀 $NAME\n");
        let carets = format!("{}^^^^^", " ".repeat(26));
        assert_eq!(snippet_lines(&out), ["  command: echo 你好 🚀🚀 $NAME", carets.as_str()], "{out}");
        // The position counts characters (16 + 2 + 1 + 2 + 1 before `$`), as the JSON output does.
        assert!(out.contains("--> t.yml:2:23"), "{out}");
    }

    #[test]
    fn tabs_are_expanded_and_the_carets_follow() {
        // A tab is shown as four spaces, as rustc does: `$` is at column 15 + 2 × 4 = 23.
        let out = render("app:\n  image: busybox\n", "- service: app\n  command: echo\t\t$NAME\n");
        let carets = format!("{}^^^^^", " ".repeat(23));
        assert_eq!(snippet_lines(&out), ["  command: echo        $NAME", carets.as_str()], "{out}");
    }

    fn render_at(text: &str, span: Span) -> String {
        let file = SourceFile::new("t.yml", text);
        Report::new(vec![Diagnostic::error(Code::YamlSyntax, &file, span, "x")]).render_text(&[&file])
    }

    /// A CRLF file's snippet ends its lines before `\r\n`: no `␍` after every line.
    #[test]
    fn crlf_lines_show_no_carriage_return() {
        let out = render_at("a: 1\r\nb: [x\r\nc: 3\r\n", Span::new(9, 10));
        assert_eq!(snippet_lines(&out), ["b: [x", "   ^"], "{out:?}");
        let out = render_at("- a: 1\r\n  b: 2\r\n- c\r\n", Span::new(2, 14));
        assert!(!out.contains('\r') && !out.contains('␍'), "{out:?}");
    }

    #[test]
    fn an_empty_span_gets_one_caret() {
        let out = render_at("a: [é\n", Span::at(4));
        assert_eq!(snippet_lines(&out), ["a: [é", "    ^"], "{out}");
        // At the very end of the file there is no character to underline; the line still shows.
        let out = render_at("a: [\n", Span::at(5));
        assert!(out.contains("--> t.yml:2:1"), "{out}");
    }

    #[test]
    fn a_span_over_several_lines_shows_them_all() {
        let out = render_at("- a: 1\n  b: 2\n- c\n", Span::new(2, 13));
        assert_eq!(snippet_lines(&out), ["  - a: 1", " ___^", "|   b: 2", "|______^"], "{out}");
    }

    #[test]
    fn a_span_that_does_not_fit_its_file_is_shown_without_a_snippet() {
        let out = render_at("é", Span::new(1, 40));
        assert!(out.contains("--> t.yml:1:2") && !out.contains(" | "), "{out}");
    }

    #[test]
    fn a_long_line_is_cut_around_the_span() {
        // A minified JSON steps file: one line of about 19,000 characters, multi-byte ones
        // among them, with the error near its end.
        let item = "{\"service\": \"app\", \"command\": \"é 你好\"}, ";
        let steps = format!("[{}{{\"service\": \"ap\", \"command\": \"x\"}}]", item.repeat(500));
        let out = render("app:\n  image: busybox\n", &steps);
        let column = 2 + 500 * item.chars().count() + "{\"service\": ".len();
        assert!(out.contains(&format!("--> t.yml:1:{column}\n")), "{out}");
        let [line, carets] = snippet_lines(&out)[..] else { panic!("{out}") };
        assert!(line.starts_with("...") && line.chars().count() < 200, "{out}");
        // The carets sit under `"ap"`, counted in display columns (你好 are two each).
        let width = |s: &str| s.chars().map(|c| if c == '你' || c == '好' { 2 } else { 1 }).sum::<usize>();
        let under = line.find("\"ap\"").unwrap();
        assert_eq!(carets, format!("{}^^^^", " ".repeat(width(&line[..under]))), "{out}");
    }

    #[test]
    fn without_its_file_a_diagnostic_keeps_its_position_and_help() {
        let (sv, st) = (
            SourceFile::new("s.yml", "app:\n  image: busybox\n"),
            SourceFile::new("t.yml", "- service: ap\n  command: x\n"),
        );
        let out = check(&sv, &st).report.render_text(&[]);
        assert!(out.contains("error[SW102]: this step names unknown service `ap`"), "{out}");
        assert!(out.contains("--> t.yml:1:12"), "{out}");
        assert!(out.contains("= help: did you mean `app`?"), "{out}");
    }

    #[test]
    fn control_characters_from_the_files_do_not_reach_the_terminal() {
        // An escape sequence in the source line, the message and the help is shown as `␛`.
        let out = render("app\u{1b}[2J:\n  image: busybox\n", "- service: \"app\u{1b}[2J\"\n  command: x\n");
        assert!(!out.contains('\u{1b}'), "{out:?}");
        assert!(out.contains("service: \"app␛[2J\""), "{out}");
    }
}
