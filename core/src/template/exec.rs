//! Evaluate a parsed template over the build variables, with Go's semantics for truth,
//! pipelines, variables, comparison functions and `Time` methods (go1.19 `exec.go` and
//! `funcs.go`).
//!
//! Work is bounded for hostile templates: the output and every string value stay under
//! `MAX_OUTPUT`, checked before a value is built, and every value made or copied is charged
//! against `MAX_WORK`. Nothing loops (`range` has nothing to iterate over here), so a
//! template's cost is its size times at most `MAX_OUTPUT`, and the work bound keeps that small.

use super::parse::{Arg, Cmd, Const, Node, Pipe, term_text};
use super::printf::{self, TooLong};
use super::scope::Scope;
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

/// Bound on the output and on any string made while rendering: an image tag or build arg is
/// short; a template that pads or repeats to gigabytes is cut off with an error.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// Bound on the bytes of values made or copied in one rendering (256 maximal strings).
pub const MAX_WORK: usize = 16 * 1024 * 1024;

fn too_long<T>(at: usize) -> R<T> {
    fail(at, format!("the template's output or a value in it would be longer than {MAX_OUTPUT} bytes"))
}

enum Flow {
    Normal,
    Break,
    Continue,
}

pub struct Exec<'a> {
    vars: Scope<Value>,
    data: &'a BuildVars,
    out: String,
    work: usize,
}

impl<'a> Exec<'a> {
    pub fn run(nodes: &[Node], data: &'a BuildVars) -> R<String> {
        let mut e = Exec { vars: Scope::new(), data, out: String::new(), work: 0 };
        e.vars.push("$", Value::Data);
        e.list(nodes, &Value::Data)?;
        Ok(e.out)
    }

    /// Count a value made or copied against the work bound.
    fn charge(&mut self, v: &Value, at: usize) -> R<()> {
        self.work += 1 + v.size();
        if self.work > MAX_WORK {
            return fail(at, format!("the template does too much work (more than {MAX_WORK} bytes of values)"));
        }
        Ok(())
    }

    fn emit(&mut self, text: &str, at: usize) -> R<()> {
        if text.len() > MAX_OUTPUT - self.out.len() {
            return too_long(at);
        }
        self.out.push_str(text);
        Ok(())
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
            Node::Text(t, at) => self.emit(t, *at)?,
            Node::Action(p) => {
                let v = self.pipe(p, dot)?;
                if p.vars.is_empty() {
                    if v == Value::Invalid {
                        self.emit("<no value>", p.offset)?;
                        return Ok(Flow::Normal);
                    }
                    let room = MAX_OUTPUT - self.out.len();
                    let text = printf::sprint(std::slice::from_ref(&v), self.data, room)
                        .or_else(|TooLong| too_long(p.offset))?;
                    self.emit(&text, p.offset)?;
                }
            }
            Node::If { pipe, then, otherwise } | Node::With { pipe, then, otherwise } => {
                let mark = self.vars.mark();
                let v = self.pipe(pipe, dot)?;
                let with = matches!(n, Node::With { .. });
                let flow = if v.truth() {
                    let d = if with { v } else { dot.clone() };
                    self.charge(&d, pipe.offset)?;
                    self.list(then, &d)?
                } else {
                    self.list(otherwise, dot)?
                };
                self.vars.truncate(mark);
                return Ok(flow);
            }
            Node::Range { pipe, otherwise, .. } => {
                // Go ranges over slices, maps and channels; build variables have none. An
                // invalid value (`range and nil 1`) is like an empty one.
                let mark = self.vars.mark();
                let v = self.pipe(pipe, dot)?;
                if v != Value::Invalid {
                    return fail(pipe.offset, format!("range can't iterate over {}", printf::display(&v, self.data)));
                }
                let flow = self.list(otherwise, dot)?;
                self.vars.truncate(mark);
                return Ok(flow);
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
            self.charge(&value, p.offset)?;
            if p.assign {
                match self.vars.get_mut(name) {
                    Some(slot) => *slot = value.clone(),
                    None => return fail(p.offset, format!("undefined variable: {name}")),
                }
            } else {
                self.vars.push(name, value.clone());
            }
        }
        Ok(value)
    }

    /// `notAFunction`: only functions and methods take arguments.
    fn not_a_function(cmd: &Cmd, fin: &Option<Value>) -> R<()> {
        if cmd.args.len() > 1 || fin.is_some() {
            return fail(cmd.offset, format!("can't give argument to non-function {}", term_text(&cmd.args[0])));
        }
        Ok(())
    }

    fn cmd(&mut self, cmd: &Cmd, dot: &Value, fin: Option<Value>) -> R<Value> {
        let args = &cmd.args[1..];
        let v = match &cmd.args[0] {
            Arg::Field(fields, at) => self.field_chain(dot, dot.clone(), fields, args, fin, *at)?,
            Arg::Var(name, fields, at) => {
                let v = self.var(name, *at)?;
                if fields.is_empty() {
                    Self::not_a_function(cmd, &fin)?;
                    v
                } else {
                    self.field_chain(dot, v, fields, args, fin, *at)?
                }
            }
            Arg::Chain(base, fields, at) => {
                let recv = self.arg(base, dot)?;
                self.field_chain(dot, recv, fields, args, fin, *at)?
            }
            Arg::Ident(name, at) => self.call(name, args, dot, fin, *at)?,
            Arg::Pipe(p, _) => {
                Self::not_a_function(cmd, &fin)?;
                self.pipe(p, dot)?
            }
            first => {
                Self::not_a_function(cmd, &fin)?;
                match first {
                    Arg::Nil(at) => return fail(*at, "nil is not a command"),
                    lit => self.arg(lit, dot)?,
                }
            }
        };
        self.charge(&v, cmd.offset)?;
        Ok(v)
    }

    fn var(&self, name: &str, at: usize) -> R<Value> {
        match self.vars.get(name) {
            Some(v) => Ok(v.clone()),
            None => fail(at, format!("undefined variable: {name}")),
        }
    }

    /// An operand in argument position.
    fn arg(&mut self, a: &Arg, dot: &Value) -> R<Value> {
        let v = match a {
            Arg::Str(s) => Value::Str(s.clone()),
            Arg::Num(n, at) => match n.value {
                Const::Int(i) => Value::Int(i, IntTy::Int),
                Const::Float(f) => Value::Float(f),
                Const::Overflow => return fail(*at, format!("{} overflows int", n.text)),
            },
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Nil(_) => Value::Nil,
            Arg::Dot(_) => dot.clone(),
            Arg::Ident(name, at) => self.call(name, &[], dot, None, *at)?,
            Arg::Field(fields, at) => self.field_chain(dot, dot.clone(), fields, &[], None, *at)?,
            Arg::Var(name, fields, at) => {
                let v = self.var(name, *at)?;
                self.field_chain(dot, v, fields, &[], None, *at)?
            }
            Arg::Chain(base, fields, at) => {
                let recv = self.arg(base, dot)?;
                self.field_chain(dot, recv, fields, &[], None, *at)?
            }
            Arg::Pipe(p, _) => self.pipe(p, dot)?,
        };
        self.charge(&v, arg_offset(a))?;
        Ok(v)
    }

    /// `.A.B c d`: fields in turn; the last one gets the arguments (a method call).
    fn field_chain(
        &mut self,
        dot: &Value,
        mut recv: Value,
        fields: &[String],
        args: &[Arg],
        fin: Option<Value>,
        at: usize,
    ) -> R<Value> {
        // `$x` alone (the parser gives a field chain at least one field).
        let Some((last, init)) = fields.split_last() else {
            return Ok(recv);
        };
        for f in init {
            recv = field(self.data, &recv, f, Vec::new(), false, at)?;
        }
        let has_args = !args.is_empty() || fin.is_some();
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.arg(a, dot)?);
        }
        vals.extend(fin);
        field(self.data, &recv, last, vals, has_args, at)
    }

    /// An argument of a builtin: `...any` parameters take nil as a nil interface, the others
    /// (`reflect.Value`) as an invalid value.
    fn builtin_arg(&mut self, name: &str, a: &Arg, dot: &Value) -> R<Value> {
        let v = if let Arg::Nil(_) = a { Value::Invalid } else { self.arg(a, dot)? };
        Ok(builtin_param(name, v))
    }

    fn call(&mut self, name: &str, args: &[Arg], dot: &Value, fin: Option<Value>, at: usize) -> R<Value> {
        // `and`/`or` evaluate lazily (Go 1.18+).
        if name == "and" || name == "or" {
            if args.is_empty() && fin.is_none() {
                return fail(at, format!("wrong number of args for {name}: want at least 1 got 0"));
            }
            let mut last = Value::Invalid;
            for a in args {
                last = self.builtin_arg(name, a, dot)?;
                if last.truth() == (name == "or") {
                    return Ok(last);
                }
            }
            return Ok(fin.map_or(last, |f| builtin_param(name, f)));
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.builtin_arg(name, a, dot)?);
        }
        vals.extend(fin.map(|f| builtin_param(name, f)));
        builtin(name, vals, self.data, at)
    }
}

/// A value as a builtin's parameter receives it (Go's `validateType`): `print`, `printf` and
/// `println` see nil as a nil interface; `html`, `js` and `urlquery` print it as
/// `<no value>`; the rest take `reflect.Value`s, for which nil is an invalid value.
fn builtin_param(name: &str, v: Value) -> Value {
    if !v.is_nil() {
        return v;
    }
    match name {
        "print" | "printf" | "println" => Value::Nil,
        "html" | "js" | "urlquery" => Value::Str("<no value>".into()),
        _ => Value::Invalid,
    }
}

fn arg_offset(a: &Arg) -> usize {
    match a {
        Arg::Dot(at)
        | Arg::Field(_, at)
        | Arg::Var(_, _, at)
        | Arg::Ident(_, at)
        | Arg::Pipe(_, at)
        | Arg::Chain(_, _, at)
        | Arg::Num(_, at)
        | Arg::Nil(at) => *at,
        Arg::Str(_) | Arg::Bool(_) => 0,
    }
}

/// `evalField`: a field of the data, or a method of a time, month or weekday.
fn field(data: &BuildVars, recv: &Value, name: &str, args: Vec<Value>, has_args: bool, at: usize) -> R<Value> {
    match recv {
        Value::Data => {
            let Some(v) = data.field(name) else {
                return fail(at, format!("can't evaluate field {name} in type main.Data"));
            };
            if has_args {
                return fail(at, format!("{name} has arguments but cannot be invoked as function"));
            }
            Ok(v)
        }
        Value::Time(s, n) => time_method(*s, *n, name, args, at),
        Value::Int(i, ty @ (IntTy::Month | IntTy::Weekday)) if name == "String" => {
            if !args.is_empty() {
                return fail(at, format!("wrong number of args for String: want 0 got {}", args.len()));
            }
            Ok(Value::Str(if *ty == IntTy::Month { timefmt::month_name(*i) } else { timefmt::weekday_name(*i) }))
        }
        // Go returns the invalid value for any field of it.
        Value::Invalid => Ok(Value::Invalid),
        Value::Nil => fail(at, format!("nil pointer evaluating interface {{}}.{name}")),
        other => fail(at, format!("can't evaluate field {name} in type {}", other.go_type())),
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
    // Go's Unix* results are undefined outside int64; like Go, they wrap rather than fail.
    let unix_scaled = |per_sec: i64, nanos_per_unit: i64| {
        Value::Int(secs.wrapping_mul(per_sec).wrapping_add(i64::from(nanos) / nanos_per_unit), IntTy::Int64)
    };
    Ok(match name {
        "Format" => match &args[0] {
            Value::Str(layout) => {
                let text = timefmt::format(secs, nanos, layout);
                if text.len() > MAX_OUTPUT {
                    return too_long(at);
                }
                Value::Str(text)
            }
            other => {
                return fail(at, format!("wrong type for value; expected string; got {}", other.go_type()));
            }
        },
        "Unix" => Value::Int(secs, IntTy::Int64),
        "UnixMilli" => unix_scaled(1_000, 1_000_000),
        "UnixMicro" => unix_scaled(1_000_000, 1_000),
        "UnixNano" => unix_scaled(1_000_000_000, 1),
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
        // The zero time.Time is January 1, year 1.
        "IsZero" => Value::Bool(secs.wrapping_add(timefmt::UNIX_TO_INTERNAL) == 0 && nanos == 0),
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
            // An invalid value equals nothing else, without an error.
            _ if a.is_nil() || b.is_nil() => Ok(false),
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
    if matches!(ka, Kind::Bool | Kind::Other) || matches!(kb, Kind::Bool | Kind::Other) {
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

fn builtin(name: &str, vals: Vec<Value>, data: &BuildVars, at: usize) -> R<Value> {
    let text = |r: Result<String, TooLong>| r.map(Value::Str).or_else(|TooLong| too_long(at));
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
        "index" => index(vals, at),
        "slice" => slice(vals, at),
        "print" => text(printf::sprint(&vals, data, MAX_OUTPUT)),
        "println" => text(printf::sprintln(&vals, data, MAX_OUTPUT)),
        "printf" => {
            let Some((Value::Str(f), rest)) = vals.split_first() else {
                return match vals.first() {
                    None => fail(at, "wrong number of args for printf: want at least 1 got 0"),
                    Some(v) => fail(at, format!("wrong type for value; expected string; got {}", v.go_type())),
                };
            };
            text(printf::sprintf(f, rest, data, MAX_OUTPUT))
        }
        "html" | "js" | "urlquery" => {
            let s = eval_args_text(&vals, data).or_else(|TooLong| too_long(at))?;
            // Escaping only grows text (at most sixfold): too long before is too long after.
            if s.len() > MAX_OUTPUT {
                return too_long(at);
            }
            let out = match name {
                "html" => html_escape(&s),
                "js" => js_escape(&s),
                _ => query_escape(&s),
            };
            if out.len() > MAX_OUTPUT {
                return too_long(at);
            }
            Ok(Value::Str(out))
        }
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

fn index(vals: Vec<Value>, at: usize) -> R<Value> {
    let Some((item, idx)) = vals.split_first() else {
        return fail(at, "wrong number of args for index: want at least 1 got 0");
    };
    let mut cur = item.clone();
    for i in idx {
        let Value::Str(s) = &cur else {
            return fail(at, format!("error calling index: can't index item of type {}", cur.go_type()));
        };
        let Value::Int(n, _) = i else {
            return fail(at, format!("error calling index: cannot index slice/array with type {}", i.go_type()));
        };
        match usize::try_from(*n).ok().and_then(|n| s.as_bytes().get(n)) {
            Some(b) => cur = Value::Int(i64::from(*b), IntTy::Uint8),
            None => return fail(at, format!("error calling index: index out of range: {n}")),
        }
    }
    Ok(cur)
}

fn slice(vals: Vec<Value>, at: usize) -> R<Value> {
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
            return fail(at, format!("error calling slice: cannot index slice/array with type {}", i.go_type()));
        };
        match usize::try_from(*n).ok().filter(|n| *n <= s.len()) {
            Some(n) => bounds[k] = n,
            None => return fail(at, format!("error calling slice: index out of range: {n}")),
        }
    }
    if bounds[0] > bounds[1] {
        return fail(at, format!("error calling slice: invalid slice index: {} > {}", bounds[0], bounds[1]));
    }
    Ok(Value::Str(String::from_utf8_lossy(&s.as_bytes()[bounds[0]..bounds[1]]).into_owned()))
}

/// `html`, `js` and `urlquery` take a single string as is, anything else through Sprint.
fn eval_args_text(vals: &[Value], data: &BuildVars) -> Result<String, TooLong> {
    match vals {
        [Value::Str(s)] => Ok(s.clone()),
        _ => printf::sprint(vals, data, MAX_OUTPUT),
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

/// Go's `JSEscapeString`: quotes, `\\`, `<>&=` and control characters escaped; other
/// characters as they are if printable, else `\uXXXX`.
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
            c if c < ' ' => out.push_str(&format!("\\u00{:02X}", c as u32)),
            c if c.is_ascii() || printf::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
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
