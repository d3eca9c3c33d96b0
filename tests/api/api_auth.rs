//! API authentication: a JWT from /auth/token, errors in one JSON shape, 401 for missing,
//! malformed, forged and expired tokens, rate-limited sign-ins, and no CSRF on bearer requests.

use crate::api_client::{Api, admin, anonymous, assert_error};
use crate::helpers::{ADMIN_EMAIL, Backend, spawn_app};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(
    a_jwt_opens_the_api,
    bad_tokens_are_401_with_a_clear_message,
    unknown_endpoints_and_bad_input_are_json,
    every_documented_operation_has_a_handler
);

async fn a_jwt_opens_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let list = api.get("/api/v1/backup-destinations").await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.json["meta"]["total"], 0);
    assert_eq!(list.json["meta"]["per_page"], 15);
    assert!(
        list.json["links"]["first"]
            .as_str()
            .is_some_and(|l| l.ends_with("/api/v1/backup-destinations?page=1&per_page=15"))
    );
    // No session cookie and no CSRF token, yet a write is not refused for CSRF.
    let wrong = anonymous(&app).post("/api/v1/auth/token", json!({"email": ADMIN_EMAIL, "password": "nope"})).await;
    assert_error(&wrong, 401, "The email or password is wrong.");
}

async fn bad_tokens_are_401_with_a_clear_message(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let missing = anonymous(&app).get("/api/v1/backup-destinations").await;
    assert_error(&missing, 401, "Authorization: Bearer");
    let garbage = Api::with_token(&app, "not-a-token").get("/api/v1/backup-destinations").await;
    assert_error(&garbage, 401, "malformed");
    let jwt = admin(&app).await.token;
    // Change the signature's first character: all six of its bits count (the last one's low
    // bits are padding, so changing it could leave the signature equal, or non-canonical).
    let at = jwt.rfind('.').expect("a JWT has three parts") + 1;
    let replacement = if jwt[at..].starts_with('A') { "B" } else { "A" };
    let forged = format!("{}{replacement}{}", &jwt[..at], &jwt[at + 1..]);
    assert_error(&Api::with_token(&app, &forged).get("/api/v1/backup-destinations").await, 401, "signature");
    // A token signed with another server's key.
    let other = spawn_app(backend).await;
    other.setup_admin().await;
    let foreign = admin(&other).await.token;
    assert_error(&Api::with_token(&app, &foreign).get("/api/v1/backup-destinations").await, 401, "");
    let unknown = Api::with_token(&app, "dpk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .get("/api/v1/backup-destinations")
        .await;
    assert_error(&unknown, 401, "not known");
}

async fn unknown_endpoints_and_bad_input_are_json(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    assert_error(&api.get("/api/v1/no-such-thing").await, 404, "no such API endpoint");
    assert_error(
        &api.get("/api/v1/backup-destinations/00000000-0000-0000-0000-000000000000").await,
        404,
        "Backup destination not found",
    );
    assert_error(&api.get("/api/v1/backup-destinations?per_page=500").await, 422, "per_page");
    assert_error(&api.get("/api/v1/backup-destinations?page=abc").await, 400, "query string");
    let not_json = api
        .raw(reqwest::Method::POST, "/api/v1/auth/token")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(not_json.status(), 400);
    let body: serde_json::Value = not_json.json().await.expect("JSON error");
    assert_eq!(body["error"], "Bad Request");
    let doc = anonymous(&app).get("/api/v1/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert!(doc.json["paths"]["/api/v1/backup-destinations"]["get"].is_object(), "{}", doc.json);
}

/// Every operation in the OpenAPI document reaches a handler: no "no such API endpoint" answer,
/// and the status it gives is one the document lists for it.
async fn every_documented_operation_has_a_handler(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let doc = anonymous(&app).get("/api/v1/openapi.json").await.json;
    let paths = doc["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, item) in paths {
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        for method in ["get", "post", "put", "delete"] {
            let Some(operation) = item[method].as_object() else { continue };
            let reply = match method {
                "get" => api.get(&concrete).await,
                "post" => api.post(&concrete, json!({})).await,
                "put" => api.put(&concrete, json!({})).await,
                _ => api.delete(&concrete).await,
            };
            let message = reply.json["message"].as_str().unwrap_or_default();
            assert!(!message.contains("no such API endpoint"), "{method} {path} has no handler");
            let documented = operation["responses"].as_object().expect("responses");
            assert!(documented.contains_key(&reply.status.to_string()), "{method} {path}: {reply:?} is not documented");
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} operations");
}
