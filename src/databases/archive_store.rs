//! Queries on what a database's archive holds: WAL files, base backups, and the clones made
//! from them. Reached through a database already found in its workspace, or by the archiver.

use crate::db::DbConn;
use crate::db::schema::base_backups::{self, dsl as bases};
use crate::db::schema::database_clones::{self, dsl as clones};
use crate::db::schema::wal_files::{self, dsl as wal};
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub const SEGMENT: &str = "segment";
pub const PARTIAL: &str = "partial";
pub const HISTORY: &str = "history";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = wal_files)]
pub struct WalFileRow {
    pub database_id: String,
    pub name: String,
    pub kind: String,
    pub timeline: i32,
    pub segno: i64,
    /// Of the WAL file itself; `stored_size` is what the destination holds (zstd, encrypted).
    pub size: i64,
    pub stored_size: i64,
    /// Of the WAL file itself, checked again when it is fetched for a restore.
    pub sha256: String,
    pub object_key: String,
    pub received_at: NaiveDateTime,
    pub uploaded_at: NaiveDateTime,
}

pub fn wal_files(conn: &mut DbConn, database: &str) -> QueryResult<Vec<WalFileRow>> {
    wal::wal_files
        .filter(wal::database_id.eq(database))
        .order((wal::timeline.asc(), wal::segno.asc(), wal::name.asc()))
        .select(WalFileRow::as_select())
        .load(conn)
}

pub fn wal_file(conn: &mut DbConn, database: &str, name: &str) -> QueryResult<Option<WalFileRow>> {
    wal::wal_files
        .filter(wal::database_id.eq(database))
        .filter(wal::name.eq(name))
        .select(WalFileRow::as_select())
        .first(conn)
        .optional()
}

/// Records an uploaded file; a `.partial` replaces its previous upload's record.
pub fn record_wal(conn: &mut DbConn, row: &WalFileRow) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        let replaced = diesel::update(
            wal::wal_files.filter(wal::database_id.eq(&row.database_id)).filter(wal::name.eq(&row.name)),
        )
        .set(row)
        .execute(conn)?;
        if replaced == 0 {
            diesel::insert_into(wal::wal_files).values(row).execute(conn)?;
        }
        Ok(())
    })
}

pub fn forget_wal(conn: &mut DbConn, database: &str, name: &str) -> QueryResult<()> {
    diesel::delete(wal::wal_files.filter(wal::database_id.eq(database)).filter(wal::name.eq(name)))
        .execute(conn)
        .map(drop)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = base_backups)]
pub struct BaseBackupRow {
    pub id: String,
    pub database_id: String,
    pub workspace_id: String,
    pub status: String,
    pub trigger: String,
    pub instance_id: Option<String>,
    pub object_key: Option<String>,
    pub timeline: Option<i32>,
    pub start_lsn: Option<String>,
    pub stop_lsn: Option<String>,
    pub started_at: NaiveDateTime,
    pub stopped_at: Option<NaiveDateTime>,
    pub bytes: i64,
    pub sha256: Option<String>,
    pub error: Option<String>,
}

/// How a base backup ended.
#[derive(AsChangeset)]
#[diesel(table_name = base_backups, treat_none_as_null = true)]
pub struct BaseBackupEnd {
    pub status: String,
    pub object_key: Option<String>,
    pub timeline: Option<i32>,
    pub start_lsn: Option<String>,
    pub stop_lsn: Option<String>,
    pub stopped_at: Option<NaiveDateTime>,
    pub bytes: i64,
    pub sha256: Option<String>,
    pub error: Option<String>,
}

pub fn base_backups(conn: &mut DbConn, database: &str) -> QueryResult<Vec<BaseBackupRow>> {
    bases::base_backups
        .filter(bases::database_id.eq(database))
        .order(bases::started_at.desc())
        .select(BaseBackupRow::as_select())
        .load(conn)
}

pub fn insert_base(conn: &mut DbConn, row: &BaseBackupRow) -> QueryResult<()> {
    diesel::insert_into(bases::base_backups).values(row).execute(conn).map(drop)
}

pub fn end_base(conn: &mut DbConn, id: &str, end: BaseBackupEnd) -> QueryResult<()> {
    diesel::update(bases::base_backups.filter(bases::id.eq(id))).set(end).execute(conn).map(drop)
}

pub fn base_progress(conn: &mut DbConn, id: &str, bytes: i64) -> QueryResult<()> {
    diesel::update(bases::base_backups.filter(bases::id.eq(id)).filter(bases::status.eq("running")))
        .set(bases::bytes.eq(bytes))
        .execute(conn)
        .map(drop)
}

pub fn delete_base(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::delete(bases::base_backups.filter(bases::id.eq(id))).execute(conn).map(drop)
}

/// Base backups and clone restores left unfinished by instances that are gone (not in `live`,
/// or `restarted`: this process's own id, inherited from its predecessor): marked failed.
pub fn interrupt_orphans(
    conn: &mut DbConn,
    live: &[String],
    restarted: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let bases_left = diesel::update(
        bases::base_backups
            .filter(bases::status.eq("running"))
            .filter(bases::instance_id.ne_all(live.to_vec()).or(bases::instance_id.eq(restarted))),
    )
    .set((
        bases::status.eq("failed"),
        bases::stopped_at.eq(now),
        bases::error.eq("Interrupted: the server taking it stopped before it finished."),
    ))
    .execute(conn)?;
    let clones_left = diesel::update(
        clones::database_clones
            .filter(clones::status.eq_any(["restoring", "copying"]))
            .filter(clones::instance_id.ne_all(live.to_vec()).or(clones::instance_id.eq(restarted))),
    )
    .set((
        clones::status.eq("failed"),
        clones::error.eq("Interrupted: the server restoring it stopped before it finished; delete it and start again."),
        clones::fetch_token_hash.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(bases_left + clones_left)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = database_clones)]
pub struct CloneRow {
    pub id: String,
    pub workspace_id: String,
    pub database_id: String,
    pub name: String,
    pub port: i32,
    pub target_time: Option<NaiveDateTime>,
    pub timeline: Option<i32>,
    pub status: String,
    pub error: Option<String>,
    pub instance_id: Option<String>,
    pub fetch_token_hash: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn clones(conn: &mut DbConn, workspace: &str, database: Option<&str>) -> QueryResult<Vec<CloneRow>> {
    let mut query = clones::database_clones.filter(clones::workspace_id.eq(workspace)).into_boxed();
    if let Some(database) = database {
        query = query.filter(clones::database_id.eq(database.to_owned()));
    }
    query.order(clones::created_at.desc()).select(CloneRow::as_select()).load(conn)
}

pub fn find_clone(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<CloneRow> {
    clones::database_clones
        .filter(clones::workspace_id.eq(workspace))
        .filter(clones::id.eq(id))
        .select(CloneRow::as_select())
        .first(conn)
}

/// Any clone by id (the WAL fetch of a clone's restore command, authenticated by its token).
pub fn clone_by_id(conn: &mut DbConn, id: &str) -> QueryResult<Option<CloneRow>> {
    clones::database_clones.filter(clones::id.eq(id)).select(CloneRow::as_select()).first(conn).optional()
}

pub fn used_ports(conn: &mut DbConn) -> QueryResult<Vec<i32>> {
    clones::database_clones.select(clones::port).load(conn)
}

pub fn insert_clone(conn: &mut DbConn, row: &CloneRow) -> QueryResult<()> {
    diesel::insert_into(clones::database_clones).values(row).execute(conn).map(drop)
}

pub fn set_clone_state(
    conn: &mut DbConn,
    id: &str,
    status: &str,
    error: Option<&str>,
    timeline: Option<i32>,
) -> QueryResult<()> {
    diesel::update(clones::database_clones.filter(clones::id.eq(id)))
        .set((clones::status.eq(status), clones::error.eq(error), clones::timeline.eq(timeline)))
        .execute(conn)
        .map(drop)
}

/// The clone finished restoring (or failed): its restore command's token no longer works.
pub fn revoke_fetch_token(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::update(clones::database_clones.filter(clones::id.eq(id)))
        .set(clones::fetch_token_hash.eq(None::<String>))
        .execute(conn)
        .map(drop)
}

pub fn move_clone(conn: &mut DbConn, id: &str, database: &str) -> QueryResult<()> {
    diesel::update(clones::database_clones.filter(clones::id.eq(id)))
        .set(clones::database_id.eq(database))
        .execute(conn)
        .map(drop)
}

pub fn delete_clone(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::delete(clones::database_clones.filter(clones::id.eq(id))).execute(conn).map(drop)
}
