//! Times as people read them: "3 minutes ago", with the exact UTC time for a tooltip.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use std::fmt;

/// `2026-12-01 06:30:00 UTC`.
pub fn exact(at: NaiveDateTime) -> String {
    Exact(at).to_string()
}

/// The exact time, written without allocating (lists show one on every row).
#[derive(Debug, Clone, Copy)]
pub struct Exact(pub NaiveDateTime);

/// `2026-12-01T06:30:00Z`, for `<time datetime>`.
#[derive(Debug, Clone, Copy)]
pub struct Iso(pub NaiveDateTime);

impl fmt::Display for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        stamp(self.0, b' ', " UTC", f)
    }
}

impl fmt::Display for Iso {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        stamp(self.0, b'T', "Z", f)
    }
}

/// Digits, dashes, colons and fixed words only.
impl askama::filters::HtmlSafe for Exact {}
impl askama::filters::HtmlSafe for Iso {}

/// Writes `YYYY-MM-DD?HH:MM:SS` plus `suffix` digit by digit: chrono's `format` parses its
/// pattern on every call, and padded integers go through the formatter's slow path; on a list
/// of fifty rows both cost more than the rest of the row.
fn stamp(at: NaiveDateTime, separator: u8, suffix: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (d, t) = (at.date(), at.time());
    let year = match u32::try_from(d.year()) {
        Ok(year) if year <= 9999 => year,
        _ => {
            return write!(
                f,
                "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}{suffix}",
                d.year(),
                d.month(),
                d.day(),
                char::from(separator),
                t.hour(),
                t.minute(),
                t.second()
            );
        }
    };
    let mut text = *b"0000-00-00 00:00:00";
    for (range, value) in [
        (0..4, year),
        (5..7, d.month()),
        (8..10, d.day()),
        (11..13, t.hour()),
        (14..16, t.minute()),
        (17..19, t.second()),
    ] {
        let mut value = value;
        for digit in text[range].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    text[10] = separator;
    f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)?;
    f.write_str(suffix)
}

/// How long ago, as people say it: "just now", "3 minutes ago", "on 2026-10-01".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ago {
    JustNow,
    AMinute,
    Minutes(i64),
    Hours(i64),
    Days(i64),
    On(NaiveDate),
}

pub fn ago(at: NaiveDateTime, now: NaiveDateTime) -> Ago {
    match (now - at).num_seconds() {
        s if s < 45 => Ago::JustNow,
        s if s < 90 => Ago::AMinute,
        s if s < 3600 => Ago::Minutes((s + 30) / 60),
        s if s < 86_400 => Ago::Hours((s + 1800) / 3600),
        s if s < 30 * 86_400 => Ago::Days((s + 43_200) / 86_400),
        _ => Ago::On(at.date()),
    }
}

impl fmt::Display for Ago {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match *self {
            Ago::JustNow => return f.write_str("just now"),
            Ago::AMinute => return f.write_str("a minute ago"),
            Ago::Minutes(n) => (n, "minute"),
            Ago::Hours(n) => (n, "hour"),
            Ago::Days(n) => (n, "day"),
            Ago::On(d) => return write!(f, "on {:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
        };
        if n == 1 { write!(f, "1 {unit} ago") } else { write!(f, "{n} {unit}s ago") }
    }
}

impl askama::filters::HtmlSafe for Ago {}

/// Seconds still to go, as a person reads them: "about 3 min left".
pub fn time_left(secs: u64) -> String {
    match secs {
        0..60 => "less than a minute left".into(),
        60..5400 => format!("about {} min left", secs.div_ceil(60)),
        _ => format!("about {} h left", secs.div_ceil(3600)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn exact_and_iso_times() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 3, 4).and_then(|d| d.and_hms_opt(5, 6, 7)).expect("a date");
        assert_eq!(exact(at), "2026-03-04 05:06:07 UTC");
        assert_eq!(Iso(at).to_string(), "2026-03-04T05:06:07Z");
        assert_eq!(Iso(at).to_string(), at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let far = chrono::NaiveDate::from_ymd_opt(12026, 1, 2).and_then(|d| d.and_hms_opt(3, 4, 5)).expect("a date");
        assert_eq!(exact(far), "12026-01-02 03:04:05 UTC");
    }

    #[test]
    fn reads_like_a_person_would_say_it() {
        let now = chrono::Utc::now().naive_utc();
        assert_eq!(ago(now - Duration::seconds(10), now).to_string(), "just now");
        assert_eq!(ago(now - Duration::minutes(3), now).to_string(), "3 minutes ago");
        assert_eq!(ago(now - Duration::hours(1), now).to_string(), "1 hour ago");
        assert_eq!(ago(now - Duration::days(2), now).to_string(), "2 days ago");
        assert_eq!(ago(now - Duration::days(40), now), Ago::On((now - Duration::days(40)).date()));
    }

    #[test]
    fn time_left_reads_in_minutes_then_hours() {
        assert_eq!(super::time_left(59), "less than a minute left");
        assert_eq!(super::time_left(61), "about 2 min left");
        assert_eq!(super::time_left(7200), "about 2 h left");
    }
}
