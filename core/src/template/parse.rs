//! The parser of Go's `text/template/parse` (go1.19 `parse.go`) over the tokens of `lex.rs`:
//! text, actions, `if`/`else if`/`with`/`range`/`break`/`continue`, pipelines, variables
//! (checked when parsing, as Go does). `define`/`template`/`block` are rejected: a one-line
//! image tag has no use for them. Unlike Go, nesting is bounded (`MAX_DEPTH`), so a hostile
//! `((((…` is an error and not a stack overflow here or in the passes that walk the tree.

use super::lex::{Item, Kind, Lexer};
use super::literal;
use super::scope::Scope;

/// A parse error at a byte offset into the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

/// How deeply parentheses and `if`/`with`/`range` blocks may nest, together. Go has no limit;
/// real tags nest two or three levels, and every pass over the tree recurses once per level.
pub const MAX_DEPTH: usize = 50;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Text and its offset.
    Text(String, usize),
    Action(Pipe),
    If {
        pipe: Pipe,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        pipe: Pipe,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Range {
        pipe: Pipe,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
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
    /// `.`
    Dot(usize),
    /// `.A.B`
    Field(Vec<String>, usize),
    /// `$x.A.B` (`$x` alone has no fields).
    Var(String, Vec<String>, usize),
    /// A function name such as `printf`.
    Ident(String, usize),
    /// `(pipeline)`
    Pipe(Box<Pipe>, usize),
    /// `(pipeline).A.B` or `ident.A`: fields of something that is not a field or variable.
    Chain(Box<Arg>, Vec<String>, usize),
    Str(String),
    Num(Number, usize),
    Bool(bool),
    Nil(usize),
}

/// A numeric constant as Go's `idealConstant` types it when there is no other context.
#[derive(Debug, Clone, PartialEq)]
pub struct Number {
    /// As written, for messages.
    pub text: String,
    pub value: Const,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Const {
    Int(i64),
    Float(f64),
    /// Fits `uint64` but not `int`: Go fails with "overflows int" when it is evaluated.
    Overflow,
}

pub const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js", "urlquery", "eq", "ne",
    "lt", "le", "gt", "ge", "call",
];

pub fn is_func(name: &str) -> bool {
    FUNCS.contains(&name)
}

type R<T> = Result<T, ParseError>;

fn err<T>(offset: usize, message: impl Into<String>) -> R<T> {
    Err(ParseError { offset, message: message.into() })
}

/// Parse a whole template.
pub fn parse(src: &str) -> R<Vec<Node>> {
    let mut p =
        Parser { lex: Lexer::new(src), pushed: Vec::new(), last: None, vars: Scope::new(), range_depth: 0, depth: 0 };
    p.vars.push("$", ());
    p.root()
}

/// What one `textOrAction` produced.
enum Parsed {
    Node(Node),
    Stop(Stop),
}

/// How a list of nodes ended: `{{end}}` or `{{else}}` (`{{else if …}}` leaves its `if` unread).
enum Stop {
    End(usize),
    Else(usize),
}

struct Parser<'a> {
    lex: Lexer<'a>,
    /// Tokens put back, the next one last.
    pushed: Vec<Item<'a>>,
    /// The token `next` returned last, for `backup`.
    last: Option<Item<'a>>,
    vars: Scope<()>,
    range_depth: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn next(&mut self) -> Item<'a> {
        let item = self.pushed.pop().unwrap_or_else(|| self.lex.next_item());
        self.last = Some(item.clone());
        item
    }

    /// Put back the token `next` returned last.
    fn backup(&mut self) {
        if let Some(item) = self.last.take() {
            self.pushed.push(item);
        }
    }

    fn peek(&mut self) -> Item<'a> {
        let item = self.next();
        self.backup();
        item
    }

    fn next_non_space(&mut self) -> Item<'a> {
        loop {
            let item = self.next();
            if item.kind != Kind::Space {
                return item;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item<'a> {
        let item = self.next_non_space();
        self.backup();
        item
    }

    fn expect(&mut self, kind: Kind, context: &str) -> R<Item<'a>> {
        let item = self.next_non_space();
        if item.kind != kind {
            return unexpected(&item, context);
        }
        Ok(item)
    }

    /// Enter a nested block or parenthesis; `leave` when done.
    fn enter(&mut self, at: usize) -> R<()> {
        if self.depth >= MAX_DEPTH {
            return err(at, format!("the template nests more than {MAX_DEPTH} levels of blocks and parentheses"));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn root(&mut self) -> R<Vec<Node>> {
        let mut nodes = Vec::new();
        while self.peek().kind != Kind::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => nodes.push(n),
                Parsed::Stop(Stop::End(at)) => return err(at, "unexpected {{end}}"),
                Parsed::Stop(Stop::Else(at)) => return err(at, "unexpected {{else}}"),
            }
        }
        Ok(nodes)
    }

    /// Nodes up to `{{end}}` or `{{else}}`, which is returned too.
    fn item_list(&mut self, context: &str, at: usize) -> R<(Vec<Node>, Stop)> {
        let mut nodes = Vec::new();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => nodes.push(n),
                Parsed::Stop(stop) => return Ok((nodes, stop)),
            }
        }
        err(at, format!("unexpected EOF: missing {{{{end}}}} for {{{{{context}}}}}"))
    }

    fn text_or_action(&mut self) -> R<Parsed> {
        let item = self.next_non_space();
        match item.kind {
            Kind::Text => Ok(Parsed::Node(Node::Text(item.text().to_string(), item.pos))),
            Kind::LeftDelim => self.action(),
            _ => unexpected(&item, "input"),
        }
    }

    fn action(&mut self) -> R<Parsed> {
        let item = self.next_non_space();
        let at = item.pos;
        match item.kind {
            Kind::Block | Kind::Template | Kind::Define => return unsupported(&item),
            Kind::Break | Kind::Continue => {
                let word = if item.kind == Kind::Break { "break" } else { "continue" };
                let close = self.next_non_space();
                if close.kind != Kind::RightDelim {
                    return unexpected(&close, &format!("{{{{{word}}}}}"));
                }
                if self.range_depth == 0 {
                    return err(at, format!("{{{{{word}}}}} outside {{{{range}}}}"));
                }
                return Ok(Parsed::Node(if item.kind == Kind::Break { Node::Break(at) } else { Node::Continue(at) }));
            }
            Kind::Else => {
                // `{{else if …}}` leaves the `if` for the enclosing `if` to read.
                if self.peek_non_space().kind != Kind::If {
                    self.expect(Kind::RightDelim, "else")?;
                }
                return Ok(Parsed::Stop(Stop::Else(at)));
            }
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Parsed::Stop(Stop::End(at)));
            }
            Kind::If | Kind::With | Kind::Range => return self.control(item.kind, at).map(Parsed::Node),
            _ => {}
        }
        self.backup();
        // Variables declared here stay until the enclosing `{{end}}`.
        Ok(Parsed::Node(Node::Action(self.pipeline("command", Kind::RightDelim)?)))
    }

    /// `{{if|with|range pipeline}} list [{{else}} list] {{end}}`; the keyword has been read.
    fn control(&mut self, kind: Kind, at: usize) -> R<Node> {
        let context = match kind {
            Kind::If => "if",
            Kind::With => "with",
            _ => "range",
        };
        self.enter(at)?;
        let mark = self.vars.mark();
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if kind == Kind::Range {
            self.range_depth += 1;
        }
        let (then, stop) = self.item_list(context, at)?;
        if kind == Kind::Range {
            self.range_depth -= 1;
        }
        let otherwise = match stop {
            Stop::End(_) => Vec::new(),
            // `{{if a}}…{{else if b}}…{{end}}` is `{{if a}}…{{else}}{{if b}}…{{end}}{{end}}`
            // sharing one `{{end}}`. Go 1.19 has no `{{else with}}`.
            Stop::Else(_) if kind == Kind::If && self.peek().kind == Kind::If => {
                let word = self.next();
                vec![self.control(Kind::If, word.pos)?]
            }
            Stop::Else(_) => match self.item_list(context, at)? {
                (otherwise, Stop::End(_)) => otherwise,
                (_, Stop::Else(e)) => return err(e, "expected end; found {{else}}"),
            },
        };
        self.vars.truncate(mark);
        self.leave();
        Ok(match kind {
            Kind::If => Node::If { pipe, then, otherwise },
            Kind::With => Node::With { pipe, then, otherwise },
            _ => Node::Range { pipe, body: then, otherwise },
        })
    }

    /// `declarations? command ('|' command)*` up to `end` (`}}` or `)`).
    fn pipeline(&mut self, context: &str, end: Kind) -> R<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe { offset: start.pos, vars: Vec::new(), assign: false, cmds: Vec::new() };
        self.declarations(&mut pipe, context)?;
        loop {
            let item = self.next_non_space();
            match item.kind {
                k if k == end => {
                    check_pipeline(&pipe, context, item.pos)?;
                    return Ok(pipe);
                }
                Kind::Bool
                | Kind::CharConstant
                | Kind::Complex
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return unexpected(&item, context),
            }
        }
    }

    /// `$x :=`, `$x =`, and in `range`, `$i, $v :=`.
    fn declarations(&mut self, pipe: &mut Pipe, context: &str) -> R<()> {
        loop {
            if self.peek_non_space().kind != Kind::Variable {
                return Ok(());
            }
            let var = self.next_non_space();
            let after = self.peek();
            let next = self.peek_non_space();
            match next.kind {
                Kind::Assign | Kind::Declare => {
                    pipe.assign = next.kind == Kind::Assign;
                    self.next_non_space();
                    self.declare(pipe, var.text());
                    return Ok(());
                }
                Kind::Char if next.text() == "," => {
                    self.next_non_space();
                    self.declare(pipe, var.text());
                    if context == "range" && pipe.vars.len() < 2 {
                        let following = self.peek_non_space();
                        match following.kind {
                            Kind::Variable | Kind::RightDelim | Kind::RightParen => continue,
                            _ => return err(following.pos, "range can only initialize variables"),
                        }
                    }
                    return err(next.pos, format!("too many declarations in {context}"));
                }
                _ => {
                    // Not a declaration: `$x` is the first operand. Put back what was read.
                    if after.kind == Kind::Space {
                        self.pushed.push(after);
                    }
                    self.pushed.push(var);
                    self.last = None;
                    return Ok(());
                }
            }
        }
    }

    fn declare(&mut self, pipe: &mut Pipe, name: &str) {
        pipe.vars.push(name.to_string());
        self.vars.push(name, ());
    }

    /// `operand (space operand)*` up to `|`, `}}` or `)`.
    fn command(&mut self) -> R<Cmd> {
        let mut cmd = Cmd { offset: self.peek_non_space().pos, args: Vec::new() };
        loop {
            self.peek_non_space();
            if let Some(arg) = self.operand()? {
                cmd.args.push(arg);
            }
            let item = self.next();
            match item.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return unexpected(&item, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return err(cmd.offset, "empty command");
        }
        Ok(cmd)
    }

    /// `term .Field*`; `None` if the next token does not start a term.
    fn operand(&mut self) -> R<Option<Arg>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(term));
        }
        let at = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            fields.push(self.next().text()[1..].to_string());
        }
        Ok(Some(match term {
            Arg::Field(mut f, at) => {
                f.extend(fields);
                Arg::Field(f, at)
            }
            Arg::Var(name, mut f, at) => {
                f.extend(fields);
                Arg::Var(name, f, at)
            }
            Arg::Ident(..) | Arg::Pipe(..) | Arg::Chain(..) => Arg::Chain(Box::new(term), fields, at),
            literal => return err(at, format!("unexpected . after term {}", term_text(&literal))),
        }))
    }

    fn term(&mut self) -> R<Option<Arg>> {
        let item = self.next_non_space();
        let at = item.pos;
        let text = item.text();
        Ok(Some(match item.kind {
            Kind::Identifier => {
                if !is_func(text) {
                    return err(at, format!("function {text:?} not defined"));
                }
                Arg::Ident(text.to_string(), at)
            }
            Kind::Dot => Arg::Dot(at),
            Kind::Nil => Arg::Nil(at),
            Kind::Variable => {
                if !self.vars.contains(text) {
                    return err(at, format!("undefined variable {text:?}"));
                }
                Arg::Var(text.to_string(), Vec::new(), at)
            }
            Kind::Field => Arg::Field(vec![text[1..].to_string()], at),
            Kind::Bool => Arg::Bool(text == "true"),
            Kind::CharConstant | Kind::Complex | Kind::Number => Arg::Num(number(text, item.kind, at)?, at),
            Kind::LeftParen => {
                self.enter(at)?;
                let pipe = self.pipeline("parenthesized pipeline", Kind::RightParen)?;
                self.leave();
                Arg::Pipe(Box::new(pipe), at)
            }
            Kind::String | Kind::RawString => match literal::unquote(text) {
                Some(s) => Arg::Str(s),
                None => return err(at, "invalid syntax"),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

fn unexpected<T>(item: &Item, context: &str) -> R<T> {
    if item.kind == Kind::Error {
        return err(item.pos, item.text());
    }
    err(item.pos, format!("unexpected {} in {context}", item.describe()))
}

fn unsupported<T>(item: &Item) -> R<T> {
    err(item.pos, format!("{{{{{}}}}} is not supported in Codeship templates", item.text()))
}

fn check_pipeline(pipe: &Pipe, context: &str, at: usize) -> R<()> {
    if pipe.cmds.is_empty() {
        return err(at, format!("missing value for {context}"));
    }
    // Only the first command may start with something that is not executable.
    for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
        if matches!(c.args[0], Arg::Bool(_) | Arg::Dot(_) | Arg::Nil(_) | Arg::Num(..) | Arg::Str(_)) {
            return err(c.offset, format!("non executable command in pipeline stage {}", i + 1));
        }
    }
    Ok(())
}

/// A literal as Go's node `String()` spells it, for messages.
pub fn term_text(a: &Arg) -> String {
    match a {
        Arg::Str(s) => super::printf::quote(s, false),
        Arg::Num(n, _) => n.text.clone(),
        Arg::Bool(b) => b.to_string(),
        Arg::Nil(_) => "nil".into(),
        Arg::Dot(_) => ".".into(),
        Arg::Field(f, _) => f.iter().map(|x| format!(".{x}")).collect(),
        Arg::Var(n, f, _) => format!("{n}{}", f.iter().map(|x| format!(".{x}")).collect::<String>()),
        Arg::Ident(n, _) => n.clone(),
        Arg::Pipe(..) => "(pipeline)".into(),
        Arg::Chain(base, f, _) => {
            format!("{}{}", term_text(base), f.iter().map(|x| format!(".{x}")).collect::<String>())
        }
    }
}

/// Go's `newNumber` followed by `idealConstant`'s choice of type.
fn number(text: &str, kind: Kind, at: usize) -> R<Number> {
    let make = |value| Ok(Number { text: text.to_string(), value });
    if kind == Kind::CharConstant {
        let Some((rune, _, tail)) = literal::unquote_char(&text[1..], b'\'') else {
            return err(at, "invalid syntax");
        };
        if tail != "'" {
            return err(at, format!("malformed character constant: {text}"));
        }
        return make(Const::Int(i64::from(rune)));
    }
    let imaginary = text.ends_with('i') && literal::parse_float(&text[..text.len() - 1]).is_some();
    if kind == Kind::Complex || imaginary {
        return err(at, format!("complex constant {text} is not supported in Codeship templates"));
    }
    if let Some(i) = literal::parse_int(text) {
        let hex_int = text.len() > 2 && text.starts_with('0') && matches!(text.as_bytes()[1], b'x' | b'X');
        // `0x1e` is an int even though it contains an `e`.
        if hex_int || !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return make(Const::Int(i));
        }
        return make(Const::Float(i as f64));
    }
    if literal::parse_uint(text).is_some() {
        return make(Const::Overflow);
    }
    match literal::parse_float(text) {
        Some(_) if !text.contains(['.', 'e', 'E', 'p', 'P']) => err(at, format!("integer overflow: {text:?}")),
        Some(f) => make(Const::Float(f)),
        None => err(at, format!("illegal number syntax: {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_an_error() {
        let deep = format!("{{{{ {}1{} }}}}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nests more than"), "{e:?}");
        let ok = format!("{{{{ {}1{} }}}}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn constants_typed_as_go_types_them() {
        let arg = |src: &str| match parse(src).unwrap().remove(0) {
            Node::Action(mut p) => p.cmds.remove(0).args.remove(0),
            n => panic!("{n:?}"),
        };
        assert!(matches!(arg("{{ 0x1e }}"), Arg::Num(Number { value: Const::Int(30), .. }, _)));
        assert!(matches!(arg("{{ 1e3 }}"), Arg::Num(Number { value: Const::Float(f), .. }, _) if f == 1000.0));
        assert!(matches!(arg("{{ 'a' }}"), Arg::Num(Number { value: Const::Int(97), .. }, _)));
        assert!(matches!(arg("{{ 18446744073709551615 }}"), Arg::Num(Number { value: Const::Overflow, .. }, _)));
        assert!(parse("{{ 99999999999999999999 }}").is_err());
    }
}
