//! Heartbeats of the instances sharing the database.

use crate::db::DbConn;
use crate::db::schema::instances::dsl;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Records that the instance is alive at `now` (registering it the first time).
pub fn beat(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    let n = diesel::update(dsl::instances.filter(dsl::id.eq(id))).set(dsl::heartbeat_at.eq(now)).execute(conn)?;
    if n == 0 {
        diesel::insert_into(dsl::instances)
            .values((dsl::id.eq(id), dsl::started_at.eq(now), dsl::heartbeat_at.eq(now)))
            .execute(conn)?;
    }
    Ok(())
}

/// Instances that beat at or after `since`.
pub fn live(conn: &mut DbConn, since: NaiveDateTime) -> QueryResult<Vec<String>> {
    dsl::instances.filter(dsl::heartbeat_at.ge(since)).select(dsl::id).load(conn)
}

/// Drops the rows of instances silent since before `since` (their work has been recovered).
pub fn forget_silent(conn: &mut DbConn, since: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(dsl::instances.filter(dsl::heartbeat_at.lt(since))).execute(conn)
}
