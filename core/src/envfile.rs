//! `KEY=VALUE` env files: comments, blank lines, `export `, single and double quotes.
//! Errors name the line but never echo its content (it may hold a secret).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct EnvFileError {
    pub line: usize,
    pub message: String,
}

pub fn parse(text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let err = |message: &str| EnvFileError { line: i + 1, message: message.into() };
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
            // Double quotes may span lines and understand \n, \t, \" and \\.
            let mut buf = body.to_string();
            loop {
                if let Some(v) = close_double(&buf) {
                    break v;
                }
                match lines.next() {
                    Some((_, next)) => {
                        buf.push('\n');
                        buf.push_str(next);
                    }
                    None => return Err(err("unterminated double-quoted value")),
                }
            }
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

fn close_double(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
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
        assert_eq!(e.line, 2);
        assert!(!e.to_string().contains("hunter2"));
    }
}
