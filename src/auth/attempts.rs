//! Sign-in attempts: recorded before the password is checked, counted per account and address.

use crate::db::DbConn;
use crate::db::schema::sign_in_attempts as attempts;
use chrono::NaiveDateTime;
use diesel::dsl::max;
use diesel::prelude::*;

pub const PENDING: &str = "pending";
pub const FAILED: &str = "failed";
pub const SUCCEEDED: &str = "succeeded";
pub const REFUSED: &str = "refused";

/// The attempts around one, within the window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tally {
    /// Passwords checked and found wrong (and checks that never finished).
    pub failed: i64,
    /// Other attempts whose password is being checked right now.
    pub pending: i64,
    /// When the latest other attempt (of any outcome) came.
    pub latest: Option<NaiveDateTime>,
}

/// Which attempts a tally counts: one account from one address, or a whole address.
pub enum Scope<'a> {
    Account { email: &'a str, ip: &'a str },
    Address { ip: &'a str },
}

/// Records an attempt as pending; it is committed (and so counted by every later tally) before
/// this returns.
pub fn insert_pending(conn: &mut DbConn, id: &str, email: &str, ip: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(attempts::table)
        .values((
            attempts::id.eq(id),
            attempts::email.eq(email),
            attempts::ip.eq(ip),
            attempts::created_at.eq(at),
            attempts::outcome.eq(PENDING),
        ))
        .execute(conn)
        .map(drop)
}

/// The tally of the attempts in `scope` since `since` other than `mine`; a pending attempt older
/// than `stale` (its check never finished: the server stopped) counts as failed.
pub fn tally(
    conn: &mut DbConn,
    scope: &Scope<'_>,
    mine: &str,
    since: NaiveDateTime,
    stale: NaiveDateTime,
) -> QueryResult<Tally> {
    let in_scope = || {
        let rows = attempts::table.filter(attempts::created_at.gt(since)).filter(attempts::id.ne(mine)).into_boxed();
        match scope {
            Scope::Account { email, ip } => rows.filter(attempts::email.eq(*email)).filter(attempts::ip.eq(*ip)),
            Scope::Address { ip } => rows.filter(attempts::ip.eq(*ip)),
        }
    };
    let failed = in_scope()
        .filter(attempts::outcome.eq(FAILED).or(attempts::outcome.eq(PENDING).and(attempts::created_at.le(stale))))
        .count()
        .get_result(conn)?;
    let pending = in_scope()
        .filter(attempts::outcome.eq(PENDING))
        .filter(attempts::created_at.gt(stale))
        .count()
        .get_result(conn)?;
    let latest = in_scope().select(max(attempts::created_at)).first(conn)?;
    Ok(Tally { failed, pending, latest })
}

pub fn set_outcome(conn: &mut DbConn, id: &str, outcome: &str) -> QueryResult<()> {
    diesel::update(attempts::table.find(id)).set(attempts::outcome.eq(outcome)).execute(conn).map(drop)
}

/// After a success: this account's failures from this address are forgiven.
pub fn forgive(conn: &mut DbConn, email: &str, ip: &str) -> QueryResult<()> {
    diesel::delete(
        attempts::table
            .filter(attempts::email.eq(email))
            .filter(attempts::ip.eq(ip))
            .filter(attempts::outcome.ne(SUCCEEDED)),
    )
    .execute(conn)
    .map(drop)
}

pub fn delete_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(attempts::table.filter(attempts::created_at.lt(before))).execute(conn).map(drop)
}
