//! Branch filters (`tag`, `exclude`): a plain string must equal the whole build tag; a value
//! containing `^` or `$` is a Go RE2 regular expression searched unanchored.
//!
//! We use `regex-lite`: its syntax is RE2's, and like RE2 its `\d`, `\w` and `\b` are
//! ASCII-only (the full `regex` crate makes them Unicode-aware, and its Unicode tables were
//! half of the studio's download). Remaining differences, bridged or reported: `\s` also
//! matches `\v` here (we translate it to RE2's `[\t\n\f\r ]`); Rust's character-class set
//! operators (`&&`, `--`, `~~`) are plain characters in RE2 (we reject them with a hint);
//! `\p{…}` classes and Unicode case folding are not supported (an error, in the browser and
//! natively alike).

use regex_lite::Regex;

#[derive(Clone, Debug)]
pub enum Filter {
    Exact(String),
    Pattern(Regex),
}

/// Why a filter pattern is invalid; `offset` is a byte offset into the pattern if known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub message: String,
    pub help: Option<String>,
}

/// The longest build tag (branch or git tag name) accepted, in bytes. Matching a `tag:` or
/// `exclude:` pattern costs time in proportion to the tag's length, and the tag comes from
/// users (`--tag`, API requests); 255 bytes is more than file systems allow for a ref's name.
pub const MAX_TAG_LEN: usize = 255;

/// A build tag that cannot be a branch or tag name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadTag {
    /// Longer than [`MAX_TAG_LEN`] bytes.
    TooLong { len: usize },
    /// A control character (a newline, say) at this byte offset: git refuses them in ref
    /// names, and one in a tag would reach logs, image tags and commit statuses as it is.
    Control { at: usize },
}

impl std::fmt::Display for BadTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadTag::TooLong { len } => {
                write!(f, "the build tag is {len} bytes long; a branch or tag name has at most {MAX_TAG_LEN} bytes")
            }
            BadTag::Control { at } => write!(
                f,
                "the build tag has a control character at byte {at}; a branch or tag name has none (pass the name alone)"
            ),
        }
    }
}

impl std::error::Error for BadTag {}

/// Refuse a build tag that cannot be a branch or tag name, before any filter sees it.
pub fn check_tag(tag: &str) -> Result<(), BadTag> {
    if tag.len() > MAX_TAG_LEN {
        return Err(BadTag::TooLong { len: tag.len() });
    }
    match tag.char_indices().find(|(_, c)| c.is_control()) {
        Some((at, _)) => Err(BadTag::Control { at }),
        None => Ok(()),
    }
}

/// Compiled regexes are bounded: a filter is a branch name pattern, not a program.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Filter {
    pub fn is_pattern(s: &str) -> bool {
        s.contains('^') || s.contains('$')
    }

    pub fn compile(s: &str) -> Result<Filter, FilterError> {
        if !Self::is_pattern(s) {
            return Ok(Filter::Exact(s.to_string()));
        }
        if let Some(op) = class_set_operator(s) {
            return Err(FilterError {
                message: format!(
                    "`{op}` inside a character class means different things in Go (literal characters) and here"
                ),
                help: Some(format!("escape it as `\\{}\\{}` to match the characters literally", &op[..1], &op[1..])),
            });
        }
        let translated = translate(s);
        regex_lite::RegexBuilder::new(&translated).size_limit(REGEX_SIZE_LIMIT).build().map(Filter::Pattern).map_err(
            |e| {
                let text = e.to_string();
                let help = if s.contains("(?=") || s.contains("(?!") || s.contains("(?<=") || s.contains("(?<!") {
                    Some("Go's RE2 has no look-around; rewrite the pattern or use `exclude`".to_string())
                } else if s.contains("\\1") || s.contains("\\2") {
                    Some("Go's RE2 has no backreferences".to_string())
                } else {
                    None
                };
                FilterError { message: format!("invalid regular expression: {}", last_line(&text)), help }
            },
        )
    }

    pub fn matches(&self, tag: &str) -> bool {
        match self {
            Filter::Exact(s) => s == tag,
            Filter::Pattern(r) => r.is_match(tag),
        }
    }
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).map_or(s, str::trim).trim_start_matches("error: ")
}

fn class_set_operator(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    let mut in_class = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            c @ (b'&' | b'-' | b'~') if in_class && b.get(i + 1) == Some(&c) => {
                return Some(match c {
                    b'&' => "&&",
                    b'-' => "--",
                    _ => "~~",
                });
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `\s` as RE2 defines it (regex-lite's also matches `\v`).
fn translate(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut chars = s.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match (n, in_class) {
                    ('s', true) => out.push_str("\\t\\n\\x0C\\r "),
                    ('s', false) => out.push_str("[\\t\\n\\x0C\\r ]"),
                    ('S', false) => out.push_str("[^\\t\\n\\x0C\\r ]"),
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is literal.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().expect("peeked"));
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_tags_over_255_bytes_are_refused() {
        assert_eq!(check_tag(&"a".repeat(MAX_TAG_LEN)), Ok(()));
        assert_eq!(check_tag(""), Ok(()));
        // Counted in bytes: 128 two-byte characters are 256 bytes.
        let wide = "é".repeat(128);
        assert_eq!(check_tag(&wide), Err(BadTag::TooLong { len: 256 }));
        assert_eq!(
            check_tag(&"a".repeat(300)).unwrap_err().to_string(),
            "the build tag is 300 bytes long; a branch or tag name has at most 255 bytes"
        );
    }

    /// A newline in a tag (`main\nfake log line`) used to be planned for as it was.
    #[test]
    fn build_tags_with_control_characters_are_refused() {
        assert_eq!(check_tag("feature/é-ü"), Ok(()));
        assert_eq!(check_tag("main\nfake"), Err(BadTag::Control { at: 4 }));
        assert_eq!(check_tag("a\u{7f}"), Err(BadTag::Control { at: 1 }));
        assert_eq!(check_tag("\u{85}x"), Err(BadTag::Control { at: 0 }));
        assert!(check_tag("x\ty").unwrap_err().to_string().contains("control character at byte 1"));
    }

    #[test]
    fn exact_and_patterns() {
        let f = Filter::compile("master").unwrap();
        assert!(f.matches("master") && !f.matches("master2"));
        let f = Filter::compile("^(master|staging/.*)$").unwrap();
        assert!(f.matches("staging/x") && !f.matches("feature"));
        // Unanchored search once it is a pattern.
        let f = Filter::compile("release$").unwrap();
        assert!(f.matches("pre-release"));
    }

    #[test]
    fn ascii_perl_classes_like_re2() {
        let f = Filter::compile(r"^v\d+$").unwrap();
        assert!(f.matches("v12"));
        assert!(!f.matches("v١٢"), "Arabic-Indic digits are not \\d in RE2");
        let f = Filter::compile(r"^[\w-]+$").unwrap();
        assert!(f.matches("a_b-c") && !f.matches("é"));
    }

    #[test]
    fn re2_rejects() {
        assert!(Filter::compile("^(?!master)").unwrap_err().help.unwrap().contains("look-around"));
        assert!(Filter::compile(r"^(a)\1$").is_err());
        assert!(Filter::compile("^[a-z&&b]$").is_err());
        assert!(Filter::compile("^(unclosed$").is_err());
    }
}
