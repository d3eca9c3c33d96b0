//! Workspaces as their members see them: the ones a person belongs to, starting one, members and
//! their roles. Operators manage every workspace in the admin area (`crate::admin`).

use super::store::{self, MemberChange};
use crate::auth::domain::parse_workspace_name;
use crate::auth::store::{self as accounts, MembershipRow, WorkspaceRow};
use crate::auth::{Account, CurrentUser, Role};
use crate::db::{Db, DbError};
use crate::fields::FieldErrors;
use chrono::Utc;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Refused(String),
    #[error("Not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct WorkspaceSummary {
    pub id: String,
    pub name: String,
    pub role: Role,
}

#[derive(Clone)]
pub struct WorkspaceService {
    db: Db,
    /// `DEVPILOT_ALLOW_WORKSPACE_CREATION`: every account may start workspaces, not only operators.
    anyone_creates: bool,
}

impl WorkspaceService {
    pub fn new(db: Db, anyone_creates: bool) -> WorkspaceService {
        WorkspaceService { db, anyone_creates }
    }

    pub fn may_create(&self, account: &Account) -> bool {
        account.is_operator || self.anyone_creates
    }

    pub async fn of_user(&self, user_id: &str) -> Result<Vec<WorkspaceSummary>, DbError> {
        let uid = user_id.to_owned();
        let rows = self.db.run(move |c| accounts::workspaces_of(c, &uid)).await?;
        Ok(rows
            .into_iter()
            .map(|(m, w)| WorkspaceSummary {
                id: w.id,
                name: w.name,
                role: Role::parse(&m.role).unwrap_or(Role::Viewer),
            })
            .collect())
    }

    pub async fn is_member(&self, user_id: &str, workspace_id: &str) -> Result<bool, DbError> {
        let (uid, wid) = (user_id.to_owned(), workspace_id.to_owned());
        Ok(self.db.run(move |c| accounts::membership(c, &wid, &uid)).await?.is_some())
    }

    /// A workspace of the account's own (they own it), when they may start one.
    pub async fn create_own(&self, account: &Account, name: &str) -> Result<String, WorkspaceError> {
        if !self.may_create(account) {
            return Err(WorkspaceError::Forbidden(
                "Only an instance administrator can create workspaces on this server.".into(),
            ));
        }
        self.create(name, &account.user_id).await
    }

    /// A new workspace with its first owner (an existing account).
    pub async fn create(&self, name: &str, owner_id: &str) -> Result<String, WorkspaceError> {
        let name =
            parse_workspace_name(name).map_err(|m| WorkspaceError::Invalid(FieldErrors::single("workspace", m)))?;
        let now = Utc::now().naive_utc();
        let ws = WorkspaceRow { id: uuid::Uuid::new_v4().to_string(), name, created_at: now };
        let owner = MembershipRow::new(&ws.id, owner_id, Role::Owner, now);
        let id = ws.id.clone();
        self.db.write(move |c| store::insert_with_owner(c, &ws, &owner)).await?;
        Ok(id)
    }

    pub async fn members(&self, workspace_id: &str) -> Result<Vec<Member>, DbError> {
        let wid = workspace_id.to_owned();
        let rows = self.db.run(move |c| store::members_of(c, &wid)).await?;
        Ok(rows
            .into_iter()
            .map(|(m, u)| Member {
                user_id: u.id,
                name: u.name,
                email: u.email,
                role: Role::parse(&m.role).unwrap_or(Role::Viewer),
            })
            .collect())
    }

    /// An owner changes a member's role (their own too, while another owner remains).
    pub async fn change_role(&self, owner: &CurrentUser, member: &str, role: &str) -> Result<(), WorkspaceError> {
        let Some(role) = Role::parse(role) else {
            // Someone else's member is not found, whatever the form holds.
            if !self.is_member(member, &owner.workspace_id).await? {
                return Err(WorkspaceError::NotFound);
            }
            let choose = "Choose a role: owner, admin or viewer.";
            return Err(WorkspaceError::Invalid(FieldErrors::single("role", choose)));
        };
        let (wid, uid) = (owner.workspace_id.clone(), member.to_owned());
        let change = self.db.write(move |c| store::set_role(c, &wid, &uid, role.as_str())).await?;
        outcome(change, "demote")
    }

    /// An owner removes a member (themselves too, while another owner remains); their sessions
    /// lose the workspace on their next request, and their API tokens for it are revoked.
    pub async fn remove_member(&self, owner: &CurrentUser, member: &str) -> Result<(), WorkspaceError> {
        let (wid, uid, now) = (owner.workspace_id.clone(), member.to_owned(), Utc::now().naive_utc());
        let change = self.db.write(move |c| store::remove(c, &wid, &uid, now)).await?;
        outcome(change, "remove")
    }
}

fn outcome(change: MemberChange, verb: &str) -> Result<(), WorkspaceError> {
    match change {
        MemberChange::Done => Ok(()),
        MemberChange::NotAMember => Err(WorkspaceError::NotFound),
        MemberChange::LastOwner => Err(WorkspaceError::Refused(format!(
            "A workspace needs an owner: make someone else an owner before you {verb} the last one."
        ))),
    }
}
