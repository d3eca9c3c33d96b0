//! Workspaces and their members.

use crate::auth::store::{MembershipRow, UserRow, WorkspaceRow, insert_membership, insert_workspace};
use crate::db::DbConn;
use crate::db::schema::{api_tokens, memberships, users, workspaces};
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub fn insert_with_owner(conn: &mut DbConn, workspace: &WorkspaceRow, owner: &MembershipRow) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        insert_workspace(conn, workspace)?;
        insert_membership(conn, owner)
    })
}

pub fn members_of(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<(MembershipRow, UserRow)>> {
    memberships::table
        .inner_join(users::table)
        .filter(memberships::workspace_id.eq(workspace))
        .order(users::email.asc())
        .select((MembershipRow::as_select(), UserRow::as_select()))
        .load(conn)
}

/// Makes the owners of a workspace wait for each other (PostgreSQL; SQLite's write transaction
/// holds the whole database), so two owners demoting each other cannot leave none.
fn lock_owners(conn: &mut DbConn, workspace: &str) -> QueryResult<()> {
    if let DbConn::Postgres(_) = conn {
        diesel::sql_query("SELECT user_id FROM memberships WHERE workspace_id = $1 AND role = 'owner' FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(workspace)
            .execute(conn)?;
    }
    Ok(())
}

/// What became of a change to a membership.
#[derive(Debug, PartialEq, Eq)]
pub enum MemberChange {
    Done,
    NotAMember,
    /// It would leave the workspace without an owner.
    LastOwner,
}

/// Sets a member's role, unless that leaves the workspace without an owner.
pub fn set_role(conn: &mut DbConn, workspace: &str, user: &str, role: &str) -> QueryResult<MemberChange> {
    crate::db::write_transaction(conn, |conn| {
        lock_owners(conn, workspace)?;
        if role != "owner" && is_last_owner(conn, workspace, user)? {
            return Ok(MemberChange::LastOwner);
        }
        let n =
            diesel::update(memberships::table.find((workspace, user))).set(memberships::role.eq(role)).execute(conn)?;
        Ok(if n == 0 { MemberChange::NotAMember } else { MemberChange::Done })
    })
}

/// Removes a member and revokes the API tokens they made for this workspace, unless they are its
/// last owner.
pub fn remove(conn: &mut DbConn, workspace: &str, user: &str, now: NaiveDateTime) -> QueryResult<MemberChange> {
    crate::db::write_transaction(conn, |conn| {
        lock_owners(conn, workspace)?;
        if is_last_owner(conn, workspace, user)? {
            return Ok(MemberChange::LastOwner);
        }
        let n = diesel::delete(memberships::table.find((workspace, user))).execute(conn)?;
        if n == 0 {
            return Ok(MemberChange::NotAMember);
        }
        diesel::update(
            api_tokens::table
                .filter(api_tokens::workspace_id.eq(workspace))
                .filter(api_tokens::created_by.eq(user))
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(now))
        .execute(conn)?;
        Ok(MemberChange::Done)
    })
}

fn is_last_owner(conn: &mut DbConn, workspace: &str, user: &str) -> QueryResult<bool> {
    let owners: Vec<String> = memberships::table
        .filter(memberships::workspace_id.eq(workspace))
        .filter(memberships::role.eq("owner"))
        .select(memberships::user_id)
        .load(conn)?;
    Ok(owners.len() == 1 && owners[0] == user)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<WorkspaceRow>> {
    workspaces::table.find(id).select(WorkspaceRow::as_select()).first(conn).optional()
}
