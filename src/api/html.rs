//! The "API" page: long-lived API tokens (mint, shown once; list; revoke) and the API reference
//! rendered from the OpenAPI document.

use crate::auth::token_store::ApiTokenRow;
use crate::auth::tokens::TokenService;
use crate::auth::{CurrentUser, Role};
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::web::time::exact;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use secrecy::ExposeSecret;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/api", web::get().to(page))
        .route("/settings/api/tokens", web::post().to(mint))
        .route("/settings/api/tokens/{id}/revoke", web::post().to(revoke))
        .route("/api", web::get().to(super::reference::page));
}

/// Lifetimes offered when minting, in days (0: never expires).
const LIFETIMES: [(&str, &str); 4] = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("0", "Never")];

pub struct TokenView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub revoked: bool,
}

impl From<ApiTokenRow> for TokenView {
    fn from(t: ApiTokenRow) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            role: t.role,
            created: exact(t.created_at),
            expires: t.expires_at.map_or_else(|| "never".into(), exact),
            last_used: t.last_used_at.map_or_else(|| "never".into(), exact),
            revoked: t.revoked_at.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "api/settings.html")]
struct SettingsPage {
    layout: Layout,
    flash: Option<Flash>,
    tokens: Vec<TokenView>,
    roles: Vec<(&'static str, &'static str)>,
    lifetimes: [(&'static str, &'static str); 4],
    name: String,
    role: String,
    lifetime: String,
    errors: FieldErrors,
    /// A token just minted: shown this once.
    minted: Option<String>,
}

impl SettingsPage {
    fn error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or_default().to_owned()
    }
}

/// The roles a user may give a token: their own and below.
fn grantable(role: Role) -> Vec<(&'static str, &'static str)> {
    Role::CHOICES.into_iter().filter(|(r, _)| Role::parse(r).is_some_and(|r| !outranks(r, role))).collect()
}

fn outranks(a: Role, b: Role) -> bool {
    matches!((a, b), (Role::Owner, Role::Admin | Role::Viewer) | (Role::Admin, Role::Viewer))
}

async fn settings_page(
    user: &CurrentUser,
    tokens: &TokenService,
    flash: Option<Flash>,
) -> Result<SettingsPage, AppError> {
    Ok(SettingsPage {
        layout: Layout::for_user(user, "api"),
        flash,
        tokens: tokens.list(&user.workspace_id).await?.into_iter().map(TokenView::from).collect(),
        roles: grantable(user.role),
        lifetimes: LIFETIMES,
        name: String::new(),
        role: "viewer".into(),
        lifetime: "90".into(),
        errors: FieldErrors::new(),
        minted: None,
    })
}

async fn page(user: CurrentUser, tokens: web::Data<TokenService>, session: Session) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    render(StatusCode::OK, &settings_page(&user, &tokens, Flash::take(&session)).await?)
}

async fn mint(
    user: CurrentUser,
    tokens: web::Data<TokenService>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let mut page = settings_page(&user, &tokens, None).await?;
    page.name = form_value(&form, "name").unwrap_or_default().trim().to_owned();
    page.role = form_value(&form, "role").unwrap_or_default().to_owned();
    page.lifetime = form_value(&form, "lifetime").unwrap_or_default().to_owned();
    if page.name.is_empty() || page.name.chars().count() > 100 {
        page.errors.add("name", "Name the token (up to 100 characters), e.g. after the script that uses it.");
    }
    let role = Role::parse(&page.role).filter(|r| !outranks(*r, user.role));
    if role.is_none() {
        page.errors.add("role", "Choose a role no higher than your own.");
    }
    let days = LIFETIMES.iter().find(|(d, _)| *d == page.lifetime).and_then(|(d, _)| d.parse::<i64>().ok());
    if days.is_none() {
        page.errors.add("lifetime", "Choose how long the token lasts.");
    }
    let (Some(role), Some(days)) = (role, days) else {
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    if !page.errors.is_empty() {
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let expires = (days > 0).then(|| Utc::now().naive_utc() + Duration::days(days));
    let (_, secret) = tokens.mint(&user.workspace_id, &user.user_id, &page.name, role, expires).await?;
    page.tokens = tokens.list(&user.workspace_id).await?.into_iter().map(TokenView::from).collect();
    page.minted = Some(secret.expose_secret().to_owned());
    page.flash = Some(Flash::ok(format!("Created the token “{}”. Copy it now: it is not shown again.", page.name)));
    page.name.clear();
    // Never cached: the page holds the token in the clear this once.
    let mut response = render(StatusCode::OK, &page)?;
    response
        .headers_mut()
        .insert(actix_web::http::header::CACHE_CONTROL, actix_web::http::header::HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn revoke(
    user: CurrentUser,
    tokens: web::Data<TokenService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    tokens.revoke(&user.workspace_id, &path).await.map_err(|e| match e {
        crate::db::DbError::NotFound => AppError::NotFound("API token not found (or already revoked)".into()),
        other => other.into(),
    })?;
    Flash::ok("Revoked the token: requests with it are refused from now on.").set(&session);
    Ok(see_other("/settings/api"))
}
