//! The images a Dockerfile names (`FROM`, `COPY --from`), found the way Docker's classic
//! builder reads them, so a server run can pin each one: the instruction is written again with
//! the image's id in place of its name, and the engine never looks up a name that another
//! run could have tagged meanwhile. A sibling service's `build.image` name thereby resolves to
//! this run's build.
//!
//! The reading follows the Dockerfile parser step by step (moby/buildkit
//! `frontend/dockerfile/parser`: `Parse`, `splitCommand`, `extractBuilderFlags`,
//! `parseStringsWhitespaceDelimited`), because a difference is a way around the pinning: lines
//! end at `\n` with one `\r` dropped, a byte-order mark is skipped, the `escape` directive is
//! honoured only where Docker honours it, continuation lines skip comments and blank lines,
//! flags are parsed byte by byte (`--from x` is `--from=x`), and `FROM`'s words are split on
//! the same blanks. Where the value of a reference depends on variables or quotes, the
//! instruction is written with the value decided here (an id, a stage name or `scratch`), so
//! what the engine does is what was checked. What cannot be rewritten faithfully is an error
//! naming its line.
//!
//! Variables follow `ARG`s before the first `FROM` (overridden by build args) with `$VAR`,
//! `${VAR}`, `${VAR:-word}` and `${VAR:+word}`.

mod words;

use std::collections::HashMap;
use std::ops::Range;
use words::{builder_flags, expand, words};

/// Where a Dockerfile names an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UseKind {
    From,
    CopyFrom,
}

/// One image reference in a Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageUse {
    /// The reference after ARG substitution: what the builder would look up.
    pub reference: String,
    /// 1-based line of the instruction, for messages.
    pub line: usize,
    pub kind: UseKind,
}

/// A Dockerfile read for its images.
#[derive(Debug)]
pub struct Parsed {
    /// The images to pin, in order; [`pin`] takes one id for each.
    pub uses: Vec<ImageUse>,
    /// For each use, how to write its instruction again.
    forms: Vec<Rewrite>,
    /// Instructions rewritten whatever the ids (a variable that named a stage, say).
    fixed: Vec<Rewrite>,
}

#[derive(Debug)]
struct Rewrite {
    /// The instruction's bytes in the file, from the start of its first line to the end of its
    /// last (continuation, comment and blank lines included).
    range: Range<usize>,
    newlines: usize,
    form: Form,
}

#[derive(Debug)]
enum Form {
    /// `FROM flags IMAGE [AS stage]`; `image` is set for the fixed ones.
    From { flags: Vec<String>, image: Option<String>, stage: Option<String> },
    /// `COPY flags args` with the flag at `from` holding the image.
    Copy { flags: Vec<String>, from: usize, args: String },
}

/// Why a Dockerfile's images cannot be told for sure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerfileError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for DockerfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for DockerfileError {}

fn err(line: usize, message: impl Into<String>) -> DockerfileError {
    DockerfileError { line, message: message.into() }
}

/// Read `text`; `build_args` are the values the build gets (they override an `ARG`'s
/// default, as `--build-arg` does).
pub fn parse(text: &str, build_args: &HashMap<String, String>) -> Result<Parsed, DockerfileError> {
    let mut reader = Reader {
        build_args,
        args: HashMap::new(),
        stages: Vec::new(),
        seen_from: false,
        parsed: Parsed { uses: Vec::new(), forms: Vec::new(), fixed: Vec::new() },
    };
    let lines = physical_lines(text);
    let mut directives = Directives::default();
    let mut i = 0;
    while i < lines.len() {
        let first = &lines[i];
        let trimmed = first.text.trim_start();
        directives.see(trimmed, i + 1)?;
        let escape = directives.escape;
        i += 1;
        let processed = if trimmed.starts_with('#') { "" } else { trimmed };
        let (mut joined, mut end_of_line) = continuation(processed, escape);
        if end_of_line && joined.is_empty() {
            continue;
        }
        let mut last = first;
        while !end_of_line && i < lines.len() {
            let next = &lines[i];
            i += 1;
            last = next;
            let t = next.text.trim_start();
            if t.starts_with('#') || t.is_empty() {
                continue;
            }
            let (piece, end) = continuation(next.text, escape);
            joined.push_str(&piece);
            end_of_line = end;
        }
        let range = first.start..last.start + last.text.len();
        let newlines = text[range.clone()].matches('\n').count();
        reader.instruction(&joined, first.number, escape, range, newlines)?;
    }
    Ok(reader.parsed)
}

/// `text` with each use's instruction written again around its id (`ids[i]` for
/// `parsed.uses[i]`), and the instructions fixed while reading. Line numbers stay as they were.
pub fn pin(text: &str, parsed: &Parsed, ids: &[String]) -> String {
    let mut edits: Vec<(&Rewrite, Option<&str>)> =
        parsed.forms.iter().zip(ids).map(|(r, id)| (r, Some(id.as_str()))).collect();
    edits.extend(parsed.fixed.iter().map(|r| (r, None)));
    edits.sort_by_key(|(r, _)| r.range.start);
    let mut out = String::with_capacity(text.len() + 80 * edits.len());
    let mut at = 0;
    for (rewrite, id) in edits {
        out.push_str(&text[at..rewrite.range.start]);
        out.push_str(&rewrite.form.line(id));
        out.push_str(&"\n".repeat(rewrite.newlines));
        at = rewrite.range.end;
    }
    out.push_str(&text[at..]);
    out
}

impl Form {
    fn line(&self, id: Option<&str>) -> String {
        match self {
            Form::From { flags, image, stage } => {
                let mut line = String::from("FROM ");
                for f in flags {
                    line.push_str(&quote_flag(f));
                    line.push(' ');
                }
                line.push_str(id.or(image.as_deref()).unwrap_or_default());
                if let Some(s) = stage {
                    line.push_str(" AS ");
                    line.push_str(s);
                }
                line
            }
            Form::Copy { flags, from, args } => {
                let mut line = String::from("COPY ");
                for (i, f) in flags.iter().enumerate() {
                    let f = if i == *from { format!("--from={}", id.unwrap_or_default()) } else { f.clone() };
                    line.push_str(&quote_flag(&f));
                    line.push(' ');
                }
                line.push_str(args);
                line
            }
        }
    }
}

/// `--name=value` as `extractBuilderFlags` reads it back: the value in double quotes, with `\`
/// before `\` and `"`.
fn quote_flag(flag: &str) -> String {
    let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
    let value = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("{name}=\"{value}\"")
}

struct Line<'a> {
    number: usize,
    start: usize,
    /// Without its `\n` and one `\r` before it (`bufio.ScanLines`).
    text: &'a str,
}

fn physical_lines(text: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let mut content = raw.strip_suffix('\n').unwrap_or(raw);
        content = content.strip_suffix('\r').unwrap_or(content);
        let mut line = Line { number: i + 1, start, text: content };
        if i == 0
            && let Some(rest) = content.strip_prefix('\u{feff}')
        {
            line.start += '\u{feff}'.len_utf8();
            line.text = rest;
        }
        lines.push(line);
        start += raw.len();
    }
    lines
}

/// The line without a final escape character and the blanks after it, and whether the
/// instruction ends with it (Docker's `lineContinuationRegex`, `\[ \t]*$`).
fn continuation(line: &str, escape: char) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    match body.strip_suffix(escape) {
        Some(cut) => (cut.to_string(), false),
        None => (line.to_string(), true),
    }
}

/// Parser directives: only `escape` and `syntax` at the top of the file count; the first line
/// that is not one ends them.
struct Directives {
    escape: char,
    done: bool,
    seen: Vec<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives { escape: '\\', done: false, seen: Vec::new() }
    }
}

impl Directives {
    fn see(&mut self, line: &str, number: usize) -> Result<(), DockerfileError> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        let name = name.to_ascii_lowercase();
        if name != "escape" && name != "syntax" {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&name) {
            return Err(err(number, format!("only one {name} parser directive can be used")));
        }
        self.seen.push(name.clone());
        if name == "escape" {
            self.escape = match value {
                "\\" => '\\',
                "`" => '`',
                _ => return Err(err(number, format!("invalid escape token `{value}` (` or \\)"))),
            };
        }
        Ok(())
    }
}

/// RE2's `\s`, which Docker's directive pattern uses.
fn re2_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(re2_space);
    let name_len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    let (name, rest) = rest.split_at(name_len);
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest.trim_start_matches(re2_space).strip_prefix('=')?.trim_matches(re2_space);
    (!value.is_empty()).then_some((name, value))
}

/// The blanks `FROM`'s words and the instruction keyword are split on (`[\t\v\f\r ]+`).
fn token_space(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

struct Reader<'a> {
    build_args: &'a HashMap<String, String>,
    /// ARGs declared before the first FROM, with their values: what a FROM may use.
    args: HashMap<String, String>,
    /// Stage names so far (lowercase, as Docker keeps them).
    stages: Vec<String>,
    seen_from: bool,
    parsed: Parsed,
}

impl Reader<'_> {
    fn instruction(
        &mut self,
        joined: &str,
        line: usize,
        escape: char,
        range: Range<usize>,
        newlines: usize,
    ) -> Result<(), DockerfileError> {
        // splitCommand: the keyword up to the first blank, then the flags.
        let trimmed = joined.trim();
        let (keyword, rest) = match trimmed.find(token_space) {
            Some(at) => (&trimmed[..at], trimmed[at..].trim_start_matches(token_space)),
            None => (trimmed, ""),
        };
        let keyword = keyword.to_lowercase();
        if !matches!(keyword.as_str(), "arg" | "from" | "copy") {
            return Ok(());
        }
        let (flags, args) = builder_flags(rest.as_bytes());
        let args = std::str::from_utf8(&rest.as_bytes()[args..])
            .map_err(|_| err(line, "non-ASCII text among the flags"))?
            .trim();
        let at = |form| Rewrite { range: range.clone(), newlines, form };
        match keyword.as_str() {
            "arg" if !self.seen_from => self.arg(args, escape, line),
            "from" => {
                self.seen_from = true;
                let words: Vec<&str> = args.split(token_space).filter(|w| !w.is_empty()).collect();
                let stage = match words.as_slice() {
                    [_] => None,
                    [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_lowercase()),
                    _ => return Err(err(line, "FROM takes an image and, optionally, `AS name`")),
                };
                let token = words[0];
                let literal = !token.contains(['$', '\'', '"', escape]);
                let reference = expand(token, &self.args, escape, line)?;
                let flags = checked_flags(flags, line)?;
                if reference == "scratch" || self.stages.contains(&reference.to_lowercase()) {
                    // Docker's value is what was checked: written out when it came from variables.
                    if !literal {
                        let form = Form::From { flags, image: Some(reference), stage: stage.clone() };
                        self.parsed.fixed.push(at(form));
                    }
                } else {
                    self.parsed.uses.push(ImageUse { reference, line, kind: UseKind::From });
                    self.parsed.forms.push(at(Form::From { flags, image: None, stage: stage.clone() }));
                }
                self.stages.extend(stage);
                Ok(())
            }
            "copy" => {
                let froms: Vec<usize> = (0..flags.len()).filter(|&i| is_from(&flags[i])).collect();
                let from = match froms.as_slice() {
                    [] => return Ok(()),
                    [one] => *one,
                    _ => return Err(err(line, "COPY has more than one --from")),
                };
                let value = flags[from].split_once('=').map_or("", |(_, v)| v).to_string();
                if value.contains('$') {
                    return Err(err(line, format!("`COPY --from={value}`: a variable in --from cannot be checked")));
                }
                let index = value.parse::<usize>().ok().filter(|i| *i < self.stages.len() && !value.starts_with('+'));
                if index.is_some() || self.stages.contains(&value.to_lowercase()) {
                    return Ok(());
                }
                let flags = checked_flags(flags, line)?;
                self.parsed.uses.push(ImageUse { reference: value, line, kind: UseKind::CopyFrom });
                self.parsed.forms.push(at(Form::Copy { flags, from, args: args.to_string() }));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `ARG name[=default] …` (Docker's `parseWords`, quotes kept for the expansion).
    fn arg(&mut self, args: &str, escape: char, line: usize) -> Result<(), DockerfileError> {
        for word in words(args, escape) {
            let (name, default) = match word.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(expand(v, &self.args, escape, line)?)),
                None => (word, None),
            };
            let value = self.build_args.get(&name).cloned().or(default).unwrap_or_default();
            self.args.insert(name, value);
        }
        Ok(())
    }
}

fn is_from(flag: &str) -> bool {
    flag.get(..6).is_some_and(|f| f.eq_ignore_ascii_case("--from"))
}

/// Flags to write again must be `--name=value` with a plain name; anything else is refused
/// rather than written back in a form Docker might read otherwise.
fn checked_flags(flags: Vec<String>, line: usize) -> Result<Vec<String>, DockerfileError> {
    for f in &flags {
        let plain = f.strip_prefix("--").and_then(|f| f.split_once('=')).is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
        if !plain {
            return Err(err(line, format!("the flag `{f}` cannot be checked (write it as --name=value)")));
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(text: &str, args: &[(&str, &str)]) -> Vec<(String, usize, UseKind)> {
        let args = args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parse(text, &args).unwrap().uses.into_iter().map(|u| (u.reference, u.line, u.kind)).collect()
    }

    /// Pin every use to `sha256:N`.
    fn pinned(text: &str) -> String {
        let parsed = parse(text, &HashMap::new()).unwrap();
        let ids: Vec<String> = (0..parsed.uses.len()).map(|i| format!("sha256:{i}")).collect();
        pin(text, &parsed, &ids)
    }

    #[test]
    fn finds_from_and_copy_from_but_not_stages() {
        let text = "FROM golang:1.22 AS build\nRUN make\nFROM build AS test\nFROM --platform=linux/amd64 alpine\n\
                    COPY --from=build /out /out\nCOPY --from=0 /a /a\nCOPY --chown=1 --from=acme/tools:1 /t /t\nFROM scratch\n";
        assert_eq!(
            refs(text, &[]),
            [
                ("golang:1.22".into(), 1, UseKind::From),
                ("alpine".into(), 4, UseKind::From),
                ("acme/tools:1".into(), 7, UseKind::CopyFrom)
            ]
        );
    }

    #[test]
    fn args_before_the_first_from_are_substituted_and_build_args_win() {
        let text = "ARG REG=docker.io\nARG BASE=\"${REG}/acme/base\" TAG\nFROM $BASE:${TAG:-latest}\nARG LATE=x\nFROM ${LATE:-late}\n";
        assert_eq!(refs(text, &[])[0].0, "docker.io/acme/base:latest");
        assert_eq!(refs(text, &[("TAG", "v2"), ("REG", "r.io")])[0].0, "r.io/acme/base:v2");
        // ARGs inside a stage do not reach a later FROM, as in Docker.
        assert_eq!(refs(text, &[])[1].0, "late");
    }

    #[test]
    fn continuations_comments_and_the_escape_directive() {
        let text = "\u{feff}# escape=`\nFROM `\n  # a comment inside\n\n  acme/base `\n  AS base\nfrom base\nRUN x\n";
        let parsed = parse(text, &HashMap::new()).unwrap();
        assert_eq!(parsed.uses, [ImageUse { reference: "acme/base".into(), line: 2, kind: UseKind::From }]);
        // The instruction is one line again, and what follows keeps its line number.
        assert_eq!(
            pin(text, &parsed, &["sha256:0".into()]),
            "\u{feff}# escape=`\nFROM sha256:0 AS base\n\n\n\n\nfrom base\nRUN x\n"
        );
    }

    #[test]
    fn pinning_writes_each_instruction_again_with_its_id() {
        assert_eq!(
            pinned(
                "ARG B=acme/base\nFROM --platform=linux/amd64 \"$B\" AS x\nCOPY --from acme/tools --chown=1:1 [\"/t\", \"/u\"]\n"
            ),
            "ARG B=acme/base\nFROM --platform=\"linux/amd64\" sha256:0 AS x\nCOPY --from=\"sha256:1\" --chown=\"1:1\" [\"/t\", \"/u\"]\n"
        );
        // A variable that names a stage or scratch is written out as that.
        assert_eq!(
            pinned("ARG S=build\nFROM a AS build\nFROM ${S}\nFROM ${NONE:-scratch}\n"),
            "ARG S=build\nFROM sha256:0 AS build\nFROM build\nFROM scratch\n"
        );
    }

    /// Ways the builder reads a line differently from a naive reader: each still finds the image.
    #[test]
    fn read_as_docker_reads() {
        for (text, want) in [
            // Any of Docker's blanks after the keyword.
            ("FROM\x0bvictim/base\n", "victim/base"),
            ("FROM\x0cvictim/base\n", "victim/base"),
            // A byte-order mark before the first instruction.
            ("\u{feff}FROM victim/base\n", "victim/base"),
            // Leading blanks, any case.
            ("  fRoM victim/base\n", "victim/base"),
            // An unknown directive ends the directives: the escape line is a comment.
            ("# foo=bar\n# escape=`\nFROM victim/\\\nbase\n", "victim/base"),
            // A non-RE2 blank before a directive name: a comment, not a directive.
            ("#\u{a0}escape=`\nFROM victim/\\\nbase\n", "victim/base"),
            // Two `\r` before `\n`: the line ends in `\r`, not in a continuation.
            ("FROM victim/base\r\r\nCOPY --from=other/img / /\n", "victim/base"),
        ] {
            assert_eq!(refs(text, &[]).first().map(|r| r.0.as_str()), Some(want), "{text:?}");
        }
        // `--from x` is `--from=x`; a quoted value is unquoted.
        assert_eq!(refs("FROM a\nCOPY --from victim/base /s /d\n", &[])[1].0, "victim/base");
        assert_eq!(refs("FROM a\nCOPY --from=\"victim/base\" /s /d\n", &[])[1].0, "victim/base");
    }

    #[test]
    fn what_cannot_be_told_for_sure_is_an_error_with_its_line() {
        for (text, line, what) in [
            ("FROM a\nCOPY --from=$X /a /a\n", 2, "variable in --from"),
            ("ARG X\nFROM ${X#pre}\n", 2, "only ${VAR}"),
            ("FROM ${X\n", 1, "not closed"),
            ("FROM \"a\n", 1, "quote"),
            ("# escape=x\nFROM a\n", 1, "escape"),
            ("# escape=`\n# escape=\\\nFROM a\n", 2, "only one"),
            ("FROM a b\n", 1, "AS name"),
            ("FROM a\nCOPY --from=b --from=c / /\n", 2, "more than one"),
            ("FROM --platform x\n", 1, "image"),
            // After a flag with `=`, Docker takes a bare `--from` as a flag without a value.
            ("FROM a\nCOPY --chown=1 --from b / /\n", 2, "cannot be checked"),
        ] {
            let e = parse(text, &HashMap::new()).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(what), "{text}: {e}");
        }
    }
}
