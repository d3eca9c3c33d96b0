//! Who is calling the API: `Authorization: Bearer <token>` with either a short-lived JWT from
//! `POST /api/v1/auth/token` (HS256, key derived from the master key) or a long-lived API token
//! (`dpk_…`). A JWT belongs to a session (`crate::sessions`) that ends with it, or before it when
//! its owner signs out everywhere or changes their password. Either way the caller's account and
//! membership are checked on every request, so a removed member, a disabled account or a revoked
//! token stops working at once. No cookies: the API is not subject to CSRF.

use super::error::ApiError;
use crate::auth::Role;
use crate::auth::service::AccountService;
use crate::auth::tokens::{TOKEN_PREFIX, TokenError, TokenService};
use crate::sessions::{Kind, SessionService};
use crate::web::limits::{BodyError, read_body, too_large_message};
use crate::web::upload::streams_its_body;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, http::header, web};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::pin::Pin;
use utoipa::ToSchema;

/// How long a JWT from `/auth/token` is valid.
pub const JWT_LIFETIME_SECS: i64 = 15 * 60;

/// The HS256 key for API JWTs.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> JwtKeys {
        JwtKeys { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Claims {
    /// The user's id.
    sub: String,
    /// The workspace the token acts in.
    ws: String,
    iat: i64,
    exp: i64,
    /// The token of the session the JWT belongs to.
    sid: String,
}

/// The authenticated caller and their role in the workspace the token is for.
#[derive(Debug, Clone)]
pub struct ApiUser {
    pub user_id: String,
    pub workspace_id: String,
    pub role: Role,
    pub email: String,
    /// The API token used (its name and shown prefix); None for a JWT.
    pub token: Option<String>,
}

impl ApiUser {
    pub fn require_write(&self) -> Result<(), ApiError> {
        if self.role.can_write() {
            Ok(())
        } else {
            Err(ApiError::forbidden("Viewers can read but not change anything in this workspace."))
        }
    }

    /// Who the audit log names for this request.
    pub fn actor(&self) -> crate::audit::Actor {
        crate::audit::Actor {
            user_id: self.user_id.clone(),
            email: self.email.clone(),
            token: self.token.clone(),
            channel: crate::audit::Channel::Api,
        }
    }
}

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiUser, ApiError>>>>;

    /// The caller the [`guard`] middleware already authenticated (or, outside it, authenticates).
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let known = req.extensions().get::<ApiUser>().cloned();
        let req = req.clone();
        Box::pin(async move {
            match known {
                Some(user) => Ok(user),
                None => authenticate(&req).await,
            }
        })
    }
}

pub async fn authenticate(req: &HttpRequest) -> Result<ApiUser, ApiError> {
    let token = bearer(req)?;
    let accounts = req.app_data::<web::Data<AccountService>>().ok_or_else(|| ApiError::internal("no accounts"))?;
    let (user_id, workspace_id, ceiling, token) = if token.starts_with(TOKEN_PREFIX) {
        let tokens = req.app_data::<web::Data<TokenService>>().ok_or_else(|| ApiError::internal("no tokens"))?;
        let row = tokens.authenticate(&SecretString::from(token)).await.map_err(token_error)?;
        let label = format!("{} ({})", row.name, row.prefix);
        (row.created_by, row.workspace_id, Role::parse(&row.role), Some(label))
    } else {
        let keys = req.app_data::<web::Data<JwtKeys>>().ok_or_else(|| ApiError::internal("no JWT keys"))?;
        let claims = decode(keys, &token)?;
        let sessions = req.app_data::<web::Data<SessionService>>().ok_or_else(|| ApiError::internal("no sessions"))?;
        let live = sessions.resolve(&claims.sid, Kind::Api, || crate::web::client::of(req)).await?;
        if live.is_none_or(|l| l.user_id != claims.sub) {
            return Err(ApiError::unauthorized(
                "This token's session has ended (signed out, or the password changed); get a new one from \
                 POST /api/v1/auth/token.",
            ));
        }
        (claims.sub, claims.ws, None, None)
    };
    let current = accounts.current(&user_id, Some(&workspace_id)).await?;
    let member = current
        .filter(|u| u.workspace_id == workspace_id)
        .ok_or_else(|| ApiError::unauthorized("The token's user is no longer a member of its workspace."))?;
    Ok(ApiUser {
        role: ceiling.map_or(member.role, |c| c.lower(member.role)),
        email: member.email,
        user_id,
        workspace_id,
        token,
    })
}

/// Routes anyone may call: the token exchange and the OpenAPI document.
const PUBLIC: [&str; 2] = ["/api/v1/auth/token", "/api/v1/openapi.json"];

/// Authenticates every API request before any handler or body is read, and refuses viewers'
/// writes, so the answer is 401/403 whatever the body holds (and nothing is parsed for them);
/// then reads a write's body within the limit (413 past it, on every operation).
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let reads = matches!(*req.method(), Method::GET | Method::HEAD);
    let user = if PUBLIC.contains(&req.path()) {
        None
    } else {
        let user = match authenticate(req.request()).await {
            Ok(user) => user,
            Err(e) => return Ok(req.error_response(e).map_into_right_body()),
        };
        if !reads && let Err(e) = user.require_write() {
            return Ok(req.error_response(e).map_into_right_body());
        }
        Some(user)
    };
    // Read within the limit here, so every operation has one (see web::limits); an upload route
    // streams its body to disk under its own limit (web::upload).
    if !reads
        && !streams_its_body(req.path())
        && let Err(e) = read_body(&mut req).await
    {
        return Ok(req.error_response(body_error(e)).map_into_right_body());
    }
    if let Some(user) = user {
        req.extensions_mut().insert(user);
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

fn body_error(e: BodyError) -> ApiError {
    match e {
        BodyError::TooLarge => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, too_large_message("request body")),
        BodyError::Broken(e) => ApiError::bad_request(format!("The request body could not be read: {e}.")),
    }
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let missing = || ApiError::unauthorized("Send a token: Authorization: Bearer <token>.");
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| ApiError::unauthorized("The Authorization header is not valid text."))?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim().to_owned())
}

fn decode(keys: &JwtKeys, token: &str) -> Result<Claims, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    validation.set_required_spec_claims(&["exp", "sub", "sid"]);
    jsonwebtoken::decode::<Claims>(token, &keys.decoding, &validation).map(|d| d.claims).map_err(|e| {
        ApiError::unauthorized(match e.kind() {
            ErrorKind::ExpiredSignature => "The token has expired; get a new one from POST /api/v1/auth/token.",
            ErrorKind::InvalidSignature => "The token's signature is not valid.",
            _ => "The bearer token is malformed: expected a JWT from /api/v1/auth/token or an API token (dpk_…).",
        })
    })
}

fn token_error(e: TokenError) -> ApiError {
    match e {
        TokenError::Db(e) => e.into(),
        other => ApiError::unauthorized(other.to_string()),
    }
}

/// Email and password, and optionally the workspace to act in (default: the user's first).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct TokenRequest {
    #[schema(example = "admin@example.com")]
    pub email: String,
    #[schema(example = "correct horse battery")]
    pub password: String,
    #[serde(default)]
    pub workspace_id: Option<String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT for `Authorization: Bearer …`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until it expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    pub workspace_id: String,
}

/// Exchanges email and password for a short-lived JWT, which belongs to a new session of the
/// account (listed on its Sessions page, ended with it).
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "Auth",
    request_body = TokenRequest,
    security(),
    responses(
        (status = 200, description = "A JWT valid for 15 minutes", body = TokenResponse),
        (status = 401, description = "Wrong email or password, or the account is disabled", body = super::error::ErrorBody),
        (status = 422, description = "The body is not valid", body = super::error::ErrorBody),
        (status = 429, description = "Too many failed attempts from this address: try again after the delay named", body = super::error::ErrorBody),
    )
)]
pub async fn issue_token(
    req: HttpRequest,
    accounts: web::Data<AccountService>,
    sessions: web::Data<SessionService>,
    keys: web::Data<JwtKeys>,
    body: web::Json<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    // The socket's address, or what a trusted proxy says (never a header anyone could send).
    let ip = crate::web::client::address(&req);
    let body = body.into_inner();
    let (user_id, first_workspace) = accounts.sign_in(&body.email, SecretString::from(body.password), &ip).await?;
    let not_member = || ApiError::forbidden("You are not a member of that workspace.");
    let workspace_id = match body.workspace_id.filter(|w| !w.trim().is_empty()) {
        Some(requested) => {
            let current = accounts.current(&user_id, Some(&requested)).await?;
            current.filter(|u| u.workspace_id == requested).ok_or_else(not_member)?.workspace_id
        }
        None => first_workspace.ok_or_else(|| ApiError::forbidden("You are not a member of any workspace."))?,
    };
    let now = Utc::now();
    let expires = now + chrono::TimeDelta::seconds(JWT_LIFETIME_SECS);
    let client = crate::web::client::of(&req);
    let (sid, _) = sessions.start(&user_id, Kind::Api, &client, Some(expires.naive_utc())).await?;
    let claims = Claims {
        sub: user_id,
        ws: workspace_id.clone(),
        iat: now.timestamp(),
        exp: expires.timestamp(),
        sid: sid.expose_secret().to_owned(),
    };
    let access_token =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: JWT_LIFETIME_SECS,
        workspace_id,
    }))
}
