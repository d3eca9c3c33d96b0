//! Invitations: made by owners, claimed once by the invited person.

use crate::auth::store::{MembershipRow, UserRow, insert_membership, insert_user};
use crate::db::DbConn;
use crate::db::schema::{invitations, memberships, users, workspaces};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invitations)]
pub struct InvitationRow {
    pub id: String,
    pub workspace_id: String,
    pub email: String,
    pub role: String,
    pub token_hash: String,
    pub invited_by: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// Inserts an invitation; an earlier one still open for the same email and workspace is
/// withdrawn, so only the newest link works.
pub fn insert(conn: &mut DbConn, row: &InvitationRow) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        diesel::update(
            invitations::table
                .filter(invitations::workspace_id.eq(&row.workspace_id))
                .filter(invitations::email.eq(&row.email))
                .filter(invitations::accepted_at.is_null())
                .filter(invitations::revoked_at.is_null()),
        )
        .set(invitations::revoked_at.eq(row.created_at))
        .execute(conn)?;
        diesel::insert_into(invitations::table).values(row).execute(conn).map(drop)
    })
}

/// How many invitations a workspace made since a moment (the limit on mail it can cause).
pub fn made_since(conn: &mut DbConn, workspace: &str, since: NaiveDateTime) -> QueryResult<i64> {
    invitations::table
        .filter(invitations::workspace_id.eq(workspace))
        .filter(invitations::created_at.gt(since))
        .count()
        .get_result(conn)
}

/// Open invitations of a workspace with their inviter's name, newest first.
pub fn open_of(conn: &mut DbConn, workspace: &str, now: NaiveDateTime) -> QueryResult<Vec<(InvitationRow, String)>> {
    invitations::table
        .inner_join(users::table)
        .filter(invitations::workspace_id.eq(workspace))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::revoked_at.is_null())
        .filter(invitations::expires_at.gt(now))
        .order(invitations::created_at.desc())
        .select((InvitationRow::as_select(), users::name))
        .load(conn)
}

/// The invitation a link names, with its workspace's name.
pub fn by_hash(conn: &mut DbConn, hash: &str) -> QueryResult<Option<(InvitationRow, String)>> {
    invitations::table
        .inner_join(workspaces::table)
        .filter(invitations::token_hash.eq(hash))
        .select((InvitationRow::as_select(), workspaces::name))
        .first(conn)
        .optional()
}

pub fn revoke(conn: &mut DbConn, workspace: &str, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(
        invitations::table
            .filter(invitations::workspace_id.eq(workspace))
            .filter(invitations::id.eq(id))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null()),
    )
    .set(invitations::revoked_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// What became of an acceptance.
#[derive(Debug, PartialEq, Eq)]
pub enum Acceptance {
    Joined,
    /// The person was a member already (the invitation is used up all the same).
    AlreadyMember,
    /// Used, withdrawn or expired meanwhile: someone else was quicker.
    Gone,
    /// A new account was asked for, but one has this email.
    AccountExists,
}

/// Marks the invitation used, once: only an open, unexpired one changes.
fn claim(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(
        invitations::table
            .find(id)
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .filter(invitations::expires_at.gt(now)),
    )
    .set(invitations::accepted_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// The invited person joins: an existing account (`new_user` None, `user_id` theirs) or a new one.
pub fn accept(
    conn: &mut DbConn,
    invitation: &InvitationRow,
    user_id: &str,
    new_user: Option<&UserRow>,
    now: NaiveDateTime,
) -> QueryResult<Acceptance> {
    crate::db::write_transaction(conn, |conn| {
        if !claim(conn, &invitation.id, now)? {
            return Ok(Acceptance::Gone);
        }
        if let Some(user) = new_user {
            let taken: i64 = users::table.filter(users::email.eq(&user.email)).count().get_result(conn)?;
            if taken > 0 {
                // Rolls the claim back with it: the link still works for the account's owner.
                return Err(diesel::result::Error::RollbackTransaction);
            }
            insert_user(conn, user)?;
        }
        let member: i64 = memberships::table
            .filter(memberships::workspace_id.eq(&invitation.workspace_id))
            .filter(memberships::user_id.eq(user_id))
            .count()
            .get_result(conn)?;
        if member > 0 {
            return Ok(Acceptance::AlreadyMember);
        }
        let role = crate::auth::Role::parse(&invitation.role).unwrap_or(crate::auth::Role::Viewer);
        insert_membership(conn, &MembershipRow::new(&invitation.workspace_id, user_id, role, now))?;
        Ok(Acceptance::Joined)
    })
    .or_else(|e| match e {
        diesel::result::Error::RollbackTransaction => Ok(Acceptance::AccountExists),
        other => Err(other),
    })
}
