//! `/account`: one's name, and a new password (the current one first; every other session ends).

use crate::auth::Account;
use crate::auth::service::{AccountError, AccountService};
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use secrecy::SecretString;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account", web::get().to(page))
        .route("/account/name", web::post().to(rename))
        .route("/account/password", web::post().to(change_password));
    super::sessions::routes(cfg);
}

#[derive(Template)]
#[template(path = "account/profile.html")]
struct ProfilePage {
    layout: Layout,
    flash: Option<Flash>,
    email: String,
    name: String,
    errors: FieldErrors,
}

fn profile(
    account: &Account,
    flash: Option<Flash>,
    name: Option<&str>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    render(
        status,
        &ProfilePage {
            layout: Layout::for_account(account, "account"),
            flash,
            email: account.email.clone(),
            name: name.unwrap_or(&account.name).to_owned(),
            errors,
        },
    )
}

async fn page(account: Account, session: Session) -> Result<HttpResponse, AppError> {
    profile(&account, Flash::take(&session), None, FieldErrors::new(), StatusCode::OK)
}

async fn rename(
    account: Account,
    accounts: web::Data<AccountService>,
    session: Session,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let name = form_value(&form, "name").unwrap_or_default();
    match accounts.rename(&account.user_id, name).await {
        Ok(()) => {
            Flash::ok("Saved your name.").set(&session);
            Ok(see_other("/account"))
        }
        Err(AccountError::Invalid(errors)) => {
            profile(&account, None, Some(name), errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}

async fn change_password(
    req: actix_web::HttpRequest,
    account: Account,
    accounts: web::Data<AccountService>,
    session: Session,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let secret = |name| SecretString::from(form_value(&form, name).unwrap_or_default().to_owned());
    let ip = crate::web::client::address(&req);
    match accounts.change_password(&account, &ip, secret("current"), secret("password")).await {
        Ok(ended) => {
            let others = match ended {
                0 => String::new(),
                1 => " Your other session was signed out.".into(),
                n => format!(" Your {n} other sessions were signed out."),
            };
            Flash::ok(format!("Changed your password.{others}")).set(&session);
            Ok(see_other("/account"))
        }
        Err(AccountError::Invalid(errors)) => profile(&account, None, None, errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => Err(e.into()),
    }
}
