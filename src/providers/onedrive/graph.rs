//! Talking to Graph: the access token from a rotating refresh token, requests retried when the
//! token expired (401 with `expired_token`) or Graph throttles (429/503 with `Retry-After`), and
//! Graph's errors in its own words.

use super::{Auth, OneDriveConfig, OneDriveProvider};
use crate::config::MicrosoftClouds;
use crate::providers::http::{kind_of_status, origin, transport_error};
use crate::providers::microsoft_auth::{self, MicrosoftOAuth};
use crate::providers::rotating_token::TokenKeeper;
use crate::providers::{ErrorKind, ProviderError, Step};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};

/// Tries of one request: throttling answers and one expired token are retried.
const ATTEMPTS: usize = 6;
/// The longest `Retry-After` waited out; Graph asks for seconds, rarely minutes.
const LONGEST_WAIT: Duration = Duration::from_secs(120);

/// A refresh token with its app registration, and the access token of the last refresh, kept
/// until shortly before it expires. Every refresh answers a new refresh token: it replaces the
/// one held here and, for a saved destination, the stored one (through the keeper).
pub struct MicrosoftToken {
    client_id: String,
    client_secret: SecretString,
    login: String,
    tenant: String,
    scopes: String,
    keeper: Option<TokenKeeper>,
    refresh: tokio::sync::Mutex<SecretString>,
    cached: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
}

impl MicrosoftToken {
    pub fn new(
        config: &OneDriveConfig,
        login: &str,
        clouds: &MicrosoftClouds,
        refresh: SecretString,
        keeper: Option<TokenKeeper>,
    ) -> MicrosoftToken {
        let (_, graph) = microsoft_auth::hosts(clouds, config.cloud);
        MicrosoftToken {
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            login: login.to_owned(),
            tenant: config.tenant.clone(),
            scopes: microsoft_auth::scopes(graph, config.shared_library()),
            keeper,
            refresh: tokio::sync::Mutex::new(refresh),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached access token, or a fresh one (the rotated refresh token stored first).
    pub async fn access_token(&self, http: &reqwest::Client) -> Result<SecretString, ProviderError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let mut held = self.refresh.lock().await;
        let _one_at_a_time = match &self.keeper {
            Some(keeper) => Some(keeper.0.lock().await),
            None => None,
        };
        // Another provider of this destination may have rotated it since this one was built.
        if let Some(keeper) = &self.keeper
            && let Some(latest) = keeper.0.load().await?
        {
            *held = latest;
        }
        let oauth = MicrosoftOAuth {
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            login: &self.login,
            tenant: &self.tenant,
            scopes: &self.scopes,
        };
        let tokens = oauth.refresh(http, &held).await?;
        if let Some(rotated) = tokens.refresh_token {
            if let Some(keeper) = &self.keeper {
                keeper.0.save(&rotated).await?;
            }
            *held = rotated;
        }
        let until = Instant::now() + tokens.expires_in.saturating_sub(Duration::from_secs(60));
        *cached = Some((tokens.access_token.clone(), until));
        Ok(tokens.access_token)
    }

    /// Forgets the access token (Graph said it expired before we thought it would).
    async fn expire(&self) {
        *self.cached.lock().await = None;
    }
}

impl OneDriveProvider {
    pub(super) async fn access_token(&self) -> Result<SecretString, ProviderError> {
        match &self.auth {
            Auth::NotConnected => Err(ProviderError::new(
                ErrorKind::Authentication,
                "Not connected to Microsoft yet: use “Connect OneDrive” on the destination to grant access.",
            )
            .at(Step::Authenticate)),
            Auth::Token(token) => token.access_token(&self.api).await,
        }
    }

    /// Sends a Graph request (built afresh for each try) with the access token; retries a
    /// throttled one after `Retry-After` and an expired token once with a new one.
    pub(super) async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ProviderError> {
        let mut refreshed = false;
        for attempt in 0..ATTEMPTS {
            let token = self.access_token().await?;
            let response = build()
                .bearer_auth(token.expose_secret())
                .send()
                .await
                .map_err(|e| transport_error(&e, &origin(&self.graph)))?;
            let status = response.status();
            if status.is_success() || status.is_redirection() {
                return Ok(response);
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed && expired_token(&response) {
                if let Auth::Token(token) = &self.auth {
                    token.expire().await;
                }
                refreshed = true;
                continue;
            }
            if let Some(wait) = throttled(&response, attempt) {
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(graph_error(response).await);
        }
        Err(ProviderError::new(ErrorKind::Provider, "Microsoft Graph kept throttling the request; try again later."))
    }
}

/// A 401 whose `WWW-Authenticate` says the token expired (Graph: `error_description="expired_token"`).
fn expired_token(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("expired_token")))
}

/// How long to wait before retrying a 429 or 503: its `Retry-After` (seconds), else a backoff.
pub(super) fn throttled(response: &reqwest::Response, attempt: usize) -> Option<Duration> {
    if !matches!(response.status(), StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
        return None;
    }
    let asked = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    Some(asked.unwrap_or(Duration::from_secs(1 << attempt.min(5))).min(LONGEST_WAIT))
}

/// Graph's JSON error (`{"error": {"code", "message"}}`) as a provider error.
pub(super) async fn graph_error(response: reqwest::Response) -> ProviderError {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let code = body["error"]["code"].as_str().map_or_else(|| status.as_u16().to_string(), str::to_owned);
    let message = body["error"]["message"]
        .as_str()
        .map_or_else(|| status.canonical_reason().unwrap_or("error").to_owned(), str::to_owned);
    let kind = match code.as_str() {
        "itemNotFound" => ErrorKind::NotFound,
        "accessDenied" | "notAllowed" => ErrorKind::Permission,
        "InvalidAuthenticationToken" | "unauthenticated" => ErrorKind::Authentication,
        _ => kind_of_status(status),
    };
    let error = ProviderError::with_code(kind, code, format!("{message} (HTTP {})", status.as_u16()));
    if status == StatusCode::UNAUTHORIZED { error.at(Step::Authenticate) } else { error }
}
