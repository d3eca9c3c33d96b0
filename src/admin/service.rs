//! The operator's rules for the instance: accounts (create, disable, reset a password, make or
//! unmake an operator — never leaving none, never oneself) and workspaces (create with a first
//! owner, rename, delete with everything in it).

use super::store::{self, AccountChange, Deletion};
use crate::auth::domain::{NewAccount, parse_email, parse_workspace_name};
use crate::auth::store::{self as accounts, UserRow};
use crate::auth::{Account, password};
use crate::db::{Db, DbError};
use crate::fields::FieldErrors;
use crate::sessions::SessionService;
use crate::workspaces::service::{WorkspaceError, WorkspaceService};
use chrono::{NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// Not allowed as asked; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error("Not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<WorkspaceError> for AdminError {
    fn from(e: WorkspaceError) -> Self {
        match e {
            WorkspaceError::Invalid(errors) => AdminError::Invalid(errors),
            WorkspaceError::Forbidden(m) | WorkspaceError::Refused(m) => AdminError::Refused(m),
            WorkspaceError::NotFound => AdminError::NotFound,
            WorkspaceError::Db(e) => AdminError::Db(e),
            WorkspaceError::Internal(e) => AdminError::Internal(e),
        }
    }
}

/// An account as the accounts page lists it.
pub struct AccountSummary {
    pub user: UserRow,
    /// (workspace name, role) of each membership.
    pub workspaces: Vec<(String, String)>,
}

/// A workspace as the workspaces page lists it.
pub struct WorkspaceSummary {
    pub id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub owners: Vec<String>,
    pub members: usize,
}

#[derive(Clone)]
pub struct AdminService {
    db: Db,
    workspaces: WorkspaceService,
    sessions: SessionService,
    /// Where each workspace's local default folder lives (`<backups>/<workspace id>/`).
    backups_root: PathBuf,
}

impl AdminService {
    pub fn new(db: Db, workspaces: WorkspaceService, sessions: SessionService, backups_root: PathBuf) -> AdminService {
        AdminService { db, workspaces, sessions, backups_root }
    }

    pub async fn accounts(&self) -> Result<Vec<AccountSummary>, AdminError> {
        let (users, memberships) = self.db.run(|c| Ok((store::all_users(c)?, store::all_memberships(c)?))).await?;
        let mut of_user: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for m in memberships {
            of_user.entry(m.user_id).or_default().push((m.workspace_name, m.role));
        }
        Ok(users
            .into_iter()
            .map(|user| AccountSummary { workspaces: of_user.remove(&user.id).unwrap_or_default(), user })
            .collect())
    }

    /// A new account (an operator when asked); its owner signs in with this password.
    pub async fn create_account(&self, input: NewAccount, operator: bool) -> Result<String, AdminError> {
        let mut errors = FieldErrors::new();
        let Some(valid) = input.parse(&mut errors) else { return Err(AdminError::Invalid(errors)) };
        let hash = password::hash(input.password).await?;
        let user = UserRow::new(valid, hash, operator, Utc::now().naive_utc());
        let id = user.id.clone();
        self.db.write(move |c| accounts::insert_user(c, &user)).await.map_err(|e| match e {
            DbError::Duplicate(_) => {
                AdminError::Invalid(FieldErrors::single("email", "An account with this email already exists."))
            }
            other => other.into(),
        })?;
        Ok(id)
    }

    /// Disables or enables an account; a disabled one is refused on the next request of every
    /// session and token.
    pub async fn set_disabled(&self, actor: &Account, user: &str, disabled: bool) -> Result<(), AdminError> {
        if disabled && actor.user_id == user {
            return Err(AdminError::Refused("You cannot disable your own account.".into()));
        }
        let (uid, at) = (user.to_owned(), disabled.then(|| Utc::now().naive_utc()));
        let change = self.db.write(move |c| store::set_disabled(c, &uid, at)).await?;
        account_change(change)?;
        if disabled {
            // Refused already (the account check fails); removed so nothing is left to resume.
            self.sessions.end_all(user, None).await?;
        }
        Ok(())
    }

    pub async fn set_operator(&self, actor: &Account, user: &str, operator: bool) -> Result<(), AdminError> {
        if !operator && actor.user_id == user {
            return Err(AdminError::Refused("You cannot remove your own operator role.".into()));
        }
        let uid = user.to_owned();
        let change = self.db.write(move |c| store::set_operator(c, &uid, operator)).await?;
        account_change(change)
    }

    /// Sets a new password that the operator gives its owner; the account's sessions end.
    pub async fn reset_password(&self, user: &str, new: SecretString) -> Result<(), AdminError> {
        if let Err(m) = password::check_new(new.expose_secret()) {
            return Err(AdminError::Invalid(FieldErrors::single("password", m)));
        }
        let hash = password::hash(new).await?;
        let uid = user.to_owned();
        if !self.db.write(move |c| accounts::set_password_hash(c, &uid, &hash)).await? {
            return Err(AdminError::NotFound);
        }
        self.sessions.end_all(user, None).await?;
        Ok(())
    }

    pub async fn workspaces(&self) -> Result<Vec<WorkspaceSummary>, AdminError> {
        let (workspaces, memberships) =
            self.db.run(|c| Ok((store::all_workspaces(c)?, store::all_memberships(c)?))).await?;
        let mut members: BTreeMap<String, (Vec<String>, usize)> = BTreeMap::new();
        for m in memberships {
            let entry = members.entry(m.workspace_id).or_default();
            entry.1 += 1;
            if m.role == "owner" {
                entry.0.push(m.email);
            }
        }
        Ok(workspaces
            .into_iter()
            .map(|w| {
                let (owners, members) = members.remove(&w.id).unwrap_or_default();
                WorkspaceSummary { id: w.id, name: w.name, created_at: w.created_at, owners, members }
            })
            .collect())
    }

    /// A new workspace whose first owner is the account with `owner_email`.
    pub async fn create_workspace(&self, name: &str, owner_email: &str) -> Result<String, AdminError> {
        let mut errors = FieldErrors::new();
        let name = parse_workspace_name(name).map_err(|m| errors.add("workspace", m)).ok();
        let email = parse_email(owner_email).map_err(|m| errors.add("owner", m)).ok();
        let owner = match email {
            Some(email) => self.db.run(move |c| accounts::find_user_by_email(c, &email)).await?,
            None => None,
        };
        if owner.is_none() && errors.get("owner").is_none() {
            errors.add("owner", "No account has this email; create the account first.");
        }
        let (Some(name), Some(owner)) = (name, owner) else { return Err(AdminError::Invalid(errors)) };
        Ok(self.workspaces.create(&name, &owner.id).await?)
    }

    pub async fn workspace(&self, id: &str) -> Result<crate::auth::store::WorkspaceRow, AdminError> {
        let id = id.to_owned();
        self.db.run(move |c| crate::workspaces::store::find(c, &id)).await?.ok_or(AdminError::NotFound)
    }

    pub async fn rename_workspace(&self, id: &str, name: &str) -> Result<(), AdminError> {
        let name = parse_workspace_name(name).map_err(|m| AdminError::Invalid(FieldErrors::single("workspace", m)))?;
        let id = id.to_owned();
        if self.db.write(move |c| store::rename_workspace(c, &id, &name)).await? {
            Ok(())
        } else {
            Err(AdminError::NotFound)
        }
    }

    /// Deletes a workspace with everything in it, once its name was typed to confirm; then its
    /// local default folder. Backups it stored at its destinations stay where they are. Returns
    /// its name, and what went wrong removing its folder, if anything did.
    pub async fn delete_workspace(&self, id: &str, confirmation: &str) -> Result<(String, Option<String>), AdminError> {
        let workspace = self.workspace(id).await?;
        if confirmation.trim() != workspace.name {
            return Err(AdminError::Invalid(FieldErrors::single(
                "confirm",
                format!("Type the workspace's name, “{}”, to delete it.", workspace.name),
            )));
        }
        let wid = workspace.id.clone();
        match self.db.write(move |c| store::delete_workspace(c, &wid)).await? {
            Deletion::Done => {}
            Deletion::NotFound => return Err(AdminError::NotFound),
            Deletion::Busy => {
                return Err(AdminError::Refused(
                    "A backup of this workspace is running; delete it once the run has ended.".into(),
                ));
            }
        }
        let leftover = self.remove_local_folder(&workspace.id).err();
        Ok((workspace.name, leftover))
    }

    /// `<backups>/<workspace id>/`, if there is one; a symlink there is removed, not followed.
    fn remove_local_folder(&self, id: &str) -> Result<(), String> {
        // Ids are UUIDs; anything else never becomes part of a path.
        let id = uuid::Uuid::parse_str(id).map_err(|e| format!("the workspace id {id:?} is not a UUID: {e}"))?;
        let folder = self.backups_root.join(id.to_string());
        let removed = match std::fs::symlink_metadata(&folder) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => Err(e),
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&folder),
            Ok(_) => std::fs::remove_file(&folder),
        };
        match removed {
            Ok(()) => {
                tracing::info!(folder = %folder.display(), "removed a deleted workspace's local folder");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(folder = %folder.display(), error = %e, "could not remove a deleted workspace's folder");
                Err(format!("its folder {} could not be removed: {e}", folder.display()))
            }
        }
    }
}

fn account_change(change: AccountChange) -> Result<(), AdminError> {
    match change {
        AccountChange::Done => Ok(()),
        AccountChange::NotFound => Err(AdminError::NotFound),
        AccountChange::LastOperator => Err(AdminError::Refused(
            "This is the last enabled operator: make another account an operator first.".into(),
        )),
    }
}
