//! The images a Dockerfile names (`FROM`, `COPY --from`), found as Docker's classic builder
//! reads them, so a server run can pin each one to an image id and write the id in its place:
//! the engine then never looks an image up by a name another run could have tagged meanwhile,
//! and a sibling service's `build.image` name resolves to this run's build.
//!
//! What is read: the `escape` parser directive, line continuations (with the comment and blank
//! lines Docker skips inside them), `ARG`s before the first `FROM` (overridden by build args)
//! and their `$VAR`, `${VAR}`, `${VAR:-word}` and `${VAR:+word}` forms, quotes, stage names
//! (`AS name`, matched case-insensitively) and stage indexes. Anything else that could change
//! which image a reference names is an error with its line, never a guess.

use std::collections::HashMap;
use std::ops::Range;

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
    /// The bytes of the Dockerfile that hold it (as written, quotes and `$` included).
    pub span: Range<usize>,
    /// 1-based line, for messages.
    pub line: usize,
    pub kind: UseKind,
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

/// Every image `text` names, in order. `build_args` are the values the build gets (they
/// override an `ARG`'s default, as `--build-arg` does).
pub fn image_uses(text: &str, build_args: &HashMap<String, String>) -> Result<Vec<ImageUse>, DockerfileError> {
    let mut reader =
        Reader { build_args, args: HashMap::new(), stages: Vec::new(), seen_from: false, uses: Vec::new() };
    let mut escape = '\\';
    let mut directives = true;
    let mut pieces: Vec<Piece> = Vec::new();
    let mut first_line = 0;
    let (mut offset, mut line_no) = (0usize, 0usize);
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        line_no += 1;
        let content = raw.trim_end_matches(['\n', '\r']);
        if directives {
            if let Some((name, value)) = directive(content) {
                if name.eq_ignore_ascii_case("escape") {
                    escape = match value {
                        "\\" => '\\',
                        "`" => '`',
                        _ => return Err(err(line_no, format!("invalid escape directive `{value}`"))),
                    };
                }
                continue;
            }
            directives = false;
        }
        let trimmed = content.trim_start();
        // Comment lines are dropped, also inside a continued instruction; so are blank lines.
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if pieces.is_empty() {
            first_line = line_no;
        }
        let body = content.trim_end_matches([' ', '\t']);
        match body.strip_suffix(escape) {
            Some(cut) => pieces.push(Piece { start, text: cut }),
            None => {
                pieces.push(Piece { start, text: content });
                reader.instruction(&std::mem::take(&mut pieces), first_line, escape)?;
            }
        }
    }
    if !pieces.is_empty() {
        reader.instruction(&pieces, first_line, escape)?;
    }
    Ok(reader.uses)
}

/// `text` with each span replaced by its text; spans must not overlap.
pub fn rewrite(text: &str, replacements: &[(Range<usize>, String)]) -> String {
    let mut sorted: Vec<&(Range<usize>, String)> = replacements.iter().collect();
    sorted.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, with) in sorted {
        out.push_str(&text[at..range.start]);
        out.push_str(with);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

fn err(line: usize, message: String) -> DockerfileError {
    DockerfileError { line, message }
}

/// `# name=value` at the top of the file (Docker's parser directives).
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let (name, value) = rest.split_once('=')?;
    let name = name.trim_end();
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric());
    ok.then(|| (name, value.trim()))
}

/// A physical line's share of an instruction, and where it starts in the file.
struct Piece<'a> {
    start: usize,
    text: &'a str,
}

/// A word of an instruction: its text and its bytes in the file, when they are contiguous.
struct Word {
    text: String,
    span: Option<Range<usize>>,
}

struct Reader<'a> {
    build_args: &'a HashMap<String, String>,
    /// ARGs declared before the first FROM, with their values: what a FROM may use.
    args: HashMap<String, String>,
    /// Stage names so far (lowercase).
    stages: Vec<String>,
    seen_from: bool,
    uses: Vec<ImageUse>,
}

impl Reader<'_> {
    fn instruction(&mut self, pieces: &[Piece], line: usize, escape: char) -> Result<(), DockerfileError> {
        // The instruction as one string, and for each of its bytes, where it is in the file.
        let mut joined = String::new();
        let mut map = Vec::new();
        for p in pieces {
            joined.push_str(p.text);
            map.extend((0..p.text.len()).map(|i| p.start + i));
        }
        let words = split_words(&joined, &map, escape, line)?;
        let Some((keyword, rest)) = words.split_first() else { return Ok(()) };
        match keyword.text.to_ascii_uppercase().as_str() {
            "ARG" if !self.seen_from => self.arg(rest, escape, line),
            "FROM" => self.from(rest, escape, line),
            "COPY" => self.copy(rest, line),
            _ => Ok(()),
        }
    }

    fn arg(&mut self, words: &[Word], escape: char, line: usize) -> Result<(), DockerfileError> {
        for w in words {
            let (name, default) = match w.text.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(expand(v, &self.args, escape, line)?)),
                None => (w.text.clone(), None),
            };
            let value = self.build_args.get(&name).cloned().or(default).unwrap_or_default();
            self.args.insert(name, value);
        }
        Ok(())
    }

    fn from(&mut self, words: &[Word], escape: char, line: usize) -> Result<(), DockerfileError> {
        self.seen_from = true;
        let mut rest = words.iter().skip_while(|w| w.text.starts_with("--"));
        let Some(image) = rest.next() else { return Ok(()) };
        let reference = expand(&image.text, &self.args, escape, line)?;
        let stage = match (rest.next(), rest.next()) {
            (Some(a), Some(name)) if a.text.eq_ignore_ascii_case("as") => Some(name.text.to_ascii_lowercase()),
            _ => None,
        };
        if reference != "scratch" && !self.stages.contains(&reference.to_ascii_lowercase()) {
            let span = image.span.clone().ok_or_else(|| err(line, "an image name split over lines".into()))?;
            self.uses.push(ImageUse { reference, span, line, kind: UseKind::From });
        }
        self.stages.extend(stage);
        Ok(())
    }

    fn copy(&mut self, words: &[Word], line: usize) -> Result<(), DockerfileError> {
        for w in words.iter().take_while(|w| w.text.starts_with("--")) {
            let Some(value) = strip_prefix_ignore_case(&w.text, "--from=") else { continue };
            if value.contains('$') {
                return Err(err(line, format!("`COPY --from={value}`: a variable in --from cannot be checked")));
            }
            let is_stage =
                value.bytes().all(|b| b.is_ascii_digit()) || self.stages.contains(&value.to_ascii_lowercase());
            if !is_stage {
                let span = w.span.as_ref().ok_or_else(|| err(line, "an image name split over lines".into()))?;
                let span = span.end - value.len()..span.end;
                self.uses.push(ImageUse { reference: value.to_string(), span, line, kind: UseKind::CopyFrom });
            }
        }
        Ok(())
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// Split on blanks outside quotes (an escaped blank stays in its word).
fn split_words(text: &str, map: &[usize], escape: char, line: usize) -> Result<Vec<Word>, DockerfileError> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    let finish = |from: usize, to: usize, words: &mut Vec<Word>| {
        let contiguous = map[to - 1] - map[from] == to - 1 - from;
        words.push(Word { text: text[from..to].to_string(), span: contiguous.then(|| map[from]..map[to - 1] + 1) });
    };
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (None, ' ' | '\t') => {
                if let Some(s) = start.take() {
                    finish(s, i, &mut words);
                }
                continue;
            }
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (q, c) if c == escape && q != Some('\'') => {
                chars.next();
            }
            _ => {}
        }
        start.get_or_insert(i);
    }
    if quote.is_some() {
        return Err(err(line, "a quote is not closed".into()));
    }
    if let Some(s) = start {
        finish(s, text.len(), &mut words);
    }
    Ok(words)
}

/// A word with its variables replaced and quotes removed, as the builder's shell lexer does.
fn expand(word: &str, vars: &HashMap<String, String>, escape: char, line: usize) -> Result<String, DockerfileError> {
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    let mut in_double = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' if !in_double => {
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    out.push(c);
                }
            }
            '"' => in_double = !in_double,
            c if c == escape => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '$' => out.push_str(&variable(&mut chars, vars, escape, line)?),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn variable(
    chars: &mut std::iter::Peekable<std::str::Chars>,
    vars: &HashMap<String, String>,
    escape: char,
    line: usize,
) -> Result<String, DockerfileError> {
    let lookup = |name: &str| vars.get(name).cloned().unwrap_or_default();
    if chars.peek() != Some(&'{') {
        let mut name = String::new();
        while let Some(&c) = chars.peek().filter(|c| c.is_ascii_alphanumeric() || **c == '_') {
            name.push(c);
            chars.next();
        }
        return Ok(if name.is_empty() { "$".to_string() } else { lookup(&name) });
    }
    chars.next();
    let mut body = String::new();
    loop {
        match chars.next() {
            Some('}') => break,
            Some(c) => body.push(c),
            None => return Err(err(line, format!("`${{{body}` is not closed"))),
        }
    }
    let name_len = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(body.len());
    let (name, modifier) = body.split_at(name_len);
    let value = lookup(name);
    match modifier {
        "" => Ok(value),
        m if m.starts_with(":-") => match value.is_empty() {
            true => expand(&m[2..], vars, escape, line),
            false => Ok(value),
        },
        m if m.starts_with(":+") => match value.is_empty() {
            true => Ok(String::new()),
            false => expand(&m[2..], vars, escape, line),
        },
        _ => Err(err(line, format!("`${{{body}}}`: only ${{VAR}}, ${{VAR:-word}} and ${{VAR:+word}} can be checked"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(text: &str, args: &[(&str, &str)]) -> Vec<(String, usize, UseKind)> {
        let args = args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        image_uses(text, &args).unwrap().into_iter().map(|u| (u.reference, u.line, u.kind)).collect()
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
        let text = "# escape=`\nFROM `\n  # a comment inside\n\n  acme/base `\n  AS base\nfrom base\n";
        let uses = image_uses(text, &HashMap::new()).unwrap();
        assert_eq!(uses.len(), 1);
        assert_eq!(uses[0].reference, "acme/base");
        assert_eq!(&text[uses[0].span.clone()], "acme/base");
        assert_eq!(uses[0].line, 2);
    }

    #[test]
    fn rewriting_puts_ids_where_the_names_were() {
        let text = "ARG B=acme/base\nFROM \"$B\" AS x\nCOPY --from=acme/tools /t /t\n";
        let uses = image_uses(text, &HashMap::new()).unwrap();
        let ids: Vec<(Range<usize>, String)> =
            uses.iter().enumerate().map(|(i, u)| (u.span.clone(), format!("sha256:{i}"))).collect();
        assert_eq!(rewrite(text, &ids), "ARG B=acme/base\nFROM sha256:0 AS x\nCOPY --from=sha256:1 /t /t\n");
    }

    #[test]
    fn what_cannot_be_told_for_sure_is_an_error_with_its_line() {
        for (text, line, what) in [
            ("FROM a\nCOPY --from=$X /a /a\n", 2, "variable in --from"),
            ("ARG X\nFROM ${X#pre}\n", 2, "only ${VAR}"),
            ("FROM ${X\n", 1, "not closed"),
            ("FROM \"a\n", 1, "quote"),
            ("FROM acme/\\\nbase\n", 1, "split over lines"),
            ("# escape=x\nFROM a\n", 1, "escape"),
        ] {
            let e = image_uses(text, &HashMap::new()).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(what), "{text}: {e}");
        }
    }
}
