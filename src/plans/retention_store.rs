//! Retention queries: a plan's policies (position 0 the plan's, 1 and 2 a copy's override), the
//! artifacts retention decides over, and the Object Lock each artifact was written with. Every
//! query takes the workspace id.

use super::gfs::Tiers;
use super::retention::{Lock, LockMode, RetentionPolicy};
use crate::db::DbConn;
use crate::db::schema::artifact_locks::dsl as locks;
use crate::db::schema::retention_policies::dsl;
use crate::db::schema::runs::dsl as runs;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A run's (and a copy's) status when its artifact counts; a partial run's copies that succeeded
/// count too.
const SUCCEEDED: &str = "succeeded";
const PARTIAL: &str = "partial";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::db::schema::retention_policies)]
struct PolicyRow {
    plan_id: String,
    workspace_id: String,
    copy_position: i64,
    keep_last: i64,
    keep_hourly: i64,
    keep_daily: i64,
    keep_weekly: i64,
    keep_monthly: i64,
    keep_yearly: i64,
    lock_mode: Option<String>,
    lock_days: Option<i64>,
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl PolicyRow {
    fn policy(&self) -> RetentionPolicy {
        let tiers = Tiers {
            keep_last: count(self.keep_last),
            keep_hourly: count(self.keep_hourly),
            keep_daily: count(self.keep_daily),
            keep_weekly: count(self.keep_weekly),
            keep_monthly: count(self.keep_monthly),
            keep_yearly: count(self.keep_yearly),
        };
        let lock = match (self.lock_mode.as_deref().and_then(LockMode::parse), self.lock_days) {
            (Some(mode), Some(days)) => Some(Lock { mode, days: count(days) }),
            _ => None,
        };
        RetentionPolicy { tiers, lock }
    }
}

/// The policy stored for the plan at `position` (None: the plan has none there).
pub fn find(conn: &mut DbConn, workspace: &str, plan: &str, position: i64) -> QueryResult<Option<RetentionPolicy>> {
    let row = dsl::retention_policies
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::plan_id.eq(plan))
        .filter(dsl::copy_position.eq(position))
        .select(PolicyRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.map(|r| r.policy()))
}

/// Replaces the plan's policy at `position` (in the caller's transaction).
pub fn save(
    conn: &mut DbConn,
    workspace: &str,
    plan: &str,
    position: i64,
    policy: &RetentionPolicy,
) -> QueryResult<()> {
    remove(conn, workspace, plan, position)?;
    let t = &policy.tiers;
    let row = PolicyRow {
        plan_id: plan.to_owned(),
        workspace_id: workspace.to_owned(),
        copy_position: position,
        keep_last: i64::from(t.keep_last),
        keep_hourly: i64::from(t.keep_hourly),
        keep_daily: i64::from(t.keep_daily),
        keep_weekly: i64::from(t.keep_weekly),
        keep_monthly: i64::from(t.keep_monthly),
        keep_yearly: i64::from(t.keep_yearly),
        lock_mode: policy.lock.map(|l| l.mode.as_str().to_owned()),
        lock_days: policy.lock.map(|l| i64::from(l.days)),
    };
    diesel::insert_into(dsl::retention_policies).values(&row).execute(conn).map(drop)
}

/// Drops a copy's override (the copy then follows the plan's policy).
pub fn remove(conn: &mut DbConn, workspace: &str, plan: &str, position: i64) -> QueryResult<()> {
    diesel::delete(
        dsl::retention_policies
            .filter(dsl::workspace_id.eq(workspace))
            .filter(dsl::plan_id.eq(plan))
            .filter(dsl::copy_position.eq(position)),
    )
    .execute(conn)
    .map(drop)
}

/// An artifact retention decides over: a succeeded run whose artifact was not deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldArtifact {
    pub run_id: String,
    pub finished_at: NaiveDateTime,
    pub object_key: String,
    pub destination_id: Option<String>,
    pub lock: Option<(String, NaiveDateTime)>,
}

/// The plan's artifacts still held at `position` (newest first), with the lock they carry there;
/// a run counts when it ended succeeded or partial, and `current` (a run that has uploaded but
/// is not yet recorded as ended) counts, finished `now`.
pub fn held(
    conn: &mut DbConn,
    workspace: &str,
    plan: &str,
    position: i64,
    current: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<Vec<HeldArtifact>> {
    use crate::db::schema::run_copies::dsl as copies;
    type Row = (String, Option<NaiveDateTime>, Option<NaiveDateTime>, Option<String>, Option<String>);
    let rows: Vec<Row> = copies::run_copies
        .inner_join(runs::runs)
        .filter(runs::workspace_id.eq(workspace))
        .filter(runs::plan_id.eq(plan))
        .filter(runs::status.eq_any([SUCCEEDED, PARTIAL]).or(runs::id.eq(current.unwrap_or_default())))
        .filter(copies::position.eq(position))
        .filter(copies::status.eq(SUCCEEDED))
        .filter(copies::pruned_at.is_null())
        .filter(copies::object_key.is_not_null())
        .order((runs::created_at.desc(), runs::id.desc()))
        .limit(10_000)
        .select((runs::id, runs::finished_at, runs::started_at, copies::object_key, copies::destination_id))
        .load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let held_locks: Vec<(String, String, NaiveDateTime)> = locks::artifact_locks
        .filter(locks::workspace_id.eq(workspace))
        .filter(locks::copy_position.eq(position))
        .filter(locks::run_id.eq_any(&ids))
        .select((locks::run_id, locks::mode, locks::retain_until))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, finished, started, key, destination)| {
            let finished_at = if current == Some(id.as_str()) { now } else { finished.or(started)? };
            let lock = held_locks.iter().find(|l| l.0 == id).map(|l| (l.1.clone(), l.2));
            Some(HeldArtifact { run_id: id, finished_at, object_key: key?, destination_id: destination, lock })
        })
        .collect())
}

/// Records the lock an artifact was written with at `position`.
pub fn record_lock(
    conn: &mut DbConn,
    workspace: &str,
    run: &str,
    position: i64,
    mode: LockMode,
    until: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(locks::artifact_locks)
        .values((
            locks::run_id.eq(run),
            locks::workspace_id.eq(workspace),
            locks::copy_position.eq(position),
            locks::mode.eq(mode.as_str()),
            locks::retain_until.eq(until),
        ))
        .execute(conn)
        .map(drop)
}

/// The locks a run's artifact carries: (copy position, mode, retain until), by position.
pub fn locks_of(conn: &mut DbConn, workspace: &str, run: &str) -> QueryResult<Vec<(i64, String, NaiveDateTime)>> {
    locks::artifact_locks
        .filter(locks::workspace_id.eq(workspace))
        .filter(locks::run_id.eq(run))
        .order(locks::copy_position.asc())
        .select((locks::copy_position, locks::mode, locks::retain_until))
        .load(conn)
}

/// Every policy of the workspace's plans, by (plan id, position): position 0 a plan's own, 1 and 2
/// its copies' overrides.
pub fn plans_policies(
    conn: &mut DbConn,
    workspace: &str,
    ids: Option<&[String]>,
) -> QueryResult<std::collections::HashMap<(String, i64), RetentionPolicy>> {
    let query = dsl::retention_policies.filter(dsl::workspace_id.eq(workspace)).select(PolicyRow::as_select());
    let rows: Vec<PolicyRow> = match ids {
        None => query.load(conn)?,
        Some(ids) => query.filter(dsl::plan_id.eq_any(ids)).load(conn)?,
    };
    Ok(rows.into_iter().map(|r| ((r.plan_id.clone(), r.copy_position), r.policy())).collect())
}

/// Saves the plan's policy (position 0) and its copies' overrides (1, 2; None drops one), in the
/// caller's transaction.
pub fn save_all(
    conn: &mut DbConn,
    workspace: &str,
    plan: &str,
    policy: &RetentionPolicy,
    copies: &[Option<RetentionPolicy>],
) -> QueryResult<()> {
    save(conn, workspace, plan, 0, policy)?;
    for position in 1..=i64::try_from(super::copies::MAX_COPIES).unwrap_or(2) {
        let own = usize::try_from(position - 1).ok().and_then(|i| copies.get(i)).copied().flatten();
        match own {
            Some(own) => save(conn, workspace, plan, position, &own)?,
            None => remove(conn, workspace, plan, position)?,
        }
    }
    Ok(())
}

/// The type of the workspace's destination (None: no such destination there).
pub fn destination_kind(conn: &mut DbConn, workspace: &str, destination: &str) -> QueryResult<Option<String>> {
    use crate::db::schema::destinations::dsl as d;
    d::destinations
        .filter(d::workspace_id.eq(workspace))
        .filter(d::id.eq(destination))
        .select(d::kind)
        .first(conn)
        .optional()
}

/// The locks of these runs' artifacts: (run id, copy position, mode, retain until).
pub fn locks_of_runs(
    conn: &mut DbConn,
    workspace: &str,
    runs: &[String],
) -> QueryResult<Vec<(String, i64, String, NaiveDateTime)>> {
    locks::artifact_locks
        .filter(locks::workspace_id.eq(workspace))
        .filter(locks::run_id.eq_any(runs))
        .order((locks::run_id.asc(), locks::copy_position.asc()))
        .select((locks::run_id, locks::copy_position, locks::mode, locks::retain_until))
        .load(conn)
}
