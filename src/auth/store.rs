//! Users, workspaces and memberships.

use crate::db::DbConn;
use crate::db::schema::{memberships, users, workspaces};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    /// An instance administrator: runs the server, grants host resources, manages accounts.
    pub is_operator: bool,
    /// A disabled account is refused on the next request of every session and token.
    pub disabled_at: Option<NaiveDateTime>,
}

impl UserRow {
    /// A new account with a fresh id.
    pub fn new(
        account: super::domain::ValidAccount,
        password_hash: String,
        is_operator: bool,
        now: NaiveDateTime,
    ) -> UserRow {
        UserRow {
            id: uuid::Uuid::new_v4().to_string(),
            email: account.email,
            name: account.name,
            password_hash,
            created_at: now,
            is_operator,
            disabled_at: None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = workspaces)]
pub struct WorkspaceRow {
    pub id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
pub struct MembershipRow {
    pub workspace_id: String,
    pub user_id: String,
    pub role: String,
    pub created_at: NaiveDateTime,
}

impl MembershipRow {
    pub fn new(workspace_id: &str, user_id: &str, role: super::Role, now: NaiveDateTime) -> MembershipRow {
        MembershipRow {
            workspace_id: workspace_id.to_owned(),
            user_id: user_id.to_owned(),
            role: role.as_str().to_owned(),
            created_at: now,
        }
    }
}

pub fn user_count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn find_user(conn: &mut DbConn, id: &str) -> QueryResult<UserRow> {
    users::table.find(id).select(UserRow::as_select()).first(conn)
}

/// Emails are stored lowercased, so this match is case-insensitive.
pub fn find_user_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<UserRow>> {
    users::table.filter(users::email.eq(email.to_lowercase())).select(UserRow::as_select()).first(conn).optional()
}

pub fn set_name(conn: &mut DbConn, user: &str, name: &str) -> QueryResult<()> {
    diesel::update(users::table.find(user)).set(users::name.eq(name)).execute(conn).map(drop)
}

pub fn set_password_hash(conn: &mut DbConn, user: &str, hash: &str) -> QueryResult<bool> {
    Ok(diesel::update(users::table.find(user)).set(users::password_hash.eq(hash)).execute(conn)? == 1)
}

pub fn insert_user(conn: &mut DbConn, user: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table).values(user).execute(conn).map(|_| ())
}

pub fn insert_workspace(conn: &mut DbConn, workspace: &WorkspaceRow) -> QueryResult<()> {
    diesel::insert_into(workspaces::table).values(workspace).execute(conn).map(|_| ())
}

/// First-run setup: inserts the first user, their workspace and ownership, unless a user
/// exists already (checked inside the transaction, so two racing setups cannot both win).
pub fn insert_first_owner(
    conn: &mut DbConn,
    user: &UserRow,
    workspace: &WorkspaceRow,
    owner: &MembershipRow,
) -> QueryResult<bool> {
    crate::db::write_transaction(conn, |conn| {
        if user_count(conn)? > 0 {
            return Ok(false);
        }
        insert_user(conn, user)?;
        insert_workspace(conn, workspace)?;
        insert_membership(conn, owner)?;
        Ok(true)
    })
}

pub fn insert_membership(conn: &mut DbConn, membership: &MembershipRow) -> QueryResult<()> {
    diesel::insert_into(memberships::table).values(membership).execute(conn).map(|_| ())
}

pub fn membership(
    conn: &mut DbConn,
    workspace: &str,
    user: &str,
) -> QueryResult<Option<(MembershipRow, WorkspaceRow)>> {
    memberships::table
        .inner_join(workspaces::table)
        .filter(memberships::workspace_id.eq(workspace))
        .filter(memberships::user_id.eq(user))
        .select((MembershipRow::as_select(), WorkspaceRow::as_select()))
        .first(conn)
        .optional()
}

/// The workspaces a user belongs to, oldest first.
pub fn workspaces_of(conn: &mut DbConn, user: &str) -> QueryResult<Vec<(MembershipRow, WorkspaceRow)>> {
    memberships::table
        .inner_join(workspaces::table)
        .filter(memberships::user_id.eq(user))
        .order(workspaces::created_at.asc())
        .select((MembershipRow::as_select(), WorkspaceRow::as_select()))
        .load(conn)
}
