//! The parts of Go's `fmt` that templates reach (`print`, `println`, `printf` and printing a
//! value), ported from go1.19 `fmt/print.go` and `fmt/format.go`: flags, widths, precisions,
//! argument indexes, `%!verb(type=value)` errors, Stringers, structs. Widths and precisions
//! are parsed with Go's cap (above 10⁶ they are `%!(NOVERB)` or `%!(BADWIDTH)`), and every
//! write is checked against a byte limit *before* it is made, so `%0999999d` is an error
//! after 64 KiB, not a gigabyte of zeros.

use super::timefmt;
use super::value::{BuildVars, IntTy, VARIABLES, Value};

/// The output would pass the byte limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

type Res = Result<(), TooLong>;

/// `fmt.Sprint`: spaces between operands when neither side is a string.
pub fn sprint(args: &[Value], data: &BuildVars, limit: usize) -> Result<String, TooLong> {
    let mut p = Printer::new(data, limit);
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !is_string(a) && !is_string(&args[i - 1]) {
            p.write(" ")?;
        }
        p.print_arg(a, 'v')?;
    }
    Ok(p.buf)
}

/// `fmt.Sprintln`: spaces always, then a newline.
pub fn sprintln(args: &[Value], data: &BuildVars, limit: usize) -> Result<String, TooLong> {
    let mut p = Printer::new(data, limit);
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.write(" ")?;
        }
        p.print_arg(a, 'v')?;
    }
    p.write("\n")?;
    Ok(p.buf)
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value], data: &BuildVars, limit: usize) -> Result<String, TooLong> {
    let mut p = Printer::new(data, limit);
    p.do_printf(format, args)?;
    Ok(p.buf)
}

/// A value as `{{.}}` prints it, with no limit but its own size; for messages.
pub fn display(v: &Value, data: &BuildVars) -> String {
    sprint(std::slice::from_ref(v), data, usize::MAX).unwrap_or_default()
}

fn is_string(v: &Value) -> bool {
    matches!(v, Value::Str(_))
}

#[derive(Default, Clone, Copy)]
struct Flags {
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    // `%+v` and `%#v` clear plus and sharp and set these instead.
    plus_v: bool,
    sharp_v: bool,
}

/// `tooLarge`: widths and precisions past a million are refused.
fn too_large(x: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&x)
}

/// `parsenum`: the number at `s[start..end]`, whether there was one, and where it ends; an
/// absurdly long number swallows the rest of the format (`end`).
fn parsenum(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let (mut num, mut isnum, mut i) = (0i64, false, start);
    while i < end && s[i].is_ascii_digit() {
        if too_large(num) {
            return (0, false, end);
        }
        num = num * 10 + i64::from(s[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num as usize, isnum, i)
}

/// `parseArgNumber` of the `[n]` at `fb[i]`: (index, bytes used, ok). `close` is the first
/// `]` after `i`, if any.
fn parse_arg_number(fb: &[u8], i: usize, close: Option<usize>) -> (i64, usize, bool) {
    if fb.len() - i < 3 {
        return (0, 1, false);
    }
    let Some(close) = close else {
        return (0, 1, false);
    };
    let (width, ok, newi) = parsenum(fb, i + 1, close);
    if !ok || newi != close {
        return (0, close - i + 1, false);
    }
    (width as i64 - 1, close - i + 1, true)
}

/// The first `]` after a position, remembered. Positions only grow while a format is read,
/// so each byte is looked at once; Go searches afresh at every `[`, which makes `%[%[%[…`
/// quadratic.
#[derive(Default)]
struct CloseBracket {
    searched: bool,
    /// Searched from here on, and what was found.
    from: usize,
    found: Option<usize>,
}

impl CloseBracket {
    fn after(&mut self, fb: &[u8], i: usize) -> Option<usize> {
        let from = i + 1;
        let known = self.searched && from >= self.from && self.found.is_none_or(|f| f >= from);
        if !known {
            self.found = fb.get(from..).and_then(|rest| rest.iter().position(|&b| b == b']')).map(|p| from + p);
            self.from = from;
            self.searched = true;
        }
        self.found
    }
}

struct Printer<'d> {
    buf: String,
    limit: usize,
    data: &'d BuildVars,
    f: Flags,
    wid: usize,
    prec: usize,
    /// Inside `badVerb`: print values raw, without their String methods.
    erroring: bool,
    reordered: bool,
    good_arg_num: bool,
    close_bracket: CloseBracket,
}

impl<'d> Printer<'d> {
    fn new(data: &'d BuildVars, limit: usize) -> Self {
        Printer {
            buf: String::new(),
            limit,
            data,
            f: Flags::default(),
            wid: 0,
            prec: 0,
            erroring: false,
            reordered: false,
            good_arg_num: true,
            close_bracket: CloseBracket::default(),
        }
    }

    /// Fail before writing `n` more bytes would pass the limit.
    fn ensure(&self, n: usize) -> Res {
        if n > self.limit.saturating_sub(self.buf.len()) { Err(TooLong) } else { Ok(()) }
    }

    fn write(&mut self, s: &str) -> Res {
        self.ensure(s.len())?;
        self.buf.push_str(s);
        Ok(())
    }

    fn write_char(&mut self, c: char) -> Res {
        self.write(c.encode_utf8(&mut [0; 4]))
    }

    fn write_padding(&mut self, n: usize) -> Res {
        self.ensure(n)?;
        let c = if self.f.zero { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
        Ok(())
    }

    /// `pad`/`padString`: `s` padded to the width with spaces (or zeros), left or right.
    fn pad(&mut self, s: &str) -> Res {
        if !self.f.wid_present || self.wid == 0 {
            return self.write(s);
        }
        let fill = self.wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.write(s)?;
            self.write_padding(fill)
        } else {
            self.write_padding(fill)?;
            self.write(s)
        }
    }

    fn pad_no_zero(&mut self, s: &str) -> Res {
        let zero = self.f.zero;
        self.f.zero = false;
        let r = self.pad(s);
        self.f.zero = zero;
        r
    }

    fn do_printf(&mut self, format: &str, a: &[Value]) -> Res {
        let fb = format.as_bytes();
        let end = fb.len();
        let mut arg_num = 0usize;
        let mut after_index;
        self.reordered = false;
        let mut i = 0;
        'format: while i < end {
            self.good_arg_num = true;
            let last = i;
            while i < end && fb[i] != b'%' {
                i += 1;
            }
            if i > last {
                self.write(&format[last..i])?;
            }
            if i >= end {
                break;
            }
            i += 1;
            self.f = Flags::default();
            while i < end {
                let c = fb[i];
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => {
                        // The common case: flags and a lower-case verb, nothing else.
                        if c.is_ascii_lowercase() && arg_num < a.len() {
                            if c == b'v' {
                                self.set_v_flags();
                            }
                            self.print_arg(&a[arg_num], c as char)?;
                            arg_num += 1;
                            i += 1;
                            continue 'format;
                        }
                        break;
                    }
                }
                i += 1;
            }

            (arg_num, i, after_index) = self.arg_number(arg_num, fb, i, a.len());

            if i < end && fb[i] == b'*' {
                i += 1;
                let (w, ok, next) = int_from_arg(a, arg_num);
                arg_num = next;
                self.f.wid_present = ok;
                if !ok {
                    self.write("%!(BADWIDTH)")?;
                }
                if w < 0 {
                    self.f.minus = true;
                    self.f.zero = false;
                }
                self.wid = w.unsigned_abs() as usize;
                after_index = false;
            } else {
                let (w, ok, next) = parsenum(fb, i, end);
                (self.wid, self.f.wid_present, i) = (w, ok, next);
                if after_index && ok {
                    self.good_arg_num = false;
                }
            }

            if i + 1 < end && fb[i] == b'.' {
                i += 1;
                if after_index {
                    self.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, fb, i, a.len());
                if i < end && fb[i] == b'*' {
                    i += 1;
                    let (p, ok, next) = int_from_arg(a, arg_num);
                    arg_num = next;
                    // A negative precision makes no sense.
                    let ok = ok && p >= 0;
                    (self.prec, self.f.prec_present) = (if ok { p as usize } else { 0 }, ok);
                    if !ok {
                        self.write("%!(BADPREC)")?;
                    }
                    after_index = false;
                } else {
                    let (p, ok, next) = parsenum(fb, i, end);
                    (self.prec, self.f.prec_present, i) = (if ok { p } else { 0 }, true, next);
                }
            }

            if !after_index {
                (arg_num, i, _) = self.arg_number(arg_num, fb, i, a.len());
            }

            if i >= end {
                self.write("%!(NOVERB)")?;
                break;
            }
            let verb = format[i..].chars().next().unwrap_or('\u{fffd}');
            i += verb.len_utf8();

            if verb == '%' {
                // Takes no operand and ignores width and precision.
                self.write("%")?;
            } else if !self.good_arg_num {
                self.write(&format!("%!{verb}(BADINDEX)"))?;
            } else if arg_num >= a.len() {
                self.write(&format!("%!{verb}(MISSING)"))?;
            } else {
                if verb == 'v' {
                    self.set_v_flags();
                }
                self.print_arg(&a[arg_num], verb)?;
                arg_num += 1;
            }
        }

        // Extra operands, unless they were addressed out of order.
        if !self.reordered && arg_num < a.len() {
            self.f = Flags::default();
            self.write("%!(EXTRA ")?;
            for (k, arg) in a[arg_num..].iter().enumerate() {
                if k > 0 {
                    self.write(", ")?;
                }
                if arg.is_nil() {
                    self.write("<nil>")?;
                } else {
                    self.write(arg.go_type())?;
                    self.write("=")?;
                    self.print_arg(arg, 'v')?;
                }
            }
            self.write(")")?;
        }
        Ok(())
    }

    /// `%#v` is Go syntax and `%+v` names struct fields; neither is the plain flag.
    fn set_v_flags(&mut self) {
        self.f.sharp_v = self.f.sharp;
        self.f.sharp = false;
        self.f.plus_v = self.f.plus;
        self.f.plus = false;
    }

    /// `argNumber`: an explicit `[n]` at `fb[i..]`, if any.
    fn arg_number(&mut self, arg_num: usize, fb: &[u8], i: usize, num_args: usize) -> (usize, usize, bool) {
        if fb.len() <= i || fb[i] != b'[' {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let close = self.close_bracket.after(fb, i);
        let (index, wid, ok) = parse_arg_number(fb, i, close);
        if ok && 0 <= index && (index as usize) < num_args {
            return (index as usize, i + wid, true);
        }
        self.good_arg_num = false;
        (arg_num, i + wid, ok)
    }

    fn print_arg(&mut self, arg: &Value, verb: char) -> Res {
        if arg.is_nil() {
            return match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(Some(arg), None, verb),
            };
        }
        match verb {
            'T' => return self.fmt_s(arg.go_type()),
            // None of our values is a pointer.
            'p' => return self.bad_verb(Some(arg), None, verb),
            _ => {}
        }
        match arg {
            Value::Bool(b) => self.fmt_bool(*b, Some(arg), verb),
            Value::Float(x) => self.fmt_float(*x, Some(arg), verb),
            Value::Str(s) => self.fmt_string(s, Some(arg), verb),
            Value::Int(i, IntTy::Month | IntTy::Weekday) => {
                if self.handle_methods(arg, verb)? {
                    return Ok(());
                }
                self.fmt_int(*i as u64, true, Some(arg), None, verb)
            }
            Value::Int(i, ty) => self.fmt_int(*i as u64, *ty != IntTy::Uint8, Some(arg), None, verb),
            Value::Time(..) => {
                if self.handle_methods(arg, verb)? {
                    return Ok(());
                }
                self.print_time_struct(arg, verb)
            }
            Value::Data => self.print_data_struct(verb),
            Value::Nil | Value::Invalid => Ok(()),
        }
    }

    /// Stringers (`time.Time`, `time.Month`, `time.Weekday`) and `time.Time`'s GoStringer.
    fn handle_methods(&mut self, arg: &Value, verb: char) -> Result<bool, TooLong> {
        if self.erroring {
            return Ok(false);
        }
        if self.f.sharp_v {
            if let Value::Time(s, n) = arg {
                self.fmt_s(&time_go_string(*s, *n))?;
                return Ok(true);
            }
            return Ok(false);
        }
        if matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') {
            let s = match arg {
                Value::Time(s, n) => timefmt::format(*s, *n, timefmt::STRING_LAYOUT),
                Value::Int(i, IntTy::Month) => timefmt::month_name(*i),
                Value::Int(i, IntTy::Weekday) => timefmt::weekday_name(*i),
                _ => return Ok(false),
            };
            self.fmt_string(&s, Some(arg), verb)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// `badVerb`: `%!verb(type=value)`. `raw` names a value that is not a template value
    /// (an unexported field of `time.Time`): its type and text.
    fn bad_verb(&mut self, arg: Option<&Value>, raw: Option<(&str, &str)>, verb: char) -> Res {
        self.erroring = true;
        let r = (|| {
            self.write("%!")?;
            self.write_char(verb)?;
            self.write("(")?;
            match (arg, raw) {
                (Some(a), _) if !a.is_nil() => {
                    self.write(a.go_type())?;
                    self.write("=")?;
                    self.print_arg(a, 'v')?;
                }
                (_, Some((ty, text))) => {
                    self.write(ty)?;
                    self.write("=")?;
                    self.write(text)?;
                }
                _ => self.write("<nil>")?,
            }
            self.write(")")
        })();
        self.erroring = false;
        r
    }

    fn fmt_bool(&mut self, b: bool, arg: Option<&Value>, verb: char) -> Res {
        match verb {
            't' | 'v' => self.pad(if b { "true" } else { "false" }),
            _ => self.bad_verb(arg, None, verb),
        }
    }

    /// `pp.fmtInteger`. `raw` is the type and value for errors when there is no `arg`.
    fn fmt_int(&mut self, v: u64, signed: bool, arg: Option<&Value>, raw: Option<(&str, &str)>, verb: char) -> Res {
        match verb {
            'v' if self.f.sharp_v && !signed => self.fmt_0x64(v, true),
            'v' | 'd' => self.fmt_integer(v, 10, signed, verb, false),
            'b' => self.fmt_integer(v, 2, signed, verb, false),
            'o' | 'O' => self.fmt_integer(v, 8, signed, verb, false),
            'x' => self.fmt_integer(v, 16, signed, verb, false),
            'X' => self.fmt_integer(v, 16, signed, verb, true),
            'c' => self.fmt_c(v),
            'q' => self.fmt_qc(v),
            'U' => self.fmt_unicode(v),
            _ => self.bad_verb(arg, raw, verb),
        }
    }

    fn fmt_0x64(&mut self, v: u64, leading_0x: bool) -> Res {
        let sharp = self.f.sharp;
        self.f.sharp = leading_0x;
        let r = self.fmt_integer(v, 16, false, 'v', false);
        self.f.sharp = sharp;
        r
    }

    /// `fmt.fmtInteger`.
    fn fmt_integer(&mut self, mut u: u64, base: u32, signed: bool, verb: char, upper: bool) -> Res {
        let negative = signed && (u as i64) < 0;
        if negative {
            u = u.wrapping_neg();
        }
        // Two ways to ask for leading zeros: %.3d and %03d; with both, spaces pad.
        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.prec;
            if prec == 0 && u == 0 {
                // Precision 0 and value 0 print nothing but padding.
                let zero = self.f.zero;
                self.f.zero = false;
                let r = self.write_padding(self.wid);
                self.f.zero = zero;
                return r;
            }
        } else if self.f.zero && self.f.wid_present {
            prec = self.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let digits = match (base, upper) {
            (10, _) => u.to_string(),
            (16, false) => format!("{u:x}"),
            (16, true) => format!("{u:X}"),
            (8, _) => format!("{u:o}"),
            _ => format!("{u:b}"),
        };
        let zeros = prec.saturating_sub(digits.len());
        let mut prefix = String::new();
        if negative {
            prefix.push('-');
        } else if self.f.plus {
            prefix.push('+');
        } else if self.f.space {
            prefix.push(' ');
        }
        if verb == 'O' {
            prefix.push_str("0o");
        }
        if self.f.sharp {
            match base {
                2 => prefix.push_str("0b"),
                8 if zeros == 0 && !digits.starts_with('0') => prefix.push('0'),
                16 => prefix.push_str(if upper { "0X" } else { "0x" }),
                _ => {}
            }
        }
        self.ensure(prefix.len() + zeros + digits.len())?;
        let mut s = prefix;
        s.extend(std::iter::repeat_n('0', zeros));
        s.push_str(&digits);
        self.pad_no_zero(&s)
    }

    /// `fmtUnicode`: `U+0078`, with `#` also `U+0078 'x'`.
    fn fmt_unicode(&mut self, u: u64) -> Res {
        let hex = format!("{u:X}");
        let prec = if self.f.prec_present && self.prec > 4 { self.prec } else { 4 };
        let zeros = prec.saturating_sub(hex.len());
        self.ensure(zeros + hex.len() + 10)?;
        let mut s = String::from("U+");
        s.extend(std::iter::repeat_n('0', zeros));
        s.push_str(&hex);
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && is_print(c)
        {
            s.push_str(" '");
            s.push(c);
            s.push('\'');
        }
        self.pad_no_zero(&s)
    }

    /// The rune for `%c` and `%q` of an integer: U+FFFD when it is not one.
    fn rune_of(c: u64) -> char {
        u32::try_from(c).ok().and_then(char::from_u32).unwrap_or('\u{fffd}')
    }

    fn fmt_c(&mut self, c: u64) -> Res {
        self.pad(Self::rune_of(c).encode_utf8(&mut [0; 4]))
    }

    fn fmt_qc(&mut self, c: u64) -> Res {
        let mut s = String::from("'");
        escape_rune(&mut s, Self::rune_of(c), '\'', self.f.plus);
        s.push('\'');
        self.pad(&s)
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present
            && let Some((i, _)) = s.char_indices().nth(self.prec)
        {
            return &s[..i];
        }
        s
    }

    fn fmt_s(&mut self, s: &str) -> Res {
        let s = self.truncate(s);
        self.pad(s)
    }

    fn fmt_string(&mut self, s: &str, arg: Option<&Value>, verb: char) -> Res {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, false),
            'X' => self.fmt_sx(s, true),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(arg, None, verb),
        }
    }

    /// `fmtSbx`: the bytes as hex, `% x` spaced, `%#x` with 0x.
    fn fmt_sx(&mut self, s: &str, upper: bool) -> Res {
        let bytes = s.as_bytes();
        let length = if self.f.prec_present { bytes.len().min(self.prec) } else { bytes.len() };
        if length == 0 {
            if self.f.wid_present {
                return self.write_padding(self.wid);
            }
            return Ok(());
        }
        let mut width = 2 * length;
        if self.f.space {
            if self.f.sharp {
                width *= 2;
            }
            width += length - 1;
        } else if self.f.sharp {
            width += 2;
        }
        if self.f.wid_present && self.wid > width && !self.f.minus {
            self.write_padding(self.wid - width)?;
        }
        self.ensure(width)?;
        let x = if upper { "0X" } else { "0x" };
        let mut out = String::with_capacity(width);
        if self.f.sharp {
            out.push_str(x);
        }
        for (i, b) in bytes[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                out.push(' ');
                if self.f.sharp {
                    out.push_str(x);
                }
            }
            if upper {
                out.push_str(&format!("{b:02X}"));
            } else {
                out.push_str(&format!("{b:02x}"));
            }
        }
        self.write(&out)?;
        if self.f.wid_present && self.wid > width && self.f.minus {
            self.write_padding(self.wid - width)?;
        }
        Ok(())
    }

    /// `fmtQ`: a Go string literal, or with `#` a raw one if it can be.
    fn fmt_q(&mut self, s: &str) -> Res {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            return self.pad(&format!("`{s}`"));
        }
        let q = quote(s, self.f.plus);
        self.pad(&q)
    }

    fn fmt_float(&mut self, v: f64, arg: Option<&Value>, verb: char) -> Res {
        match verb {
            'v' => self.fmt_float_verb(v, 'g', None),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float_verb(v, verb, None),
            'f' | 'e' | 'E' => self.fmt_float_verb(v, verb, Some(6)),
            'F' => self.fmt_float_verb(v, 'f', Some(6)),
            _ => self.bad_verb(arg, None, verb),
        }
    }

    /// `fmt.fmtFloat`: strconv's text with Go's sign, `#` and padding rules.
    fn fmt_float_verb(&mut self, v: f64, verb: char, default_prec: Option<usize>) -> Res {
        let prec = if self.f.prec_present { Some(self.prec) } else { default_prec };
        // Digits that must be written make the text at least `prec` long.
        if matches!(verb, 'e' | 'E' | 'f' | 'x' | 'X') && prec.unwrap_or(0) > self.limit.saturating_sub(self.buf.len())
        {
            return Err(TooLong);
        }
        let text = format_float(v, verb, prec);
        let mut num = if text.starts_with(['-', '+']) { text } else { format!("+{text}") };
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(..1, " ");
        }
        if num[1..].starts_with(['I', 'N']) {
            // Infinities and NaN are not padded with zeros; NaN shows no sign unless asked.
            let mut s = num.as_str();
            if s[1..].starts_with('N') && !self.f.space && !self.f.plus {
                s = &s[1..];
            }
            return self.pad_no_zero(s);
        }
        if self.f.sharp && verb != 'b' {
            num = self.sharp_float(num, verb, prec)?;
        }
        if self.f.plus || !num.starts_with('+') {
            if self.f.zero && self.f.wid_present && self.wid > num.len() {
                let (sign, rest) = num.split_at(1);
                self.write(sign)?;
                self.write_padding(self.wid - num.len())?;
                return self.write(rest);
            }
            return self.pad(&num);
        }
        self.pad(&num[1..])
    }

    /// `#` keeps the decimal point and, for `%g`, trailing zeros up to the precision.
    fn sharp_float(&self, num: String, verb: char, prec: Option<usize>) -> Result<String, TooLong> {
        let mut digits: i64 = match verb {
            'v' | 'g' | 'G' | 'x' => prec.map_or(6, |p| p as i64),
            _ => 0,
        };
        let b = num.as_bytes();
        let mut tail_at = b.len();
        let mut has_point = false;
        let mut saw_nonzero = false;
        for (i, &c) in b.iter().enumerate().skip(1) {
            match c {
                b'.' => has_point = true,
                b'p' | b'P' => {
                    tail_at = i;
                    break;
                }
                b'e' | b'E' if verb != 'x' && verb != 'X' => {
                    tail_at = i;
                    break;
                }
                _ => {
                    saw_nonzero |= c != b'0';
                    if saw_nonzero {
                        digits -= 1;
                    }
                }
            }
        }
        let (head, tail) = num.split_at(tail_at);
        let mut out = head.to_string();
        if !has_point {
            // A lone leading 0 counts once.
            if head.len() == 2 && head.as_bytes()[1] == b'0' {
                digits -= 1;
            }
            out.push('.');
        }
        let zeros = usize::try_from(digits).unwrap_or(0);
        self.ensure(out.len() + zeros + tail.len())?;
        out.extend(std::iter::repeat_n('0', zeros));
        out.push_str(tail);
        Ok(out)
    }

    /// `time.Time` printed as the struct it is (`{wall ext loc}`), for verbs its String method
    /// does not take, such as `%d`.
    fn print_time_struct(&mut self, arg: &Value, verb: char) -> Res {
        let Value::Time(secs, nanos) = arg else { return Ok(()) };
        let wall = u64::from(*nanos);
        let ext = secs.wrapping_add(timefmt::UNIX_TO_INTERNAL);
        self.write("{")?;
        self.fmt_int(wall, false, None, Some(("uint64", &wall.to_string())), verb)?;
        self.write(" ")?;
        self.fmt_int(ext as u64, true, None, Some(("int64", &ext.to_string())), verb)?;
        self.write(" ")?;
        // `loc` is a nil *time.Location for UTC.
        match verb {
            'v' => self.pad("<nil>")?,
            'p' => self.fmt_0x64(0, !self.f.sharp)?,
            'b' | 'o' | 'd' | 'x' | 'X' => self.fmt_int(0, false, None, None, verb)?,
            _ => self.bad_verb(None, Some(("*time.Location", "<nil>")), verb)?,
        }
        self.write("}")
    }

    /// The root data printed as Go prints a struct: `{v1 v2 …}`, `%+v` with names, `%#v` as
    /// Go syntax.
    fn print_data_struct(&mut self, verb: char) -> Res {
        if self.f.sharp_v {
            self.write("main.Data")?;
        }
        self.write("{")?;
        for (i, name) in VARIABLES.iter().enumerate() {
            if i > 0 {
                self.write(if self.f.sharp_v { ", " } else { " " })?;
            }
            if self.f.plus_v || self.f.sharp_v {
                self.write(name)?;
                self.write(":")?;
            }
            let v = self.data.field(name).unwrap_or(Value::Nil);
            self.print_arg(&v, verb)?;
        }
        self.write("}")
    }
}

/// `intFromArg`: the operand for a `*` width or precision, if it is an integer not too large.
fn int_from_arg(a: &[Value], arg_num: usize) -> (i64, bool, usize) {
    let Some(v) = a.get(arg_num) else {
        return (0, false, arg_num);
    };
    match v {
        Value::Int(n, _) if !too_large(*n) => (*n, true, arg_num + 1),
        _ => (0, false, arg_num + 1),
    }
}

/// `time.Time.GoString` for a UTC time.
fn time_go_string(secs: i64, nanos: u32) -> String {
    let c = timefmt::civil(secs);
    format!(
        "time.Date({}, time.{}, {}, {}, {}, {}, {}, time.UTC)",
        c.year,
        timefmt::month_name(c.month),
        c.day,
        c.hour,
        c.minute,
        c.second,
        nanos
    )
}

/// Go's `strconv.IsPrint`, as far as Rust's character classes tell: no controls, no spaces
/// but ASCII space, no format characters or private use.
pub fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let u = c as u32;
    let format_or_space = matches!(
        u,
        0xA0 | 0xAD
            | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x890..=0x891
            | 0x8E2
            | 0x1680
            | 0x180E
            | 0x2000..=0x200F
            | 0x2028..=0x202F
            | 0x205F..=0x2064
            | 0x2066..=0x206F
            | 0x3000
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    );
    let private = matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let noncharacter = (u & 0xFFFE) == 0xFFFE || (0xFDD0..=0xFDEF).contains(&u);
    !c.is_control() && !format_or_space && !private && !noncharacter
}

/// `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| if c.is_ascii() { !((c < ' ' && c != '\t') || c == '`' || c == '\x7f') } else { c != '\u{feff}' })
}

/// Go's `strconv.Quote` (or `QuoteToASCII` with `ascii`).
pub fn quote(s: &str, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_rune(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

/// `appendEscapedRune`.
fn escape_rune(out: &mut String, c: char, quote: char, ascii: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if (ascii && c.is_ascii() && is_print(c)) || (!ascii && is_print(c)) {
        out.push(c);
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if c < ' ' || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Decimal digits of a finite float, as strconv's `decimalSlice`: digits without trailing
/// zeros (none for 0) and the position of the decimal point.
struct Digits {
    d: Vec<u8>,
    dp: i64,
}

/// More significant digits than any float64 has (767); asking for more only adds zeros.
const MAX_SIG_DIGITS: usize = 800;
/// More fraction digits than any float64 has (1074).
const MAX_FRAC_DIGITS: usize = 1100;

/// The shortest digits that read back as `a` (`None`), or `n` significant digits, rounded
/// half to even as Go rounds.
fn digits_of(a: f64, n: Option<usize>) -> Digits {
    if a == 0.0 {
        return Digits { d: Vec::new(), dp: 0 };
    }
    let s = match n {
        Some(n) => format!("{:.*e}", n.clamp(1, MAX_SIG_DIGITS) - 1, a),
        None => format!("{a:e}"),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    Digits { d, dp: exp.parse::<i64>().unwrap_or(0) + 1 }
}

/// `strconv.FormatFloat(v, fmt, prec, 64)` (`prec` None is -1, the shortest).
fn format_float(v: f64, fmt: char, prec: Option<usize>) -> String {
    let neg = v.is_sign_negative();
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if neg { "-Inf".into() } else { "+Inf".into() };
    }
    let sign = if neg { "-" } else { "" };
    let a = v.abs();
    match fmt {
        'b' => format_b(v),
        'x' | 'X' => format_x(v, prec, fmt),
        'f' => {
            let p = prec.unwrap_or(0);
            let body = match prec {
                None => {
                    let d = digits_of(a, None);
                    return format!("{sign}{}", fmt_f(&d, (d.d.len() as i64 - d.dp).max(0) as usize));
                }
                Some(_) => format!("{:.*}", p.min(MAX_FRAC_DIGITS), a),
            };
            let mut s = format!("{sign}{body}");
            s.extend(std::iter::repeat_n('0', p.saturating_sub(MAX_FRAC_DIGITS)));
            s
        }
        'e' | 'E' => {
            let d = digits_of(a, prec.map(|p| p + 1));
            let p = prec.unwrap_or(d.d.len().saturating_sub(1));
            format!("{sign}{}", fmt_e(&d, p, fmt))
        }
        _ => {
            // %g: %e for large or small exponents, %f otherwise.
            let shortest = prec.is_none();
            let d = digits_of(a, prec.map(|p| p.max(1)));
            let nd = d.d.len() as i64;
            let mut p = match prec {
                None => nd,
                Some(p) => p.max(1) as i64,
            };
            let mut eprec = p;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = d.dp - 1;
            let e = if fmt == 'G' { 'E' } else { 'e' };
            if exp < -4 || exp >= eprec {
                if p > nd {
                    p = nd;
                }
                return format!("{sign}{}", fmt_e(&d, (p - 1).max(0) as usize, e));
            }
            if p > d.dp {
                p = nd;
            }
            format!("{sign}{}", fmt_f(&d, (p - d.dp).max(0) as usize))
        }
    }
}

/// `fmtE`: d.ddddde±dd.
fn fmt_e(d: &Digits, prec: usize, e: char) -> String {
    let mut s = String::new();
    s.push(d.d.first().map_or('0', |&c| c as char));
    if prec > 0 {
        s.push('.');
        let m = d.d.len().min(prec + 1);
        for &c in d.d.get(1..m).unwrap_or(&[]) {
            s.push(c as char);
        }
        s.extend(std::iter::repeat_n('0', (prec + 1).saturating_sub(m.max(1))));
    }
    s.push(e);
    let exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    s.push(if exp < 0 { '-' } else { '+' });
    s.push_str(&format!("{:02}", exp.abs()));
    s
}

/// `fmtF`: ddd.ddd with `prec` fraction digits.
fn fmt_f(d: &Digits, prec: usize) -> String {
    let mut s = String::new();
    if d.dp > 0 {
        let dp = d.dp as usize;
        let m = d.d.len().min(dp);
        s.extend(d.d[..m].iter().map(|&c| c as char));
        s.extend(std::iter::repeat_n('0', dp - m));
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 1..=prec as i64 {
            let j = d.dp + i - 1;
            let c = usize::try_from(j).ok().and_then(|j| d.d.get(j)).map_or('0', |&c| c as char);
            s.push(c);
        }
    }
    s
}

/// The mantissa and binary exponent of a finite float, as strconv's `genericFtoa` takes them.
fn mant_exp(v: f64) -> (u64, i64) {
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1 << 52) - 1);
    let exp = if exp == 0 {
        1
    } else {
        mant |= 1 << 52;
        exp
    };
    (mant, exp - 1023)
}

/// `%b`: -ddddp±ddd.
fn format_b(v: f64) -> String {
    let (mant, exp) = mant_exp(v);
    let exp = exp - 52;
    let sign = if v.is_sign_negative() { "-" } else { "" };
    format!("{sign}{mant}p{}{exp}", if exp >= 0 { "+" } else { "" })
}

/// `fmtX`: -0x1.yyyyp±dd, rounded to `prec` hex digits.
fn format_x(v: f64, prec: Option<usize>, fmt: char) -> String {
    let (mut mant, mut exp) = mant_exp(v);
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if let Some(p) = prec.filter(|p| *p < 15) {
        let shift = (p * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let upper = fmt == 'X';
    let hex = |d: u64| {
        let c = char::from_digit((d & 15) as u32, 16).unwrap_or('0');
        if upper { c.to_ascii_uppercase() } else { c }
    };
    let mut s = String::new();
    if v.is_sign_negative() {
        s.push('-');
    }
    s.push('0');
    s.push(fmt);
    s.push(if (mant >> 60) & 1 == 1 { '1' } else { '0' });
    mant <<= 4;
    match prec {
        None if mant != 0 => {
            s.push('.');
            while mant != 0 {
                s.push(hex(mant >> 60));
                mant <<= 4;
            }
        }
        Some(p) if p > 0 => {
            s.push('.');
            for _ in 0..p {
                s.push(hex(mant >> 60));
                mant <<= 4;
            }
        }
        _ => {}
    }
    s.push(if upper { 'P' } else { 'p' });
    s.push(if exp < 0 { '-' } else { '+' });
    s.push_str(&format!("{:02}", exp.abs()));
    s
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
    fn f(format: &str, args: &[Value]) -> String {
        sprintf(format, args, &BuildVars::default(), usize::MAX).unwrap()
    }

    #[test]
    fn verbs() {
        assert_eq!(
            f("%5s|%-5s|%05d|%x|%q", &[s("ab"), s("cd"), i(-42), s("hi"), s("a\"b")]),
            "   ab|cd   |-0042|6869|\"a\\\"b\""
        );
        assert_eq!(f("%d", &[s("x")]), "%!d(string=x)");
        assert_eq!(f("%d %d", &[i(1)]), "1 %!d(MISSING)");
        assert_eq!(f("%d", &[i(1), s("x")]), "1%!(EXTRA string=x)");
        assert_eq!(f("%[2]d %[1]d", &[i(1), i(2)]), "2 1");
        assert_eq!(f("%v %v", &[Value::Float(1e6), Value::Float(100000.0)]), "1e+06 100000");
        assert_eq!(sprint(&[i(1), i(2), s("a"), i(3)], &BuildVars::default(), usize::MAX).unwrap(), "1 2a3");
    }

    #[test]
    fn huge_widths_and_precisions_follow_go() {
        // Past a million, Go's parsenum gives up and the rest of the format is gone.
        assert_eq!(f("%0999999999d|", &[i(5)]), "%!(NOVERB)%!(EXTRA int=5)");
        assert_eq!(f("%.999999999f", &[Value::Float(1.0)]), "%!(NOVERB)%!(EXTRA float64=1)");
        assert_eq!(f("%*d", &[i(1_000_001), i(5)]), "%!(BADWIDTH)5");
        // Go keeps only the digits a float64 has, then zeros; %g drops the zeros.
        assert_eq!(f("%.65536g", &[Value::Float(1.5)]), "1.5");
        assert_eq!(f("%.1100f", &[Value::Float(0.5)]).len(), 1102);
    }

    #[test]
    fn writes_stop_at_the_limit() {
        let d = BuildVars::default();
        assert_eq!(sprintf("%1000000d", &[i(5)], &d, 65536), Err(TooLong));
        assert_eq!(sprintf("%.1000000d", &[i(5)], &d, 65536), Err(TooLong));
        assert_eq!(sprintf("%.1000000f", &[Value::Float(1.0)], &d, 65536), Err(TooLong));
        assert_eq!(sprintf("%#.1000000g", &[Value::Float(1.0)], &d, 65536), Err(TooLong));
        assert_eq!(sprintf("%.1000000x", &[Value::Float(1.0)], &d, 65536), Err(TooLong));
        assert_eq!(sprintf("%65536d", &[i(5)], &d, 65536).map(|s| s.len()), Ok(65536));
    }
}
