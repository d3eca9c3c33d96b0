//! Sign-in limits that hold under parallel guessing and lock no one else out.
//!
//! Every password check (sign-in, the API's token exchange, a password change) is first admitted
//! here: the attempt is recorded and committed, then the attempts around it are counted
//! including it, so of many parallel guesses only the first few can be under the limit. Each
//! account has [`FREE_PER_ACCOUNT`] attempts per hour from each address, and each address
//! [`FREE_PER_ADDRESS`] for all accounts; past either, an attempt is checked only when no other
//! is being checked and the last one came at least a growing delay ago (2 s, 4 s, 8 s … up to 15
//! minutes; the first delay is `IdentitySettings::sign_in_delay`). The limits are per address: a guesser at one address slows down only itself, never
//! the account's owner signing in from elsewhere.

use super::attempts::{self, Scope, Tally};
use crate::db::{Db, DbError};
use chrono::{NaiveDateTime, TimeDelta, Utc};
use std::time::Duration;

pub const FREE_PER_ACCOUNT: i64 = 5;
pub const FREE_PER_ADDRESS: i64 = 20;
/// Attempts older than this are forgotten.
const WINDOW: TimeDelta = TimeDelta::hours(1);
const LONGEST_DELAY: Duration = Duration::from_secs(15 * 60);
/// A check still pending after this never finished (the server stopped during it).
const STALE: TimeDelta = TimeDelta::minutes(1);

/// An admitted attempt: check the password, then record how it went.
#[derive(Debug)]
pub struct Attempt {
    id: String,
    email: String,
    ip: String,
}

pub enum Admission {
    Check(Attempt),
    /// Not checked: try again after this long.
    Wait(Duration),
}

/// The delay past the free attempts: `first` after the first failure over, doubling, capped.
fn delay(first: Duration, over: i64) -> Duration {
    let doublings = u32::try_from(over.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    first.saturating_mul(1 << doublings).min(LONGEST_DELAY)
}

/// How long this attempt must wait, given the others around it; None: it may be checked.
fn wait(tally: &Tally, free: i64, first: Duration, now: NaiveDateTime) -> Option<Duration> {
    if tally.failed + tally.pending < free {
        return None;
    }
    let delay = delay(first, tally.failed - free + 1);
    if tally.pending > 0 {
        return Some(delay);
    }
    let ready = tally.latest? + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
    (now < ready).then(|| (ready - now).to_std().unwrap_or(delay))
}

#[derive(Clone)]
pub struct SignInLimits {
    db: Db,
    first_delay: Duration,
}

impl SignInLimits {
    pub fn new(db: Db, first_delay: Duration) -> SignInLimits {
        SignInLimits { db, first_delay }
    }

    /// Records an attempt for `email` from `ip` and decides whether its password may be checked.
    pub async fn admit(&self, email: &str, ip: &str) -> Result<Admission, DbError> {
        let attempt = Attempt { id: uuid::Uuid::new_v4().to_string(), email: email.to_owned(), ip: ip.to_owned() };
        let now = Utc::now().naive_utc();
        let (since, stale) = (now - WINDOW, now - STALE);
        let (id, email, ip) = (attempt.id.clone(), attempt.email.clone(), attempt.ip.clone());
        let (account, address) = self
            .db
            .run(move |c| {
                attempts::delete_before(c, since)?;
                // Committed before counting: every attempt counts those that came before it.
                attempts::insert_pending(c, &id, &email, &ip, now)?;
                let account = attempts::tally(c, &Scope::Account { email: &email, ip: &ip }, &id, since, stale)?;
                let address = attempts::tally(c, &Scope::Address { ip: &ip }, &id, since, stale)?;
                Ok((account, address))
            })
            .await?;
        let first = self.first_delay;
        let waits = [wait(&account, FREE_PER_ACCOUNT, first, now), wait(&address, FREE_PER_ADDRESS, first, now)];
        match waits.into_iter().flatten().max() {
            None => Ok(Admission::Check(attempt)),
            Some(wait) => {
                self.record(&attempt.id, attempts::REFUSED).await?;
                tracing::warn!(ip = %attempt.ip, "refused a sign-in attempt: too many failures");
                Ok(Admission::Wait(wait))
            }
        }
    }

    pub async fn failed(&self, attempt: Attempt) -> Result<(), DbError> {
        self.record(&attempt.id, attempts::FAILED).await
    }

    /// The password was right: the account's failures from this address are forgiven.
    pub async fn succeeded(&self, attempt: Attempt) -> Result<(), DbError> {
        self.db
            .run(move |c| {
                attempts::set_outcome(c, &attempt.id, attempts::SUCCEEDED)?;
                attempts::forgive(c, &attempt.email, &attempt.ip)
            })
            .await
    }

    async fn record(&self, id: &str, outcome: &'static str) -> Result<(), DbError> {
        let id = id.to_owned();
        self.db.run(move |c| attempts::set_outcome(c, &id, outcome)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_secs(2);

    #[test]
    fn the_delay_grows_and_stops_growing() {
        assert_eq!(delay(FIRST, 1), Duration::from_secs(2));
        assert_eq!(delay(FIRST, 2), Duration::from_secs(4));
        assert_eq!(delay(FIRST, 5), Duration::from_secs(32));
        assert_eq!(delay(FIRST, 40), LONGEST_DELAY);
    }

    #[test]
    fn free_attempts_then_a_wait_after_the_last() {
        let now = Utc::now().naive_utc();
        let tally = |failed, pending, ago: i64| Tally { failed, pending, latest: Some(now - TimeDelta::seconds(ago)) };
        assert_eq!(wait(&tally(4, 0, 0), 5, FIRST, now), None, "the fifth is free");
        assert_eq!(wait(&tally(3, 1, 0), 5, FIRST, now), None, "pending ones count toward the free five");
        assert!(wait(&tally(5, 0, 1), 5, FIRST, now).is_some(), "the sixth waits 2 s after the last");
        assert_eq!(wait(&tally(5, 0, 3), 5, FIRST, now), None, "and is checked after it");
        assert!(wait(&tally(5, 1, 30), 5, FIRST, now).is_some(), "never while another is being checked");
        assert!(wait(&tally(8, 0, 10), 5, FIRST, now).is_some(), "the fourth over waits 16 s");
    }
}
