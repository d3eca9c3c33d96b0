//! The operator's admin area under `/admin`: accounts, workspaces, the instance's settings (and
//! host grants, `crate::grants`). Every page and action refuses anyone but an operator (403).

pub mod accounts;
pub mod service;
pub mod settings;
pub mod store;
pub mod workspaces;

use crate::auth::Account;
use crate::error::AppError;
use crate::web::{Flash, see_other};
use actix_session::Session;
use actix_web::{HttpResponse, web};
use service::AdminError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(home));
    accounts::routes(cfg);
    workspaces::routes(cfg);
    settings::routes(cfg);
}

async fn home(account: Account) -> Result<HttpResponse, AppError> {
    account.require_operator()?;
    Ok(see_other("/admin/accounts"))
}

impl From<AdminError> for AppError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Db(e) => e.into(),
            AdminError::Internal(e) => AppError::Internal(e),
            AdminError::NotFound => AppError::NotFound("Not found".into()),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

/// After a row's action: back to the list with what happened (a refusal as an error notice).
fn back(session: &Session, to: &str, done: Result<String, AdminError>) -> Result<HttpResponse, AppError> {
    match done {
        Ok(message) => Flash::ok(message).set(session),
        Err(AdminError::Refused(message)) => Flash::error(message).set(session),
        Err(AdminError::Invalid(errors)) => {
            Flash::error(errors.iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ")).set(session)
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(to))
}
