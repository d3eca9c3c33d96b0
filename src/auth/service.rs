//! Accounts and workspaces: first-run setup, sign-in with rate limiting, members.

use super::password;
use super::session::{CurrentUser, Role};
use super::store::{self, MembershipRow, UserRow, WorkspaceRow};
use crate::db::memo::Memo;
use crate::db::{Db, DbError};
use crate::destinations::fields::FieldErrors;
use chrono::{Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

/// Sign-in failures allowed per account, and per client address, within the window.
const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
const MAX_FAILURES_PER_IP: i64 = 20;
const FAILURE_WINDOW_MINUTES: i64 = 15;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("Setup is already done; sign in instead.")]
    AlreadySetUp,
    #[error("The email or password is wrong.")]
    BadCredentials,
    #[error("Too many failed sign-in attempts. Try again in {0} minutes.")]
    RateLimited(i64),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// A new account as typed into the setup or members form.
pub struct NewAccount {
    pub name: String,
    pub email: String,
    pub password: SecretString,
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
pub struct AccountService {
    db: Db,
    /// Who a session or token is, by (user, requested workspace): read on every request.
    signed_in: Arc<SignedIn>,
}

/// (user, requested workspace) → the user in that workspace, or None for no one.
type SignedIn = Memo<(String, Option<String>), Option<CurrentUser>>;

/// Signed-in users kept in memory (a few hundred bytes each).
const CACHED_USERS: usize = 4096;

fn parse_account(input: &NewAccount, errors: &mut FieldErrors) -> Option<(String, String)> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "Name is required (at most 100 characters).");
    }
    let email = input.email.trim().to_lowercase();
    let valid_email = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if !valid_email {
        errors.add("email", "Enter a valid email address, like admin@example.com.");
    }
    if let Err(m) = password::check_new(input.password.expose_secret()) {
        errors.add("password", m);
    }
    errors.is_empty().then(|| (name.to_owned(), email))
}

fn parse_workspace_name(name: &str, errors: &mut FieldErrors) -> String {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("workspace", "Workspace name is required (at most 100 characters).");
    }
    name.to_owned()
}

impl AccountService {
    pub fn new(db: Db) -> AccountService {
        AccountService { db, signed_in: Arc::new(Memo::new(CACHED_USERS)) }
    }

    pub async fn needs_setup(&self) -> Result<bool, AccountError> {
        Ok(self.db.run(store::user_count).await? == 0)
    }

    /// First run: the first admin (owner) and their workspace, only while no user exists.
    pub async fn setup(&self, account: NewAccount, workspace: &str) -> Result<(String, String), AccountError> {
        let mut errors = FieldErrors::new();
        let parsed = parse_account(&account, &mut errors);
        let workspace_name = parse_workspace_name(workspace, &mut errors);
        let Some((name, email)) = parsed.filter(|_| errors.is_empty()) else {
            return Err(AccountError::Invalid(errors));
        };
        let hash = password::hash(account.password).await?;
        let now = Utc::now().naive_utc();
        // The account made on the setup page runs the server: it is the first operator.
        let user = UserRow {
            id: uuid::Uuid::new_v4().to_string(),
            email,
            name,
            password_hash: hash,
            created_at: now,
            is_operator: true,
            disabled_at: None,
        };
        let ws = WorkspaceRow { id: uuid::Uuid::new_v4().to_string(), name: workspace_name, created_at: now };
        let ids = (user.id.clone(), ws.id.clone());
        let created = self
            .db
            .write(move |c| {
                let owner = MembershipRow {
                    workspace_id: ws.id.clone(),
                    user_id: user.id.clone(),
                    role: "owner".into(),
                    created_at: now,
                };
                store::insert_first_owner(c, &user, &ws, &owner)
            })
            .await?;
        if created { Ok(ids) } else { Err(AccountError::AlreadySetUp) }
    }

    /// Checks email and password, counting failures per account and per client address.
    /// Returns (user id, workspace id to open).
    pub async fn sign_in(
        &self,
        email: &str,
        password: SecretString,
        ip: &str,
    ) -> Result<(String, String), AccountError> {
        let email = email.trim().to_lowercase();
        let now = Utc::now().naive_utc();
        let since = now - Duration::minutes(FAILURE_WINDOW_MINUTES);
        let (e, i) = (email.clone(), ip.to_owned());
        let (by_email, by_ip) = self.db.run(move |c| store::login_failures_since(c, &e, &i, since)).await?;
        if by_email >= MAX_FAILURES_PER_ACCOUNT || by_ip >= MAX_FAILURES_PER_IP {
            return Err(AccountError::RateLimited(FAILURE_WINDOW_MINUTES));
        }
        let e = email.clone();
        let user = self.db.run(move |c| store::find_user_by_email(c, &e)).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| password::DUMMY_HASH.to_owned());
        let valid = password::verify(hash, password).await && user.is_some();
        let (e, i) = (email.clone(), ip.to_owned());
        let Some(user) = user.filter(|_| valid) else {
            self.db.run(move |c| store::record_login_failure(c, &e, &i, now)).await?;
            return Err(AccountError::BadCredentials);
        };
        let uid = user.id.clone();
        let workspaces = self.db.run(move |c| store::workspaces_of(c, &uid)).await?;
        let Some((membership, _)) = workspaces.into_iter().next() else {
            return Err(AccountError::BadCredentials);
        };
        self.db.run(move |c| store::clear_login_failures(c, &e, since)).await?;
        Ok((user.id, membership.workspace_id))
    }

    /// The user in the requested workspace, or in their first workspace when they are not a
    /// member of it (any more). None when the user no longer exists or has no workspace.
    /// Kept in memory while the database is unchanged, so a removed member still loses access
    /// with the commit that removes them.
    pub async fn current(&self, user_id: &str, workspace_id: Option<&str>) -> Result<Option<CurrentUser>, DbError> {
        let key = (user_id.to_owned(), workspace_id.map(str::to_owned));
        let found = self.signed_in.get_or_load(self.db.versions(), key.clone(), || self.load_current(key)).await?;
        Ok(Option::clone(&found))
    }

    async fn load_current(&self, (uid, wid): (String, Option<String>)) -> Result<Option<CurrentUser>, DbError> {
        self.db
            .run(move |c| {
                let user = match store::find_user(c, &uid) {
                    Ok(u) if u.disabled_at.is_some() => return Ok(None),
                    Ok(u) => u,
                    Err(diesel::result::Error::NotFound) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let found = match wid {
                    Some(w) => store::membership(c, &w, &uid)?,
                    None => None,
                };
                let found = match found {
                    Some(f) => Some(f),
                    None => store::workspaces_of(c, &uid)?.into_iter().next(),
                };
                Ok(found.map(|(m, ws)| CurrentUser {
                    user_id: user.id,
                    email: user.email,
                    name: user.name,
                    workspace_id: ws.id,
                    workspace_name: ws.name,
                    role: Role::parse(&m.role).unwrap_or(Role::Viewer),
                    is_operator: user.is_operator,
                    csrf_token: String::new(),
                }))
            })
            .await
    }

    pub async fn workspaces(&self, user_id: &str) -> Result<Vec<WorkspaceSummary>, DbError> {
        let uid = user_id.to_owned();
        let rows = self.db.run(move |c| store::workspaces_of(c, &uid)).await?;
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
        Ok(self.db.run(move |c| store::membership(c, &wid, &uid)).await?.is_some())
    }

    /// Any user may start a workspace of their own; they become its owner.
    pub async fn create_workspace(&self, user_id: &str, name: &str) -> Result<String, AccountError> {
        let mut errors = FieldErrors::new();
        let name = parse_workspace_name(name, &mut errors);
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        let now = Utc::now().naive_utc();
        let ws = WorkspaceRow { id: uuid::Uuid::new_v4().to_string(), name, created_at: now };
        let membership = MembershipRow {
            workspace_id: ws.id.clone(),
            user_id: user_id.to_owned(),
            role: "owner".into(),
            created_at: now,
        };
        let id = ws.id.clone();
        self.db.write(move |c| store::insert_workspace_with_owner(c, &ws, &membership)).await?;
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

    /// Adds a member: a new account with the given password, or an existing account by email
    /// (whose password is left as it is).
    pub async fn add_member(&self, workspace_id: &str, account: NewAccount, role: &str) -> Result<(), AccountError> {
        let mut errors = FieldErrors::new();
        let role = Role::parse(role);
        if role.is_none() {
            errors.add("role", "Choose a role: owner, admin or viewer.");
        }
        let email = account.email.trim().to_lowercase();
        let e = email.clone();
        let existing = self.db.run(move |c| store::find_user_by_email(c, &e)).await?;
        let now = Utc::now().naive_utc();
        let user = match existing {
            Some(user) => {
                if self.is_member(&user.id, workspace_id).await? {
                    errors.add("email", "This person is already a member of the workspace.");
                }
                (user, false)
            }
            None => {
                let parsed = parse_account(&account, &mut errors);
                let Some((name, email)) = parsed.filter(|_| errors.is_empty()) else {
                    return Err(AccountError::Invalid(errors));
                };
                let hash = password::hash(account.password).await?;
                (
                    UserRow {
                        id: uuid::Uuid::new_v4().to_string(),
                        email,
                        name,
                        password_hash: hash,
                        created_at: now,
                        is_operator: false,
                        disabled_at: None,
                    },
                    true,
                )
            }
        };
        let (Some(role), true) = (role, errors.is_empty()) else {
            return Err(AccountError::Invalid(errors));
        };
        let (user, is_new) = user;
        let membership = MembershipRow {
            workspace_id: workspace_id.to_owned(),
            user_id: user.id.clone(),
            role: role.as_str().into(),
            created_at: now,
        };
        self.db.write(move |c| store::insert_member(c, is_new.then_some(&user), &membership)).await.map_err(
            |e| match e {
                DbError::Duplicate(_) => {
                    AccountError::Invalid(FieldErrors::single("email", "An account with this email already exists."))
                }
                other => other.into(),
            },
        )?;
        Ok(())
    }
}
