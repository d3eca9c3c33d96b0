//! Sessions that end: sign-out, idle and absolute expiry, signing other sessions out, a password
//! change, a disabled account — for browser cookies and API JWTs alike, on the next request.

use crate::admin_area::{create_account, signed_in, user_id};
use crate::api_client::{Api, anonymous};
use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, csrf_from, new_client, spawn_app, spawn_with, test_settings,
};
use crate::on_both_backends;
use serde_json::json;
use std::time::Duration;

on_both_backends!(
    a_cookie_saved_before_sign_out_is_refused_after,
    an_idle_session_ends,
    a_session_ends_at_its_absolute_limit,
    others_are_signed_out_from_the_sessions_page,
    a_password_change_signs_out_every_other_session,
    a_disabled_account_loses_every_session_and_token
);

/// A browser's session cookie as a header value, without a cookie store: what someone who copied
/// it would send.
pub struct SavedCookie(pub String);

impl SavedCookie {
    /// Signs in and keeps the cookie the server set.
    pub async fn sign_in(app: &TestApp, email: &str, password: &str) -> SavedCookie {
        let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let form = plain.get(app.url("/login")).send().await.expect("login page");
        let first = cookie_of(&form).expect("a session cookie for the form");
        let csrf = csrf_from(&form.text().await.expect("page"));
        let login = plain
            .post(app.url("/login"))
            .header("Cookie", &first)
            .form(&[("email", email), ("password", password), ("csrf_token", csrf.as_str())])
            .send()
            .await
            .expect("login");
        assert_eq!(login.status().as_u16(), 303, "sign-in of {email}");
        SavedCookie(cookie_of(&login).expect("a new session cookie"))
    }

    /// GET with the saved cookie: (status, Location).
    pub async fn get(&self, app: &TestApp, path: &str) -> (u16, Option<String>) {
        let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let response = plain.get(app.url(path)).header("Cookie", &self.0).send().await.expect("GET");
        let location = response.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        (response.status().as_u16(), location)
    }

    pub async fn signed_in(&self, app: &TestApp) -> bool {
        match self.get(app, "/account").await {
            (200, _) => true,
            (303, Some(l)) if l == "/login" => false,
            other => panic!("unexpected answer {other:?}"),
        }
    }
}

fn cookie_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("devpilot_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// A JWT of these credentials.
pub async fn jwt<'a>(app: &'a TestApp, email: &str, password: &str) -> Api<'a> {
    let reply = anonymous(app).post("/api/v1/auth/token", json!({"email": email, "password": password})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    Api::with_token(app, reply.json["access_token"].as_str().expect("token"))
}

const SOME_API: &str = "/api/v1/backup-destinations";

async fn a_cookie_saved_before_sign_out_is_refused_after(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    app.post("/logout", &[]).await;
    let saved = SavedCookie::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let browser = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(saved.signed_in(&app).await);

    // Another browser signs out first: only its own session ends.
    assert_eq!(app.post_with(&browser, "/logout", &[]).await.location.as_deref(), Some("/login"));
    assert!(saved.signed_in(&app).await, "signing out one browser leaves the others");
    let page = saved.get(&app, "/destinations").await;
    assert_eq!(page.0, 200);
    // Now the cookie's own session signs out (with the same cookie, as its browser would).
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let html = plain.get(app.url("/account")).header("Cookie", &saved.0).send().await.expect("page");
    let csrf = csrf_from(&html.text().await.expect("body"));
    let out = plain
        .post(app.url("/logout"))
        .header("Cookie", &saved.0)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status().as_u16(), 303);
    assert_eq!(saved.get(&app, "/destinations").await, (303, Some("/login".into())), "the copy is refused");
    assert_eq!(session_count(&app).await, 0, "sign-out deleted the rows");
}

async fn session_count(app: &TestApp) -> i64 {
    app.db()
        .run(|c| {
            use devpilot::db::schema::sessions::dsl::*;
            use diesel::prelude::*;
            sessions.count().get_result(c)
        })
        .await
        .expect("count")
}

async fn short_sessions(backend: Backend, idle: u64, max: u64) -> TestApp {
    let (mut settings, dir, pg) = test_settings(backend);
    settings.identity.session_idle = Duration::from_millis(idle);
    settings.identity.session_max = Duration::from_millis(max);
    let app = spawn_with(settings, dir, pg).await;
    app.setup_admin().await;
    app
}

// The times leave seconds of margin either way: a loaded machine answers late, never early.
async fn an_idle_session_ends(backend: Backend) {
    let app = short_sessions(backend, 8000, 120_000).await;
    let session = SavedCookie::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for _ in 0..3 {
        // Used every 3 s: longer in all than the idle time, never idle for all of it.
        tokio::time::sleep(Duration::from_millis(3000)).await;
        assert!(session.signed_in(&app).await, "a used session stays");
    }
    tokio::time::sleep(Duration::from_millis(9000)).await;
    assert!(!session.signed_in(&app).await, "unused for longer than the idle time");
}

async fn a_session_ends_at_its_absolute_limit(backend: Backend) {
    let app = short_sessions(backend, 8000, 14_000).await;
    let started = tokio::time::Instant::now();
    let session = SavedCookie::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let api = jwt(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    while started.elapsed() < Duration::from_millis(9000) {
        assert!(session.signed_in(&app).await, "before the limit");
        tokio::time::sleep(Duration::from_millis(3000)).await;
    }
    tokio::time::sleep_until(started + Duration::from_millis(15_000)).await;
    assert!(!session.signed_in(&app).await, "used all along, it still ends at the limit");
    assert_eq!(api.get(SOME_API).await.status, 401, "an API session does not outlive the limit either");
}

async fn others_are_signed_out_from_the_sessions_page(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let laptop = SavedCookie::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let phone = SavedCookie::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let api = jwt(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = app.get("/account/sessions").await;
    assert_eq!(page.body.matches("id=\"session-").count(), 4, "{}", page.body);
    assert!(page.body.contains("This session") && page.body.contains("API token (from /api/v1/auth/token)"));
    assert!(page.body.contains("127.0.0.1"));

    // One of them, by its id.
    let ids = session_ids(&app).await;
    let phone_id = ids[ids.len() - 2].clone();
    assert_eq!(app.post(&format!("/account/sessions/{phone_id}/end"), &[]).await.status, 303);
    assert!(!phone.signed_in(&app).await);
    assert!(laptop.signed_in(&app).await);
    // Another account's session is not ours to end.
    create_account(&app, "Bob", "bob@example.com", "bob password 1").await;
    let bob = SavedCookie::sign_in(&app, "bob@example.com", "bob password 1").await;
    let bob_session = session_ids(&app).await.pop().expect("Bob's session");
    assert_eq!(app.post(&format!("/account/sessions/{bob_session}/end"), &[]).await.status, 404);
    assert!(bob.signed_in(&app).await);

    // All the others at once: the laptop and the JWT; this one and Bob's stay.
    assert_eq!(app.post("/account/sessions/end-others", &[]).await.status, 303);
    assert!(!laptop.signed_in(&app).await);
    assert_eq!(api.get(SOME_API).await.status, 401);
    assert!(api.get(SOME_API).await.json["message"].as_str().unwrap_or_default().contains("session has ended"));
    assert_eq!(app.get("/account/sessions").await.status, 200);
    assert!(bob.signed_in(&app).await);
}

/// Session ids, oldest first.
async fn session_ids(app: &TestApp) -> Vec<String> {
    app.db()
        .run(|c| {
            use devpilot::db::schema::sessions::dsl::*;
            use diesel::prelude::*;
            sessions.order((created_at.asc(), id.asc())).select(id).load(c)
        })
        .await
        .expect("ids")
}

async fn a_password_change_signs_out_every_other_session(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let other = SavedCookie::sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let api = jwt(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let long_lived = crate::api_tokens::mint(&app, "script", "admin", "30").await;
    let script = Api::with_token(&app, &long_lived);

    let wrong = app.post("/account/password", &[("current", "not it at all"), ("password", "a new password 1")]).await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("This is not your current password."));
    let weak = app.post("/account/password", &[("current", ADMIN_PASSWORD), ("password", "short")]).await;
    assert!(weak.status == 422 && weak.body.contains("at least 10 characters"));
    assert!(other.signed_in(&app).await && api.get(SOME_API).await.status == 200, "nothing changed yet");

    let changed = app.post("/account/password", &[("current", ADMIN_PASSWORD), ("password", "a new password 1")]).await;
    assert_eq!(changed.location.as_deref(), Some("/account"));
    assert!(app.get("/account").await.body.contains("Your 2 other sessions were signed out."), "a browser and the JWT");
    assert!(!other.signed_in(&app).await, "the other browser is out");
    assert_eq!(api.get(SOME_API).await.status, 401, "the JWT is refused");
    assert_eq!(app.get("/account").await.status, 200, "this browser stays");
    assert_eq!(script.get(SOME_API).await.status, 200, "a long-lived API token works until revoked");
    let old = app.post_with(&new_client(), "/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(old.status, 401);
    signed_in(&app, ADMIN_EMAIL, "a new password 1").await;
}

async fn a_disabled_account_loses_every_session_and_token(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    app.add_member("Bob", "bob@example.com", "bob password 1", "admin").await;
    let bob = user_id(&app, "bob@example.com").await;
    let browser = SavedCookie::sign_in(&app, "bob@example.com", "bob password 1").await;
    let api = jwt(&app, "bob@example.com", "bob password 1").await;
    let bob_client = signed_in(&app, "bob@example.com", "bob password 1").await;
    let long_lived = mint_as(&app, &bob_client).await;
    let script = Api::with_token(&app, &long_lived);
    assert!(browser.signed_in(&app).await);
    assert_eq!((api.get(SOME_API).await.status, script.get(SOME_API).await.status), (200, 200));

    app.post(&format!("/admin/accounts/{bob}/disable"), &[]).await;
    assert!(!browser.signed_in(&app).await, "the cookie is refused");
    assert_eq!(api.get(SOME_API).await.status, 401, "the JWT is refused");
    assert_eq!(script.get(SOME_API).await.status, 401, "the API token is refused");
    assert_eq!(app.get_with(&bob_client, "/destinations").await.location.as_deref(), Some("/login"));

    // Enabled again, the old sessions stay ended (a fresh sign-in is needed); the API token,
    // never revoked, works again with its owner's access.
    app.post(&format!("/admin/accounts/{bob}/enable"), &[]).await;
    assert!(!browser.signed_in(&app).await);
    assert_eq!(api.get(SOME_API).await.status, 401);
    assert_eq!(script.get(SOME_API).await.status, 200);

    // A password set by the operator ends the account's sessions too.
    let fresh = SavedCookie::sign_in(&app, "bob@example.com", "bob password 1").await;
    app.post(&format!("/admin/accounts/{bob}/password"), &[("password", "operator set 123")]).await;
    assert!(!fresh.signed_in(&app).await);
}

/// Mints a long-lived API token on this client's API page.
pub async fn mint_as(app: &TestApp, client: &reqwest::Client) -> String {
    let page = app
        .post_with(client, "/settings/api/tokens", &[("name", "bob's"), ("role", "admin"), ("lifetime", "30")])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let marker = "id=\"minted-token\" type=\"text\" readonly value=\"";
    let at = page.body.find(marker).expect("the new token is shown") + marker.len();
    page.body[at..].split('"').next().expect("token").to_owned()
}
