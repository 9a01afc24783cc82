//! The lexer of Go's `text/template/parse` (go1.19 `lex.go`), state for state. Every read goes
//! through `next`, which answers `None` at the end of the input, so no input can make it
//! index past the end; an unterminated string, comment or action is an error item.

/// The kinds of `lex.go`'s `itemType`, keywords last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Error,
    Bool,
    /// A printable ASCII character, such as `,`.
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl Kind {
    pub fn is_keyword(self) -> bool {
        self as u8 >= Kind::Block as u8
    }
}

/// One token: its kind, byte offset and text (for `Error`, the message).
#[derive(Clone, Debug, PartialEq)]
pub struct Item<'a> {
    pub kind: Kind,
    pub pos: usize,
    pub val: Val<'a>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Val<'a> {
    Src(&'a str),
    Message(String),
}

impl Item<'_> {
    pub fn text(&self) -> &str {
        match &self.val {
            Val::Src(s) => s,
            Val::Message(m) => m,
        }
    }

    /// How Go's parser names the token in "unexpected …" errors (`item.String`).
    pub fn describe(&self) -> String {
        let text = self.text();
        match self.kind {
            Kind::Eof => "EOF".into(),
            Kind::Error => text.into(),
            k if k.is_keyword() => format!("<{text}>"),
            _ if text.len() > 10 => {
                let head: String = text.chars().take(10).collect();
                format!("{}...", super::printf::quote(&head, false))
            }
            _ => super::printf::quote(text, false),
        }
    }
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";
/// A trim marker is `-` plus one space on the delimiter's inner side.
const TRIM_LEN: usize = 2;

#[derive(Clone, Copy)]
enum State {
    Text,
    LeftDelim,
    Comment,
    InsideAction,
    Space,
    RightDelim,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
    Done,
}

pub struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    /// Width of the last rune `next` read (0 at the end), for `backup`.
    width: usize,
    paren_depth: usize,
    /// Where the current action's `{{` is, to point "unclosed action" at it.
    action_start: usize,
    state: State,
    /// Items made by the last state function, not yet handed out (at most two).
    pending: std::collections::VecDeque<Item<'a>>,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Go's `isAlphaNumeric`: `_`, letters and digits (Rust's Unicode classes stand in for Go's
/// `unicode.IsLetter`/`IsDigit`; they agree on ASCII).
fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

fn has_left_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(b[1] as char)
}

fn has_right_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(b[0] as char) && b[1] == b'-'
}

/// Go's `%#U`: `U+0029 ')'`, or just `U+0000` for a character that does not print.
pub fn go_u(c: char) -> String {
    if c.is_control() { format!("U+{:04X}", c as u32) } else { format!("U+{:04X} '{c}'", c as u32) }
}

impl<'a> Lexer<'a> {
    pub fn new(input: &'a str) -> Self {
        Lexer {
            input,
            pos: 0,
            start: 0,
            width: 0,
            paren_depth: 0,
            action_start: 0,
            state: State::Text,
            pending: Default::default(),
        }
    }

    /// The next item; after `Eof` or `Error`, `Eof` forever.
    pub fn next_item(&mut self) -> Item<'a> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return item;
            }
            if let State::Done = self.state {
                return Item { kind: Kind::Eof, pos: self.input.len(), val: Val::Src("") };
            }
            self.state = self.step(self.state);
        }
    }

    fn step(&mut self, state: State) -> State {
        match state {
            State::Text => self.lex_text(),
            State::LeftDelim => self.lex_left_delim(),
            State::Comment => self.lex_comment(),
            State::InsideAction => self.lex_inside_action(),
            State::Space => self.lex_space(),
            State::RightDelim => self.lex_right_delim(),
            State::Identifier => self.lex_identifier(),
            State::Field => self.lex_field_or_variable(Kind::Field),
            State::Variable => self.lex_variable(),
            State::Char => self.lex_quoted('\'', "unterminated character constant", Kind::CharConstant),
            State::Number => self.lex_number(),
            State::Quote => self.lex_quoted('"', "unterminated quoted string", Kind::String),
            State::RawQuote => self.lex_raw_quote(),
            State::Done => State::Done,
        }
    }

    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn next(&mut self) -> Option<char> {
        match self.rest().chars().next() {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                Some(c)
            }
            None => {
                self.width = 0;
                None
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Step back over the rune the last `next` read (nothing after the end).
    fn backup(&mut self) {
        self.pos -= self.width;
        self.width = 0;
    }

    fn emit(&mut self, kind: Kind) {
        self.pending.push_back(Item { kind, pos: self.start, val: Val::Src(&self.input[self.start..self.pos]) });
        self.start = self.pos;
    }

    fn ignore(&mut self) {
        self.start = self.pos;
    }

    fn error_at(&mut self, pos: usize, message: String) -> State {
        self.pending.push_back(Item { kind: Kind::Error, pos, val: Val::Message(message) });
        State::Done
    }

    fn error(&mut self, message: String) -> State {
        self.error_at(self.start, message)
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.backup();
                false
            }
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn lex_text(&mut self) -> State {
        let Some(x) = self.rest().find(LEFT) else {
            self.pos = self.input.len();
            if self.pos > self.start {
                self.emit(Kind::Text);
            }
            self.emit(Kind::Eof);
            return State::Done;
        };
        self.pos += x;
        let trim = if has_left_trim(&self.input[self.pos + LEFT.len()..]) {
            let text = &self.input[self.start..self.pos];
            text.len() - text.trim_end_matches(is_space).len()
        } else {
            0
        };
        self.pos -= trim;
        if self.pos > self.start {
            self.emit(Kind::Text);
        }
        self.pos += trim;
        self.ignore();
        State::LeftDelim
    }

    fn lex_left_delim(&mut self) -> State {
        self.action_start = self.pos;
        self.pos += LEFT.len();
        let after_marker = if has_left_trim(self.rest()) { TRIM_LEN } else { 0 };
        if self.input[self.pos + after_marker..].starts_with(LEFT_COMMENT) {
            self.pos += after_marker;
            self.ignore();
            return State::Comment;
        }
        self.emit(Kind::LeftDelim);
        self.pos += after_marker;
        self.ignore();
        self.paren_depth = 0;
        State::InsideAction
    }

    fn lex_comment(&mut self) -> State {
        self.pos += LEFT_COMMENT.len();
        let Some(i) = self.rest().find(RIGHT_COMMENT) else {
            return self.error_at(self.action_start, "unclosed comment".into());
        };
        self.pos += i + RIGHT_COMMENT.len();
        let Some(trim) = self.at_right_delim() else {
            return self.error_at(self.action_start, "comment ends before closing delimiter".into());
        };
        if trim {
            self.pos += TRIM_LEN;
        }
        self.pos += RIGHT.len();
        if trim {
            self.skip_leading_space();
        }
        self.ignore();
        State::Text
    }

    /// At `}}` (Some(false)) or ` -}}` (Some(true)).
    fn at_right_delim(&self) -> Option<bool> {
        let rest = self.rest();
        if has_right_trim(rest) && rest[TRIM_LEN..].starts_with(RIGHT) {
            Some(true)
        } else if rest.starts_with(RIGHT) {
            Some(false)
        } else {
            None
        }
    }

    fn skip_leading_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start_matches(is_space).len();
    }

    fn lex_right_delim(&mut self) -> State {
        let trim = has_right_trim(self.rest());
        if trim {
            self.pos += TRIM_LEN;
            self.ignore();
        }
        self.pos += RIGHT.len();
        self.emit(Kind::RightDelim);
        if trim {
            self.skip_leading_space();
            self.ignore();
        }
        State::Text
    }

    fn lex_inside_action(&mut self) -> State {
        if self.at_right_delim().is_some() {
            if self.paren_depth == 0 {
                return State::RightDelim;
            }
            return self.error_at(self.action_start, "unclosed left paren".into());
        }
        let Some(r) = self.next() else {
            return self.error_at(self.action_start, "unclosed action".into());
        };
        match r {
            c if is_space(c) => {
                // Put the space back in case this is ` -}}`.
                self.backup();
                return State::Space;
            }
            '=' => self.emit(Kind::Assign),
            ':' => {
                if self.next() != Some('=') {
                    return self.error("expected :=".into());
                }
                self.emit(Kind::Declare);
            }
            '|' => self.emit(Kind::Pipe),
            '"' => return State::Quote,
            '`' => return State::RawQuote,
            '$' => return State::Variable,
            '\'' => return State::Char,
            '.' if !self.peek().is_some_and(|c| c.is_ascii_digit()) && self.pos < self.input.len() => {
                return State::Field;
            }
            '.' | '+' | '-' | '0'..='9' => {
                self.backup();
                return State::Number;
            }
            c if is_alnum(c) => {
                self.backup();
                return State::Identifier;
            }
            '(' => {
                self.emit(Kind::LeftParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(Kind::RightParen);
                if self.paren_depth == 0 {
                    return self.error(format!("unexpected right paren {}", go_u(r)));
                }
                self.paren_depth -= 1;
            }
            c if c.is_ascii() && !c.is_ascii_control() => self.emit(Kind::Char),
            c => return self.error(format!("unrecognized character in action: {}", go_u(c))),
        }
        State::InsideAction
    }

    /// A run of spaces; the first is known to be there. The last space before `-}}` belongs
    /// to the right delimiter.
    fn lex_space(&mut self) -> State {
        let mut spaces = 0;
        while self.peek().is_some_and(is_space) {
            self.next();
            spaces += 1;
        }
        let last_space = self.pos - 1;
        if has_right_trim(&self.input[last_space..]) && self.input[last_space + TRIM_LEN..].starts_with(RIGHT) {
            self.pos = last_space;
            if spaces == 1 {
                return State::RightDelim;
            }
        }
        self.emit(Kind::Space);
        State::InsideAction
    }

    /// Go's `atTerminator`: what may follow an identifier, field or variable.
    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            Some(_) => self.rest().starts_with(RIGHT),
        }
    }

    fn bad_character(&mut self) -> State {
        let c = self.peek().unwrap_or('\u{fffd}');
        self.error(format!("bad character {}", go_u(c)))
    }

    fn lex_identifier(&mut self) -> State {
        while self.peek().is_some_and(is_alnum) {
            self.next();
        }
        if !self.at_terminator() {
            return self.bad_character();
        }
        let word = &self.input[self.start..self.pos];
        let kind = match word {
            "block" => Kind::Block,
            "break" => Kind::Break,
            "continue" => Kind::Continue,
            "define" => Kind::Define,
            "else" => Kind::Else,
            "end" => Kind::End,
            "if" => Kind::If,
            "range" => Kind::Range,
            "nil" => Kind::Nil,
            "template" => Kind::Template,
            "with" => Kind::With,
            "true" | "false" => Kind::Bool,
            _ => Kind::Identifier,
        };
        self.emit(kind);
        State::InsideAction
    }

    fn lex_variable(&mut self) -> State {
        if self.at_terminator() {
            self.emit(Kind::Variable);
            return State::InsideAction;
        }
        self.lex_field_or_variable(Kind::Variable)
    }

    /// `.Name` or `$name`; the `.` or `$` has been read.
    fn lex_field_or_variable(&mut self, kind: Kind) -> State {
        if self.at_terminator() {
            self.emit(if kind == Kind::Variable { Kind::Variable } else { Kind::Dot });
            return State::InsideAction;
        }
        while self.peek().is_some_and(is_alnum) {
            self.next();
        }
        if !self.at_terminator() {
            return self.bad_character();
        }
        self.emit(kind);
        State::InsideAction
    }

    /// A `"…"` string or `'…'` character constant; the opening quote has been read. Escapes
    /// are checked by the parser; here a backslash just protects the next character.
    fn lex_quoted(&mut self, quote: char, unterminated: &str, kind: Kind) -> State {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(c) if c != '\n' => {}
                    _ => return self.error(unterminated.into()),
                },
                None | Some('\n') => return self.error(unterminated.into()),
                Some(c) if c == quote => break,
                Some(_) => {}
            }
        }
        self.emit(kind);
        State::InsideAction
    }

    fn lex_raw_quote(&mut self) -> State {
        loop {
            match self.next() {
                None => return self.error("unterminated raw quoted string".into()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::RawString);
        State::InsideAction
    }

    fn lex_number(&mut self) -> State {
        if !self.scan_number() {
            return self.error(format!("bad number syntax: {}", self.pending_text_quoted()));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            // A complex constant such as 1+2i: no spaces, ends in `i`.
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                return self.error(format!("bad number syntax: {}", self.pending_text_quoted()));
            }
            self.emit(Kind::Complex);
        } else {
            self.emit(Kind::Number);
        }
        State::InsideAction
    }

    fn pending_text_quoted(&self) -> String {
        super::printf::quote(&self.input[self.start..self.pos], false)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            // A leading 0 does not mean octal in floats.
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 10 + 1 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 16 + 6 + 1 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alnum) {
            self.next();
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        let mut l = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let it = l.next_item();
            let done = matches!(it.kind, Kind::Eof | Kind::Error);
            out.push((it.kind, it.text().to_string()));
            if done {
                return out;
            }
        }
    }

    #[test]
    fn trims_and_tokens() {
        use Kind::*;
        assert_eq!(
            kinds("a  {{- .X 1 -}}  b"),
            vec![
                (Text, "a".into()),
                (LeftDelim, "{{".into()),
                (Field, ".X".into()),
                (Space, " ".into()),
                (Number, "1".into()),
                (RightDelim, "}}".into()),
                (Text, "b".into()),
                (Eof, "".into())
            ]
        );
    }

    #[test]
    fn end_of_input_inside_tokens_is_an_error() {
        for src in ["{{\"\\", "{{'\\", "{{`", "{{\"", "{{/*", "{{/* */", "{{ (", "{{-", "{{- ", "{{ 1e", "{{ $"] {
            let last = kinds(src).pop().unwrap();
            assert_eq!(last.0, Kind::Error, "{src:?} lexed as {last:?}");
        }
    }
}
