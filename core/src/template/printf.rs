//! The parts of Go's `fmt` that templates reach: `print`, `println`, `printf` and the
//! default formatting of values, with Go's padding, `%!verb(type=value)` errors and quoting.

use super::timefmt;
use super::value::{IntTy, Value};

/// Go's `%v` of a value (Stringers use their `String()` method).
pub fn display(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i, IntTy::Month) => timefmt::month_name(*i),
        Value::Int(i, IntTy::Weekday) => timefmt::weekday_name(*i),
        Value::Int(i, _) => i.to_string(),
        Value::Float(f) => format_g(*f, None, false),
        Value::Bool(b) => b.to_string(),
        Value::Time(s, n) => timefmt::format(*s, *n, timefmt::STRING_LAYOUT),
        Value::Data => "{…}".into(),
        Value::Nil => "<nil>".into(),
    }
}

/// The raw value without String methods, as `%!verb(type=value)` shows it.
fn raw(v: &Value) -> String {
    match v {
        Value::Int(i, _) => i.to_string(),
        other => display(other),
    }
}

fn is_string(v: &Value) -> bool {
    matches!(v, Value::Str(_))
}

/// `fmt.Sprint`: spaces between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !is_string(a) && !is_string(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&display(a));
    }
    out
}

/// `fmt.Sprintln`: spaces always, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut s = args.iter().map(display).collect::<Vec<_>>().join(" ");
    s.push('\n');
    s
}

#[derive(Default, Clone, Copy)]
struct Flags {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut f = Flags::default();
        while let Some(&(_, c)) = chars.peek() {
            match c {
                '-' => {
                    f.minus = true;
                    f.zero = false;
                }
                '+' => f.plus = true,
                '#' => f.sharp = true,
                ' ' => f.space = true,
                '0' => f.zero = !f.minus,
                _ => break,
            }
            chars.next();
        }
        // Width: digits or `*`.
        if chars.peek().map(|p| p.1) == Some('*') {
            chars.next();
            match args.get(argi) {
                Some(Value::Int(w, _)) => {
                    if *w < 0 {
                        f.minus = true;
                        f.zero = false;
                    }
                    f.width = Some(w.unsigned_abs() as usize);
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            argi += 1;
        } else {
            let mut w = String::new();
            while let Some(&(_, d)) = chars.peek().filter(|p| p.1.is_ascii_digit()) {
                w.push(d);
                chars.next();
            }
            if !w.is_empty() {
                f.width = w.parse().ok();
            }
        }
        if chars.peek().map(|p| p.1) == Some('.') {
            chars.next();
            if chars.peek().map(|p| p.1) == Some('*') {
                chars.next();
                match args.get(argi) {
                    Some(Value::Int(p, _)) if *p >= 0 => f.prec = Some(*p as usize),
                    _ => out.push_str("%!(BADPREC)"),
                }
                argi += 1;
            } else {
                let mut p = String::new();
                while let Some(&(_, d)) = chars.peek().filter(|p| p.1.is_ascii_digit()) {
                    p.push(d);
                    chars.next();
                }
                f.prec = Some(p.parse().unwrap_or(0));
            }
        }
        let Some((_, verb)) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        out.push_str(&format_arg(arg, verb, f));
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| match a {
                Value::Nil => "<nil>".to_string(),
                a => format!("{}={}", a.go_type(), display(a)),
            })
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

fn bad_verb(arg: &Value, verb: char) -> String {
    match arg {
        Value::Nil => format!("%!{verb}(<nil>)"),
        a => format!("%!{verb}({}={})", a.go_type(), raw(a)),
    }
}

fn format_arg(arg: &Value, verb: char, f: Flags) -> String {
    if verb == 'T' {
        return pad(arg.go_type().to_string(), f, false);
    }
    match arg {
        // Stringers (Time, Month, Weekday) format their String() for the string verbs.
        Value::Int(_, IntTy::Month | IntTy::Weekday) | Value::Time(..)
            if matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') =>
        {
            let s = display(arg);
            format_str(&s, verb, f).unwrap_or_else(|| bad_verb(arg, verb))
        }
        Value::Str(s) => format_str(s, verb, f).unwrap_or_else(|| bad_verb(arg, verb)),
        Value::Int(i, _) => format_int(*i, verb, f).unwrap_or_else(|| bad_verb(arg, verb)),
        Value::Time(..) => bad_verb(arg, verb),
        Value::Bool(b) => match verb {
            'v' | 't' => pad(b.to_string(), f, false),
            _ => bad_verb(arg, verb),
        },
        Value::Float(x) => format_float(*x, verb, f).unwrap_or_else(|| bad_verb(arg, verb)),
        Value::Nil => match verb {
            'v' => pad("<nil>".into(), f, false),
            _ => bad_verb(arg, verb),
        },
        Value::Data => pad(display(arg), f, false),
    }
}

/// Pad to the width in characters; `numeric` zero padding goes after the sign.
fn pad(s: String, f: Flags, numeric: bool) -> String {
    let Some(width) = f.width else { return s };
    let len = s.chars().count();
    if len >= width {
        return s;
    }
    let fill = width - len;
    if f.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if f.zero {
        if numeric && (s.starts_with('-') || s.starts_with('+') || s.starts_with(' ')) {
            let (sign, rest) = s.split_at(1);
            format!("{sign}{}{rest}", "0".repeat(fill))
        } else {
            format!("{}{s}", "0".repeat(fill))
        }
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn format_str(s: &str, verb: char, f: Flags) -> Option<String> {
    let truncated: String = match f.prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_string(),
    };
    Some(match verb {
        'v' | 's' => pad(truncated, f, false),
        'q' => pad(
            if f.sharp && !s.contains('`') && s.chars().all(|c| c == '\t' || !c.is_control()) {
                format!("`{s}`")
            } else {
                quote(&truncated, f.plus)
            },
            f,
            false,
        ),
        'x' | 'X' => {
            let bytes = match f.prec {
                Some(p) => &s.as_bytes()[..p.min(s.len())],
                None => s.as_bytes(),
            };
            pad(hex_bytes(bytes, verb == 'X', f), f, false)
        }
        _ => return None,
    })
}

fn hex_bytes(bytes: &[u8], upper: bool, f: Flags) -> String {
    let mut out = String::new();
    for (i, b) in bytes.iter().enumerate() {
        if f.space && i > 0 {
            out.push(' ');
        }
        if f.sharp && (f.space || i == 0) {
            out.push_str(if upper { "0X" } else { "0x" });
        }
        if upper {
            out.push_str(&format!("{b:02X}"));
        } else {
            out.push_str(&format!("{b:02x}"));
        }
    }
    out
}

/// Go's `strconv.Quote` (or `QuoteToASCII` with `ascii`).
pub fn quote(s: &str, ascii: bool) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        quote_char(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

fn quote_char(out: &mut String, c: char, q: char, ascii: bool) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == q => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if c.is_ascii() => out.push(c),
        c if !ascii && !c.is_control() && c != '\u{fffd}' => out.push(c),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

fn format_int(i: i64, verb: char, f: Flags) -> Option<String> {
    let neg = i < 0;
    let abs = i.unsigned_abs();
    let (digits, prefix) = match verb {
        'v' | 'd' => (abs.to_string(), ""),
        'x' => (format!("{abs:x}"), if f.sharp { "0x" } else { "" }),
        'X' => (format!("{abs:X}"), if f.sharp { "0X" } else { "" }),
        'o' => (format!("{abs:o}"), if f.sharp { "0" } else { "" }),
        'O' => (format!("{abs:o}"), "0o"),
        'b' => (format!("{abs:b}"), ""),
        'c' => {
            return Some(pad(char::from_u32(i as u32).unwrap_or('\u{fffd}').to_string(), f, false));
        }
        'q' => {
            let c = char::from_u32(i as u32).unwrap_or('\u{fffd}');
            let mut s = String::from("'");
            quote_char(&mut s, c, '\'', f.plus);
            s.push('\'');
            return Some(pad(s, f, false));
        }
        'U' => {
            let mut s = format!("U+{abs:04X}");
            if f.sharp
                && let Some(c) = char::from_u32(i as u32)
            {
                s.push_str(&format!(" '{c}'"));
            }
            return Some(pad(s, f, false));
        }
        _ => return None,
    };
    let mut digits = digits;
    if let Some(p) = f.prec {
        if p == 0 && abs == 0 {
            digits.clear();
        }
        while digits.len() < p {
            digits.insert(0, '0');
        }
    }
    let sign = if neg {
        "-"
    } else if f.plus {
        "+"
    } else if f.space {
        " "
    } else {
        ""
    };
    let mut body = format!("{prefix}{digits}");
    // Zero padding fills to the width after the sign; precision disables it, as in Go.
    if f.zero
        && !f.minus
        && f.prec.is_none()
        && let Some(w) = f.width
    {
        let want = w.saturating_sub(sign.len());
        while body.len() < want {
            body.insert(prefix.len(), '0');
        }
    }
    Some(pad(format!("{sign}{body}"), Flags { zero: false, ..f }, true))
}

/// Shortest decimal digits and exponent of a finite non-negative float: (digits, exp) with
/// value = 0.d1d2… × 10^(exp+1), i.e. `exp` is the exponent of the first digit.
fn decimal_digits(x: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        Some(p) => format!("{:.*e}", p.saturating_sub(1), x),
        None => format!("{x:e}"),
    };
    let (mant, exp) = s.split_once('e').expect("exponent form");
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits, exp.parse().expect("exponent"))
}

fn format_g(x: f64, prec: Option<usize>, sharp: bool) -> String {
    if !x.is_finite() {
        return special(x);
    }
    let neg = x.is_sign_negative();
    let a = x.abs();
    let prec = prec.map(|p| p.max(1));
    let (mut digits, exp) = if a == 0.0 { ("0".to_string(), 0) } else { decimal_digits(a, prec) };
    if !sharp {
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
        }
    }
    let eprec = match prec {
        None => 6,
        Some(p) => {
            let nd = digits.len() as i32;
            if p as i32 > nd && nd > exp { nd } else { p as i32 }
        }
    };
    let body = if exp < -4 || exp >= eprec {
        let mut m = digits[..1].to_string();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        format!("{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else if exp < 0 {
        format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
    } else {
        let int_len = (exp + 1) as usize;
        if digits.len() <= int_len {
            format!("{}{}", digits, "0".repeat(int_len - digits.len()))
        } else {
            format!("{}.{}", &digits[..int_len], &digits[int_len..])
        }
    };
    if neg { format!("-{body}") } else { body }
}

fn special(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}

fn format_float(x: f64, verb: char, f: Flags) -> Option<String> {
    let mut s = match verb {
        'v' | 'g' | 'G' => format_g(x, f.prec, f.sharp),
        'f' | 'F' => {
            if x.is_finite() {
                format!("{:.*}", f.prec.unwrap_or(6), x)
            } else {
                special(x)
            }
        }
        'e' | 'E' => {
            if x.is_finite() {
                let s = format!("{:.*e}", f.prec.unwrap_or(6), x);
                let (m, e) = s.split_once('e').expect("exponent");
                let e: i32 = e.parse().expect("exponent");
                format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
            } else {
                special(x)
            }
        }
        _ => return None,
    };
    if verb == 'G' || verb == 'E' {
        s = s.to_uppercase();
    }
    if !s.starts_with('-') {
        if f.plus || (x.is_infinite() && x > 0.0) {
            if !s.starts_with('+') {
                s.insert(0, '+');
            }
        } else if f.space {
            s.insert(0, ' ');
        }
    }
    if x.is_infinite() && x > 0.0 && !f.plus && !f.space {
        // Go prints +Inf only with %+v; plain %v prints +Inf too.
    }
    Some(pad(s, Flags { zero: f.zero && x.is_finite(), ..f }, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }
    fn i(v: i64) -> Value {
        Value::Int(v, IntTy::Int)
    }

    #[test]
    fn verbs() {
        assert_eq!(
            sprintf("%5s|%-5s|%05d|%x|%q", &[s("ab"), s("cd"), i(-42), s("hi"), s("a\"b")]),
            "   ab|cd   |-0042|6869|\"a\\\"b\""
        );
        assert_eq!(sprintf("%d", &[s("x")]), "%!d(string=x)");
        assert_eq!(sprintf("%d %d", &[i(1)]), "1 %!d(MISSING)");
        assert_eq!(sprintf("%d", &[i(1), s("x")]), "1%!(EXTRA string=x)");
        assert_eq!(display(&Value::Float(1e6)), "1e+06");
        assert_eq!(display(&Value::Float(100000.0)), "100000");
        assert_eq!(display(&Value::Float(0.5)), "0.5");
        assert_eq!(sprint(&[i(1), i(2), s("a"), i(3)]), "1 2a3");
    }
}
