//! Who is asking: the signed-in person (an [`Account`]) and, inside a workspace, their role there
//! (a [`CurrentUser`]), with the checks handlers make before they act. How a request proves it is
//! `session` (browser) and `api::auth` (bearer tokens).

use super::role::Role;
use crate::error::AppError;

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
    /// The id of this request's session (see `crate::sessions`).
    pub session_id: String,
}

impl Account {
    pub fn require_operator(&self) -> Result<(), AppError> {
        require_operator(self.is_operator)
    }
}
