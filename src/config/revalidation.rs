//! How often every enabled destination is tested again (`DEVPILOT_REVALIDATE_EVERY`): a number
//! with a unit, `6h` (the default), `90m`, `45s`, `1d`, or plain seconds; `0` turns it off.

use super::var;
use std::time::Duration;

pub const REVALIDATE_EVERY_VAR: &str = "DEVPILOT_REVALIDATE_EVERY";

/// The default: every six hours.
pub const REVALIDATE_EVERY: Duration = Duration::from_secs(6 * 3600);

pub fn from_env() -> anyhow::Result<Duration> {
    match var(REVALIDATE_EVERY_VAR) {
        Some(value) => parse(&value).map_err(|e| anyhow::anyhow!("{REVALIDATE_EVERY_VAR}={value:?}: {e}")),
        None => Ok(REVALIDATE_EVERY),
    }
}

/// `6h`, `90m`, `45s`, `1d`, `3600` (seconds) or `0` (off).
pub fn parse(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let n: u64 = number.parse().map_err(|_| "a whole number with a unit, like 6h, 90m or 0 (off)".to_owned())?;
    let unit_secs = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => return Err(format!("unknown unit “{other}”: use s, m, h or d")),
    };
    n.checked_mul(unit_secs)
        .filter(|secs| *secs <= 366 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| "at most a year".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse() {
        assert_eq!(parse("6h"), Ok(Duration::from_secs(21_600)));
        assert_eq!(parse("90m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        for bad in ["", "h", "6x", "-1h", "1.5h", "99999d"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
