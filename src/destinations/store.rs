//! Destination queries. Every query takes the workspace id: a destination of another workspace
//! is simply not found.

use crate::db::DbConn;
use crate::db::schema::destinations::{self, dsl};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = destinations)]
pub struct DestinationRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub kind: String,
    pub settings: String,
    pub credentials: Vec<u8>,
    pub status: String,
    pub status_before_test: Option<String>,
    pub last_tested_at: Option<NaiveDateTime>,
    pub last_test_message: Option<String>,
    pub is_default: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// SFTP with a login of its own: the host key fingerprint pinned by the first good test.
    pub host_key_fingerprint: Option<String>,
    /// SFTP: the managed server whose login it uses.
    pub server_id: Option<String>,
    /// While Testing: the instance running the test.
    pub test_owner: Option<String>,
    /// What the last deep test's compatibility probe found (JSON), until the config changes.
    pub compatibility: Option<String>,
}

/// The parts an edit replaces (the pinned host key stays: a new key is accepted explicitly).
pub struct ConfigChange {
    pub name: String,
    pub kind: String,
    pub settings: String,
    pub credentials: Vec<u8>,
    pub server_id: Option<String>,
    pub updated_at: NaiveDateTime,
}

pub fn list(conn: &mut DbConn, workspace: &str, limit: i64, offset: i64) -> QueryResult<Vec<DestinationRow>> {
    dsl::destinations
        .filter(dsl::workspace_id.eq(workspace))
        .order((dsl::is_default.desc(), dsl::name.asc(), dsl::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(DestinationRow::as_select())
        .load(conn)
}

/// The destinations of a workspace with these ids (those that still exist).
pub fn find_many(conn: &mut DbConn, workspace: &str, ids: &[String]) -> QueryResult<Vec<DestinationRow>> {
    dsl::destinations
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::id.eq_any(ids))
        .select(DestinationRow::as_select())
        .load(conn)
}

/// Id and name of every destination of a workspace (for labelling history rows).
pub fn names(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<(String, String)>> {
    dsl::destinations.filter(dsl::workspace_id.eq(workspace)).select((dsl::id, dsl::name)).load(conn)
}

pub fn count(conn: &mut DbConn, workspace: &str) -> QueryResult<i64> {
    dsl::destinations.filter(dsl::workspace_id.eq(workspace)).count().get_result(conn)
}

pub fn find(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<DestinationRow> {
    dsl::destinations
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::id.eq(id))
        .select(DestinationRow::as_select())
        .first(conn)
}

/// Inserts a destination; the first one of a workspace becomes its default.
pub fn insert(conn: &mut DbConn, mut row: DestinationRow) -> QueryResult<DestinationRow> {
    crate::db::write_transaction(conn, |conn| {
        row.is_default = count(conn, &row.workspace_id)? == 0;
        diesel::insert_into(dsl::destinations).values(&row).execute(conn)?;
        Ok(row)
    })
}

pub fn update_config(conn: &mut DbConn, workspace: &str, id: &str, change: ConfigChange) -> QueryResult<()> {
    // A pinned host key belongs to the destination's own SFTP login; without one it is dropped.
    let own_login = change.kind == "sftp" && change.server_id.is_none();
    let target = dsl::destinations.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id));
    let n = diesel::update(target)
        .set((
            dsl::name.eq(change.name),
            dsl::kind.eq(change.kind),
            dsl::settings.eq(change.settings),
            dsl::credentials.eq(change.credentials),
            dsl::server_id.eq(change.server_id),
            dsl::updated_at.eq(change.updated_at),
            // Found for the old settings and keys; the next deep test learns the new ones'.
            dsl::compatibility.eq(None::<String>),
        ))
        .execute(conn)?;
    if !own_login {
        diesel::update(target).set(dsl::host_key_fingerprint.eq(None::<String>)).execute(conn)?;
    }
    found(n)
}

/// Stores what a deep test's compatibility probe found.
pub fn set_compatibility(conn: &mut DbConn, workspace: &str, id: &str, found: &str) -> QueryResult<()> {
    let target = dsl::destinations.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id));
    diesel::update(target).set(dsl::compatibility.eq(found)).execute(conn)?;
    Ok(())
}

pub fn host_key(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<Option<String>> {
    dsl::destinations
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::id.eq(id))
        .select(dsl::host_key_fingerprint)
        .first(conn)
}

pub fn set_host_key(conn: &mut DbConn, workspace: &str, id: &str, fingerprint: &str) -> QueryResult<()> {
    let n = diesel::update(dsl::destinations.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
        .set(dsl::host_key_fingerprint.eq(fingerprint))
        .execute(conn)?;
    found(n)
}

/// Marks a test as running: Testing, remembering the status to return to if the server dies, and
/// the instance (`owner`) running it. A Disabled destination stays Disabled while it is tested.
pub fn begin_test(conn: &mut DbConn, workspace: &str, id: &str, owner: &str) -> QueryResult<()> {
    let n = diesel::update(
        dsl::destinations
            .filter(dsl::workspace_id.eq(workspace))
            .filter(dsl::id.eq(id))
            .filter(dsl::status.ne("disabled"))
            .filter(dsl::status.ne("testing")),
    )
    .set((dsl::status_before_test.eq(dsl::status.nullable()), dsl::status.eq("testing"), dsl::test_owner.eq(owner)))
    .execute(conn)?;
    if n == 0 {
        find(conn, workspace, id)?; // NotFound if it does not exist; otherwise it is disabled or already testing
    }
    Ok(())
}

/// "Test all": marks every destination of the workspace that is neither disabled nor already
/// being tested as Testing (as [`begin_test`] does one); returns their ids. No read-then-write
/// transaction, for the reason [`finish_test`] gives: one that changed in between is merely
/// tested without having been marked.
pub fn begin_test_all(conn: &mut DbConn, workspace: &str, owner: &str) -> QueryResult<Vec<String>> {
    let ids: Vec<String> = dsl::destinations
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::status.ne_all(["disabled", "testing"]))
        .select(dsl::id)
        .load(conn)?;
    diesel::update(
        dsl::destinations
            .filter(dsl::workspace_id.eq(workspace))
            .filter(dsl::status.ne_all(["disabled", "testing"]))
            .filter(dsl::id.eq_any(&ids)),
    )
    .set((dsl::status_before_test.eq(dsl::status.nullable()), dsl::status.eq("testing"), dsl::test_owner.eq(owner)))
    .execute(conn)?;
    Ok(ids)
}

/// Records a finished test, in one statement: Testing becomes Active or Failed; Disabled stays
/// Disabled; a good test's time is kept. False when the destination was deleted meanwhile.
/// (Callers record tests in a write transaction, which on SQLite takes the lock up front:
/// "Test all" records many at once.)
pub fn finish_test(
    conn: &mut DbConn,
    workspace: &str,
    id: &str,
    ok: bool,
    message: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    use diesel::dsl::case_when;
    use diesel::sql_types::Text;
    let target = dsl::destinations.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id));
    let outcome = if ok { "active" } else { "failed" };
    let status =
        case_when(dsl::status.eq("disabled"), "disabled".into_sql::<Text>()).otherwise(outcome.into_sql::<Text>());
    let ended = (
        dsl::status.eq(status),
        dsl::status_before_test.eq(None::<String>),
        dsl::test_owner.eq(None::<String>),
        dsl::last_test_message.eq(message),
    );
    let n = if ok {
        diesel::update(target).set((ended, dsl::last_tested_at.eq(now))).execute(conn)?
    } else {
        diesel::update(target).set(ended).execute(conn)?
    };
    Ok(n > 0)
}

/// Id and name of the workspace's destinations with these ids.
pub fn names_of(conn: &mut DbConn, workspace: &str, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    dsl::destinations
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::id.eq_any(ids))
        .select((dsl::id, dsl::name))
        .load(conn)
}

pub fn set_disabled(conn: &mut DbConn, workspace: &str, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    let n = diesel::update(dsl::destinations.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
        .set((dsl::status.eq("disabled"), dsl::status_before_test.eq(None::<String>), dsl::updated_at.eq(now)))
        .execute(conn)?;
    found(n)
}

/// Re-enables a Disabled destination as Testing (by `owner`); the caller runs the test that
/// settles it.
pub fn enable_for_test(
    conn: &mut DbConn,
    workspace: &str,
    id: &str,
    owner: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let n = diesel::update(
        dsl::destinations
            .filter(dsl::workspace_id.eq(workspace))
            .filter(dsl::id.eq(id))
            .filter(dsl::status.eq("disabled")),
    )
    .set((
        dsl::status.eq("testing"),
        dsl::status_before_test.eq("failed"),
        dsl::test_owner.eq(owner),
        dsl::updated_at.eq(now),
    ))
    .execute(conn)?;
    if n == 0 {
        find(conn, workspace, id)?;
    }
    Ok(())
}

/// Clears the old default and sets the new one in one transaction; the partial unique index
/// makes two defaults impossible even under concurrent requests.
pub fn make_default(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        find(conn, workspace, id)?;
        diesel::update(dsl::destinations.filter(dsl::workspace_id.eq(workspace)).filter(dsl::is_default.eq(true)))
            .set(dsl::is_default.eq(false))
            .execute(conn)?;
        diesel::update(dsl::destinations.filter(dsl::id.eq(id))).set(dsl::is_default.eq(true)).execute(conn)?;
        Ok(())
    })
}

/// Deletes a destination; the plans that used it are disabled and lose it, in the same
/// transaction. Returns those plans' names.
pub fn delete(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<Vec<String>> {
    crate::db::write_transaction(conn, |conn| {
        let plans = crate::plans::store::detach_destination(conn, workspace, id)?;
        let n = diesel::delete(dsl::destinations.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
            .execute(conn)?;
        found(n)?;
        Ok(plans)
    })
}

/// Deletes a destination that no plan uses; otherwise deletes nothing and returns the names of
/// the plans that use it.
pub fn delete_if_unused(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<Vec<String>> {
    crate::db::write_transaction(conn, |conn| {
        let plans = crate::plans::store::using_destination(conn, workspace, id)?;
        if plans.is_empty() {
            let n = diesel::delete(dsl::destinations.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
                .execute(conn)?;
            found(n)?;
        }
        Ok(plans)
    })
}

/// A destination left Testing by an instance that is not among the `live` ones (it crashed, or
/// the row predates test owners) goes back to the status it had.
pub fn reset_interrupted_tests(conn: &mut DbConn, live: &[String]) -> QueryResult<usize> {
    let orphaned = dsl::status.eq("testing").and(dsl::test_owner.is_null().or(dsl::test_owner.ne_all(live)));
    diesel::update(dsl::destinations.filter(orphaned))
        .set((
            dsl::status.eq(diesel::dsl::sql::<diesel::sql_types::Text>("COALESCE(status_before_test, 'failed')")),
            dsl::status_before_test.eq(None::<String>),
            dsl::test_owner.eq(None::<String>),
            dsl::last_test_message
                .eq("The last test was interrupted: the server running it stopped (a restart or a crash). Test again."),
        ))
        .execute(conn)
}

fn found(rows: usize) -> QueryResult<()> {
    if rows == 0 { Err(diesel::result::Error::NotFound) } else { Ok(()) }
}

/// Every destination of a kind in every workspace as (id, workspace, settings JSON): for start-up
/// work across workspaces.
pub fn all_of_kind(conn: &mut DbConn, kind: &str) -> QueryResult<Vec<(String, String, String)>> {
    dsl::destinations.filter(dsl::kind.eq(kind)).select((dsl::id, dsl::workspace_id, dsl::settings)).load(conn)
}

/// Replaces a destination's sealed credentials only (a rotated refresh token): nothing else of
/// it changes, not even when it was last edited.
pub fn set_credentials(conn: &mut DbConn, workspace: &str, id: &str, credentials: Vec<u8>) -> QueryResult<()> {
    let target = dsl::destinations.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id));
    diesel::update(target).set(dsl::credentials.eq(credentials)).execute(conn).map(drop)
}
