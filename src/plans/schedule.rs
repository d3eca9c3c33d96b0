//! A 5-field cron expression (minute hour day-of-month month day-of-week, in UTC), parsed and
//! validated here (no dependency needed for this much), with a readable preview and the next
//! time it is due.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Presets offered next to the expression: (label, expression).
pub const PRESETS: &[(&str, &str)] = &[("Hourly", "0 * * * *"), ("Daily", "0 2 * * *"), ("Weekly", "30 3 * * 1")];

const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// One field: the set of allowed values as bits, and whether it was `*` (matters for the
/// day-of-month / day-of-week rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    bits: u64,
    any: bool,
}

impl Field {
    fn parse(text: &str, label: &str, min: u32, max: u32) -> Result<Field, String> {
        let mut bits = 0u64;
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => {
                    let step: u32 = s.parse().map_err(|_| format!("{label}: step “{s}” is not a number."))?;
                    if step == 0 {
                        return Err(format!("{label}: a step must be at least 1."));
                    }
                    (r, step)
                }
                None => (part, 1),
            };
            let (lo, hi) = if range == "*" {
                (min, max)
            } else if let Some((a, b)) = range.split_once('-') {
                (value(a, label, min, max)?, value(b, label, min, max)?)
            } else {
                let v = value(range, label, min, max)?;
                // "5/15" means from 5 to the end, every 15.
                (v, if part.contains('/') { max } else { v })
            };
            if lo > hi {
                return Err(format!("{label}: range {lo}-{hi} runs backwards."));
            }
            for v in (lo..=hi).step_by(step as usize) {
                bits |= 1 << v;
            }
        }
        Ok(Field { bits, any: text == "*" })
    }

    fn has(self, v: u32) -> bool {
        self.bits & (1 << v) != 0
    }

    /// The only value, if exactly one is allowed.
    fn single(self) -> Option<u32> {
        (self.bits.count_ones() == 1).then(|| self.bits.trailing_zeros())
    }
}

fn value(text: &str, label: &str, min: u32, max: u32) -> Result<u32, String> {
    let v: u32 = text.parse().map_err(|_| format!("{label}: “{text}” is not a number."))?;
    if v < min || v > max {
        return Err(format!("{label} must be between {min} and {max}, not {v}."));
    }
    Ok(v)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    minute: Field,
    hour: Field,
    day: Field,
    month: Field,
    weekday: Field,
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let expanded = match text.as_str() {
            "" => return Err("Schedule is required: a cron expression such as “0 2 * * *”.".into()),
            "@hourly" => PRESETS[0].1,
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            other => other,
        };
        let parts: Vec<&str> = expanded.split(' ').collect();
        if parts.len() != 5 {
            return Err(format!(
                "A schedule has 5 fields (minute hour day-of-month month day-of-week), not {}.",
                parts.len()
            ));
        }
        let weekday = Field::parse(parts[4], "Day of week", 0, 7)?;
        // 7 is Sunday too.
        let weekday = Field { bits: (weekday.bits | (weekday.bits >> 7)) & 0x7f, any: weekday.any };
        Ok(Schedule {
            minute: Field::parse(parts[0], "Minute", 0, 59)?,
            hour: Field::parse(parts[1], "Hour", 0, 23)?,
            day: Field::parse(parts[2], "Day of month", 1, 31)?,
            month: Field::parse(parts[3], "Month", 1, 12)?,
            weekday,
            text: expanded.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Plain words for the common shapes; the expression itself otherwise.
    pub fn preview(&self) -> String {
        let every_day = self.day.any && self.month.any;
        match (self.minute.single(), self.hour.single()) {
            (Some(m), None) if self.hour.any && every_day && self.weekday.any => format!("every hour at :{m:02}"),
            (Some(m), Some(h)) if every_day && self.weekday.any => format!("every day at {h:02}:{m:02} UTC"),
            (Some(m), Some(h)) if every_day && self.weekday.single().is_some() => {
                let d = self.weekday.single().unwrap_or_default() as usize;
                format!("every {} at {h:02}:{m:02} UTC", DAYS[d])
            }
            (Some(m), Some(h)) if self.month.any && self.weekday.any && self.day.single().is_some() => {
                format!("every month on day {} at {h:02}:{m:02} UTC", self.day.single().unwrap_or_default())
            }
            _ => format!("cron “{}” (UTC)", self.text),
        }
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        if !self.month.has(date.month()) {
            return false;
        }
        let dom = self.day.has(date.day());
        let dow = self.weekday.has(date.weekday().num_days_from_sunday());
        // Cron's rule: when both are restricted, either one matching is enough.
        match (self.day.any, self.weekday.any) {
            (false, false) => dom || dow,
            _ => dom && dow,
        }
    }

    /// The first due minute strictly after `after`; None if it never comes (e.g. 31 February)
    /// within five years.
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let mut date = start.date();
        for _ in 0..(366 * 5) {
            if self.day_matches(date) {
                let from = if date == start.date() { start.time() } else { NaiveTime::MIN };
                for h in from.hour()..24 {
                    if !self.hour.has(h) {
                        continue;
                    }
                    let first = if h == from.hour() { from.minute() } else { 0 };
                    if let Some(m) = (first..60).find(|m| self.minute.has(*m)) {
                        return date.and_hms_opt(h, m, 0);
                    }
                }
            }
            date = date.succ_opt()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time")
    }

    #[test]
    fn previews_common_shapes() {
        let cases = [
            ("0 2 * * *", "every day at 02:00 UTC"),
            ("15 * * * *", "every hour at :15"),
            ("30 3 * * 1", "every Monday at 03:30 UTC"),
            ("0 4 1 * *", "every month on day 1 at 04:00 UTC"),
            ("*/5 * * * *", "cron “*/5 * * * *” (UTC)"),
            ("@daily", "every day at 00:00 UTC"),
        ];
        for (text, preview) in cases {
            assert_eq!(Schedule::parse(text).expect(text).preview(), preview);
        }
    }

    #[test]
    fn rejects_bad_expressions_with_a_reason() {
        for (text, words) in [
            ("", "required"),
            ("0 2 * *", "5 fields"),
            ("60 * * * *", "Minute must be between 0 and 59"),
            ("0 24 * * *", "Hour must be between 0 and 23"),
            ("0 0 0 * *", "Day of month must be between 1 and 31"),
            ("x * * * *", "not a number"),
            ("*/0 * * * *", "step must be at least 1"),
            ("0 5-2 * * *", "backwards"),
        ] {
            let e = Schedule::parse(text).expect_err(text);
            assert!(e.contains(words), "{text}: {e}");
        }
    }

    #[test]
    fn finds_the_next_due_minute() {
        let daily = Schedule::parse("0 2 * * *").expect("daily");
        assert_eq!(daily.next_after(at("2026-11-22 01:59")), Some(at("2026-11-22 02:00")));
        assert_eq!(daily.next_after(at("2026-11-22 02:00")), Some(at("2026-11-23 02:00")));
        let monday = Schedule::parse("30 3 * * 1").expect("weekly");
        assert_eq!(monday.next_after(at("2026-11-22 12:00")), Some(at("2026-11-23 03:30")));
        let sunday7 = Schedule::parse("0 0 * * 7").expect("7 is Sunday");
        assert_eq!(sunday7.next_after(at("2026-11-23 00:00")), Some(at("2026-11-29 00:00")));
        let either = Schedule::parse("0 0 13 * 5").expect("13th or Friday");
        assert_eq!(either.next_after(at("2026-11-22 00:00")), Some(at("2026-11-27 00:00")));
        assert_eq!(Schedule::parse("0 0 31 2 *").expect("never").next_after(at("2026-01-01 00:00")), None);
        let every5 = Schedule::parse("*/5 * * * *").expect("every 5");
        assert_eq!(every5.next_after(at("2026-11-22 23:58")), Some(at("2026-11-23 00:00")));
    }
}
