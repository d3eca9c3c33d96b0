//! The `api_tokens` table: a token's row (its hash, never the token) and the queries of
//! `TokenService` (`tokens.rs`).

use crate::db::DbConn;
use crate::db::schema::api_tokens::{self, dsl};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct ApiTokenRow {
    pub id: String,
    pub workspace_id: String,
    pub created_by: String,
    pub name: String,
    pub role: String,
    pub prefix: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert(c: &mut DbConn, row: &ApiTokenRow) -> QueryResult<()> {
    diesel::insert_into(dsl::api_tokens).values(row).execute(c).map(drop)
}

/// Newest first, revoked ones included.
pub fn of_workspace(c: &mut DbConn, workspace: &str) -> QueryResult<Vec<ApiTokenRow>> {
    dsl::api_tokens
        .filter(dsl::workspace_id.eq(workspace))
        .order(dsl::created_at.desc())
        .select(ApiTokenRow::as_select())
        .load(c)
}

/// How many tokens it revoked: 0 when there is no such live token in the workspace.
pub fn revoke(c: &mut DbConn, workspace: &str, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(dsl::api_tokens.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
        .filter(dsl::revoked_at.is_null())
        .set(dsl::revoked_at.eq(now))
        .execute(c)
}

/// The token with this hash, its use noted.
pub fn find_and_touch(c: &mut DbConn, digest: &str, now: NaiveDateTime) -> QueryResult<Option<ApiTokenRow>> {
    let row =
        dsl::api_tokens.filter(dsl::token_hash.eq(digest)).select(ApiTokenRow::as_select()).first(c).optional()?;
    if let Some(row) = &row {
        diesel::update(dsl::api_tokens.find(&row.id)).set(dsl::last_used_at.eq(now)).execute(c)?;
    }
    Ok(row)
}
