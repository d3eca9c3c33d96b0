//! Audit queries: entries are only ever inserted (in the transaction of the change they record)
//! and read newest first, a page at a time, for one workspace.

use super::domain::{Entry, SubjectKind};
use crate::db::DbConn;
use crate::db::schema::audit_events::{self, dsl};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub id: String,
    pub workspace_id: String,
    pub occurred_at: NaiveDateTime,
    pub actor_user_id: String,
    pub actor_email: String,
    pub actor_token: Option<String>,
    pub channel: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub subject_name: String,
    pub detail: String,
}

/// Which entries a page shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub subject_type: Option<SubjectKind>,
    pub subject_id: Option<String>,
}

/// Makes `change` and records `entry` in one write transaction: the usual way to audit a change.
pub fn with_entry<T>(
    conn: &mut DbConn,
    entry: &Entry,
    change: impl FnOnce(&mut DbConn) -> QueryResult<T>,
) -> QueryResult<T> {
    crate::db::write_transaction(conn, |conn| {
        let done = change(conn)?;
        record(conn, entry)?;
        Ok(done)
    })
}

/// Records an entry as of now. Call it inside the change's own write transaction, so a change is
/// never unrecorded (and an entry never describes a change that was rolled back).
pub fn record(conn: &mut DbConn, entry: &Entry) -> QueryResult<()> {
    let row = AuditRow {
        // Time-ordered ids: entries of the same instant keep the order they were written in.
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: entry.workspace_id.clone(),
        occurred_at: chrono::Utc::now().naive_utc(),
        actor_user_id: entry.by.user_id.clone(),
        actor_email: entry.by.email.clone(),
        actor_token: entry.by.token.clone(),
        channel: entry.by.channel.as_str().to_owned(),
        action: entry.action.as_str().to_owned(),
        subject_type: entry.subject.kind.as_str().to_owned(),
        subject_id: entry.subject.id.clone(),
        subject_name: entry.subject.name.clone(),
        detail: entry.detail.clone(),
    };
    diesel::insert_into(dsl::audit_events).values(&row).execute(conn).map(|_| ())
}

/// Newest first.
pub fn page(
    conn: &mut DbConn,
    workspace: &str,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<AuditRow>> {
    let mut query = dsl::audit_events.filter(dsl::workspace_id.eq(workspace)).into_boxed();
    if let Some(kind) = filter.subject_type {
        query = query.filter(dsl::subject_type.eq(kind.as_str()));
    }
    if let Some(id) = &filter.subject_id {
        query = query.filter(dsl::subject_id.eq(id));
    }
    query
        .order((dsl::occurred_at.desc(), dsl::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(AuditRow::as_select())
        .load(conn)
}

/// How many entries [`page`] pages through.
pub fn count(conn: &mut DbConn, workspace: &str, filter: &Filter) -> QueryResult<i64> {
    let mut query = dsl::audit_events.filter(dsl::workspace_id.eq(workspace)).into_boxed();
    if let Some(kind) = filter.subject_type {
        query = query.filter(dsl::subject_type.eq(kind.as_str()));
    }
    if let Some(id) = &filter.subject_id {
        query = query.filter(dsl::subject_id.eq(id));
    }
    query.count().get_result(conn)
}
