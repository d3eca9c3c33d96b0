//! GFS retention as a pure function: which of a plan's artifacts a policy keeps, and why.
//!
//! The rules are Kopia's and restic's `forget`: walking the artifacts newest first, the newest
//! `keep_last` are kept; for each tier (hourly, daily, weekly, monthly, yearly) the newest
//! artifact of a calendar period (UTC; weeks are ISO weeks, Monday first) is kept, for as many
//! of the most recent periods *that hold an artifact* as the tier says. A period without a
//! backup does not use up the count, so a plan that stopped for a while keeps its history
//! instead of losing it to empty days. On top of the tiers, an artifact that is still under an
//! Object Lock, or the only one that passed its last restore drill, is always kept. The clock is
//! the caller's (`now`), so tests control it.

use chrono::{Datelike, NaiveDateTime, Timelike};

/// How many artifacts each tier keeps; 0 switches a tier off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tiers {
    pub keep_last: u32,
    pub keep_hourly: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub keep_yearly: u32,
}

impl Tiers {
    /// Kopia's defaults (without its hourly tier: plans run daily more often than hourly).
    pub const DEFAULT: Tiers =
        Tiers { keep_last: 10, keep_hourly: 0, keep_daily: 7, keep_weekly: 4, keep_monthly: 24, keep_yearly: 3 };

    /// The policy of a plan from before GFS: the newest `n`, nothing else.
    pub const fn last(n: u32) -> Tiers {
        Tiers { keep_last: n, keep_hourly: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0, keep_yearly: 0 }
    }

    /// Whether every tier is off (nothing would be kept: refused when entered).
    pub fn keeps_nothing(&self) -> bool {
        self.counts().iter().all(|(_, n)| *n == 0)
    }

    /// The tiers with their counts, from the finest period to the coarsest.
    fn counts(&self) -> [(Tier, u32); 6] {
        [
            (Tier::Last, self.keep_last),
            (Tier::Hourly, self.keep_hourly),
            (Tier::Daily, self.keep_daily),
            (Tier::Weekly, self.keep_weekly),
            (Tier::Monthly, self.keep_monthly),
            (Tier::Yearly, self.keep_yearly),
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Tier {
    /// The calendar period `at` falls in, as people write it (None for "last", which has none).
    fn period(self, at: NaiveDateTime) -> Option<String> {
        Some(match self {
            Tier::Last => return None,
            Tier::Hourly => format!("{} {:02}:00", at.format("%Y-%m-%d"), at.hour()),
            Tier::Daily => at.format("%Y-%m-%d").to_string(),
            Tier::Weekly => {
                let week = at.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Tier::Monthly => at.format("%Y-%m").to_string(),
            Tier::Yearly => at.year().to_string(),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Tier::Last => "newest",
            Tier::Hourly => "hourly",
            Tier::Daily => "daily",
            Tier::Weekly => "weekly",
            Tier::Monthly => "monthly",
            Tier::Yearly => "yearly",
        }
    }
}

/// An artifact retention may remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub finished_at: NaiveDateTime,
    /// The end of its Object Lock retention, when it has one.
    pub locked_until: Option<NaiveDateTime>,
    /// The only copy that passed its last restore drill.
    pub protected: bool,
}

/// Why an artifact is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Among the newest `keep_last` (the count is the policy's).
    Newest(u32),
    /// The newest of a period of a tier: ("daily", "2026-12-01").
    Period(&'static str, String),
    /// Under an Object Lock until then: deleting it would be refused.
    Locked(NaiveDateTime),
    /// The only copy that passed its last restore drill.
    Drilled,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Newest(n) => write!(f, "newest {n}"),
            Reason::Period(tier, period) => write!(f, "{tier} {period}"),
            Reason::Locked(until) => write!(f, "locked until {} UTC", until.format("%Y-%m-%d %H:%M")),
            Reason::Drilled => f.write_str("passed the last restore drill"),
        }
    }
}

/// What the policy decides for one candidate: kept for these reasons, or removed (none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub id: String,
    pub finished_at: NaiveDateTime,
    pub reasons: Vec<Reason>,
}

impl Decision {
    pub fn keep(&self) -> bool {
        !self.reasons.is_empty()
    }

    /// Why, in a line: "daily 2026-12-01, weekly 2026-W49", or "not kept by any tier".
    pub fn explain(&self) -> String {
        if self.reasons.is_empty() {
            return "not kept by any tier".into();
        }
        self.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }

    /// The lock that keeps it, if one does.
    pub fn locked_until(&self) -> Option<NaiveDateTime> {
        self.reasons.iter().find_map(|r| match r {
            Reason::Locked(until) => Some(*until),
            _ => None,
        })
    }
}

/// Decides every candidate, newest first (ties broken by id, so the answer never depends on
/// the order they came in).
pub fn decide(tiers: &Tiers, candidates: &[Candidate], now: NaiveDateTime) -> Vec<Decision> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| b.finished_at.cmp(&a.finished_at).then_with(|| b.id.cmp(&a.id)));
    let mut decisions: Vec<Decision> =
        sorted.iter().map(|c| Decision { id: c.id.clone(), finished_at: c.finished_at, reasons: Vec::new() }).collect();
    for (tier, count) in tiers.counts() {
        let mut periods: Vec<String> = Vec::new();
        for (i, candidate) in sorted.iter().enumerate() {
            if count == 0 {
                break;
            }
            match tier.period(candidate.finished_at) {
                None if i < count as usize => decisions[i].reasons.push(Reason::Newest(count)),
                None => break,
                // Newest first: the first artifact met in a period is its newest.
                Some(period) if !periods.contains(&period) => {
                    if periods.len() >= count as usize {
                        break;
                    }
                    periods.push(period.clone());
                    decisions[i].reasons.push(Reason::Period(tier.name(), period));
                }
                Some(_) => {}
            }
        }
    }
    for (decision, candidate) in decisions.iter_mut().zip(&sorted) {
        if let Some(until) = candidate.locked_until.filter(|until| *until > now) {
            decision.reasons.push(Reason::Locked(until));
        }
        if candidate.protected {
            decision.reasons.push(Reason::Drilled);
        }
    }
    decisions
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    fn at(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).and_then(|d| d.and_hms_opt(h, 0, 0)).expect("a valid time")
    }

    fn candidate(id: &str, finished_at: NaiveDateTime) -> Candidate {
        Candidate { id: id.into(), finished_at, locked_until: None, protected: false }
    }

    /// One artifact a day at 02:00 from `first` for `days` days, named by its date.
    fn daily_history(first: NaiveDateTime, days: i64) -> Vec<Candidate> {
        (0..days)
            .map(|i| {
                let t = first + Duration::days(i);
                candidate(&t.format("%Y-%m-%d").to_string(), t)
            })
            .collect()
    }

    fn kept(decisions: &[Decision]) -> Vec<&str> {
        let mut ids: Vec<&str> = decisions.iter().filter(|d| d.keep()).map(|d| d.id.as_str()).collect();
        ids.sort_unstable();
        ids
    }

    fn only(tiers: impl FnOnce(&mut Tiers)) -> Tiers {
        let mut t = Tiers::last(0);
        tiers(&mut t);
        t
    }

    #[test]
    fn keep_last_alone_is_the_old_behaviour() {
        let history = daily_history(at(2026, 11, 1, 2), 10);
        let decisions = decide(&Tiers::last(3), &history, at(2026, 11, 11, 0));
        assert_eq!(kept(&decisions), ["2026-11-08", "2026-11-09", "2026-11-10"]);
        assert_eq!(decisions[0].explain(), "newest 3");
        assert_eq!(decisions[3].explain(), "not kept by any tier");
        assert_eq!(decisions.len(), 10, "every candidate is decided");
    }

    #[test]
    fn daily_keeps_the_newest_of_each_day() {
        // Three a day for five days: 02:00, 10:00, 18:00.
        let mut history = Vec::new();
        for day in 1..=5 {
            for hour in [2, 10, 18] {
                history.push(candidate(&format!("d{day}h{hour}"), at(2026, 12, day, hour)));
            }
        }
        let decisions = decide(&only(|t| t.keep_daily = 3), &history, at(2026, 12, 6, 0));
        assert_eq!(kept(&decisions), ["d3h18", "d4h18", "d5h18"]);
        let d5 = decisions.iter().find(|d| d.id == "d5h18").expect("d5");
        assert_eq!(d5.explain(), "daily 2026-12-05");
    }

    #[test]
    fn hourly_keeps_the_newest_of_each_hour() {
        let history = vec![
            candidate("a", at(2026, 12, 1, 9) + Duration::minutes(5)),
            candidate("b", at(2026, 12, 1, 9) + Duration::minutes(50)),
            candidate("c", at(2026, 12, 1, 10) + Duration::minutes(1)),
            candidate("d", at(2026, 12, 1, 11) + Duration::minutes(1)),
        ];
        let decisions = decide(&only(|t| t.keep_hourly = 2), &history, at(2026, 12, 1, 12));
        assert_eq!(kept(&decisions), ["c", "d"]);
        assert_eq!(decisions[0].explain(), "hourly 2026-12-01 11:00");
    }

    #[test]
    fn gaps_do_not_use_up_a_tier() {
        // Backups on the 1st, 2nd, then nothing until the 20th and 21st.
        let history = vec![
            candidate("1", at(2026, 12, 1, 2)),
            candidate("2", at(2026, 12, 2, 2)),
            candidate("20", at(2026, 12, 20, 2)),
            candidate("21", at(2026, 12, 21, 2)),
        ];
        let decisions = decide(&only(|t| t.keep_daily = 3), &history, at(2026, 12, 25, 0));
        assert_eq!(kept(&decisions), ["2", "20", "21"], "the last three days that have a backup");
    }

    #[test]
    fn weekly_uses_iso_weeks_across_the_year_end() {
        // Mon 2026-12-28 .. Sun 2027-01-03 is ISO week 2026-W53; Mon 2027-01-04 starts 2027-W01.
        let history = vec![
            candidate("sun-27", at(2026, 12, 27, 2)), // 2026-W52
            candidate("mon-28", at(2026, 12, 28, 2)), // 2026-W53
            candidate("fri-01", at(2027, 1, 1, 2)),   // 2026-W53, newest of it
            candidate("sun-03", at(2027, 1, 3, 23)),  // 2026-W53, newest of it
            candidate("mon-04", at(2027, 1, 4, 0)),   // 2027-W01
        ];
        let decisions = decide(&only(|t| t.keep_weekly = 2), &history, at(2027, 1, 5, 0));
        assert_eq!(kept(&decisions), ["mon-04", "sun-03"]);
        let explained: Vec<String> = decisions.iter().filter(|d| d.keep()).map(Decision::explain).collect();
        assert_eq!(explained, ["weekly 2027-W01", "weekly 2026-W53"]);
    }

    #[test]
    fn monthly_and_yearly_over_month_and_year_ends() {
        // Daily backups from 2025-11-15 to 2027-02-10.
        let history = daily_history(at(2025, 11, 15, 2), 453);
        assert_eq!(history.last().map(|c| c.id.as_str()), Some("2027-02-10"));
        let decisions = decide(&only(|t| t.keep_monthly = 4), &history, at(2027, 2, 11, 0));
        assert_eq!(kept(&decisions), ["2026-11-30", "2026-12-31", "2027-01-31", "2027-02-10"]);
        let decisions = decide(&only(|t| t.keep_yearly = 5), &history, at(2027, 2, 11, 0));
        assert_eq!(kept(&decisions), ["2025-12-31", "2026-12-31", "2027-02-10"], "only three years have backups");
    }

    #[test]
    fn kopia_defaults_over_two_years_of_dailies() {
        // One backup a day at 02:00 from 2025-01-01 to 2026-12-09 (708 days), now 2026-12-09 12:00.
        let history = daily_history(at(2025, 1, 1, 2), 708);
        assert_eq!(history.last().map(|c| c.id.as_str()), Some("2026-12-09"));
        let decisions = decide(&Tiers::DEFAULT, &history, at(2026, 12, 9, 12));
        let expected = [
            // monthly 24 reaches back to the first month with a backup; yearly 3 finds two years.
            "2025-01-31",
            "2025-02-28",
            "2025-03-31",
            "2025-04-30",
            "2025-05-31",
            "2025-06-30",
            "2025-07-31",
            "2025-08-31",
            "2025-09-30",
            "2025-10-31",
            "2025-11-30",
            "2025-12-31",
            "2026-01-31",
            "2026-02-28",
            "2026-03-31",
            "2026-04-30",
            "2026-05-31",
            "2026-06-30",
            "2026-07-31",
            "2026-08-31",
            "2026-09-30",
            "2026-10-31",
            // weekly 4: the newest of 2026-W47 and W48 (Sundays); W49's (Sun Dec 6) and W50's are newer.
            "2026-11-22",
            "2026-11-29",
            // newest 10 covers Nov 30 .. Dec 9 (and with it daily 7 and the current week and month).
            "2026-11-30",
            "2026-12-01",
            "2026-12-02",
            "2026-12-03",
            "2026-12-04",
            "2026-12-05",
            "2026-12-06",
            "2026-12-07",
            "2026-12-08",
            "2026-12-09",
        ];
        assert_eq!(kept(&decisions), expected);
        let newest = &decisions[0];
        assert_eq!(
            newest.explain(),
            "newest 10, daily 2026-12-09, weekly 2026-W50, monthly 2026-12, yearly 2026",
            "every reason is given"
        );
        let last_of_2025 = decisions.iter().find(|d| d.id == "2025-12-31").expect("kept");
        assert_eq!(last_of_2025.explain(), "monthly 2025-12, yearly 2025");
    }

    #[test]
    fn locks_and_drills_keep_what_the_tiers_would_remove() {
        let mut history = daily_history(at(2026, 12, 1, 2), 5);
        let until = at(2026, 12, 20, 0);
        history[0].locked_until = Some(until);
        history[1].locked_until = Some(at(2026, 12, 5, 0)); // expired before now
        history[2].protected = true;
        let decisions = decide(&Tiers::last(1), &history, at(2026, 12, 6, 0));
        assert_eq!(kept(&decisions), ["2026-12-01", "2026-12-03", "2026-12-05"]);
        let locked = decisions.iter().find(|d| d.id == "2026-12-01").expect("locked");
        assert_eq!(locked.explain(), "locked until 2026-12-20 00:00 UTC");
        assert_eq!(locked.locked_until(), Some(until));
        let drilled = decisions.iter().find(|d| d.id == "2026-12-03").expect("drilled");
        assert_eq!(drilled.explain(), "passed the last restore drill");
        let expired = decisions.iter().find(|d| d.id == "2026-12-02").expect("expired");
        assert!(!expired.keep(), "a lock that has ended keeps nothing");
    }

    #[test]
    fn the_answer_does_not_depend_on_input_order_or_ties() {
        let t = at(2026, 12, 1, 2);
        let history = vec![candidate("b", t), candidate("a", t), candidate("c", t - Duration::hours(1))];
        let mut reversed = history.clone();
        reversed.reverse();
        let one = decide(&only(|t| t.keep_daily = 1), &history, t);
        let other = decide(&only(|t| t.keep_daily = 1), &reversed, t);
        assert_eq!(one, other);
        assert_eq!(kept(&one), ["b"], "equal times: the greater id counts as newer");
    }

    #[test]
    fn an_empty_history_and_empty_policies() {
        assert!(decide(&Tiers::DEFAULT, &[], at(2026, 1, 1, 0)).is_empty());
        assert!(Tiers::last(0).keeps_nothing());
        assert!(!Tiers::DEFAULT.keeps_nothing());
        let history = daily_history(at(2026, 12, 1, 2), 3);
        assert_eq!(kept(&decide(&Tiers::last(0), &history, at(2026, 12, 9, 0))), Vec::<&str>::new());
    }
}
