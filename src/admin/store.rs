//! The instance's accounts and workspaces, as the admin area reads and changes them.

use crate::auth::store::{UserRow, WorkspaceRow};
use crate::db::DbConn;
use crate::db::schema::{memberships, runs, users, workspaces};
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub fn all_users(conn: &mut DbConn) -> QueryResult<Vec<UserRow>> {
    users::table.order(users::email.asc()).select(UserRow::as_select()).load(conn)
}

pub fn all_workspaces(conn: &mut DbConn) -> QueryResult<Vec<WorkspaceRow>> {
    workspaces::table.order((workspaces::name.asc(), workspaces::id.asc())).select(WorkspaceRow::as_select()).load(conn)
}

/// A membership with the names the admin pages show.
#[derive(Debug, Queryable)]
pub struct MembershipLine {
    pub workspace_id: String,
    pub workspace_name: String,
    pub user_id: String,
    pub email: String,
    pub role: String,
}

pub fn all_memberships(conn: &mut DbConn) -> QueryResult<Vec<MembershipLine>> {
    memberships::table
        .inner_join(users::table)
        .inner_join(workspaces::table)
        .order((workspaces::name.asc(), users::email.asc()))
        .select((workspaces::id, workspaces::name, users::id, users::email, memberships::role))
        .load(conn)
}

/// Makes operators wait for each other (PostgreSQL; SQLite's write transaction holds the whole
/// database), so two operators demoting or disabling each other cannot leave none.
fn lock_operators(conn: &mut DbConn) -> QueryResult<()> {
    if let DbConn::Postgres(_) = conn {
        diesel::sql_query("SELECT id FROM users WHERE is_operator FOR UPDATE").execute(conn)?;
    }
    Ok(())
}

/// Whether an enabled operator other than `user` remains.
fn another_operator(conn: &mut DbConn, user: &str) -> QueryResult<bool> {
    let others: i64 = users::table
        .filter(users::is_operator.eq(true))
        .filter(users::disabled_at.is_null())
        .filter(users::id.ne(user))
        .count()
        .get_result(conn)?;
    Ok(others > 0)
}

/// What became of a change to an account.
#[derive(Debug, PartialEq, Eq)]
pub enum AccountChange {
    Done,
    NotFound,
    /// It would leave the instance without an enabled operator.
    LastOperator,
}

/// Disables (at `at`) or enables an account, never the last enabled operator.
pub fn set_disabled(conn: &mut DbConn, user: &str, at: Option<NaiveDateTime>) -> QueryResult<AccountChange> {
    crate::db::write_transaction(conn, |conn| {
        lock_operators(conn)?;
        let Some(row) = users::table.find(user).select(UserRow::as_select()).first(conn).optional()? else {
            return Ok(AccountChange::NotFound);
        };
        if at.is_some() && row.is_operator && !another_operator(conn, user)? {
            return Ok(AccountChange::LastOperator);
        }
        diesel::update(users::table.find(user)).set(users::disabled_at.eq(at)).execute(conn)?;
        Ok(AccountChange::Done)
    })
}

/// Makes an account an operator or not, never removing the last enabled one.
pub fn set_operator(conn: &mut DbConn, user: &str, operator: bool) -> QueryResult<AccountChange> {
    crate::db::write_transaction(conn, |conn| {
        lock_operators(conn)?;
        let Some(row) = users::table.find(user).select(UserRow::as_select()).first(conn).optional()? else {
            return Ok(AccountChange::NotFound);
        };
        if !operator && row.is_operator && !another_operator(conn, user)? {
            return Ok(AccountChange::LastOperator);
        }
        diesel::update(users::table.find(user)).set(users::is_operator.eq(operator)).execute(conn)?;
        Ok(AccountChange::Done)
    })
}

pub fn rename_workspace(conn: &mut DbConn, id: &str, name: &str) -> QueryResult<bool> {
    Ok(diesel::update(workspaces::table.find(id)).set(workspaces::name.eq(name)).execute(conn)? == 1)
}

/// What became of a workspace's deletion.
#[derive(Debug, PartialEq, Eq)]
pub enum Deletion {
    Done,
    NotFound,
    /// A backup of the workspace is queued or running.
    Busy,
}

/// Deletes a workspace and, by the database's cascades, everything in it — unless one of its runs
/// is under way (it would go on writing into rows that are gone).
pub fn delete_workspace(conn: &mut DbConn, id: &str) -> QueryResult<Deletion> {
    crate::db::write_transaction(conn, |conn| {
        let busy: i64 = runs::table
            .filter(runs::workspace_id.eq(id))
            .filter(runs::status.eq_any([crate::runs::store::QUEUED, crate::runs::store::RUNNING]))
            .count()
            .get_result(conn)?;
        if busy > 0 {
            return Ok(Deletion::Busy);
        }
        let n = diesel::delete(workspaces::table.find(id)).execute(conn)?;
        Ok(if n == 0 { Deletion::NotFound } else { Deletion::Done })
    })
}
