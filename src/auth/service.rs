//! Accounts: first-run setup, sign-in with rate limiting, and who a session belongs to.

use super::domain::{NewAccount, parse_person_name, parse_workspace_name};
use super::identity::{Account, CurrentUser};
use super::limits::{Admission, SignInLimits};
use super::password;
use super::role::Role;
use super::store::{self, MembershipRow, UserRow, WorkspaceRow};
use crate::db::memo::Memo;
use crate::db::{Db, DbError};
use crate::fields::FieldErrors;
use crate::sessions::SessionService;
use chrono::Utc;
use diesel::OptionalExtension;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("Setup is already done; sign in instead.")]
    AlreadySetUp,
    #[error("The email or password is wrong.")]
    BadCredentials,
    #[error("This account is disabled. Ask the server's administrator.")]
    Disabled,
    #[error("Too many failed sign-in attempts. Try again in {}.", in_words(*.0))]
    RateLimited(std::time::Duration),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Who a session belongs to: the person, and their role in the workspace they are in (if any).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub is_operator: bool,
    /// (workspace id, its name, the person's role there).
    pub workspace: Option<(String, String, Role)>,
}

impl SignedIn {
    pub fn account(self, csrf_token: String, session_id: String) -> Account {
        let current = self.workspace.map(|(workspace_id, workspace_name, role)| CurrentUser {
            user_id: self.user_id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            workspace_id,
            workspace_name,
            role,
            is_operator: self.is_operator,
            csrf_token: csrf_token.clone(),
        });
        Account {
            user_id: self.user_id,
            email: self.email,
            name: self.name,
            is_operator: self.is_operator,
            current,
            csrf_token,
            session_id,
        }
    }
}

/// "5 seconds", "3 minutes".
fn in_words(wait: std::time::Duration) -> String {
    let secs = wait.as_secs_f64().ceil() as u64;
    if secs < 120 { format!("{secs} seconds") } else { format!("{} minutes", secs.div_ceil(60)) }
}

#[derive(Clone)]
pub struct AccountService {
    db: Db,
    sessions: SessionService,
    limits: SignInLimits,
    /// Who a session or token is, by (user, requested workspace): read on every request.
    signed_in: Arc<SignedInMemo>,
}

/// (user, requested workspace) → the person and their workspace, or None for no one.
type SignedInMemo = Memo<(String, Option<String>), Option<SignedIn>>;

/// Signed-in users kept in memory (a few hundred bytes each).
const CACHED_USERS: usize = 4096;

impl AccountService {
    pub fn new(db: Db, sessions: SessionService, sign_in_delay: std::time::Duration) -> AccountService {
        let limits = SignInLimits::new(db.clone(), sign_in_delay);
        AccountService { db, sessions, limits, signed_in: Arc::new(Memo::new(CACHED_USERS)) }
    }

    pub async fn needs_setup(&self) -> Result<bool, AccountError> {
        Ok(self.db.run(store::user_count).await? == 0)
    }

    /// First run: the first operator and their workspace (they own it), only while no user exists.
    pub async fn setup(&self, account: NewAccount, workspace: &str) -> Result<(String, String), AccountError> {
        let mut errors = FieldErrors::new();
        let parsed = account.parse(&mut errors);
        let workspace_name = parse_workspace_name(workspace).map_err(|m| errors.add("workspace", m)).ok();
        let (Some(valid), Some(workspace_name)) = (parsed, workspace_name) else {
            return Err(AccountError::Invalid(errors));
        };
        let hash = password::hash(account.password).await?;
        let now = Utc::now().naive_utc();
        // The account made on the setup page runs the server: it is the first operator.
        let user = UserRow::new(valid, hash, true, now);
        let ws = WorkspaceRow { id: uuid::Uuid::new_v4().to_string(), name: workspace_name, created_at: now };
        let owner = MembershipRow::new(&ws.id, &user.id, Role::Owner, now);
        let ids = (user.id.clone(), ws.id.clone());
        let created = self.db.write(move |c| store::insert_first_owner(c, &user, &ws, &owner)).await?;
        if created { Ok(ids) } else { Err(AccountError::AlreadySetUp) }
    }

    /// Checks email and password within the sign-in limits (see `limits`) of this account from this
    /// client address. Returns (user id, the workspace to open, if they have one).
    pub async fn sign_in(
        &self,
        email: &str,
        password: SecretString,
        ip: &str,
    ) -> Result<(String, Option<String>), AccountError> {
        let email = email.trim().to_lowercase();
        let e = email.clone();
        let user = self.check_password(&email, ip, password, move |c| store::find_user_by_email(c, &e)).await?;
        if user.disabled_at.is_some() {
            return Err(AccountError::Disabled);
        }
        let uid = user.id.clone();
        let workspaces = self.db.run(move |c| store::workspaces_of(c, &uid)).await?;
        Ok((user.id, workspaces.into_iter().next().map(|(m, _)| m.workspace_id)))
    }

    /// Checks a password of the account `find` reads, once the limits admit the attempt; an
    /// unknown account takes as long as a wrong password (a dummy hash is checked).
    async fn check_password(
        &self,
        email: &str,
        ip: &str,
        password: SecretString,
        find: impl FnOnce(&mut crate::db::DbConn) -> diesel::QueryResult<Option<UserRow>> + Send + 'static,
    ) -> Result<UserRow, AccountError> {
        let attempt = match self.limits.admit(email, ip).await? {
            Admission::Check(attempt) => attempt,
            Admission::Wait(wait) => return Err(AccountError::RateLimited(wait)),
        };
        let user = self.db.run(find).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| password::DUMMY_HASH.to_owned());
        let valid = password::verify(hash, password).await;
        match user.filter(|_| valid) {
            Some(user) => {
                self.limits.succeeded(attempt).await?;
                Ok(user)
            }
            None => {
                self.limits.failed(attempt).await?;
                Err(AccountError::BadCredentials)
            }
        }
    }

    /// Checks the signed-in person's own password again before something sensitive (exporting a
    /// recovery key), within the same limits as a sign-in.
    pub async fn confirm_password(
        &self,
        user_id: &str,
        email: &str,
        ip: &str,
        password: SecretString,
    ) -> Result<(), AccountError> {
        let uid = user_id.to_owned();
        self.check_password(email, ip, password, move |c| store::find_user(c, &uid).optional()).await.map(|_| ())
    }

    /// The user in the requested workspace, or in their first workspace when they are not a
    /// member of it (any more); no workspace when they belong to none. None when the user no
    /// longer exists or is disabled. Kept in memory while the database is unchanged, so a removed
    /// member still loses access with the commit that removes them.
    pub async fn signed_in(&self, user_id: &str, workspace_id: Option<&str>) -> Result<Option<SignedIn>, DbError> {
        let key = (user_id.to_owned(), workspace_id.map(str::to_owned));
        let found = self.signed_in.get_or_load(self.db.versions(), key.clone(), || self.load(key)).await?;
        Ok(Option::clone(&found))
    }

    /// A new name for one's own account.
    pub async fn rename(&self, user_id: &str, name: &str) -> Result<(), AccountError> {
        let name = parse_person_name(name).map_err(|m| AccountError::Invalid(FieldErrors::single("name", m)))?;
        let uid = user_id.to_owned();
        self.db.write(move |c| store::set_name(c, &uid, &name)).await?;
        Ok(())
    }

    /// Changes one's own password, which takes the current one; every other session of the
    /// account ends (browsers and API JWTs alike). Returns how many ended.
    /// The current password is checked within the sign-in limits, like a sign-in.
    pub async fn change_password(
        &self,
        account: &Account,
        ip: &str,
        current: SecretString,
        new: SecretString,
    ) -> Result<usize, AccountError> {
        let (user_id, session_id) = (account.user_id.as_str(), account.session_id.as_str());
        let mut errors = FieldErrors::new();
        if let Err(m) = password::check_new(new.expose_secret()) {
            errors.add("password", m);
        }
        let uid = user_id.to_owned();
        match self.check_password(&account.email, ip, current, move |c| store::find_user(c, &uid).optional()).await {
            Ok(_) => {}
            Err(AccountError::BadCredentials) => errors.add("current", "This is not your current password."),
            Err(AccountError::RateLimited(wait)) => {
                errors.add("current", AccountError::RateLimited(wait).to_string());
            }
            Err(e) => return Err(e),
        }
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        let hash = password::hash(new).await?;
        let uid = user_id.to_owned();
        self.db.write(move |c| store::set_password_hash(c, &uid, &hash)).await?;
        Ok(self.sessions.end_all(user_id, Some(session_id)).await?)
    }

    /// The user in a workspace (see [`signed_in`](Self::signed_in)); None without one.
    pub async fn current(&self, user_id: &str, workspace_id: Option<&str>) -> Result<Option<CurrentUser>, DbError> {
        Ok(self.signed_in(user_id, workspace_id).await?.and_then(|s| s.account(String::new(), String::new()).current))
    }

    async fn load(&self, (uid, wid): (String, Option<String>)) -> Result<Option<SignedIn>, DbError> {
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
                Ok(Some(SignedIn {
                    user_id: user.id,
                    email: user.email,
                    name: user.name,
                    is_operator: user.is_operator,
                    workspace: found.map(|(m, ws)| (ws.id, ws.name, Role::parse(&m.role).unwrap_or(Role::Viewer))),
                }))
            })
            .await
    }
}
