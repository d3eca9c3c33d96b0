//! Session rows: created at sign-in, read (through the service's memo) on every request, touched
//! at most once a minute, deleted at sign-out.

use crate::db::DbConn;
use crate::db::schema::sessions;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub kind: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub ip: String,
    pub user_agent: String,
}

pub fn insert(conn: &mut DbConn, row: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(sessions::table).values(row).execute(conn).map(drop)
}

pub fn by_hash(conn: &mut DbConn, hash: &str) -> QueryResult<Option<SessionRow>> {
    sessions::table.filter(sessions::token_hash.eq(hash)).select(SessionRow::as_select()).first(conn).optional()
}

pub fn of_user(conn: &mut DbConn, user: &str) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user))
        .order(sessions::last_seen_at.desc())
        .select(SessionRow::as_select())
        .load(conn)
}

/// Notes a request: when, and from where. Only a row not touched since `stale` changes, so
/// requests arriving together change it once; how many rows changed (0 or 1).
pub fn touch(
    conn: &mut DbConn,
    id: &str,
    now: NaiveDateTime,
    stale: NaiveDateTime,
    ip: &str,
    user_agent: &str,
) -> QueryResult<usize> {
    diesel::update(sessions::table.find(id).filter(sessions::last_seen_at.le(stale)))
        .set((sessions::last_seen_at.eq(now), sessions::ip.eq(ip), sessions::user_agent.eq(user_agent)))
        .execute(conn)
}

pub fn delete_by_hash(conn: &mut DbConn, hash: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(hash))).execute(conn)
}

pub fn delete_of_user(conn: &mut DbConn, user: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id).filter(sessions::user_id.eq(user))).execute(conn)
}

/// Every session of a user but `keep` (all of them when None).
pub fn delete_all_of_user(conn: &mut DbConn, user: &str, keep: Option<&str>) -> QueryResult<usize> {
    let mine = sessions::table.filter(sessions::user_id.eq(user));
    match keep {
        Some(keep) => diesel::delete(mine.filter(sessions::id.ne(keep))).execute(conn),
        None => diesel::delete(mine).execute(conn),
    }
}

/// Sessions past their end: the absolute one, or (browser sessions) unused since `idle_since`.
pub fn delete_expired(conn: &mut DbConn, now: NaiveDateTime, idle_since: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(
        sessions::expires_at.le(now).or(sessions::kind.eq("browser").and(sessions::last_seen_at.le(idle_since))),
    ))
    .execute(conn)
}
