//! `/admin/accounts`: every account; create, disable or enable, set a password, make or unmake
//! an operator.

use super::back;
use super::service::{AccountSummary, AdminError, AdminService};
use crate::auth::Account;
use crate::auth::domain::NewAccount;
use crate::auth::html::InputView;
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::web::time::exact;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use secrecy::SecretString;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/accounts", web::get().to(list))
        .route("/admin/accounts", web::post().to(create))
        .route("/admin/accounts/{id}/disable", switch_to(Switch::Disable))
        .route("/admin/accounts/{id}/enable", switch_to(Switch::Enable))
        .route("/admin/accounts/{id}/make-operator", switch_to(Switch::MakeOperator))
        .route("/admin/accounts/{id}/unmake-operator", switch_to(Switch::UnmakeOperator))
        .route("/admin/accounts/{id}/password", web::post().to(set_password));
}

pub struct AccountView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub created: String,
    pub is_operator: bool,
    pub disabled: bool,
    pub is_me: bool,
    pub workspaces: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin/accounts.html")]
struct AccountsPage {
    layout: Layout,
    flash: Option<Flash>,
    accounts: Vec<AccountView>,
    fields: Vec<InputView>,
    operator: bool,
}

async fn page(
    me: &Account,
    service: &AdminService,
    flash: Option<Flash>,
    values: &[(String, String)],
    errors: &FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let accounts = service.accounts().await?;
    let field =
        |name, label, input_type, autocomplete| InputView::new((name, label, input_type, autocomplete), values, errors);
    let view = |a: AccountSummary| AccountView {
        is_me: a.user.id == me.user_id,
        id: a.user.id,
        name: a.user.name,
        email: a.user.email,
        created: exact(a.user.created_at),
        is_operator: a.user.is_operator,
        disabled: a.user.disabled_at.is_some(),
        workspaces: a.workspaces,
    };
    render(
        status,
        &AccountsPage {
            layout: Layout::for_account(me, "admin-accounts"),
            flash,
            accounts: accounts.into_iter().map(view).collect(),
            fields: vec![
                field("name", "Name", "text", "off"),
                field("email", "Email", "email", "off"),
                field("password", "Password (at least 10 characters)", "password", "new-password"),
            ],
            operator: form_value(values, "operator").is_some(),
        },
    )
}

async fn list(me: Account, service: web::Data<AdminService>, session: Session) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    page(&me, &service, Flash::take(&session), &[], &FieldErrors::new(), StatusCode::OK).await
}

async fn create(
    me: Account,
    service: web::Data<AdminService>,
    session: Session,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    let value = |name| form_value(&form, name).unwrap_or_default().to_owned();
    let input =
        NewAccount { name: value("name"), email: value("email"), password: SecretString::from(value("password")) };
    let operator = form_value(&form, "operator").is_some();
    match service.create_account(input, operator).await {
        Ok(_) => {
            tracing::info!(operator = %me.user_id, email = %value("email").trim(), "created an account");
            Flash::ok(format!("Created the account {}.", value("email").trim().to_lowercase())).set(&session);
            Ok(see_other("/admin/accounts"))
        }
        Err(AdminError::Invalid(errors)) => {
            page(&me, &service, None, &form, &errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

/// What a row's buttons switch.
#[derive(Clone, Copy)]
enum Switch {
    Disable,
    Enable,
    MakeOperator,
    UnmakeOperator,
}

/// `POST /admin/accounts/{id}/<switch>`.
fn switch_to(switch: Switch) -> actix_web::Route {
    web::post().to(
        move |me: Account, service: web::Data<AdminService>, session: Session, id: web::Path<String>| async move {
            me.require_operator()?;
            let done = match switch {
                Switch::Disable => service
                    .set_disabled(&me, &id, true)
                    .await
                    .map(|()| "Disabled the account: it is signed out everywhere."),
                Switch::Enable => service.set_disabled(&me, &id, false).await.map(|()| "Enabled the account."),
                Switch::MakeOperator => {
                    service.set_operator(&me, &id, true).await.map(|()| "The account is now an operator.")
                }
                Switch::UnmakeOperator => {
                    service.set_operator(&me, &id, false).await.map(|()| "The account is no longer an operator.")
                }
            };
            back(&session, "/admin/accounts", done.map(str::to_owned))
        },
    )
}

async fn set_password(
    me: Account,
    service: web::Data<AdminService>,
    session: Session,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    let password = SecretString::from(form_value(&form, "password").unwrap_or_default().to_owned());
    let done = service.reset_password(&id, password).await.map(|()| {
        "Set the new password; the account's sessions were signed out. Give its owner the password.".to_owned()
    });
    back(&session, "/admin/accounts", done)
}
