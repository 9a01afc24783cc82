//! Parser for Go `text/template`: text, actions with `{{- -}}` trimming, comments, pipelines,
//! variables, `if`/`else if`/`with`/`range`/`break`/`continue`. `define`/`template`/`block`
//! are rejected: a one-line image tag has no use for them.

/// A parse error at a byte offset into the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If { pipe: Pipe, then: Vec<Node>, otherwise: Vec<Node> },
    With { pipe: Pipe, then: Vec<Node>, otherwise: Vec<Node> },
    Range { pipe: Pipe, body: Vec<Node>, otherwise: Vec<Node> },
    Break(usize),
    Continue(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipe {
    pub offset: usize,
    /// `$x := …` declares, `$x = …` assigns.
    pub vars: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cmd {
    pub offset: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `.A.B` (an empty chain is `.`).
    Field(Vec<String>, usize),
    /// `$x.A.B`.
    Var(String, Vec<String>, usize),
    /// A function name such as `printf`.
    Ident(String, usize),
    /// `(pipeline).A.B`.
    Sub(Box<Pipe>, Vec<String>, usize),
    Str(String),
    Int(i64),
    /// A character constant such as `'a'` (a rune: int32).
    Char(i64),
    Float(f64),
    Bool(bool),
    Nil(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(String),
    /// A field written right after a term, with no space: the `.B` of `$x.B` or `(p).B`.
    Chain(String),
    Dot,
    Var(String),
    Ident(String),
    Str(String),
    Char(i64),
    Num(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js", "urlquery", "eq", "ne",
    "lt", "le", "gt", "ge", "call",
];

pub fn is_func(name: &str) -> bool {
    FUNCS.contains(&name)
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { offset, message: message.into() })
}

/// One `{{ … }}` action's tokens, with byte offsets into the template.
fn lex_action(src: &str, start: usize, end: usize) -> Result<Vec<(Tok, usize)>, ParseError> {
    let b = src.as_bytes();
    let mut i = start;
    let mut out = Vec::new();
    while i < end {
        let c = b[i];
        let at = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'|' => {
                out.push((Tok::Pipe, at));
                i += 1
            }
            b'(' => {
                out.push((Tok::LParen, at));
                i += 1
            }
            b')' => {
                out.push((Tok::RParen, at));
                i += 1
            }
            b',' => {
                out.push((Tok::Comma, at));
                i += 1
            }
            b':' if i + 1 < end && b[i + 1] == b'=' => {
                out.push((Tok::Declare, at));
                i += 2
            }
            b'=' => {
                out.push((Tok::Assign, at));
                i += 1
            }
            b'"' => {
                let (s, next) = lex_quoted(src, i, end)?;
                out.push((Tok::Str(s), at));
                i = next;
            }
            b'`' => {
                let Some(close) = src[i + 1..end].find('`') else {
                    return err(at, "unterminated raw quoted string");
                };
                out.push((Tok::Str(src[i + 1..i + 1 + close].to_string()), at));
                i = i + close + 2;
            }
            b'\'' => {
                let rest = &src[i + 1..end];
                let (ch, len) = if let Some(r) = rest.strip_prefix('\\') {
                    let (s, l) = unescape_one(r)
                        .ok_or(ParseError { offset: at, message: "invalid escape in character constant".into() })?;
                    (s, l + 1)
                } else {
                    let ch = rest
                        .chars()
                        .next()
                        .ok_or(ParseError { offset: at, message: "unterminated character constant".into() })?;
                    (ch, ch.len_utf8())
                };
                if rest.as_bytes().get(len) != Some(&b'\'') {
                    return err(at, "unterminated character constant");
                }
                out.push((Tok::Char(ch as i64), at));
                i += len + 2;
            }
            b'.' if i + 1 < end && b[i + 1].is_ascii_digit() => {
                let j = scan_number(b, i, end);
                out.push((Tok::Num(src[i..j].to_string()), at));
                i = j;
            }
            b'.' => {
                let j = scan_ident(b, i + 1, end);
                let adjacent = i > start
                    && !b[i - 1].is_ascii_whitespace()
                    && matches!(out.last(), Some((Tok::Field(_) | Tok::Chain(_) | Tok::Var(_) | Tok::RParen, _)));
                if j == i + 1 {
                    out.push((Tok::Dot, at));
                } else if adjacent {
                    out.push((Tok::Chain(src[i + 1..j].to_string()), at));
                } else {
                    out.push((Tok::Field(src[i + 1..j].to_string()), at));
                }
                i = j;
            }
            b'$' => {
                let j = scan_ident(b, i + 1, end);
                out.push((Tok::Var(src[i..j].to_string()), at));
                i = j;
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let j = scan_number(b, i, end);
                if j == i + 1 && !c.is_ascii_digit() {
                    return err(at, format!("unexpected {:?} in command", c as char));
                }
                if j < end && (b[j].is_ascii_alphabetic() || b[j] == b'_') {
                    return err(at, format!("bad number syntax: {:?}", &src[i..scan_ident(b, j, end)]));
                }
                out.push((Tok::Num(src[i..j].to_string()), at));
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let j = scan_ident(b, i, end);
                out.push((Tok::Ident(src[i..j].to_string()), at));
                i = j;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return err(at, format!("unexpected {ch:?} in command"));
            }
        }
    }
    Ok(out)
}

fn scan_ident(b: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
        i += 1;
    }
    i
}

fn scan_number(b: &[u8], mut i: usize, end: usize) -> usize {
    if i < end && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    while i < end {
        let c = b[i];
        let exp_sign = (c == b'-' || c == b'+') && i > 0 && matches!(b[i - 1], b'e' | b'E' | b'p' | b'P');
        if c.is_ascii_hexdigit()
            || c == b'.'
            || c == b'_'
            || matches!(c, b'x' | b'X' | b'o' | b'O' | b'p' | b'P')
            || exp_sign
        {
            i += 1;
        } else {
            break;
        }
    }
    i
}

fn unescape_one(s: &str) -> Option<(char, usize)> {
    let c = s.chars().next()?;
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        '\'' => Some('\''),
        '"' => Some('"'),
        _ => None,
    };
    if let Some(ch) = simple {
        return Some((ch, 1));
    }
    let hex = |n: usize| -> Option<(char, usize)> {
        let h = s.get(1..1 + n)?;
        char::from_u32(u32::from_str_radix(h, 16).ok()?).map(|c| (c, 1 + n))
    };
    match c {
        'x' => hex(2),
        'u' => hex(4),
        'U' => hex(8),
        '0'..='7' => {
            let o = s.get(0..3)?;
            char::from_u32(u32::from_str_radix(o, 8).ok()?).map(|c| (c, 3))
        }
        _ => None,
    }
}

fn lex_quoted(src: &str, start: usize, end: usize) -> Result<(String, usize), ParseError> {
    let mut out = String::new();
    let mut i = start + 1;
    while i < end {
        let ch = src[i..].chars().next().expect("in bounds");
        match ch {
            '"' => return Ok((out, i + 1)),
            '\n' => break,
            '\\' => {
                let Some((c, len)) = unescape_one(&src[i + 1..end]) else {
                    return err(i, "invalid syntax in quoted string");
                };
                out.push(c);
                i += 1 + len;
            }
            c => {
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    err(start, "unterminated quoted string")
}

/// Split the template into text and action pieces, applying `{{-`/`-}}` trimming.
enum Piece {
    Text(String),
    Action(usize, usize),
}

fn split(src: &str) -> Result<Vec<Piece>, ParseError> {
    let mut pieces = Vec::new();
    let mut pos = 0;
    let mut trim_next = false;
    while pos <= src.len() {
        let Some(rel) = src[pos..].find("{{") else {
            let mut text = &src[pos..];
            if trim_next {
                text = text.trim_start_matches(is_space);
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(text.to_string()));
            }
            break;
        };
        let open = pos + rel;
        let mut text = &src[pos..open];
        if trim_next {
            text = text.trim_start_matches(is_space);
        }
        let mut inner = open + 2;
        let b = src.as_bytes();
        if src[inner..].starts_with("- ")
            || src[inner..].starts_with("-\t")
            || src[inner..].starts_with("-\n")
            || src[inner..].starts_with("-\r")
        {
            text = text.trim_end_matches(is_space);
            inner += 2;
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        // Comments end at `*/}}`; other actions at the first `}}` outside quotes.
        let trimmed = src[inner..].trim_start_matches(is_space);
        if trimmed.starts_with("/*") {
            let cstart = src.len() - trimmed.len();
            let Some(cend) = src[cstart + 2..].find("*/") else {
                return err(open, "unclosed comment");
            };
            let after = cstart + 2 + cend + 2;
            let rest = &src[after..];
            let (close, trim) = if let Some(r) = rest.strip_prefix(" -}}") {
                (src.len() - r.len(), true)
            } else if let Some(r) = rest.strip_prefix("}}") {
                (src.len() - r.len(), false)
            } else {
                return err(open, "comment ends before closing delimiter");
            };
            trim_next = trim;
            pos = close;
            continue;
        }
        let mut i = inner;
        let mut close = None;
        while i < src.len() {
            match b[i] {
                b'"' => {
                    i += 1;
                    while i < src.len() && b[i] != b'"' {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        if b[i] == b'\n' {
                            break;
                        }
                        i += 1;
                    }
                    i += 1;
                }
                b'`' => {
                    i += 1;
                    while i < src.len() && b[i] != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                b'\'' => {
                    i += 1;
                    while i < src.len() && b[i] != b'\'' && b[i] != b'\n' {
                        if b[i] == b'\\' {
                            i += 1;
                        }
                        i += 1;
                    }
                    i += 1;
                }
                b'}' if src[i..].starts_with("}}") => {
                    close = Some(i);
                    break;
                }
                _ => i += 1,
            }
        }
        let Some(close) = close else {
            return err(open, "unclosed action");
        };
        let mut body_end = close;
        trim_next = false;
        if close >= inner + 2 && b[close - 1] == b'-' && is_space(b[close - 2] as char) {
            body_end = close - 1;
            trim_next = true;
        }
        pieces.push(Piece::Action(inner, body_end));
        pos = close + 2;
    }
    Ok(pieces)
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Parse a whole template.
pub fn parse(src: &str) -> Result<Vec<Node>, ParseError> {
    let pieces = split(src)?;
    let mut p = Parser { src, pieces, idx: 0, range_depth: 0 };
    let (nodes, end) = p.list()?;
    match end {
        Stop::Eof => Ok(nodes),
        Stop::End(at) => err(at, "unexpected {{end}}"),
        Stop::Else(at, _) => err(at, "unexpected {{else}}"),
    }
}

/// How a list of nodes ended.
enum Stop {
    Eof,
    End(usize),
    /// `{{else}}` or `{{else if …}}` / `{{else with …}}` (the keyword and its pipe).
    Else(usize, Option<(String, Pipe)>),
}

struct Parser<'a> {
    src: &'a str,
    pieces: Vec<Piece>,
    idx: usize,
    range_depth: usize,
}

impl Parser<'_> {
    fn list(&mut self) -> Result<(Vec<Node>, Stop), ParseError> {
        let mut nodes = Vec::new();
        while self.idx < self.pieces.len() {
            let piece = &self.pieces[self.idx];
            self.idx += 1;
            match piece {
                Piece::Text(t) => nodes.push(Node::Text(t.clone())),
                &Piece::Action(s, e) => {
                    let toks = lex_action(self.src, s, e)?;
                    let Some((first, at)) = toks.first().cloned() else {
                        return err(s, "missing value for command");
                    };
                    match first {
                        Tok::Ident(kw) if kw == "end" => {
                            if toks.len() > 1 {
                                return err(toks[1].1, "unexpected token in end");
                            }
                            return Ok((nodes, Stop::End(at)));
                        }
                        Tok::Ident(kw) if kw == "else" => {
                            if toks.len() == 1 {
                                return Ok((nodes, Stop::Else(at, None)));
                            }
                            match &toks[1].0 {
                                Tok::Ident(k) if k == "if" || k == "with" => {
                                    let pipe = pipeline(&toks[2..], toks[1].1)?;
                                    return Ok((nodes, Stop::Else(at, Some((k.clone(), pipe)))));
                                }
                                _ => return err(toks[1].1, "unexpected token in else"),
                            }
                        }
                        Tok::Ident(kw) if kw == "if" || kw == "with" || kw == "range" => {
                            let pipe = pipeline(&toks[1..], at)?;
                            nodes.push(self.control(&kw, pipe, at)?);
                        }
                        Tok::Ident(kw) if kw == "break" || kw == "continue" => {
                            if self.range_depth == 0 {
                                return err(at, format!("{{{{{kw}}}}} outside {{{{range}}}}"));
                            }
                            if toks.len() > 1 {
                                return err(toks[1].1, format!("unexpected token in {{{{{kw}}}}}"));
                            }
                            nodes.push(if kw == "break" { Node::Break(at) } else { Node::Continue(at) });
                        }
                        Tok::Ident(kw) if matches!(kw.as_str(), "define" | "template" | "block") => {
                            return err(at, format!("{{{{{kw}}}}} is not supported in Codeship templates"));
                        }
                        _ => nodes.push(Node::Action(pipeline(&toks, at)?)),
                    }
                }
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn control(&mut self, kw: &str, pipe: Pipe, at: usize) -> Result<Node, ParseError> {
        if kw == "range" {
            self.range_depth += 1;
        }
        let (then, end) = self.list()?;
        if kw == "range" {
            self.range_depth -= 1;
        }
        let otherwise = match end {
            Stop::Eof => {
                return err(at, format!("unexpected EOF: missing {{{{end}}}} for {{{{{kw}}}}}"));
            }
            Stop::End(_) => Vec::new(),
            Stop::Else(_, None) => {
                let (otherwise, end) = self.list()?;
                match end {
                    Stop::End(_) => otherwise,
                    Stop::Else(e, _) => return err(e, "expected end; found {{else}}"),
                    Stop::Eof => {
                        return err(at, format!("unexpected EOF: missing {{{{end}}}} for {{{{{kw}}}}}"));
                    }
                }
            }
            Stop::Else(e, Some((k2, pipe2))) => {
                if kw == "range" {
                    return err(e, "expected end; found else if");
                }
                // `{{else if x}}` is `{{else}}{{if x}}…{{end}}` sharing the outer `{{end}}`.
                vec![self.control(&k2, pipe2, e)?]
            }
        };
        Ok(match kw {
            "if" => Node::If { pipe, then, otherwise },
            "with" => Node::With { pipe, then, otherwise },
            _ => Node::Range { pipe, body: then, otherwise },
        })
    }
}

fn pipeline(toks: &[(Tok, usize)], at: usize) -> Result<Pipe, ParseError> {
    let mut vars = Vec::new();
    let mut assign = false;
    let mut rest = toks;
    // `$x :=`, `$x =`, `$i, $v :=`
    let decl_len = match toks {
        [(Tok::Var(_), _), (Tok::Declare | Tok::Assign, _), ..] => 2,
        [(Tok::Var(_), _), (Tok::Comma, _), (Tok::Var(_), _), (Tok::Declare | Tok::Assign, _), ..] => 4,
        _ => 0,
    };
    if decl_len > 0 {
        for (t, _) in &toks[..decl_len] {
            match t {
                Tok::Var(v) => vars.push(v.clone()),
                Tok::Assign => assign = true,
                _ => {}
            }
        }
        rest = &toks[decl_len..];
    }
    if rest.is_empty() {
        return err(at, "missing value for command");
    }
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let cmd_at = rest[i].1;
        let mut args = Vec::new();
        while i < rest.len() && rest[i].0 != Tok::Pipe {
            let (arg, next) = operand(rest, i)?;
            args.push(arg);
            i = next;
        }
        if args.is_empty() {
            return err(cmd_at, "missing command");
        }
        cmds.push(Cmd { offset: cmd_at, args });
        if i < rest.len() {
            // Go (1.19) accepts a trailing `|` with nothing after it.
            i += 1;
        }
    }
    Ok(Pipe { offset: at, vars, assign, cmds })
}

/// One operand starting at `toks[i]`; returns it and the index after it.
fn operand(toks: &[(Tok, usize)], i: usize) -> Result<(Arg, usize), ParseError> {
    let (tok, at) = &toks[i];
    let at = *at;
    let mut next = i + 1;
    let chain = |next: &mut usize| {
        let mut fields = Vec::new();
        while let Some((Tok::Chain(f), _)) = toks.get(*next) {
            fields.push(f.clone());
            *next += 1;
        }
        fields
    };
    let arg = match tok {
        Tok::Dot => Arg::Field(Vec::new(), at),
        Tok::Field(f) => {
            let mut fields = vec![f.clone()];
            fields.extend(chain(&mut next));
            Arg::Field(fields, at)
        }
        Tok::Var(v) => Arg::Var(v.clone(), chain(&mut next), at),
        Tok::Ident(name) => match name.as_str() {
            "true" => Arg::Bool(true),
            "false" => Arg::Bool(false),
            "nil" => Arg::Nil(at),
            n if is_func(n) => Arg::Ident(n.to_string(), at),
            n if matches!(
                n,
                "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block" | "break" | "continue"
            ) =>
            {
                return err(at, format!("unexpected <{n}> in command"));
            }
            n => return err(at, format!("function {n:?} not defined")),
        },
        Tok::Str(s) => Arg::Str(s.clone()),
        Tok::Char(c) => Arg::Char(*c),
        Tok::Num(n) => number(n, at)?,
        Tok::LParen => {
            let mut depth = 1;
            let mut j = next;
            while j < toks.len() {
                match toks[j].0 {
                    Tok::LParen => depth += 1,
                    Tok::RParen => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if j >= toks.len() {
                return err(at, "unclosed left paren");
            }
            let pipe = pipeline(&toks[next..j], at)?;
            next = j + 1;
            Arg::Sub(Box::new(pipe), chain(&mut next), at)
        }
        Tok::RParen => return err(at, "unexpected right paren"),
        Tok::Declare | Tok::Assign => return err(at, "unexpected := or = in operand"),
        Tok::Comma => return err(at, "unexpected , in operand"),
        Tok::Chain(_) => return err(at, "unexpected . after term"),
        Tok::Pipe => return err(at, "unexpected |"),
    };
    if let Some((Tok::Chain(_), fat)) = toks.get(next) {
        return err(*fat, "unexpected . after term");
    }
    Ok((arg, next))
}

fn number(text: &str, at: usize) -> Result<Arg, ParseError> {
    let clean = text.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let int = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(bn) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(bn, 2).ok()
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        match i64::from_str_radix(&body[1..], 8) {
            Ok(v) => Some(v),
            Err(_) => return err(at, format!("invalid octal number {text:?}")),
        }
    } else if body.bytes().all(|b| b.is_ascii_digit()) {
        body.parse().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Ok(Arg::Int(if neg { -i } else { i }));
    }
    match clean.parse::<f64>() {
        // Go treats a constant spelled with `.`, `e` or `p` as a float (1e3 prints as 1000).
        Ok(f) if !body.contains(['x', 'X']) => Ok(Arg::Float(f)),
        _ => err(at, format!("bad number syntax: {text:?}")),
    }
}
