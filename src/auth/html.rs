//! First-run setup, sign-in and sign-out pages.

use super::domain::NewAccount;
use super::identity::Account;
use super::service::{AccountError, AccountService};
use super::session;
use crate::error::AppError;
use crate::sessions::SessionService;
use crate::web::{Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::SecretString;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/setup", web::get().to(setup_form))
        .route("/setup", web::post().to(setup))
        .route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout));
}

impl From<AccountError> for AppError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Db(e) => e.into(),
            AccountError::Internal(e) => AppError::Internal(e),
            AccountError::RateLimited(_) => AppError::TooManyRequests(e.to_string()),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

async fn home(accounts: web::Data<AccountService>, session: Session) -> Result<HttpResponse, AppError> {
    if accounts.needs_setup().await? {
        return Ok(see_other("/setup"));
    }
    let signed_in = session::has_token(&session);
    Ok(see_other(if signed_in { "/overview" } else { "/login" }))
}

pub struct InputView {
    pub name: &'static str,
    pub label: &'static str,
    pub input_type: &'static str,
    pub autocomplete: &'static str,
    pub value: String,
    pub error: Option<String>,
}

impl InputView {
    /// A field as typed (a password is never sent back), with its error if any.
    pub fn new(
        (name, label, input_type, autocomplete): (&'static str, &'static str, &'static str, &'static str),
        values: &[(String, String)],
        errors: &crate::fields::FieldErrors,
    ) -> InputView {
        let value = if input_type == "password" {
            String::new()
        } else {
            form_value(values, name).unwrap_or_default().to_owned()
        };
        InputView { name, label, input_type, autocomplete, value, error: errors.get(name).map(str::to_owned) }
    }
}

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    layout: Layout,
    fields: Vec<InputView>,
}

fn setup_page(session: &Session, values: &[(String, String)], errors: &crate::fields::FieldErrors) -> SetupPage {
    let field =
        |name, label, input_type, autocomplete| InputView::new((name, label, input_type, autocomplete), values, errors);
    SetupPage {
        layout: Layout::anonymous(super::csrf::token(session)),
        fields: vec![
            field("workspace", "Workspace name", "text", "organization"),
            field("name", "Your name", "text", "name"),
            field("email", "Email", "email", "username"),
            field("password", "Password (at least 10 characters)", "password", "new-password"),
        ],
    }
}

async fn setup_form(accounts: web::Data<AccountService>, session: Session) -> Result<HttpResponse, AppError> {
    if !accounts.needs_setup().await? {
        return Ok(see_other("/login"));
    }
    render(StatusCode::OK, &setup_page(&session, &[], &Default::default()))
}

async fn setup(
    req: HttpRequest,
    accounts: web::Data<AccountService>,
    sessions: web::Data<SessionService>,
    session: Session,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let value = |name| form_value(&form, name).unwrap_or_default().to_owned();
    let account =
        NewAccount { name: value("name"), email: value("email"), password: SecretString::from(value("password")) };
    match accounts.setup(account, &value("workspace")).await {
        Ok((user_id, workspace_id)) => {
            session::sign_in(&req, &session, &sessions, &user_id, Some(&workspace_id)).await?;
            Ok(see_other("/destinations"))
        }
        Err(AccountError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &setup_page(&session, &form, &errors))
        }
        Err(AccountError::AlreadySetUp) => Ok(see_other("/login")),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    error: Option<String>,
    /// Where to go once signed in (a path of this server), or empty.
    next: String,
}

#[derive(serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// A path of this server to go to after signing in; anything else (another site, `//host`) is
/// dropped, so the sign-in page cannot be made to send people elsewhere.
fn local_path(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    (local && !next.chars().any(char::is_control)).then(|| next.to_owned())
}

async fn login_form(
    accounts: web::Data<AccountService>,
    session: Session,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    if accounts.needs_setup().await? {
        return Ok(see_other("/setup"));
    }
    let layout = Layout::anonymous(super::csrf::token(&session));
    let next = local_path(query.next.as_deref()).unwrap_or_default();
    render(StatusCode::OK, &LoginPage { layout, email: String::new(), error: None, next })
}

async fn login(
    req: HttpRequest,
    accounts: web::Data<AccountService>,
    sessions: web::Data<SessionService>,
    session: Session,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let email = form_value(&form, "email").unwrap_or_default().to_owned();
    let password = SecretString::from(form_value(&form, "password").unwrap_or_default().to_owned());
    let next = local_path(form_value(&form, "next"));
    // The socket's address, or what a trusted proxy says (never a header anyone could send).
    let ip = crate::web::client::address(&req);
    let error = match accounts.sign_in(&email, password, &ip).await {
        Ok((user_id, workspace_id)) => {
            session::sign_in(&req, &session, &sessions, &user_id, workspace_id.as_deref()).await?;
            let home = if workspace_id.is_some() { "/overview" } else { "/workspaces" };
            return Ok(see_other(&next.unwrap_or_else(|| home.to_owned())));
        }
        Err(e @ (AccountError::BadCredentials | AccountError::Disabled | AccountError::RateLimited(_))) => e,
        Err(e) => return Err(e.into()),
    };
    let status = match error {
        AccountError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::UNAUTHORIZED,
    };
    let layout = Layout::anonymous(super::csrf::token(&session));
    let page = LoginPage { layout, email, error: Some(error.to_string()), next: next.unwrap_or_default() };
    let mut response = render(status, &page)?;
    if let AccountError::RateLimited(wait) = error {
        let secs = wait.as_secs_f64().ceil().to_string();
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&secs) {
            response.headers_mut().insert(actix_web::http::header::RETRY_AFTER, value);
        }
    }
    Ok(response)
}

async fn logout(
    account: Option<Account>,
    sessions: web::Data<SessionService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    if let Some(account) = account {
        tracing::info!(user = %account.user_id, "signed out");
    }
    session::sign_out(&session, &sessions).await?;
    Ok(see_other("/login"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_come_back_after_sign_in() {
        assert_eq!(super::local_path(Some("/invitation?token=abc")).as_deref(), Some("/invitation?token=abc"));
        for elsewhere in ["https://evil.example/", "//evil.example/x", "/\\evil.example", "evil", "/a\nb"] {
            assert_eq!(super::local_path(Some(elsewhere)), None, "{elsewhere}");
        }
    }
}
