//! `GET /metrics` (Prometheus text format) and its token's page in the admin area,
//! `/admin/metrics`. Who may read the metrics: a caller with the metrics token, or an operator
//! (signed in, or with their API token or JWT). Anyone else gets 401 (no or a wrong credential)
//! or 403 (a valid one that is not an operator's) and not a byte of the metrics.

use super::service::{MetricsService, TOKEN_PREFIX};
use crate::api::auth::ApiUser;
use crate::auth::Account;
use crate::auth::service::AccountService;
use crate::error::AppError;
use crate::web::time::exact;
use crate::web::{Flash, Layout, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics))
        .route("/admin/metrics", web::get().to(page))
        .route("/admin/metrics/token", web::post().to(rotate))
        .route("/admin/metrics/token/revoke", web::post().to(revoke));
}

/// Why a scrape was refused.
enum Refused {
    /// No credential, or one that is not valid.
    Unauthorized(&'static str),
    /// A valid credential of someone who is not an operator.
    Forbidden,
}

async fn metrics(
    req: HttpRequest,
    service: web::Data<MetricsService>,
    accounts: web::Data<AccountService>,
) -> Result<HttpResponse, AppError> {
    if let Err(refused) = allowed(&req, &service, &accounts).await {
        let (status, message) = match refused {
            Refused::Unauthorized(why) => (StatusCode::UNAUTHORIZED, why),
            Refused::Forbidden => (StatusCode::FORBIDDEN, "Only operators and the metrics token may read the metrics."),
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        return Ok(response.content_type("text/plain; charset=utf-8").body(format!("{message}\n")));
    }
    let text = service.scrape().await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(text))
}

async fn allowed(req: &HttpRequest, service: &MetricsService, accounts: &AccountService) -> Result<(), Refused> {
    let unknown = Refused::Unauthorized("The token is not valid (send the metrics token or an operator's API token).");
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or(Refused::Unauthorized("Send a token: Authorization: Bearer <token>."))?;
        if token.starts_with(TOKEN_PREFIX) {
            let accepted = service.accepts(&SecretString::from(token)).await.map_err(|_| unknown)?;
            return if accepted {
                Ok(())
            } else {
                Err(Refused::Unauthorized("This metrics token is not valid (rotated or revoked?)."))
            };
        }
        let user = ApiUser::extract(req).await.map_err(|_| unknown)?;
        let current = accounts.current(&user.user_id, Some(&user.workspace_id)).await.ok().flatten();
        return if current.is_some_and(|u| u.is_operator) { Ok(()) } else { Err(Refused::Forbidden) };
    }
    match Account::extract(req).await {
        Ok(account) if account.is_operator => Ok(()),
        Ok(_) => Err(Refused::Forbidden),
        Err(_) => Err(Refused::Unauthorized("Send a token: Authorization: Bearer <token>.")),
    }
}

#[derive(Template)]
#[template(path = "admin/metrics.html")]
struct MetricsPage {
    layout: Layout,
    flash: Option<Flash>,
    /// The live token's shown prefix and when it was made.
    token: Option<(String, String)>,
    /// A token just made: shown this once.
    minted: Option<String>,
}

async fn metrics_page(
    me: &Account,
    service: &MetricsService,
    flash: Option<Flash>,
    minted: Option<String>,
) -> Result<MetricsPage, AppError> {
    let token = service.token().await?.map(|t| (t.prefix, exact(t.created_at)));
    Ok(MetricsPage { layout: Layout::for_account(me, "admin-metrics"), flash, token, minted })
}

async fn page(me: Account, service: web::Data<MetricsService>, session: Session) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    render(StatusCode::OK, &metrics_page(&me, &service, Flash::take(&session), None).await?)
}

/// Creates the metrics token, or replaces it: the old one stops working at once.
async fn rotate(me: Account, service: web::Data<MetricsService>) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    let replaced = service.token().await?.is_some();
    let secret = service.rotate(&me.user_id).await?;
    let message = match replaced {
        true => "Made a new metrics token; the old one no longer works. Copy it now: it is not shown again.",
        false => "Made the metrics token. Copy it now: it is not shown again.",
    };
    let minted = Some(secret.expose_secret().to_owned());
    let mut response = render(StatusCode::OK, &metrics_page(&me, &service, Some(Flash::ok(message)), minted).await?)?;
    // Never cached: the page holds the token in the clear this once.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn revoke(me: Account, service: web::Data<MetricsService>, session: Session) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    let message = match service.revoke().await? {
        true => Flash::ok("Revoked the metrics token: scrapes with it are refused from now on."),
        false => Flash::error("There is no metrics token to revoke."),
    };
    message.set(&session);
    Ok(see_other("/admin/metrics"))
}
