//! Google's OAuth 2.0 endpoints as Google documents them for web server apps: the authorization
//! endpoint (`GET /o/oauth2/v2/auth`, a consent page whose "Allow" sends the browser back with a
//! code and the state) and the token endpoint (`POST /token`: `authorization_code` with the
//! client secret, the exact redirect URI and the PKCE S256 verifier; `refresh_token`). Errors are
//! Google's: `invalid_client`, `invalid_grant` ("Token has been expired or revoked."),
//! `redirect_uri_mismatch`. Access tokens it issues are what the Drive stand-in accepts.

use super::server::{random_id, serve};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive";

struct Client {
    secret: String,
    redirect_uris: Vec<String>,
}

struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    used: bool,
}

#[derive(Default)]
struct State {
    clients: HashMap<String, Client>,
    codes: HashMap<String, CodeGrant>,
    /// refresh token → (client id, revoked)
    refresh: HashMap<String, (String, bool)>,
    /// access token → expiry
    access: HashMap<String, Instant>,
    /// Issue this access token instead of random ones (google-drive-mock knows only its own).
    fixed_access_token: Option<String>,
    token_requests: usize,
}

#[derive(Clone)]
pub struct GoogleOAuth {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl GoogleOAuth {
    pub fn start() -> GoogleOAuth {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::from(state.clone());
        let url = serve(move |cfg| {
            cfg.app_data(data.clone())
                .route("/o/oauth2/v2/auth", web::get().to(consent_page))
                .route("/o/oauth2/v2/auth/approve", web::post().to(approve))
                .route("/token", web::post().to(token));
        });
        GoogleOAuth { url, state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn authorize_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.url)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url)
    }

    /// An OAuth client as the Google Cloud console creates one, with its one redirect URI.
    pub fn register_client(&self, client_id: &str, secret: &str, redirect_uri: &str) {
        let client = Client { secret: secret.into(), redirect_uris: vec![redirect_uri.into()] };
        self.lock().clients.insert(client_id.into(), client);
    }

    /// A refresh token as if the person had consented earlier.
    pub fn issue_refresh_token(&self, client_id: &str) -> String {
        let token = format!("1//{}", random_id(40));
        self.lock().refresh.insert(token.clone(), (client_id.into(), false));
        token
    }

    /// The person removed the app's access in their Google account.
    pub fn revoke(&self, refresh_token: &str) {
        if let Some(grant) = self.lock().refresh.get_mut(refresh_token) {
            grant.1 = true;
        }
    }

    /// An access token valid for `ttl` (zero: already expired).
    pub fn issue_access_token(&self, ttl: Duration) -> String {
        let token = format!("ya29.{}", random_id(60));
        self.lock().access.insert(token.clone(), Instant::now() + ttl);
        token
    }

    pub fn issue_fixed_access_tokens(&self, token: &str) {
        self.lock().fixed_access_token = Some(token.into());
    }

    /// Whether a bearer token was issued here and has not expired.
    pub fn accepts(&self, token: &str) -> bool {
        self.lock().access.get(token).is_some_and(|until| Instant::now() < *until)
    }

    pub fn token_requests(&self) -> usize {
        self.lock().token_requests
    }

    /// Whether Google holds this refresh token as valid (issued and not revoked).
    pub fn knows_refresh_token(&self, token: &str) -> bool {
        self.lock().refresh.get(token).is_some_and(|(_, revoked)| !revoked)
    }

    /// What a person's browser does: opens the consent page and clicks "Allow". Returns where
    /// Google sends the browser (the app's callback with `code` and `state`).
    pub async fn consent(&self, authorize_url: &str) -> String {
        self.decide(authorize_url, "allow").await
    }

    /// Opens the consent page and clicks "allow" or "deny" (Cancel); returns where Google sends
    /// the browser.
    pub async fn decide(&self, authorize_url: &str, decision: &str) -> String {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let page = http.get(authorize_url).send().await.expect("consent page");
        assert_eq!(page.status().as_u16(), 200, "consent page: {}", page.text().await.unwrap_or_default());
        let query: Vec<(String, String)> =
            url::Url::parse(authorize_url).expect("url").query_pairs().into_owned().collect();
        let mut form: Vec<(String, String)> = query;
        form.push(("decision".into(), decision.into()));
        let approved =
            http.post(format!("{}/o/oauth2/v2/auth/approve", self.url)).form(&form).send().await.expect("allow");
        assert_eq!(approved.status().as_u16(), 303, "{decision}: {}", approved.text().await.unwrap_or_default());
        approved.headers()["location"].to_str().expect("location").to_owned()
    }
}

type Shared = web::Data<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// Google's error page for a bad authorization request ("Error 400: redirect_uri_mismatch").
fn auth_error(code: &str, detail: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("text/html; charset=utf-8")
        .body(format!("<h1>Access blocked: authorization error</h1><p>Error 400: {code}</p><p>{detail}</p>"))
}

/// Checks an authorization request as Google does; `None` when it is acceptable.
fn check_authorization(state: &State, q: &[(String, String)]) -> Option<HttpResponse> {
    let Some(client) = state.clients.get(param(q, "client_id")) else {
        return Some(auth_error("invalid_client", "The OAuth client was not found."));
    };
    if !client.redirect_uris.iter().any(|u| u == param(q, "redirect_uri")) {
        return Some(auth_error("redirect_uri_mismatch", "The redirect URI is not registered for this client."));
    }
    if param(q, "response_type") != "code" {
        return Some(auth_error("unsupported_response_type", "response_type must be code."));
    }
    if param(q, "code_challenge").len() < 43 || param(q, "code_challenge_method") != "S256" {
        return Some(auth_error("invalid_request", "A code_challenge with method S256 is required."));
    }
    if !param(q, "scope").split(' ').any(|s| s == DRIVE_SCOPE) {
        return Some(auth_error("invalid_scope", "The Drive scope is missing."));
    }
    None
}

async fn consent_page(state: Shared, req: HttpRequest) -> HttpResponse {
    let q: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    if let Some(refused) = check_authorization(&lock(&state), &q) {
        return refused;
    }
    let hidden: String = q
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(k), escape(v)))
        .collect();
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><html><head><title>Sign in - Google Accounts</title><link rel=\"icon\" href=\"data:,\"></head><body>\
         <h1 id=\"consent-title\">Devpilot wants access to your Google Account</h1>\
         <p>See, edit, create and delete only the specific Google Drive files you use with this app.</p>\
         <form method=\"post\" action=\"/o/oauth2/v2/auth/approve\">{hidden}\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Cancel</button>\
         <button type=\"submit\" id=\"allow\" name=\"decision\" value=\"allow\">Allow</button>\
         </form></body></html>"
    ))
}

async fn approve(state: Shared, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    let mut s = lock(&state);
    if let Some(refused) = check_authorization(&s, &form) {
        return refused;
    }
    let mut back = url::Url::parse(param(&form, "redirect_uri")).expect("checked redirect URI");
    if param(&form, "decision") == "allow" {
        let code = format!("4/{}", random_id(60));
        s.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: param(&form, "client_id").into(),
                redirect_uri: param(&form, "redirect_uri").into(),
                challenge: param(&form, "code_challenge").into(),
                used: false,
            },
        );
        back.query_pairs_mut()
            .append_pair("state", param(&form, "state"))
            .append_pair("code", &code)
            .append_pair("scope", DRIVE_SCOPE);
    } else {
        back.query_pairs_mut().append_pair("error", "access_denied").append_pair("state", param(&form, "state"));
    }
    HttpResponse::SeeOther().insert_header((header::LOCATION, back.as_str())).finish()
}

fn token_error(status: u16, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
        .json(json!({ "error": error, "error_description": description }))
}

/// The client id and secret from the form body or HTTP basic auth (Google takes both).
fn client_credentials(req: &HttpRequest, form: &[(String, String)]) -> (String, String) {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match basic.as_deref().and_then(|b| b.split_once(':')) {
        Some((id, secret)) => (id.to_owned(), secret.to_owned()),
        None => (param(form, "client_id").to_owned(), param(form, "client_secret").to_owned()),
    }
}

async fn token(state: Shared, req: HttpRequest, form: web::Form<Vec<(String, String)>>) -> HttpResponse {
    let mut s = lock(&state);
    s.token_requests += 1;
    let (client_id, secret) = client_credentials(&req, &form);
    match s.clients.get(&client_id) {
        Some(c) if c.secret == secret => {}
        _ => return token_error(401, "invalid_client", "Unauthorized"),
    }
    match param(&form, "grant_type") {
        "authorization_code" => {
            let Some(grant) = s.codes.get_mut(param(&form, "code")) else {
                return token_error(400, "invalid_grant", "Malformed auth code.");
            };
            if grant.used || grant.client_id != client_id {
                return token_error(400, "invalid_grant", "Bad Request");
            }
            if grant.redirect_uri != param(&form, "redirect_uri") {
                return token_error(400, "redirect_uri_mismatch", "Bad Request");
            }
            let verifier = param(&form, "code_verifier");
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if verifier.len() < 43 || computed != grant.challenge {
                return token_error(400, "invalid_grant", "Invalid code verifier.");
            }
            grant.used = true;
            let refresh = format!("1//{}", random_id(40));
            s.refresh.insert(refresh.clone(), (client_id, false));
            let access = issue_access(&mut s);
            HttpResponse::Ok().json(json!({
                "access_token": access, "expires_in": 3599, "refresh_token": refresh,
                "scope": DRIVE_SCOPE, "token_type": "Bearer",
            }))
        }
        "refresh_token" => match s.refresh.get(param(&form, "refresh_token")) {
            Some((owner, false)) if *owner == client_id => {
                let access = issue_access(&mut s);
                HttpResponse::Ok().json(json!({
                    "access_token": access, "expires_in": 3599, "scope": DRIVE_SCOPE, "token_type": "Bearer",
                }))
            }
            _ => token_error(400, "invalid_grant", "Token has been expired or revoked."),
        },
        other => token_error(400, "unsupported_grant_type", &format!("Invalid grant_type: {other}")),
    }
}

fn issue_access(s: &mut State) -> String {
    let access = s.fixed_access_token.clone().unwrap_or_else(|| format!("ya29.{}", random_id(60)));
    s.access.insert(access.clone(), Instant::now() + Duration::from_secs(3599));
    access
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}
