//! When a plan is *stale*: it has not succeeded within twice its schedule's interval. The one rule
//! the overview's mark, the "plan stale" notification and the metrics share.

use chrono::{Duration, NaiveDateTime};

use super::schedule::Schedule;

/// The schedule's interval at `now`: the gap between the next two times it is due (for display,
/// "every 1 day").
pub fn interval(schedule: &Schedule, now: NaiveDateTime) -> Option<Duration> {
    let first = schedule.next_after(now)?;
    let second = schedule.next_after(first)?;
    Some(second - first)
}

/// Since when a plan counts as stale, or `None` while it is not. A scheduled plan is stale once the
/// second time it was due after its last success (or, never having succeeded, its creation) has
/// passed: two intervals without a success. Counting due times rather than multiplying one
/// interval keeps irregular schedules honest (a weekday plan is not stale on Sunday). A plan
/// without a schedule is never stale.
pub fn stale_since(
    schedule: Option<&Schedule>,
    last_success: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    let schedule = schedule?;
    let first = schedule.next_after(last_success.unwrap_or(created_at))?;
    let since = schedule.next_after(first)?;
    (since < now).then_some(since)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, day).and_then(|d| d.and_hms_opt(hour, 0, 0)).expect("a time")
    }

    #[test]
    fn a_daily_plan_is_stale_two_days_after_its_last_success() {
        let daily = Schedule::parse("0 2 * * *").expect("a schedule");
        assert_eq!(stale_since(Some(&daily), Some(at(1, 2)), at(1, 0), at(3, 1)), None);
        assert_eq!(stale_since(Some(&daily), Some(at(1, 2)), at(1, 0), at(3, 3)), Some(at(3, 2)));
    }

    #[test]
    fn a_plan_that_never_succeeded_counts_from_its_creation() {
        let hourly = Schedule::parse("0 * * * *").expect("a schedule");
        assert_eq!(stale_since(Some(&hourly), None, at(1, 0), at(1, 1)), None);
        assert_eq!(stale_since(Some(&hourly), None, at(1, 0), at(1, 3)), Some(at(1, 2)));
    }

    #[test]
    fn a_plan_without_a_schedule_is_never_stale() {
        assert_eq!(stale_since(None, None, at(1, 0), at(5, 0)), None);
    }

    #[test]
    fn a_weekday_plan_is_not_stale_over_the_weekend() {
        let weekdays = Schedule::parse("0 2 * * 1-5").expect("a schedule");
        // 2026-12-04 is a Friday; Monday the 7th and Tuesday the 8th are the next two runs.
        assert_eq!(stale_since(Some(&weekdays), Some(at(4, 2)), at(1, 0), at(7, 12)), None);
        assert_eq!(stale_since(Some(&weekdays), Some(at(4, 2)), at(1, 0), at(8, 3)), Some(at(8, 2)));
        assert_eq!(interval(&weekdays, at(7, 3)), Some(Duration::days(1)));
    }
}
