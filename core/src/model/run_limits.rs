//! How a server's run limits are written (`slipway serve --step-timeout`, `--run-timeout`,
//! `--max-run-disk-mb`, and `run_limits` in slipway.toml): read here, without I/O, so that the
//! configuration reader and the flags read them alike. The server applies them
//! (`executor::run_limits`, `deadline`, `disk_watch`).

use std::time::Duration;

/// A megabyte as the disk limit counts it: 2^20 bytes.
pub const MB: u64 = 1 << 20;

/// Limits as one place sets them: `None` leaves the limit to the level below, `Some(None)`
/// is `"unlimited"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunLimitsOverride {
    pub step: Option<Option<Duration>>,
    pub run: Option<Option<Duration>>,
    /// Bytes.
    pub disk: Option<Option<u64>>,
}

/// A time limit as slipway.toml or a flag writes it: `"unlimited"`, a number of minutes
/// (`90`), or a number with a unit (`"90s"`, `"45m"`, `"2h"`). At least 1 second, at most
/// 7 days.
pub fn parse_duration(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    if text == "unlimited" {
        return Ok(None);
    }
    let bad = || {
        format!(
            "expected minutes (like 60), a duration like \"90s\", \"45m\" or \"2h\", or \"unlimited\"; found {text:?}"
        )
    };
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "" | "m" | "min" => n.checked_mul(60),
        "s" => Some(n),
        "h" => n.checked_mul(3600),
        _ => return Err(bad()),
    };
    match secs {
        Some(s) if (1..=7 * 24 * 3600).contains(&s) => Ok(Some(Duration::from_secs(s))),
        _ => Err(format!("{text:?} is out of range: from 1 second to 7 days, or \"unlimited\"")),
    }
}

/// A disk limit: `"unlimited"`, a number of MB (2^20 bytes), or a size like `"10g"`, `"500m"`.
/// At least 1 MB.
pub fn parse_disk(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text == "unlimited" {
        return Ok(None);
    }
    let bytes = match text.parse::<u64>() {
        Ok(mb) => mb.checked_mul(MB),
        Err(_) => super::container::parse_size(text).and_then(|b| u64::try_from(b).ok()),
    };
    match bytes {
        Some(b) if b >= MB => Ok(Some(b)),
        Some(_) => Err(format!("{text:?} is less than 1 MB")),
        None => {
            Err(format!("expected a number of MB (like 10240), a size like \"10g\", or \"unlimited\"; found {text:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_minutes_durations_sizes_or_unlimited() {
        assert_eq!(parse_duration("60"), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(parse_duration("3s"), Ok(Some(Duration::from_secs(3))));
        assert_eq!(parse_duration("2h"), Ok(Some(Duration::from_secs(7200))));
        assert_eq!(parse_duration("unlimited"), Ok(None));
        assert!(parse_duration("0").unwrap_err().contains("out of range"));
        assert!(parse_duration("soon").unwrap_err().contains("expected minutes"));
        assert!(parse_duration("99999999999999999999").is_err());
        assert_eq!(parse_disk("100"), Ok(Some(100 * MB)));
        assert_eq!(parse_disk("10g"), Ok(Some(10 << 30)));
        assert_eq!(parse_disk("unlimited"), Ok(None));
        assert!(parse_disk("0").unwrap_err().contains("less than 1 MB"));
        assert!(parse_disk("lots").is_err());
    }
}
