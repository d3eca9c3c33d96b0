//! A plan's retention as it is entered: the GFS tiers beyond "keep the last N" (which stays the
//! plan's `retention` field) and an optional Object Lock per artifact, parsed with an error per
//! field. The policy itself is [`super::gfs`].

use super::gfs::Tiers;
use crate::fields::FieldErrors;

/// The tiers and lock as typed (the form's or the API's values as text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionFields {
    pub keep_hourly: String,
    pub keep_daily: String,
    pub keep_weekly: String,
    pub keep_monthly: String,
    pub keep_yearly: String,
    /// "" (none), "governance" or "compliance".
    pub lock_mode: String,
    pub lock_days: String,
}

impl RetentionFields {
    /// The form's names of the fields, with the most each tier keeps.
    pub const TIERS: [(&'static str, &'static str, u32); 5] = [
        ("keep_hourly", "Hourly", 1000),
        ("keep_daily", "Daily", 3660),
        ("keep_weekly", "Weekly", 520),
        ("keep_monthly", "Monthly", 1200),
        ("keep_yearly", "Yearly", 100),
    ];

    /// The fields of a stored policy.
    pub fn of(policy: &RetentionPolicy) -> RetentionFields {
        let t = &policy.tiers;
        let (mode, days) = match &policy.lock {
            Some(lock) => (lock.mode.as_str().to_owned(), lock.days.to_string()),
            None => (String::new(), String::new()),
        };
        RetentionFields {
            keep_hourly: t.keep_hourly.to_string(),
            keep_daily: t.keep_daily.to_string(),
            keep_weekly: t.keep_weekly.to_string(),
            keep_monthly: t.keep_monthly.to_string(),
            keep_yearly: t.keep_yearly.to_string(),
            lock_mode: mode,
            lock_days: days,
        }
    }

    /// The value of a tier field by its name.
    pub fn get(&self, name: &str) -> &str {
        match name {
            "keep_hourly" => &self.keep_hourly,
            "keep_daily" => &self.keep_daily,
            "keep_weekly" => &self.keep_weekly,
            "keep_monthly" => &self.keep_monthly,
            "keep_yearly" => &self.keep_yearly,
            "lock_mode" => &self.lock_mode,
            "lock_days" => &self.lock_days,
            _ => "",
        }
    }

    /// Sets a field by its name (the form's and the API's); false for a name that is not one.
    pub fn set(&mut self, name: &str, value: String) -> bool {
        let slot = match name {
            "keep_hourly" => &mut self.keep_hourly,
            "keep_daily" => &mut self.keep_daily,
            "keep_weekly" => &mut self.keep_weekly,
            "keep_monthly" => &mut self.keep_monthly,
            "keep_yearly" => &mut self.keep_yearly,
            "lock_mode" => &mut self.lock_mode,
            "lock_days" => &mut self.lock_days,
            _ => return false,
        };
        *slot = value;
        true
    }
}

/// A copy's own retention as typed: the newest N and the tiers and lock beyond it. A copy without
/// one follows the plan's retention.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnRetentionFields {
    pub keep_last: String,
    pub tiers: RetentionFields,
}

impl OwnRetentionFields {
    /// The fields of a stored policy.
    pub fn of(policy: &RetentionPolicy) -> OwnRetentionFields {
        OwnRetentionFields { keep_last: policy.tiers.keep_last.to_string(), tiers: RetentionFields::of(policy) }
    }
}

pub use crate::providers::lock::LockMode;

/// Each artifact is locked for `days` after it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lock {
    pub mode: LockMode,
    pub days: u32,
}

/// The longest lock Devpilot sets: ten years (a compliance lock cannot be shortened).
pub const MAX_LOCK_DAYS: u32 = 3650;

/// A plan's (or a copy's) retention: the tiers, and the lock its uploads carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub tiers: Tiers,
    pub lock: Option<Lock>,
}

impl RetentionPolicy {
    /// Parses the tiers beyond `keep_last` (already parsed as the plan's `retention`), every
    /// error at once, named by field.
    pub fn parse(keep_last: u32, fields: &RetentionFields) -> Result<RetentionPolicy, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut counts = [0u32; 5];
        for (slot, (name, label, most)) in counts.iter_mut().zip(RetentionFields::TIERS) {
            match tier(fields.get(name), label, most) {
                Ok(n) => *slot = n,
                Err(m) => errors.add(name, m),
            }
        }
        let [keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly] = counts;
        let tiers = Tiers { keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly };
        let lock = lock(fields).map_err(|e| errors.merge(e)).ok().flatten();
        if errors.is_empty() { Ok(RetentionPolicy { tiers, lock }) } else { Err(errors) }
    }
}

/// A tier's count: blank is 0 (the tier is off).
fn tier(value: &str, label: &str, most: u32) -> Result<u32, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(0);
    }
    match value.parse::<u32>() {
        Ok(n) if n <= most => Ok(n),
        _ => Err(format!("{label}: a whole number from 0 (off) to {most}, not “{value}”.")),
    }
}

fn lock(fields: &RetentionFields) -> Result<Option<Lock>, FieldErrors> {
    let (mode, days) = (fields.lock_mode.trim(), fields.lock_days.trim());
    if mode.is_empty() || mode.eq_ignore_ascii_case("none") || mode.eq_ignore_ascii_case("off") {
        if !days.is_empty() && days != "0" {
            let message = "Choose a lock mode (governance or compliance) for the days to mean anything.";
            return Err(FieldErrors::single("lock_mode", message));
        }
        return Ok(None);
    }
    let mut errors = FieldErrors::new();
    let mode = LockMode::parse(mode);
    if mode.is_none() {
        errors.add("lock_mode", "The lock mode is governance or compliance (or none).");
    }
    let days = match days.parse::<u32>() {
        Ok(n @ 1..=MAX_LOCK_DAYS) => Some(n),
        _ if days.is_empty() => {
            errors.add("lock_days", "How many days each backup stays locked: 1 to 3650.");
            None
        }
        _ => {
            errors.add("lock_days", format!("Lock days: a whole number from 1 to {MAX_LOCK_DAYS}, not “{days}”."));
            None
        }
    };
    match (mode, days) {
        (Some(mode), Some(days)) => Ok(Some(Lock { mode, days })),
        _ => Err(errors),
    }
}

/// Whether a destination of this type can hold an Object Lock; the field's message if not.
pub fn lock_capable(kind: &str) -> Result<(), String> {
    match crate::providers::ProviderKind::parse(kind) {
        Ok(k) if k.can_lock() => Ok(()),
        Ok(k) => Err(format!(
            "{} destinations cannot lock backups: Object Lock needs an S3 bucket created with Object Lock. \
             Choose none, or an S3 destination.",
            k.label()
        )),
        Err(m) => Err(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> RetentionFields {
        let mut f = RetentionFields::default();
        for (k, v) in pairs {
            assert!(f.set(k, (*v).to_owned()), "{k}");
        }
        f
    }

    #[test]
    fn blank_tiers_are_off_and_numbers_are_kept() {
        let policy = RetentionPolicy::parse(7, &fields(&[("keep_daily", " 7 "), ("keep_yearly", "3")])).expect("ok");
        assert_eq!(policy.tiers, Tiers { keep_daily: 7, keep_yearly: 3, ..Tiers::last(7) });
        assert_eq!(policy.lock, None);
        assert_eq!(RetentionPolicy::parse(5, &RetentionFields::default()).map(|p| p.tiers), Ok(Tiers::last(5)));
    }

    #[test]
    fn every_bad_tier_is_named() {
        let bad =
            fields(&[("keep_hourly", "-1"), ("keep_daily", "seven"), ("keep_weekly", "521"), ("keep_monthly", "1.5")]);
        let errors = RetentionPolicy::parse(1, &bad).expect_err("refused");
        for name in ["keep_hourly", "keep_daily", "keep_weekly", "keep_monthly"] {
            assert!(errors.get(name).is_some_and(|m| m.contains("whole number")), "{name}: {errors:?}");
        }
        assert!(errors.get("keep_yearly").is_none());
    }

    #[test]
    fn locks_need_a_known_mode_and_days_in_range() {
        let ok = RetentionPolicy::parse(1, &fields(&[("lock_mode", "Governance"), ("lock_days", "30")])).expect("ok");
        assert_eq!(ok.lock, Some(Lock { mode: LockMode::Governance, days: 30 }));
        let mode = RetentionPolicy::parse(1, &fields(&[("lock_mode", "legal-hold"), ("lock_days", "30")]));
        assert!(mode.expect_err("mode").get("lock_mode").is_some_and(|m| m.contains("governance or compliance")));
        for days in ["0", "3651", "-3", "ten", ""] {
            let refused = RetentionPolicy::parse(1, &fields(&[("lock_mode", "compliance"), ("lock_days", days)]));
            assert!(refused.expect_err(days).get("lock_days").is_some(), "{days}");
        }
        let orphan = RetentionPolicy::parse(1, &fields(&[("lock_days", "30")])).expect_err("days without mode");
        assert!(orphan.get("lock_mode").is_some());
        assert_eq!(RetentionPolicy::parse(1, &fields(&[("lock_mode", "none")])).map(|p| p.lock), Ok(None));
    }

    #[test]
    fn stored_policies_come_back_as_the_same_fields() {
        let policy =
            RetentionPolicy { tiers: Tiers::DEFAULT, lock: Some(Lock { mode: LockMode::Compliance, days: 90 }) };
        let again = RetentionPolicy::parse(10, &RetentionFields::of(&policy));
        assert_eq!(again, Ok(policy));
    }
}
