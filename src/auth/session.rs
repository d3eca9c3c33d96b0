//! Who is asking: the signed-in person (an [`Account`]) and, inside a workspace, their role there
//! (a [`CurrentUser`]), read from the session cookie and checked against the database on every
//! request (so a removed member or a disabled account loses access at once).

use super::service::{AccountService, SignedIn};
use crate::error::AppError;
use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use std::future::Future;
use std::pin::Pin;

pub use super::role::Role;

pub const USER_ID: &str = "uid";
pub const WORKSPACE_ID: &str = "wid";

/// The signed-in user in their current workspace.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub workspace_id: String,
    pub workspace_name: String,
    pub role: Role,
    /// An instance administrator (see `AccountService::setup`): the admin area is theirs. Being
    /// one gives no role inside a workspace.
    pub is_operator: bool,
    pub csrf_token: String,
}

impl CurrentUser {
    /// Viewers see but cannot change.
    pub fn require_write(&self) -> Result<(), AppError> {
        if self.role.can_write() {
            Ok(())
        } else {
            Err(AppError::Forbidden("Viewers can look but not change anything in this workspace.".into()))
        }
    }

    pub fn can_write(&self) -> bool {
        self.role.can_write()
    }

    /// Only operators run the server: the admin area, host grants, other accounts.
    pub fn require_operator(&self) -> Result<(), AppError> {
        require_operator(self.is_operator)
    }

    /// Only a workspace's owners manage its members.
    pub fn require_owner(&self) -> Result<(), AppError> {
        if self.role == Role::Owner {
            Ok(())
        } else {
            Err(AppError::Forbidden("Only an owner of this workspace can do this.".into()))
        }
    }
}

fn require_operator(is_operator: bool) -> Result<(), AppError> {
    if is_operator {
        Ok(())
    } else {
        Err(AppError::Forbidden("Only an instance administrator (operator) can do this.".into()))
    }
}

/// The signed-in person, in a workspace or in none (an account no workspace has invited yet, an
/// operator who runs the server without belonging to one): their own pages and the admin area.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub is_operator: bool,
    /// Their current workspace, when they have one.
    pub current: Option<CurrentUser>,
    pub csrf_token: String,
}

impl Account {
    pub fn require_operator(&self) -> Result<(), AppError> {
        require_operator(self.is_operator)
    }
}

pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// The signed-in person behind this request's session, or Unauthenticated.
async fn signed_in(req: &HttpRequest) -> Result<(SignedIn, Session), AppError> {
    let session = req.get_session();
    let htmx = is_htmx(req);
    let accounts = req
        .app_data::<web::Data<AccountService>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("AccountService missing")))?;
    let user_id = session.get::<String>(USER_ID).ok().flatten().ok_or(AppError::Unauthenticated { htmx })?;
    let workspace_id = session.get::<String>(WORKSPACE_ID).ok().flatten();
    let Some(found) = accounts.signed_in(&user_id, workspace_id.as_deref()).await? else {
        session.purge();
        return Err(AppError::Unauthenticated { htmx });
    };
    if let Some(ws) = &found.workspace
        && workspace_id.as_deref() != Some(ws.0.as_str())
    {
        // The remembered workspace is gone or was never set: remember the one we chose.
        let _ = session.insert(WORKSPACE_ID, &ws.0);
    }
    Ok((found, session))
}

impl FromRequest for Account {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Account, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (found, session) = signed_in(&req).await?;
            let csrf_token = super::csrf::token(&session);
            Ok(found.account(csrf_token))
        })
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<CurrentUser, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (found, session) = signed_in(&req).await?;
            let csrf_token = super::csrf::token(&session);
            // Signed in, but in no workspace: the workspaces page says so.
            found.account(csrf_token).current.ok_or(AppError::NoWorkspace { htmx: is_htmx(&req) })
        })
    }
}

/// Starts a fresh session for a user who just proved who they are.
pub fn sign_in(session: &Session, user_id: &str, workspace_id: Option<&str>) -> Result<(), AppError> {
    session.renew();
    session.insert(USER_ID, user_id).map_err(|e| AppError::Internal(anyhow::anyhow!("writing the session: {e}")))?;
    if let Some(workspace_id) = workspace_id {
        switch_workspace(session, workspace_id)?;
    }
    super::csrf::rotate(session);
    Ok(())
}

/// Makes `workspace_id` the session's current workspace (membership is checked on each request).
pub fn switch_workspace(session: &Session, workspace_id: &str) -> Result<(), AppError> {
    session
        .insert(WORKSPACE_ID, workspace_id)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing the session: {e}")))
}
