//! The operator's backup settings (one row) and the backups made, in diesel.

use crate::db::DbConn;
use crate::db::schema::{instance_backup_config, instance_backups};
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub const CONFIG_ID: &str = "instance";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = instance_backup_config)]
pub struct ConfigRow {
    pub id: String,
    pub destination_kind: String,
    pub destination_sealed: Vec<u8>,
    pub keys_sealed: Vec<u8>,
    /// The master key ids the sealed keys hold, comma-separated: a rotation since is noticed.
    pub key_ids: String,
    pub schedule: Option<String>,
    pub next_due_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
    /// How many succeeded backups stay on the destination; older ones are deleted.
    pub keep_count: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = instance_backups)]
pub struct BackupRow {
    pub id: String,
    pub trigger: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub status: String,
    pub object_key: Option<String>,
    pub bytes: i64,
    pub sha256: Option<String>,
    pub error: Option<String>,
    /// When retention deleted it from the destination.
    pub pruned_at: Option<NaiveDateTime>,
}

pub fn config(c: &mut DbConn) -> QueryResult<Option<ConfigRow>> {
    instance_backup_config::table.find(CONFIG_ID).select(ConfigRow::as_select()).first(c).optional()
}

pub fn save_config(c: &mut DbConn, row: &ConfigRow) -> QueryResult<()> {
    crate::db::write_transaction(c, |c| {
        diesel::delete(instance_backup_config::table.find(CONFIG_ID)).execute(c)?;
        diesel::insert_into(instance_backup_config::table).values(row).execute(c).map(|_| ())
    })
}

/// Moves the next due time from `seen` to `next`, only if no other instance did first: true when
/// this caller won the scheduled backup.
pub fn claim_due(c: &mut DbConn, seen: NaiveDateTime, next: Option<NaiveDateTime>) -> QueryResult<bool> {
    let n = diesel::update(
        instance_backup_config::table.find(CONFIG_ID).filter(instance_backup_config::next_due_at.eq(seen)),
    )
    .set(instance_backup_config::next_due_at.eq(next))
    .execute(c)?;
    Ok(n == 1)
}

pub fn replace_destination(c: &mut DbConn, old: &[u8], new: &[u8]) -> QueryResult<bool> {
    let n = diesel::update(
        instance_backup_config::table.find(CONFIG_ID).filter(instance_backup_config::destination_sealed.eq(old)),
    )
    .set(instance_backup_config::destination_sealed.eq(new))
    .execute(c)?;
    Ok(n == 1)
}

pub fn sealed_destination(c: &mut DbConn) -> QueryResult<Vec<(String, Vec<u8>)>> {
    instance_backup_config::table
        .select((instance_backup_config::id, instance_backup_config::destination_sealed))
        .load(c)
}

pub fn insert_backup(c: &mut DbConn, row: &BackupRow) -> QueryResult<()> {
    diesel::insert_into(instance_backups::table).values(row).execute(c).map(|_| ())
}

pub fn finish_backup(
    c: &mut DbConn,
    id: &str,
    status: &str,
    bytes: i64,
    sha256: Option<&str>,
    error: Option<&str>,
) -> QueryResult<()> {
    diesel::update(instance_backups::table.find(id))
        .set((
            instance_backups::status.eq(status),
            instance_backups::finished_at.eq(chrono::Utc::now().naive_utc()),
            instance_backups::bytes.eq(bytes),
            instance_backups::sha256.eq(sha256),
            instance_backups::error.eq(error),
        ))
        .execute(c)
        .map(|_| ())
}

pub fn newest(c: &mut DbConn, limit: i64) -> QueryResult<Vec<BackupRow>> {
    instance_backups::table
        .order(instance_backups::started_at.desc())
        .limit(limit)
        .select(BackupRow::as_select())
        .load(c)
}

/// The succeeded backups still on the destination beyond the newest `keep`, oldest last.
pub fn beyond_keep(c: &mut DbConn, keep: i64) -> QueryResult<Vec<BackupRow>> {
    instance_backups::table
        .filter(instance_backups::status.eq("succeeded"))
        .filter(instance_backups::pruned_at.is_null())
        .order(instance_backups::started_at.desc())
        .offset(keep.max(1))
        .limit(10_000)
        .select(BackupRow::as_select())
        .load(c)
}

pub fn mark_pruned(c: &mut DbConn, id: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(instance_backups::table.find(id)).set(instance_backups::pruned_at.eq(at)).execute(c).map(drop)
}
