//! Go's `time.Time.Format` for UTC instants: the reference layout `Mon Jan 2 15:04:05 MST 2006`.
//! Chunk recognition follows Go's `nextStdChunk` (go1.19) so literal text is kept exactly.

pub const STRING_LAYOUT: &str = "2006-01-02 15:04:05.999999999 -0700 MST";

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

pub fn month_name(m: i64) -> String {
    usize::try_from(m - 1).ok().and_then(|i| MONTHS.get(i)).map_or_else(|| format!("%!Month({m})"), |s| s.to_string())
}
pub fn weekday_name(d: i64) -> String {
    usize::try_from(d).ok().and_then(|i| DAYS.get(i)).map_or_else(|| format!("%!Weekday({d})"), |s| s.to_string())
}

/// Calendar fields of a UTC instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub weekday: i64,
    pub yday: i64,
}

/// Seconds from January 1, year 1 (Go's internal epoch) to the Unix epoch.
pub const UNIX_TO_INTERNAL: i64 = 62_135_596_800;
/// Seconds from Go's absolute epoch (January 1, year -292277022399) to the Unix epoch.
const UNIX_TO_ABSOLUTE: i64 = 9_223_372_028_715_321_600;
const ABSOLUTE_ZERO_YEAR: i64 = -292_277_022_399;
const DAYS_BEFORE: [u64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];

/// Calendar fields of a UTC instant, computed as go1.19's `absDate`, `absClock` and
/// `absWeekday` do: from unsigned seconds since the absolute epoch, with Go's wrapping
/// arithmetic, so even timestamps near the ends of int64 give what Go gives and never panic.
pub fn civil(unix: i64) -> Civil {
    let abs = unix.wrapping_add(UNIX_TO_ABSOLUTE) as u64;
    let mut d = abs / 86_400;
    let mut n = d / 146_097;
    let mut y = 400 * n;
    d -= 146_097 * n;
    // The last 100-year cycle has an extra leap day, and the last year of a 4-year cycle.
    n = d / 36_524;
    n -= n >> 2;
    y += 100 * n;
    d -= 36_524 * n;
    n = d / 1_461;
    y += 4 * n;
    d -= 1_461 * n;
    n = d / 365;
    n -= n >> 2;
    y += n;
    d -= 365 * n;
    let year = y as i64 + ABSOLUTE_ZERO_YEAR;
    let yday = d;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let (month, day) = if leap && yday == 31 + 29 - 1 {
        (2, 29)
    } else {
        let day = if leap && yday > 31 + 29 - 1 { yday - 1 } else { yday };
        // Months are estimated at 31 days; the estimate is at most one month low.
        let mut month = day / 31;
        let end = DAYS_BEFORE[month as usize + 1];
        let begin = if day >= end {
            month += 1;
            end
        } else {
            DAYS_BEFORE[month as usize]
        };
        (month + 1, day - begin + 1)
    };
    let secs = abs % 86_400;
    Civil {
        year,
        month: month as i64,
        day: day as i64,
        hour: (secs / 3600) as i64,
        minute: (secs % 3600 / 60) as i64,
        second: (secs % 60) as i64,
        // Day 0 of the absolute epoch was a Monday.
        weekday: (abs.wrapping_add(86_400) % 604_800 / 86_400) as i64,
        yday: yday as i64 + 1,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    /// Numeric zone; `iso` prints `Z` for UTC; the str is the layout spelling.
    Zone(bool, &'static str),
    /// Fractional seconds: separator, digits, trim trailing zeros (`9`) or not (`0`).
    Frac(u8, usize, bool),
}

fn starts_lower(s: &[u8]) -> bool {
    s.first().is_some_and(|c| c.is_ascii_lowercase())
}

/// Split the layout at its first standard chunk: (literal prefix, chunk, rest).
fn next_chunk(layout: &str) -> Option<(&str, Std, &str)> {
    let l = layout.as_bytes();
    let n = l.len();
    let has = |i: usize, s: &str| layout.get(i..i + s.len()) == Some(s);
    for i in 0..n {
        let r = |len: usize, std: Std| Some((&layout[..i], std, &layout[i + len..]));
        match l[i] {
            b'J' if has(i, "Jan") => {
                if has(i, "January") {
                    return r(7, Std::LongMonth);
                }
                if !starts_lower(&l[i + 3..]) {
                    return r(3, Std::Month);
                }
            }
            b'M' if n >= i + 3 => {
                if has(i, "Mon") {
                    if has(i, "Monday") {
                        return r(6, Std::LongWeekDay);
                    }
                    if !starts_lower(&l[i + 3..]) {
                        return r(3, Std::WeekDay);
                    }
                }
                if has(i, "MST") {
                    return r(3, Std::TZ);
                }
            }
            b'0' => {
                if n >= i + 2 && (b'1'..=b'6').contains(&l[i + 1]) {
                    let std =
                        [Std::ZeroMonth, Std::ZeroDay, Std::ZeroHour12, Std::ZeroMinute, Std::ZeroSecond, Std::Year]
                            [(l[i + 1] - b'1') as usize];
                    return r(2, std);
                }
                if has(i, "002") {
                    return r(3, Std::ZeroYearDay);
                }
            }
            b'1' => {
                if n >= i + 2 && l[i + 1] == b'5' {
                    return r(2, Std::Hour);
                }
                return r(1, Std::NumMonth);
            }
            b'2' => {
                if has(i, "2006") {
                    return r(4, Std::LongYear);
                }
                return r(1, Std::Day);
            }
            b'_' => {
                if n >= i + 2 && l[i + 1] == b'2' {
                    if has(i + 1, "2006") {
                        return Some((&layout[..i + 1], Std::LongYear, &layout[i + 5..]));
                    }
                    return r(2, Std::UnderDay);
                }
                if has(i, "__2") {
                    return r(3, Std::UnderYearDay);
                }
            }
            b'3' => return r(1, Std::Hour12),
            b'4' => return r(1, Std::Minute),
            b'5' => return r(1, Std::Second),
            b'P' if n >= i + 2 && l[i + 1] == b'M' => return r(2, Std::PM),
            b'p' if n >= i + 2 && l[i + 1] == b'm' => return r(2, Std::Pm),
            b'-' | b'Z' => {
                let iso = l[i] == b'Z';
                for spelling in ["070000", "07:00:00", "0700", "07:00", "07"] {
                    if has(i + 1, spelling) {
                        return r(1 + spelling.len(), Std::Zone(iso, spelling));
                    }
                }
            }
            b'.' | b',' if n > i + 1 && (l[i + 1] == b'0' || l[i + 1] == b'9') => {
                let ch = l[i + 1];
                let mut j = i + 1;
                while j < n && l[j] == ch {
                    j += 1;
                }
                if !(j < n && l[j].is_ascii_digit()) {
                    return Some((&layout[..i], Std::Frac(l[i], j - (i + 1), ch == b'9'), &layout[j..]));
                }
            }
            _ => {}
        }
    }
    None
}

fn pad(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:0width$}", v.unsigned_abs()));
}

/// Format a UTC instant with a Go layout.
pub fn format(unix: i64, nanos: u32, layout: &str) -> String {
    let c = civil(unix);
    let mut out = String::new();
    let mut rest = layout;
    while let Some((prefix, std, tail)) = next_chunk(rest) {
        out.push_str(prefix);
        rest = tail;
        match std {
            Std::Year => pad(&mut out, (c.year.unsigned_abs() % 100) as i64, 2),
            Std::LongYear => pad(&mut out, c.year, 4),
            Std::Month => out.push_str(&MONTHS[(c.month - 1) as usize][..3]),
            Std::LongMonth => out.push_str(MONTHS[(c.month - 1) as usize]),
            Std::NumMonth => pad(&mut out, c.month, 0),
            Std::ZeroMonth => pad(&mut out, c.month, 2),
            Std::WeekDay => out.push_str(&DAYS[c.weekday as usize][..3]),
            Std::LongWeekDay => out.push_str(DAYS[c.weekday as usize]),
            Std::Day => pad(&mut out, c.day, 0),
            Std::UnderDay => {
                if c.day < 10 {
                    out.push(' ');
                }
                pad(&mut out, c.day, 0);
            }
            Std::ZeroDay => pad(&mut out, c.day, 2),
            Std::UnderYearDay => out.push_str(&format!("{:>3}", c.yday)),
            Std::ZeroYearDay => pad(&mut out, c.yday, 3),
            Std::Hour => pad(&mut out, c.hour, 2),
            Std::Hour12 => pad(&mut out, if c.hour % 12 == 0 { 12 } else { c.hour % 12 }, 0),
            Std::ZeroHour12 => pad(&mut out, if c.hour % 12 == 0 { 12 } else { c.hour % 12 }, 2),
            Std::Minute => pad(&mut out, c.minute, 0),
            Std::ZeroMinute => pad(&mut out, c.minute, 2),
            Std::Second => pad(&mut out, c.second, 0),
            Std::ZeroSecond => pad(&mut out, c.second, 2),
            Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
            Std::TZ => out.push_str("UTC"),
            Std::Zone(iso, spelling) => {
                if iso {
                    out.push('Z');
                } else {
                    out.push('+');
                    out.push_str(&spelling.replace("07", "00"));
                }
            }
            Std::Frac(sep, digits, trim) => {
                let all = format!("{nanos:09}");
                let mut s = &all[..digits.min(9)];
                if trim {
                    s = s.trim_end_matches('0');
                    if s.is_empty() {
                        continue;
                    }
                }
                out.push(sep as char);
                out.push_str(s);
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        // 2024-02-29T13:05:09Z, a Thursday, day 60 of a leap year.
        let c = civil(1_709_211_909);
        assert_eq!((c.year, c.month, c.day, c.hour, c.minute, c.second), (2024, 2, 29, 13, 5, 9));
        assert_eq!((c.weekday, c.yday), (4, 60));
        assert_eq!(civil(0).weekday, 4);
        assert_eq!(civil(-1).year, 1969);
    }

    #[test]
    fn layouts() {
        let t = 1_709_211_909;
        assert_eq!(format(t, 0, "2006-01-02"), "2024-02-29");
        assert_eq!(format(t, 0, STRING_LAYOUT), "2024-02-29 13:05:09 +0000 UTC");
        assert_eq!(format(t, 0, "Mon Jan _2 3:04PM"), "Thu Feb 29 1:05PM");
        assert_eq!(format(t, 0, "2006-01-02T15:04:05Z07:00"), "2024-02-29T13:05:09Z");
        assert_eq!(format(t, 0, "Jane Monkey"), "Jane Monkey");
    }
}
