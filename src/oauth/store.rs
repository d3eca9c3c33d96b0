//! Queries of started consents. Rows are keyed by the SHA-256 of the state, never the state.

use crate::db::DbConn;
use crate::db::schema::oauth_states::{self, dsl};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_states)]
pub struct OAuthStateRow {
    pub state_hash: String,
    pub workspace_id: String,
    pub destination_id: String,
    pub user_id: String,
    pub session_hash: String,
    /// Sealed with the credential cipher, bound to the state hash.
    pub pkce_verifier: Vec<u8>,
    pub redirect_uri: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, row: OAuthStateRow) -> QueryResult<()> {
    diesel::insert_into(dsl::oauth_states).values(&row).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, state_hash: &str) -> QueryResult<OAuthStateRow> {
    dsl::oauth_states.filter(dsl::state_hash.eq(state_hash)).select(OAuthStateRow::as_select()).first(conn)
}

/// Marks the state used; true only for the one caller that did (so a state works once even
/// when two callbacks race).
pub fn consume(conn: &mut DbConn, state_hash: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(dsl::oauth_states.filter(dsl::state_hash.eq(state_hash)).filter(dsl::used_at.is_null()))
        .set(dsl::used_at.eq(now))
        .execute(conn)?;
    Ok(n == 1)
}

/// Forgets states that expired before `before` (kept a while to tell "replayed" from "unknown").
pub fn purge_expired(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(dsl::oauth_states.filter(dsl::expires_at.lt(before))).execute(conn)
}
