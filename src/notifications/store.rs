//! Notification queries: channels (always by workspace), the outbox and its claims, the
//! delivery log, plans' heartbeat URLs, and the episodes of lasting conditions.

use crate::db::DbConn;
use crate::db::schema::{
    notification_channels as ch, notification_deliveries as dl, notification_episodes as ep, notification_outbox as ob,
    plan_pings as pp, workspaces,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ch)]
pub struct ChannelRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub kind: String,
    pub settings: String,
    pub secrets: Vec<u8>,
    pub events: String,
    pub enabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = ch)]
pub struct ChannelChange {
    pub name: String,
    pub settings: String,
    pub secrets: Vec<u8>,
    pub events: String,
    pub enabled: bool,
    pub updated_at: NaiveDateTime,
}

pub fn list(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<ChannelRow>> {
    ch::table
        .filter(ch::workspace_id.eq(workspace))
        .order((ch::name.asc(), ch::id.asc()))
        .select(ChannelRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<ChannelRow> {
    ch::table.filter(ch::workspace_id.eq(workspace)).filter(ch::id.eq(id)).select(ChannelRow::as_select()).first(conn)
}

pub fn insert(conn: &mut DbConn, row: &ChannelRow) -> QueryResult<()> {
    diesel::insert_into(ch::table).values(row).execute(conn).map(drop)
}

pub fn update(conn: &mut DbConn, workspace: &str, id: &str, change: &ChannelChange) -> QueryResult<()> {
    let n = diesel::update(ch::table.filter(ch::workspace_id.eq(workspace)).filter(ch::id.eq(id)))
        .set(change)
        .execute(conn)?;
    if n == 0 { Err(diesel::result::Error::NotFound) } else { Ok(()) }
}

pub fn delete(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<()> {
    // Its outbox rows and log go with it (ON DELETE CASCADE; SQLite's foreign keys are on).
    diesel::delete(ob::table.filter(ob::workspace_id.eq(workspace)).filter(ob::channel_id.eq(id))).execute(conn)?;
    diesel::delete(dl::table.filter(dl::workspace_id.eq(workspace)).filter(dl::channel_id.eq(id))).execute(conn)?;
    let n = diesel::delete(ch::table.filter(ch::workspace_id.eq(workspace)).filter(ch::id.eq(id))).execute(conn)?;
    if n == 0 { Err(diesel::result::Error::NotFound) } else { Ok(()) }
}

/// Whether another channel of the workspace has this name (case-insensitively).
pub fn name_taken(conn: &mut DbConn, workspace: &str, name: &str, except: Option<&str>) -> QueryResult<bool> {
    let names: Vec<(String, String)> =
        ch::table.filter(ch::workspace_id.eq(workspace)).select((ch::id, ch::name)).load(conn)?;
    let lower = name.to_lowercase();
    Ok(names.iter().any(|(id, n)| n.to_lowercase() == lower && Some(id.as_str()) != except))
}

/// The enabled channels of a workspace (the emitter picks those that want the event).
pub fn enabled(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<(String, String)>> {
    ch::table
        .filter(ch::workspace_id.eq(workspace))
        .filter(ch::enabled.eq(true))
        .select((ch::id, ch::events))
        .load(conn)
}

pub fn workspace_name(conn: &mut DbConn, workspace: &str) -> QueryResult<String> {
    workspaces::table.filter(workspaces::id.eq(workspace)).select(workspaces::name).first(conn)
}

// ---- the outbox ----

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ob)]
pub struct OutboxRow {
    pub id: String,
    pub workspace_id: String,
    pub channel_id: Option<String>,
    pub plan_id: Option<String>,
    pub event_id: String,
    pub event: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

pub fn enqueue(conn: &mut DbConn, row: &OutboxRow) -> QueryResult<()> {
    diesel::insert_into(ob::table).values(row).execute(conn).map(drop)
}

/// Ids of rows due now and not held by a live claim, oldest first.
pub fn due(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<String>> {
    ob::table
        .filter(ob::status.eq(PENDING))
        .filter(ob::next_attempt_at.le(now))
        .filter(ob::claimed_until.is_null().or(ob::claimed_until.lt(now)))
        .order((ob::next_attempt_at.asc(), ob::created_at.asc(), ob::id.asc()))
        .limit(limit)
        .select(ob::id)
        .load(conn)
}

/// Takes a row for `instance` until `until`, in one statement: the instance whose update
/// changed the row delivers it; every other finds it claimed.
pub fn claim(
    conn: &mut DbConn,
    id: &str,
    instance: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Option<OutboxRow>> {
    let n = diesel::update(
        ob::table
            .filter(ob::id.eq(id))
            .filter(ob::status.eq(PENDING))
            .filter(ob::next_attempt_at.le(now))
            .filter(ob::claimed_until.is_null().or(ob::claimed_until.lt(now))),
    )
    .set((ob::claimed_by.eq(instance), ob::claimed_until.eq(until)))
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    ob::table.filter(ob::id.eq(id)).select(OutboxRow::as_select()).first(conn).optional()
}

/// Lets go of this instance id's claims: at start, whatever a previous process with the same id
/// (certainly dead: it held the data folder's lock) was delivering is due again at once.
pub fn release_claims(conn: &mut DbConn, instance: &str) -> QueryResult<usize> {
    diesel::update(ob::table.filter(ob::claimed_by.eq(instance)).filter(ob::status.eq(PENDING)))
        .set(ob::claimed_until.eq(None::<NaiveDateTime>))
        .execute(conn)
}

/// How an attempt ended for the row: delivered, to be tried again at a time, or given up.
pub enum Settle {
    Delivered,
    Retry(NaiveDateTime),
    GiveUp,
}

/// Records an attempt's end on the row this instance claimed; false when the claim was lost
/// (it expired and another instance took the row), in which case nothing is written.
pub fn settle(
    conn: &mut DbConn,
    id: &str,
    instance: &str,
    now: NaiveDateTime,
    settle: Settle,
    error: Option<&str>,
) -> QueryResult<bool> {
    let mine = ob::table.filter(ob::id.eq(id)).filter(ob::claimed_by.eq(instance)).filter(ob::status.eq(PENDING));
    let attempts = ob::attempts + 1;
    let n = match settle {
        Settle::Delivered => diesel::update(mine)
            .set((
                ob::status.eq(DELIVERED),
                ob::attempts.eq(attempts),
                ob::delivered_at.eq(now),
                ob::claimed_until.eq(None::<NaiveDateTime>),
                ob::last_error.eq(None::<String>),
            ))
            .execute(conn)?,
        Settle::Retry(at) => diesel::update(mine)
            .set((
                ob::attempts.eq(attempts),
                ob::next_attempt_at.eq(at),
                ob::claimed_until.eq(None::<NaiveDateTime>),
                ob::last_error.eq(error),
            ))
            .execute(conn)?,
        Settle::GiveUp => diesel::update(mine)
            .set((
                ob::status.eq(FAILED),
                ob::attempts.eq(attempts),
                ob::claimed_until.eq(None::<NaiveDateTime>),
                ob::last_error.eq(error),
            ))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// A channel's outbox rows still waiting (for its page).
pub fn pending_for_channel(conn: &mut DbConn, workspace: &str, channel: &str) -> QueryResult<i64> {
    ob::table
        .filter(ob::workspace_id.eq(workspace))
        .filter(ob::channel_id.eq(channel))
        .filter(ob::status.eq(PENDING))
        .count()
        .get_result(conn)
}

// ---- the delivery log ----

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = dl)]
pub struct DeliveryRow {
    pub id: String,
    pub workspace_id: String,
    pub outbox_id: String,
    pub channel_id: Option<String>,
    pub plan_id: Option<String>,
    pub event: String,
    pub attempt: i64,
    pub attempted_at: NaiveDateTime,
    pub ok: bool,
    pub outcome: String,
    pub answer: String,
    pub instance_id: String,
}

pub fn log(conn: &mut DbConn, row: &DeliveryRow) -> QueryResult<()> {
    diesel::insert_into(dl::table).values(row).execute(conn).map(drop)
}

/// A channel's attempts, newest first.
pub fn deliveries(conn: &mut DbConn, workspace: &str, channel: &str, limit: i64) -> QueryResult<Vec<DeliveryRow>> {
    dl::table
        .filter(dl::workspace_id.eq(workspace))
        .filter(dl::channel_id.eq(channel))
        .order((dl::attempted_at.desc(), dl::id.desc()))
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)
}

/// A plan's heartbeat attempts, newest first.
pub fn ping_deliveries(conn: &mut DbConn, workspace: &str, plan: &str, limit: i64) -> QueryResult<Vec<DeliveryRow>> {
    dl::table
        .filter(dl::workspace_id.eq(workspace))
        .filter(dl::plan_id.eq(plan))
        .filter(dl::channel_id.is_null())
        .order((dl::attempted_at.desc(), dl::id.desc()))
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)
}

// ---- heartbeat URLs ----

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pp)]
pub struct PingRow {
    pub plan_id: String,
    pub workspace_id: String,
    pub url_sealed: Vec<u8>,
    pub host: String,
    pub updated_at: NaiveDateTime,
}

pub fn ping_of(conn: &mut DbConn, workspace: &str, plan: &str) -> QueryResult<Option<PingRow>> {
    pp::table
        .filter(pp::workspace_id.eq(workspace))
        .filter(pp::plan_id.eq(plan))
        .select(PingRow::as_select())
        .first(conn)
        .optional()
}

pub fn pings(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<PingRow>> {
    pp::table.filter(pp::workspace_id.eq(workspace)).select(PingRow::as_select()).load(conn)
}

pub fn set_ping(conn: &mut DbConn, row: &PingRow) -> QueryResult<()> {
    diesel::delete(pp::table.filter(pp::plan_id.eq(&row.plan_id))).execute(conn)?;
    diesel::insert_into(pp::table).values(row).execute(conn).map(drop)
}

pub fn clear_ping(conn: &mut DbConn, workspace: &str, plan: &str) -> QueryResult<()> {
    diesel::delete(pp::table.filter(pp::workspace_id.eq(workspace)).filter(pp::plan_id.eq(plan)))
        .execute(conn)
        .map(drop)
}

/// Every stored ping, for key rotation.
pub fn all_pings(conn: &mut DbConn) -> QueryResult<Vec<PingRow>> {
    pp::table.select(PingRow::as_select()).load(conn)
}

pub fn replace_ping(conn: &mut DbConn, plan: &str, old: &[u8], new: &[u8]) -> QueryResult<bool> {
    let n = diesel::update(pp::table.filter(pp::plan_id.eq(plan)).filter(pp::url_sealed.eq(old)))
        .set(pp::url_sealed.eq(new))
        .execute(conn)?;
    Ok(n > 0)
}

/// Every channel's sealed secrets, for key rotation: (id, workspace, sealed).
pub fn all_channel_secrets(conn: &mut DbConn) -> QueryResult<Vec<(String, String, Vec<u8>)>> {
    ch::table.select((ch::id, ch::workspace_id, ch::secrets)).load(conn)
}

pub fn replace_channel_secrets(conn: &mut DbConn, id: &str, old: &[u8], new: &[u8]) -> QueryResult<bool> {
    let n = diesel::update(ch::table.filter(ch::id.eq(id)).filter(ch::secrets.eq(old)))
        .set(ch::secrets.eq(new))
        .execute(conn)?;
    Ok(n > 0)
}

// ---- episodes of lasting conditions ----

/// Subjects (`stale:<plan>`, `wal:<database>`) whose episode is open.
pub fn open_episodes(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    ep::table.select(ep::subject).load(conn)
}

/// Opens an episode; false when it was open already (another instance got there first).
pub fn open_episode(conn: &mut DbConn, subject: &str, workspace: &str, at: NaiveDateTime) -> QueryResult<bool> {
    let exists: i64 = ep::table.filter(ep::subject.eq(subject)).count().get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    diesel::insert_into(ep::table)
        .values((ep::subject.eq(subject), ep::workspace_id.eq(workspace), ep::started_at.eq(at)))
        .execute(conn)
        .map(|n| n == 1)
}

pub fn close_episode(conn: &mut DbConn, subject: &str) -> QueryResult<()> {
    diesel::delete(ep::table.filter(ep::subject.eq(subject))).execute(conn).map(drop)
}
