//! Evaluate a parsed template over the build variables, with Go's semantics for truth,
//! pipelines, variables, comparison functions and `Time` methods.

use super::parse::{Arg, Cmd, Node, Pipe};
use super::printf;
use super::timefmt;
use super::value::{BuildVars, IntTy, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    pub offset: usize,
    pub message: String,
}

type R<T> = Result<T, ExecError>;

fn fail<T>(offset: usize, message: impl Into<String>) -> R<T> {
    Err(ExecError { offset, message: message.into() })
}

enum Flow {
    Normal,
    Break,
    Continue,
}

/// Bound on output size: an image tag or build arg is short; a template that loops or
/// pads to gigabytes is cut off with an error.
const MAX_OUTPUT: usize = 64 * 1024;

pub struct Exec<'a> {
    vars: Vec<(String, Value)>,
    data: &'a BuildVars,
    out: String,
}

impl<'a> Exec<'a> {
    pub fn run(nodes: &[Node], data: &'a BuildVars) -> R<String> {
        let mut e = Exec { vars: vec![("$".into(), Value::Data)], data, out: String::new() };
        e.list(nodes, &Value::Data)?;
        Ok(e.out)
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> R<Flow> {
        for n in nodes {
            match self.node(n, dot)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn node(&mut self, n: &Node, dot: &Value) -> R<Flow> {
        match n {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(p) => {
                let v = self.pipe(p, dot)?;
                if p.vars.is_empty() {
                    let text = match v {
                        // Go prints a struct as `{field field …}`.
                        Value::Data => {
                            let fields: Vec<String> = super::value::VARIABLES
                                .iter()
                                .map(|f| printf::display(&self.data.field(f).unwrap_or(Value::Nil)))
                                .collect();
                            format!("{{{}}}", fields.join(" "))
                        }
                        v => printf::display(&v),
                    };
                    self.out.push_str(&text);
                    if self.out.len() > MAX_OUTPUT {
                        return fail(p.offset, "template output is too long");
                    }
                }
            }
            Node::If { pipe, then, otherwise } | Node::With { pipe, then, otherwise } => {
                let mark = self.vars.len();
                let v = self.pipe(pipe, dot)?;
                let with = matches!(n, Node::With { .. });
                let flow = if v.truth() {
                    let d = if with { v } else { dot.clone() };
                    self.list(then, &d)?
                } else {
                    self.list(otherwise, dot)?
                };
                self.vars.truncate(mark);
                return Ok(flow);
            }
            Node::Range { pipe, .. } => {
                let v = self.pipe(pipe, dot)?;
                return fail(pipe.offset, format!("range can't iterate over {}", printf::display(&v)));
            }
            Node::Break(_) => return Ok(Flow::Break),
            Node::Continue(_) => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> R<Value> {
        let mut value: Option<Value> = None;
        for cmd in &p.cmds {
            value = Some(self.cmd(cmd, dot, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for name in &p.vars {
            if p.assign {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value.clone(),
                    None => return fail(p.offset, format!("undefined variable: {name}")),
                }
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn cmd(&mut self, cmd: &Cmd, dot: &Value, fin: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        match first {
            Arg::Ident(name, at) => self.call(name, &cmd.args[1..], dot, fin, *at),
            Arg::Field(..) | Arg::Var(..) | Arg::Sub(..) => {
                let mut extra = Vec::new();
                for a in &cmd.args[1..] {
                    extra.push(self.arg(a, dot)?);
                }
                extra.extend(fin);
                self.chain(first, dot, extra)
            }
            Arg::Nil(at) => fail(*at, "nil is not a command"),
            lit => {
                if cmd.args.len() > 1 || fin.is_some() {
                    return fail(cmd.offset, format!("can't give argument to non-function {}", literal_text(lit)));
                }
                self.arg(lit, dot)
            }
        }
    }

    /// Evaluate an operand in argument position.
    fn arg(&mut self, a: &Arg, dot: &Value) -> R<Value> {
        Ok(match a {
            Arg::Str(s) => Value::Str(s.clone()),
            Arg::Int(i) => Value::Int(*i, IntTy::Int),
            Arg::Char(c) => Value::Int(*c, IntTy::Int32),
            Arg::Float(f) => Value::Float(*f),
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Nil(_) => Value::Nil,
            Arg::Ident(name, at) => self.call(name, &[], dot, None, *at)?,
            Arg::Field(..) | Arg::Var(..) | Arg::Sub(..) => self.chain(a, dot, Vec::new())?,
        })
    }

    /// `.A.B`, `$x.A`, `(pipe).A` — `args` go to the last element (a method call).
    fn chain(&mut self, a: &Arg, dot: &Value, args: Vec<Value>) -> R<Value> {
        let (mut recv, fields, at) = match a {
            Arg::Field(f, at) => (dot.clone(), f.as_slice(), *at),
            Arg::Var(name, f, at) => {
                let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    return fail(*at, format!("undefined variable: {name}"));
                };
                (v.clone(), f.as_slice(), *at)
            }
            Arg::Sub(p, f, at) => (self.pipe(p, dot)?, f.as_slice(), *at),
            _ => unreachable!("chain of a non-chain operand"),
        };
        if fields.is_empty() {
            if !args.is_empty() {
                return fail(at, format!("can't give argument to non-function {}", chain_text(a)));
            }
            return Ok(recv);
        }
        let mut args = Some(args);
        for (i, f) in fields.iter().enumerate() {
            let last = i + 1 == fields.len();
            let call_args = if last { args.take().unwrap_or_default() } else { Vec::new() };
            recv = self.field(&recv, f, call_args, at)?;
        }
        Ok(recv)
    }

    fn field(&self, recv: &Value, name: &str, args: Vec<Value>, at: usize) -> R<Value> {
        match recv {
            Value::Data => {
                let Some(v) = self.data.field(name) else {
                    return fail(at, format!("can't evaluate field {name} in type main.Data"));
                };
                if !args.is_empty() {
                    return fail(at, format!("{name} has arguments but cannot be invoked as function"));
                }
                Ok(v)
            }
            Value::Time(s, n) => time_method(*s, *n, name, args, at),
            Value::Nil => fail(at, format!("nil pointer evaluating interface {{}}.{name}")),
            other => fail(at, format!("can't evaluate field {name} in type {}", other.go_type())),
        }
    }

    fn call(&mut self, name: &str, args: &[Arg], dot: &Value, fin: Option<Value>, at: usize) -> R<Value> {
        // `and`/`or` evaluate lazily (Go 1.18+).
        if name == "and" || name == "or" {
            let total = args.len() + usize::from(fin.is_some());
            if total == 0 {
                return fail(at, format!("wrong number of args for {name}: want at least 1 got 0"));
            }
            let mut last = Value::Nil;
            for a in args {
                last = self.arg(a, dot)?;
                if last.truth() != (name == "and") {
                    return Ok(last);
                }
            }
            if let Some(f) = fin {
                last = f;
            }
            return Ok(last);
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.arg(a, dot)?);
        }
        vals.extend(fin);
        builtin(name, vals, at)
    }
}

fn literal_text(a: &Arg) -> String {
    match a {
        Arg::Str(s) => printf::quote(s, false),
        Arg::Int(i) => i.to_string(),
        Arg::Char(c) => c.to_string(),
        Arg::Float(f) => printf::display(&Value::Float(*f)),
        Arg::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn chain_text(a: &Arg) -> String {
    match a {
        Arg::Field(f, _) if f.is_empty() => ".".into(),
        Arg::Field(f, _) => f.iter().map(|x| format!(".{x}")).collect(),
        Arg::Var(n, f, _) => format!("{n}{}", f.iter().map(|x| format!(".{x}")).collect::<String>()),
        _ => "(pipeline)".into(),
    }
}

pub const TIME_METHODS: &[&str] = &[
    "Format",
    "Unix",
    "UnixNano",
    "UnixMilli",
    "UnixMicro",
    "Year",
    "Month",
    "Day",
    "Hour",
    "Minute",
    "Second",
    "Nanosecond",
    "YearDay",
    "Weekday",
    "String",
    "UTC",
    "Local",
    "IsZero",
];

fn time_method(secs: i64, nanos: u32, name: &str, args: Vec<Value>, at: usize) -> R<Value> {
    let want = usize::from(name == "Format");
    if !TIME_METHODS.contains(&name) {
        return fail(at, format!("can't evaluate field {name} in type time.Time"));
    }
    if args.len() != want {
        return fail(at, format!("wrong number of args for {name}: want {want} got {}", args.len()));
    }
    let c = timefmt::civil(secs);
    let int = |v: i64| Value::Int(v, IntTy::Int);
    Ok(match name {
        "Format" => match &args[0] {
            Value::Str(layout) => Value::Str(timefmt::format(secs, nanos, layout)),
            other => {
                return fail(at, format!("wrong type for value; expected string; got {}", other.go_type()));
            }
        },
        "Unix" => Value::Int(secs, IntTy::Int64),
        "UnixMilli" => Value::Int(secs * 1000 + i64::from(nanos) / 1_000_000, IntTy::Int64),
        "UnixMicro" => Value::Int(secs * 1_000_000 + i64::from(nanos) / 1000, IntTy::Int64),
        "UnixNano" => Value::Int(secs * 1_000_000_000 + i64::from(nanos), IntTy::Int64),
        "Year" => int(c.year),
        "Month" => Value::Int(c.month, IntTy::Month),
        "Day" => int(c.day),
        "Hour" => int(c.hour),
        "Minute" => int(c.minute),
        "Second" => int(c.second),
        "Nanosecond" => int(i64::from(nanos)),
        "YearDay" => int(c.yday),
        "Weekday" => Value::Int(c.weekday, IntTy::Weekday),
        "String" => Value::Str(timefmt::format(secs, nanos, timefmt::STRING_LAYOUT)),
        "IsZero" => Value::Bool(false),
        _ => Value::Time(secs, nanos), // UTC, Local: we only have UTC.
    })
}

#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Uint,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_, IntTy::Uint8) => Kind::Uint,
        Value::Int(..) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        _ => Kind::Other,
    }
}

fn int_of(v: &Value) -> i64 {
    if let Value::Int(i, _) = v { *i } else { 0 }
}

fn eq2(a: &Value, b: &Value, at: usize) -> R<bool> {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        return match (ka, kb) {
            (Kind::Int, Kind::Uint) | (Kind::Uint, Kind::Int) => Ok(int_of(a) == int_of(b)),
            _ if *a == Value::Nil || *b == Value::Nil => Ok(false),
            _ => fail(at, "error calling eq: incompatible types for comparison"),
        };
    }
    Ok(match (a, b) {
        (Value::Int(x, _), Value::Int(y, _)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        _ => a == b,
    })
}

fn lt2(a: &Value, b: &Value, name: &str, at: usize) -> R<bool> {
    let (ka, kb) = (kind(a), kind(b));
    if matches!(ka, Kind::Bool | Kind::Other) {
        return fail(at, format!("error calling {name}: invalid type for comparison"));
    }
    if ka != kb {
        return match (ka, kb) {
            (Kind::Int, Kind::Uint) | (Kind::Uint, Kind::Int) => Ok(int_of(a) < int_of(b)),
            _ => fail(at, format!("error calling {name}: incompatible types for comparison")),
        };
    }
    Ok(match (a, b) {
        (Value::Int(x, _), Value::Int(y, _)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => x < y,
        _ => false,
    })
}

fn nargs(name: &str, vals: &[Value], want: usize, at: usize) -> R<()> {
    if vals.len() != want {
        return fail(at, format!("wrong number of args for {name}: want {want} got {}", vals.len()));
    }
    Ok(())
}

fn builtin(name: &str, vals: Vec<Value>, at: usize) -> R<Value> {
    match name {
        "not" => {
            nargs(name, &vals, 1, at)?;
            Ok(Value::Bool(!vals[0].truth()))
        }
        "len" => {
            nargs(name, &vals, 1, at)?;
            match &vals[0] {
                Value::Str(s) => Ok(Value::Int(s.len() as i64, IntTy::Int)),
                other => fail(at, format!("error calling len: len of type {}", other.go_type())),
            }
        }
        "index" => {
            let Some((item, idx)) = vals.split_first() else {
                return fail(at, "wrong number of args for index: want at least 1 got 0");
            };
            let mut cur = item.clone();
            for i in idx {
                let Value::Str(s) = &cur else {
                    return fail(at, format!("error calling index: can't index item of type {}", cur.go_type()));
                };
                let Value::Int(n, _) = i else {
                    return fail(
                        at,
                        format!("error calling index: cannot index slice/array with type {}", i.go_type()),
                    );
                };
                match usize::try_from(*n).ok().and_then(|n| s.as_bytes().get(n)) {
                    Some(b) => cur = Value::Int(i64::from(*b), IntTy::Uint8),
                    None => {
                        return fail(at, format!("error calling index: index out of range: {n}"));
                    }
                }
            }
            Ok(cur)
        }
        "slice" => {
            let Some((item, idx)) = vals.split_first() else {
                return fail(at, "wrong number of args for slice: want at least 1 got 0");
            };
            let Value::Str(s) = item else {
                return fail(at, format!("error calling slice: can't slice item of type {}", item.go_type()));
            };
            if idx.len() > 2 {
                return fail(at, "error calling slice: cannot 3-index slice a string");
            }
            let mut bounds = [0usize, s.len()];
            for (k, i) in idx.iter().enumerate() {
                let Value::Int(n, _) = i else {
                    return fail(
                        at,
                        format!("error calling slice: cannot index slice/array with type {}", i.go_type()),
                    );
                };
                match usize::try_from(*n).ok().filter(|n| *n <= s.len()) {
                    Some(n) => bounds[k] = n,
                    None => {
                        return fail(at, format!("error calling slice: index out of range: {n}"));
                    }
                }
            }
            if bounds[0] > bounds[1] {
                return fail(at, format!("error calling slice: invalid slice index: {} > {}", bounds[0], bounds[1]));
            }
            Ok(Value::Str(String::from_utf8_lossy(&s.as_bytes()[bounds[0]..bounds[1]]).into_owned()))
        }
        "print" => Ok(Value::Str(printf::sprint(&vals))),
        "println" => Ok(Value::Str(printf::sprintln(&vals))),
        "printf" => {
            let Some((Value::Str(f), rest)) = vals.split_first() else {
                return match vals.first() {
                    None => fail(at, "wrong number of args for printf: want at least 1 got 0"),
                    Some(v) => fail(at, format!("wrong type for value; expected string; got {}", v.go_type())),
                };
            };
            Ok(Value::Str(printf::sprintf(f, rest)))
        }
        "html" => Ok(Value::Str(html_escape(&eval_args_text(&vals)))),
        "js" => Ok(Value::Str(js_escape(&eval_args_text(&vals)))),
        "urlquery" => Ok(Value::Str(query_escape(&eval_args_text(&vals)))),
        "eq" => {
            let Some((a, rest)) = vals.split_first() else {
                return fail(at, "wrong number of args for eq: want at least 1 got 0");
            };
            if rest.is_empty() {
                return fail(at, "error calling eq: missing argument for comparison");
            }
            for b in rest {
                if eq2(a, b, at)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            nargs(name, &vals, 2, at)?;
            let (a, b) = (&vals[0], &vals[1]);
            let r = match name {
                "ne" => !eq2(a, b, at).map_err(|e| ExecError { message: e.message.replace("eq", "ne"), ..e })?,
                "lt" => lt2(a, b, name, at)?,
                "le" => lt2(a, b, name, at)? || eq2(a, b, at)?,
                "gt" => !(lt2(a, b, name, at)? || eq2(a, b, at)?),
                _ => !lt2(a, b, name, at)?,
            };
            Ok(Value::Bool(r))
        }
        "call" => fail(at, "error calling call: no functions to call in Codeship templates"),
        other => fail(at, format!("function {other:?} not defined")),
    }
}

/// `html`, `js` and `urlquery` format a single string argument as is, others with Sprint.
fn eval_args_text(vals: &[Value]) -> String {
    match vals {
        [Value::Str(s)] => s.clone(),
        _ => printf::sprint(vals),
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{fffd}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
