//! Long-lived API tokens from the API page: shown once, stored only as a hash, scoped to the
//! workspace and the role given (never above the creator's), refused once revoked or expired or
//! when the creator leaves; the API reference page lists the OpenAPI document's endpoints.

use crate::api_client::{Api, assert_error};
use crate::helpers::{Backend, TestApp, captured_logs, spawn_app};
use crate::on_both_backends;
use crate::provider_sftp::viewer;
use serde_json::json;

on_both_backends!(
    a_token_is_shown_once_and_works_until_revoked,
    token_roles_and_expiry_are_enforced,
    the_reference_page_lists_every_endpoint
);

/// Mints a token on the API page; returns it (from the one page that shows it).
pub async fn mint(app: &TestApp, name: &str, role: &str, lifetime: &str) -> String {
    let page = app.post("/settings/api/tokens", &[("name", name), ("role", role), ("lifetime", lifetime)]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let marker = "id=\"minted-token\" type=\"text\" readonly value=\"";
    let at = page.body.find(marker).expect("the new token is shown") + marker.len();
    page.body[at..].split('"').next().expect("token").to_owned()
}

async fn token_hashes(app: &TestApp) -> Vec<(String, String, Option<chrono::NaiveDateTime>)> {
    app.db()
        .run(|c| {
            use devpilot::db::schema::api_tokens::dsl::*;
            use diesel::prelude::*;
            api_tokens.select((prefix, token_hash, revoked_at)).load(c)
        })
        .await
        .expect("tokens")
}

async fn a_token_is_shown_once_and_works_until_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let token = mint(&app, "deploy script", "admin", "90").await;
    assert!(token.starts_with("dpk_") && token.len() > 40, "{token}");
    let list = app.get("/settings/api").await.body;
    assert!(list.contains("deploy script") && list.contains(&token[..12]), "the list shows the prefix");
    assert!(!list.contains(&token), "the token is shown only once");
    let rows = token_hashes(&app).await;
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].1, token, "only a hash is stored");
    assert_eq!(rows[0].1.len(), 64);
    assert!(!captured_logs().contains(&token), "the token reached the logs");

    let api = Api::with_token(&app, &token);
    assert_eq!(api.get("/api/v1/backup-destinations").await.status, 200);
    let id = app
        .db()
        .run(|c| {
            use devpilot::db::schema::api_tokens::dsl::*;
            use diesel::prelude::*;
            api_tokens.select(id).first::<String>(c)
        })
        .await
        .expect("id");
    let revoked = app.post(&format!("/settings/api/tokens/{id}/revoke"), &[]).await;
    assert_eq!(revoked.status, 303);
    assert_error(&api.get("/api/v1/backup-destinations").await, 401, "revoked");
    assert!(token_hashes(&app).await[0].2.is_some());
    assert_eq!(app.post(&format!("/settings/api/tokens/{id}/revoke"), &[]).await.status, 404, "already revoked");
}

async fn token_roles_and_expiry_are_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let bad = app.post("/settings/api/tokens", &[("name", ""), ("role", "emperor"), ("lifetime", "7")]).await;
    assert_eq!(bad.status, 422);
    for field in ["name", "role", "lifetime"] {
        assert!(bad.body.contains(&format!("id=\"f-{field}-error\"")), "{field}: {}", bad.body);
    }
    assert!(token_hashes(&app).await.is_empty());

    // A viewer token reads but cannot write.
    let read_only = Api::with_token(&app, &mint(&app, "dashboard", "viewer", "30").await);
    assert_eq!(read_only.get("/api/v1/backup-destinations").await.status, 200);
    let write = read_only
        .post(
            "/api/v1/backup-destinations",
            json!({"name": "X", "destinationType": "local", "config": {"path": "/tmp"}}),
        )
        .await;
    assert_error(&write, 403, "Viewers");

    // Viewers cannot reach the token page at all.
    let viewer = viewer(&app).await;
    assert_eq!(app.get_with(&viewer, "/settings/api").await.status, 403);
    assert_eq!(
        app.post_with(&viewer, "/settings/api/tokens", &[("name", "x"), ("role", "viewer"), ("lifetime", "30")])
            .await
            .status,
        403
    );

    // An expired token says so.
    let token = mint(&app, "short-lived", "admin", "30").await;
    app.db()
        .run(|c| {
            use devpilot::db::schema::api_tokens::dsl::*;
            use diesel::prelude::*;
            let past = chrono::Utc::now().naive_utc() - chrono::Duration::days(1);
            diesel::update(api_tokens.filter(name.eq("short-lived"))).set(expires_at.eq(past)).execute(c)
        })
        .await
        .expect("expire");
    assert_error(&Api::with_token(&app, &token).get("/api/v1/backup-destinations").await, 401, "expired");
}

async fn the_reference_page_lists_every_endpoint(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let page = app.get("/api").await;
    assert_eq!(page.status, 200);
    let doc: serde_json::Value =
        reqwest::get(app.url("/api/v1/openapi.json")).await.expect("doc").json().await.expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, item) in paths {
        for method in ["get", "post", "put", "delete"] {
            if item[method].is_object() {
                let shown = format!("{} {}", method.to_uppercase(), path.replace('{', "&#123;").replace('}', "&#125;"));
                let plain = format!("{} {}", method.to_uppercase(), path);
                assert!(page.body.contains(&shown) || page.body.contains(&plain), "{plain} is not on the page");
            }
        }
    }
    assert!(app.get("/settings/api").await.body.contains("href=\"/api\""), "the API page links the reference");
}
