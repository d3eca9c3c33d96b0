//! Who is asking: the signed-in user and their role in the current workspace, read from the
//! encrypted session cookie and checked against the database on every request (so a removed
//! member loses access at once).

use super::service::AccountService;
use crate::error::AppError;
use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use std::future::Future;
use std::pin::Pin;

pub const USER_ID: &str = "uid";
pub const WORKSPACE_ID: &str = "wid";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Viewer,
}

impl Role {
    pub const CHOICES: [(&'static str, &'static str); 3] =
        [("owner", "Owner"), ("admin", "Admin"), ("viewer", "Viewer (read-only)")];

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    pub fn can_write(self) -> bool {
        !matches!(self, Role::Viewer)
    }
}

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
        if self.is_operator {
            Ok(())
        } else {
            Err(AppError::Forbidden("Only an instance administrator (operator) can do this.".into()))
        }
    }
}

pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<CurrentUser, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = req.get_session();
        let accounts = req.app_data::<web::Data<AccountService>>().cloned();
        let htmx = is_htmx(req);
        Box::pin(async move {
            let accounts = accounts.ok_or_else(|| AppError::Internal(anyhow::anyhow!("AccountService missing")))?;
            let unauthenticated = AppError::Unauthenticated { htmx };
            let user_id = session.get::<String>(USER_ID).ok().flatten().ok_or(unauthenticated)?;
            let workspace_id = session.get::<String>(WORKSPACE_ID).ok().flatten();
            let Some(mut user) = accounts.current(&user_id, workspace_id.as_deref()).await? else {
                session.purge();
                return Err(AppError::Unauthenticated { htmx });
            };
            if workspace_id.as_deref() != Some(user.workspace_id.as_str()) {
                // The remembered workspace is gone or was never set: remember the one we chose.
                let _ = session.insert(WORKSPACE_ID, &user.workspace_id);
            }
            user.csrf_token = super::csrf::token(&session);
            Ok(user)
        })
    }
}

/// Starts a fresh session for a user who just proved who they are.
pub fn sign_in(session: &Session, user_id: &str, workspace_id: &str) -> Result<(), AppError> {
    session.renew();
    session
        .insert(USER_ID, user_id)
        .and_then(|_| session.insert(WORKSPACE_ID, workspace_id))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing the session: {e}")))?;
    super::csrf::rotate(session);
    Ok(())
}
