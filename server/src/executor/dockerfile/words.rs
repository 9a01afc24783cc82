//! How Docker's builder splits an instruction: its flags (`extractBuilderFlags`), its words
//! (`parseWords`) and a word's variables (the shell lexer), each as Docker does it.

use super::{DockerfileError, err};
use std::collections::HashMap;

/// Docker's `extractBuilderFlags`, byte for byte: the flags at the start of `line` and where
/// the rest begins. Bytes are taken as Latin-1 characters, as Go's `rune(line[pos])` does.
pub(super) fn builder_flags(line: &[u8]) -> (Vec<String>, usize) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    // Go's unicode.IsSpace on a byte taken as a rune.
    let space = |b: u8| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0);
    let mut words: Vec<String> = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut parsing_flag_arg = false;
    let mut need_flag_arg = true;
    let mut ch = 0u8;
    let mut pos = 0;
    while pos <= line.len() {
        if pos != line.len() {
            ch = line[pos];
        }
        if phase == Phase::Spaces {
            if pos == line.len() {
                break;
            }
            if space(ch) {
                pos += 1;
                continue;
            }
            if !parsing_flag_arg && (ch != b'-' || pos + 1 == line.len() || line[pos + 1] != b'-') {
                return (words, pos);
            }
            phase = Phase::Word;
        }
        if (phase == Phase::Word || phase == Phase::Quote) && pos == line.len() {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            return (words, line.len());
        }
        if phase == Phase::Word {
            if space(ch) {
                phase = Phase::Spaces;
                if parsing_flag_arg {
                    if let Some(last) = words.last_mut() {
                        last.push('=');
                        last.push_str(&word);
                    }
                    parsing_flag_arg = false;
                    need_flag_arg = true;
                } else {
                    if word == "--" {
                        return (words, pos);
                    }
                    if blank_ok || !word.is_empty() {
                        if need_flag_arg {
                            parsing_flag_arg = true;
                        }
                        words.push(word.clone());
                    }
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == b'=' && need_flag_arg {
                need_flag_arg = false;
            }
            if ch == b'\'' || ch == b'"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            if ch == b'\\' {
                if pos + 1 == line.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                ch = line[pos];
            }
            word.push(ch as char);
            pos += 1;
            continue;
        }
        // In quotes.
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if ch == b'\\' {
            if pos + 1 == line.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            ch = line[pos];
        }
        word.push(ch as char);
        pos += 1;
    }
    (words, line.len())
}

/// Docker's `parseWords`: blanks outside quotes split; quotes and escapes are kept for the
/// expansion.
pub(super) fn words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
                continue;
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            Some(q) if c == q => quote = None,
            _ => {}
        }
        started = true;
        word.push(c);
        if c == escape
            && quote != Some('\'')
            && let Some(next) = chars.next()
        {
            word.push(next);
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// A word with its variables replaced and quotes removed, as the builder's shell lexer does.
pub(super) fn expand(
    word: &str,
    vars: &HashMap<String, String>,
    escape: char,
    line: usize,
) -> Result<String, DockerfileError> {
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    let mut in_double = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' if !in_double => {
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '\'' {
                        closed = true;
                        break;
                    }
                    out.push(c);
                }
                if !closed {
                    return Err(err(line, "a quote is not closed"));
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
    if in_double {
        return Err(err(line, "a quote is not closed"));
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
