//! The parts of Go's `strconv` that read template literals: `Unquote`, `UnquoteChar`,
//! `ParseInt`/`ParseUint` with base 0 and `ParseFloat` (go1.19), so `"\x41"`, `0x1F`,
//! `1_000` and `0x1p-2` mean what they mean in Go.

/// `strconv.UnquoteChar`: the first character of `s` (an escape or a literal), whether it was
/// a multi-byte character, and the rest. `None` is Go's `ErrSyntax`.
pub fn unquote_char(s: &str, quote: u8) -> Option<(u32, bool, &str)> {
    let c = *s.as_bytes().first()?;
    if c == quote {
        return None;
    }
    if c >= 0x80 {
        let ch = s.chars().next()?;
        return Some((ch as u32, true, &s[ch.len_utf8()..]));
    }
    if c != b'\\' {
        return Some((u32::from(c), false, &s[1..]));
    }
    let e = *s.as_bytes().get(1)?;
    // `None` (ErrSyntax) when a multi-byte character follows the backslash: no escape starts
    // with one, and slicing after its first byte would split it (found by fuzzing).
    let rest = s.get(2..)?;
    let simple = |v: u8| Some((u32::from(v), false, rest));
    match e {
        b'a' => simple(0x07),
        b'b' => simple(0x08),
        b'f' => simple(0x0c),
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'v' => simple(0x0b),
        b'\\' => simple(b'\\'),
        b'\'' | b'"' if e == quote => simple(e),
        b'x' | b'u' | b'U' => {
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n)?;
            let mut v: u32 = 0;
            for d in digits.bytes() {
                v = (v << 4) | (d as char).to_digit(16)?;
            }
            if e == b'x' {
                // A single byte, possibly not UTF-8.
                return Some((v, false, &rest[n..]));
            }
            char::from_u32(v)?;
            Some((v, true, &rest[n..]))
        }
        b'0'..=b'7' => {
            let digits = rest.get(..2)?.as_bytes();
            let mut v = u32::from(e - b'0');
            for &d in digits {
                if !(b'0'..=b'7').contains(&d) {
                    return None;
                }
                v = (v << 3) | u32::from(d - b'0');
            }
            if v > 255 {
                return None;
            }
            Some((v, false, &rest[2..]))
        }
        _ => None,
    }
}

/// `strconv.Unquote` of a `"…"` or `` `…` `` literal, quotes included. Go strings are bytes;
/// ours are UTF-8, so escapes that make invalid UTF-8 (`"\xff"`) become U+FFFD.
pub fn unquote(text: &str) -> Option<String> {
    let inner = text.get(1..text.len().checked_sub(1)?)?;
    match text.as_bytes()[0] {
        // Go drops carriage returns from raw strings.
        b'`' => Some(inner.replace('\r', "")),
        b'"' => {
            if inner.contains('\n') {
                return None;
            }
            let mut bytes = Vec::with_capacity(inner.len());
            let mut s = inner;
            while !s.is_empty() {
                let (v, multibyte, rest) = unquote_char(s, b'"')?;
                if v < 0x80 || !multibyte {
                    bytes.push(v as u8);
                } else {
                    let ch = char::from_u32(v)?;
                    bytes.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
                s = rest;
            }
            Some(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
        }
        _ => None,
    }
}

/// Go's `underscoreOK`: underscores only between digits, or between a base prefix and a digit.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    // What came last: '^' start, '0' digit or prefix, '_' underscore, '!' anything else.
    let mut saw = b'^';
    let mut hex = false;
    if b.len() >= i + 2 && b[i] == b'0' && matches!(b[i + 1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        hex = b[i + 1].eq_ignore_ascii_case(&b'x');
        i += 2;
        saw = b'0';
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// `strconv.ParseUint(s, 0, 64)`.
pub fn parse_uint(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (base, digits) = if b[0] == b'0' {
        match b.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if b.len() >= 3 => (2, &s[2..]),
            Some(b'o') if b.len() >= 3 => (8, &s[2..]),
            Some(b'x') if b.len() >= 3 => (16, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for c in digits.chars() {
        if c == '_' {
            underscores = true;
            continue;
        }
        let d = c.to_digit(36).filter(|d| *d < base)?;
        n = n.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    if underscores && !underscore_ok(s) {
        return None;
    }
    Some(n)
}

/// `strconv.ParseInt(s, 0, 64)`.
pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint(body)?;
    if neg { 0i64.checked_sub_unsigned(u) } else { i64::try_from(u).ok() }
}

/// `strconv.ParseFloat(s, 64)` for what the template lexer calls a number; `None` for bad
/// syntax and for overflow (Go's range error).
pub fn parse_float(s: &str) -> Option<f64> {
    let r = read_float(s)?;
    if r.end != s.len() || (s.contains('_') && !underscore_ok(s)) {
        return None;
    }
    let f = if r.hex {
        atof_hex(r.mantissa, r.exp, r.neg, r.trunc)?
    } else {
        // Rust's parser rounds correctly, as Go's does; it reads the same decimal syntax
        // once the separators are gone.
        s.replace('_', "").parse::<f64>().ok()?
    };
    f.is_finite().then_some(f)
}

struct ReadFloat {
    mantissa: u64,
    exp: i64,
    neg: bool,
    trunc: bool,
    hex: bool,
    end: usize,
}

/// Go's `readFloat`: the syntax check, and for hex floats the mantissa and binary exponent.
fn read_float(s: &str) -> Option<ReadFloat> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut neg = false;
    match b.first()? {
        b'+' => i += 1,
        b'-' => {
            neg = true;
            i += 1;
        }
        _ => {}
    }
    let mut base: u64 = 10;
    let mut max_mant_digits = 19;
    let mut exp_char = b'e';
    let mut hex = false;
    if i + 2 < b.len() && b[i] == b'0' && b[i + 1].eq_ignore_ascii_case(&b'x') {
        base = 16;
        max_mant_digits = 16;
        i += 2;
        exp_char = b'p';
        hex = true;
    }
    let (mut sawdot, mut sawdigits) = (false, false);
    let (mut nd, mut nd_mant, mut dp): (i64, i64, i64) = (0, 0, 0);
    let mut mantissa: u64 = 0;
    let mut trunc = false;
    while i < b.len() {
        let c = b[i];
        let digit = match c {
            b'_' => {
                i += 1;
                continue;
            }
            b'.' => {
                if sawdot {
                    break;
                }
                sawdot = true;
                dp = nd;
                i += 1;
                continue;
            }
            b'0'..=b'9' => u64::from(c - b'0'),
            _ if base == 16 && c.is_ascii_hexdigit() => u64::from(c.to_ascii_lowercase() - b'a' + 10),
            _ => break,
        };
        sawdigits = true;
        i += 1;
        if c == b'0' && nd == 0 {
            // Leading zeros do not count.
            dp -= 1;
            continue;
        }
        nd += 1;
        if nd_mant < max_mant_digits {
            mantissa = mantissa * base + digit;
            nd_mant += 1;
        } else if digit != 0 {
            trunc = true;
        }
    }
    if !sawdigits {
        return None;
    }
    if !sawdot {
        dp = nd;
    }
    if base == 16 {
        dp *= 4;
        nd_mant *= 4;
    }
    if i < b.len() && b[i].to_ascii_lowercase() == exp_char {
        i += 1;
        let mut esign = 1;
        match b.get(i)? {
            b'+' => i += 1,
            b'-' => {
                i += 1;
                esign = -1;
            }
            _ => {}
        }
        if !b.get(i)?.is_ascii_digit() {
            return None;
        }
        let mut e: i64 = 0;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            if b[i] != b'_' && e < 10_000 {
                e = e * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        dp += e * esign;
    } else if base == 16 {
        // A hex mantissa needs a `p` exponent.
        return None;
    }
    let exp = if mantissa != 0 { dp - nd_mant } else { 0 };
    Some(ReadFloat { mantissa, exp, neg, trunc, hex, end: i })
}

/// Go's `atofHex` for float64: round the hex mantissa × 2^exp to nearest even.
fn atof_hex(mut mantissa: u64, mut exp: i64, neg: bool, trunc: bool) -> Option<f64> {
    const MANT_BITS: u32 = 52;
    const EXP_BITS: u32 = 11;
    const BIAS: i64 = -1023;
    let max_exp = (1 << EXP_BITS) + BIAS - 2;
    let min_exp = BIAS + 1;
    exp += i64::from(MANT_BITS);
    while mantissa != 0 && mantissa >> (MANT_BITS + 2) == 0 {
        mantissa <<= 1;
        exp -= 1;
    }
    if trunc {
        mantissa |= 1;
    }
    while mantissa >> (1 + MANT_BITS + 2) != 0 {
        mantissa = (mantissa >> 1) | (mantissa & 1);
        exp += 1;
    }
    while mantissa > 1 && exp < min_exp - 2 {
        mantissa = (mantissa >> 1) | (mantissa & 1);
        exp += 1;
    }
    let mut round = mantissa & 3;
    mantissa >>= 2;
    round |= mantissa & 1;
    exp += 2;
    if round == 3 {
        mantissa += 1;
        if mantissa == 1 << (1 + MANT_BITS) {
            mantissa >>= 1;
            exp += 1;
        }
    }
    if mantissa >> MANT_BITS == 0 {
        exp = BIAS;
    }
    if exp > max_exp {
        return None;
    }
    let mut bits = mantissa & ((1 << MANT_BITS) - 1);
    bits |= (((exp - BIAS) as u64) & ((1 << EXP_BITS) - 1)) << MANT_BITS;
    if neg {
        bits |= 1 << (MANT_BITS + EXP_BITS);
    }
    Some(f64::from_bits(bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_go_reads_them() {
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("-0o17"), Some(-15));
        assert_eq!(parse_int("017"), Some(15));
        assert_eq!(parse_int("1_000"), Some(1000));
        assert_eq!(parse_int("1__0"), None);
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(parse_uint("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_uint("0x"), None);
        assert_eq!(parse_float("0x1p-2"), Some(0.25));
        assert_eq!(parse_float("0x1.8p1"), Some(3.0));
        assert_eq!(parse_float("1_000.5"), Some(1000.5));
        assert_eq!(parse_float("1e400"), None);
        assert_eq!(parse_float("0x1.8"), None);
        assert_eq!(parse_float("1e"), None);
    }

    #[test]
    fn strings_as_go_unquotes_them() {
        assert_eq!(unquote(r#""a\tb\u00e9\x41\101""#).as_deref(), Some("a\tbéAA"));
        assert_eq!(unquote(r#""\xc3\xa9""#).as_deref(), Some("é"));
        assert_eq!(unquote(r#""\'""#), None);
        assert_eq!(unquote(r#""\400""#), None);
        assert_eq!(unquote(r#""\ud800""#), None);
        assert_eq!(unquote(r#""\x4""#), None);
        assert_eq!(unquote("`a\r\nb`").as_deref(), Some("a\nb"));
        assert_eq!(unquote_char(r"\'x", b'\''), Some((39, false, "x")));
    }
}
