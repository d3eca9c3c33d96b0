//! Database queries. Every query takes the workspace id, except the archiver's, which works on
//! the databases of every workspace that this instance holds the lease of.

use crate::db::DbConn;
use crate::db::schema::databases::{self, dsl};
use crate::db::schema::destinations::dsl as destinations;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = databases)]
pub struct DatabaseRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub slug: String,
    pub url_secret: Vec<u8>,
    pub destination_id: Option<String>,
    pub base_schedule: String,
    pub next_base_at: Option<NaiveDateTime>,
    pub window_days: i64,
    pub min_base_backups: i64,
    pub encrypt: bool,
    pub archiving: bool,
    pub archive_prefix: String,
    pub seg_size: i64,
    pub server_version: i32,
    pub system_identifier: String,
    pub status: String,
    pub status_message: Option<String>,
    pub receiver_instance: Option<String>,
    pub receiver_beat_at: Option<NaiveDateTime>,
    pub last_received_at: Option<NaiveDateTime>,
    pub received_lsn: Option<String>,
    pub lag_bytes: Option<i64>,
    pub slot_wal_status: Option<String>,
    pub replaced_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What an edit replaces.
#[derive(AsChangeset)]
#[diesel(table_name = databases, treat_none_as_null = true)]
pub struct DatabaseChange {
    pub name: String,
    pub slug: String,
    pub url_secret: Vec<u8>,
    pub destination_id: Option<String>,
    pub base_schedule: String,
    pub next_base_at: Option<NaiveDateTime>,
    pub window_days: i64,
    pub min_base_backups: i64,
    pub encrypt: bool,
    pub seg_size: i64,
    pub server_version: i32,
    pub system_identifier: String,
    pub updated_at: NaiveDateTime,
}

/// What the receiver reports about itself.
#[derive(AsChangeset, Default)]
#[diesel(table_name = databases)]
pub struct ReceiverReport {
    pub status: Option<String>,
    pub status_message: Option<Option<String>>,
    pub last_received_at: Option<NaiveDateTime>,
    pub received_lsn: Option<String>,
    pub lag_bytes: Option<Option<i64>>,
    pub slot_wal_status: Option<Option<String>>,
}

pub fn list(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<(DatabaseRow, Option<String>)>> {
    dsl::databases
        .left_join(destinations::destinations)
        .filter(dsl::workspace_id.eq(workspace))
        .order((dsl::name.asc(), dsl::id.asc()))
        .select((DatabaseRow::as_select(), destinations::name.nullable()))
        .load(conn)
}

/// The database with its destination's name (None when it was deleted).
pub fn find_with_destination(
    conn: &mut DbConn,
    workspace: &str,
    id: &str,
) -> QueryResult<(DatabaseRow, Option<String>)> {
    dsl::databases
        .left_join(destinations::destinations)
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::id.eq(id))
        .select((DatabaseRow::as_select(), destinations::name.nullable()))
        .first(conn)
}

pub fn find(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<DatabaseRow> {
    dsl::databases
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::id.eq(id))
        .select(DatabaseRow::as_select())
        .first(conn)
}

/// A database of any workspace, by id: the archiver's and the base-backup task's.
pub fn find_any(conn: &mut DbConn, id: &str) -> QueryResult<DatabaseRow> {
    dsl::databases.filter(dsl::id.eq(id)).select(DatabaseRow::as_select()).first(conn)
}

pub fn insert(conn: &mut DbConn, row: &DatabaseRow) -> QueryResult<()> {
    diesel::insert_into(dsl::databases).values(row).execute(conn).map(drop)
}

pub fn update(conn: &mut DbConn, workspace: &str, id: &str, change: DatabaseChange) -> QueryResult<()> {
    let n = diesel::update(dsl::databases.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
        .set(change)
        .execute(conn)?;
    found(n)
}

pub fn set_archiving(conn: &mut DbConn, workspace: &str, id: &str, on: bool, status: &str) -> QueryResult<()> {
    let n = diesel::update(dsl::databases.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
        .set((dsl::archiving.eq(on), dsl::status.eq(status), dsl::status_message.eq(None::<String>)))
        .execute(conn)?;
    found(n)
}

/// A switch: the old record stops archiving and names its successor.
pub fn replace(conn: &mut DbConn, workspace: &str, id: &str, by: &str) -> QueryResult<()> {
    let n = diesel::update(dsl::databases.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
        .set((dsl::archiving.eq(false), dsl::status.eq("stopped"), dsl::replaced_by.eq(by)))
        .execute(conn)?;
    found(n)
}

pub fn rename(conn: &mut DbConn, workspace: &str, id: &str, name: &str) -> QueryResult<()> {
    let n = diesel::update(dsl::databases.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
        .set(dsl::name.eq(name))
        .execute(conn)?;
    found(n)
}

pub fn delete(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<()> {
    let n =
        diesel::delete(dsl::databases.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id))).execute(conn)?;
    found(n)
}

/// Whether the destination exists in the workspace.
pub fn destination_exists(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<bool> {
    crate::plans::store::destination_exists(conn, workspace, id)
}

/// Every database that archives, of every workspace: the archiver's candidates.
pub fn archiving(conn: &mut DbConn) -> QueryResult<Vec<DatabaseRow>> {
    dsl::databases.filter(dsl::archiving.eq(true)).select(DatabaseRow::as_select()).load(conn)
}

/// Takes or renews the receiver's lease: free, already ours, or its holder's heartbeat older than
/// `stale_before`. One conditional update, so two instances never both win.
pub fn take_lease(
    conn: &mut DbConn,
    id: &str,
    instance: &str,
    now: NaiveDateTime,
    stale_before: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        dsl::databases.filter(dsl::id.eq(id)).filter(dsl::archiving.eq(true)).filter(
            dsl::receiver_instance
                .is_null()
                .or(dsl::receiver_instance.eq(instance))
                .or(dsl::receiver_beat_at.lt(stale_before))
                .or(dsl::receiver_beat_at.is_null()),
        ),
    )
    .set((dsl::receiver_instance.eq(instance), dsl::receiver_beat_at.eq(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// The instance holding the receiver's lease, if any.
pub fn lease_holder(conn: &mut DbConn, id: &str) -> QueryResult<Option<String>> {
    dsl::databases.filter(dsl::id.eq(id)).select(dsl::receiver_instance).first(conn)
}

/// Lets the lease go (archiving stopped, or the process ends).
pub fn release_lease(conn: &mut DbConn, id: &str, instance: &str) -> QueryResult<()> {
    diesel::update(dsl::databases.filter(dsl::id.eq(id)).filter(dsl::receiver_instance.eq(instance)))
        .set((dsl::receiver_instance.eq(None::<String>), dsl::receiver_beat_at.eq(None::<NaiveDateTime>)))
        .execute(conn)
        .map(drop)
}

pub fn report(conn: &mut DbConn, id: &str, instance: &str, report: ReceiverReport) -> QueryResult<()> {
    if report.status.is_none()
        && report.status_message.is_none()
        && report.last_received_at.is_none()
        && report.received_lsn.is_none()
        && report.lag_bytes.is_none()
        && report.slot_wal_status.is_none()
    {
        return Ok(());
    }
    diesel::update(dsl::databases.filter(dsl::id.eq(id)).filter(dsl::receiver_instance.eq(instance)))
        .set(report)
        .execute(conn)
        .map(drop)
}

/// Databases due for a scheduled base backup, claimed by moving their next time on: the instance
/// whose update changed the row takes it.
pub fn claim_due_base(
    conn: &mut DbConn,
    id: &str,
    seen: NaiveDateTime,
    next: Option<NaiveDateTime>,
) -> QueryResult<bool> {
    let n = diesel::update(dsl::databases.filter(dsl::id.eq(id)).filter(dsl::next_base_at.eq(seen)))
        .set(dsl::next_base_at.eq(next))
        .execute(conn)?;
    Ok(n == 1)
}

pub fn due_bases(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<DatabaseRow>> {
    dsl::databases
        .filter(dsl::archiving.eq(true))
        .filter(dsl::next_base_at.le(now))
        .select(DatabaseRow::as_select())
        .load(conn)
}

pub(super) fn found(rows: usize) -> QueryResult<()> {
    if rows == 0 { Err(diesel::result::Error::NotFound) } else { Ok(()) }
}
