//! `KEY=VALUE` env files: comments, blank lines, `export `, single and double quotes.
//! Errors name the line but never echo its content (it may hold a secret).
//!
//! Parsing is one pass over the text (a double-quoted value spanning many lines is scanned
//! once, not once per line), and files over [`MAX_ENV_FILE_BYTES`] are refused before parsing.

/// Hard limit, like a dockercfg's: real env files are a few KiB, and Linux refuses a single
/// environment string over 128 KiB at `execve` anyway.
pub const MAX_ENV_FILE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("the env file is {len} bytes; the limit is {MAX_ENV_FILE_BYTES} bytes (1 MiB)")]
    TooLarge { len: usize },
}

pub fn parse(text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    if text.len() > MAX_ENV_FILE_BYTES {
        return Err(EnvFileError::TooLarge { len: text.len() });
    }
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let err = |message: &str| EnvFileError::Syntax { line: i + 1, message: message.into() };
        let Some((key, rest)) = line.split_once('=') else {
            return Err(err("expected KEY=VALUE (no `=` found)"));
        };
        let key = key.trim();
        if key.is_empty()
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            || key.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(err("the variable name must be letters, digits and `_`, not starting with a digit"));
        }
        let rest = rest.trim_start();
        let value = if let Some(body) = rest.strip_prefix('"') {
            // Double quotes may span lines (joined with `\n`) and understand \n, \t, \r, \" and \\.
            let mut value = DoubleQuoted::default();
            let mut closed = value.feed(body);
            while !closed {
                let Some((_, next)) = lines.next() else {
                    return Err(err("unterminated double-quoted value"));
                };
                value.feed("\n"); // cannot close: a newline is never a quote
                closed = value.feed(next);
            }
            value.out
        } else if let Some(body) = rest.strip_prefix('\'') {
            match body.find('\'') {
                Some(end) => body[..end].to_string(),
                None => return Err(err("unterminated single-quoted value")),
            }
        } else {
            // Unquoted: an inline comment starts at ` #`.
            let v = rest.find(" #").map_or(rest, |p| &rest[..p]);
            v.trim_end().to_string()
        };
        out.push((key.to_string(), value));
    }
    Ok(out)
}

/// A double-quoted value read piece by piece; the state carries a pending backslash across
/// pieces, so feeding a value line by line reads each byte once.
#[derive(Default)]
struct DoubleQuoted {
    out: String,
    escape: bool,
}

impl DoubleQuoted {
    /// Read `piece`; true once the closing quote was found (what follows it is ignored).
    fn feed(&mut self, piece: &str) -> bool {
        for c in piece.chars() {
            if std::mem::take(&mut self.escape) {
                self.out.push(match c {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
                continue;
            }
            match c {
                '"' => return true,
                '\\' => self.escape = true,
                c => self.out.push(c),
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_shapes() {
        let text =
            "# comment\n\nexport A=1\nB = two words # note\nC=\"q \\\"x\\\"\\n\"\nD='lit $X'\nE=\nF=\"multi\nline\"\n";
        let got = parse(text).unwrap();
        let want =
            [("A", "1"), ("B", "two words"), ("C", "q \"x\"\n"), ("D", "lit $X"), ("E", ""), ("F", "multi\nline")];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
    }

    #[test]
    fn errors_name_the_line_not_the_secret() {
        let e = parse("A=1\nhunter2\n").unwrap_err();
        assert!(matches!(e, EnvFileError::Syntax { line: 2, .. }), "{e:?}");
        assert!(!e.to_string().contains("hunter2"));
    }

    /// A quoted value of about 1 MB spread over 100,000 lines: each line used to re-scan the
    /// whole value so far (quadratic: minutes). It must parse, whole.
    #[test]
    fn a_one_megabyte_multi_line_quoted_value_parses() {
        let line = "abcdefghi"; // 9 bytes + the newline: 10 bytes a line
        let body = vec![line; 100_000].join("\n");
        let text = format!("BIG=\"{body}\"\nAFTER=1\n");
        assert!(text.len() > 1_000_000);
        let got = parse(&text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "BIG");
        assert_eq!(got[0].1.len(), body.len());
        assert_eq!(got[0].1.lines().count(), 100_000);
        assert_eq!(got[1], ("AFTER".to_string(), "1".to_string()));
    }

    #[test]
    fn escapes_and_quotes_carry_across_lines() {
        let got = parse("A=\"x\\\ny\\\"\nz\" # after\nB=\"\\\\\"\nC=\"open\n").unwrap_err();
        assert!(matches!(got, EnvFileError::Syntax { line: 5, .. }), "{got:?}");
        let got = parse("A=\"x\\\ny\\\"\nz\" # after\nB=\"\\\\\"\n").unwrap();
        let want = [("A", "x\ny\"\nz"), ("B", "\\")];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
    }

    #[test]
    fn files_over_the_limit_are_refused_by_size() {
        let text = format!("SECRET=\"{}\"\n", "s".repeat(MAX_ENV_FILE_BYTES));
        let e = parse(&text).unwrap_err();
        assert_eq!(e, EnvFileError::TooLarge { len: text.len() });
        assert_eq!(e.to_string(), format!("the env file is {} bytes; the limit is 1048576 bytes (1 MiB)", text.len()));
        // Exactly at the limit is fine.
        let text = format!("A={}", "a".repeat(MAX_ENV_FILE_BYTES - 2));
        assert_eq!(parse(&text).unwrap()[0].1.len(), MAX_ENV_FILE_BYTES - 2);
    }
}
