//! Bad input answers in the one error shape: 400 for what is not JSON or a bad query flag, 401
//! without a token, 404 for unknown and malformed ids, 422 with `fields` keyed by their place in
//! the body; 409 while plans use a destination, unless `force=true`.

use super::{BASE, create_local, id_of};
use crate::api_client::{admin, anonymous, assert_error};
use crate::helpers::{Backend, spawn_app};
use crate::on_both_backends;
use crate::plans::{fixture, plan};
use serde_json::json;

on_both_backends!(
    invalid_bodies_are_422_with_fields,
    malformed_requests_are_400_401_or_404,
    deleting_a_destination_in_use_is_409_unless_forced
);

async fn invalid_bodies_are_422_with_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    create_local(&api, "Disk", dir.path()).await;
    let cases = [
        (json!({"name": "X"}), "destinationType", "destinationType is required"),
        (json!({"name": "X", "destinationType": "ftp"}), "destinationType", "Unknown destination type"),
        (json!({"name": "X", "destinationType": "s3", "destination_type": "gcs"}), "destinationType", "differ"),
        (json!({"name": " ", "destinationType": "local"}), "name", "Name is required."),
        (json!({"name": "x".repeat(101), "destinationType": "local"}), "name", "at most 100"),
        (json!({"name": "disk", "destinationType": "local"}), "name", "already exists"),
        (json!({"name": "X", "destinationType": "local", "config": {"path": "relative"}}), "config.path", "absolute"),
        (json!({"name": "X", "destinationType": "local", "config": {"bucket": "b"}}), "config.bucket", "has no field"),
        (json!({"name": "X", "destinationType": "local", "config": {"path": 5}}), "config.path", "must be a string"),
        (
            json!({"name": "X", "destinationType": "s3", "config": {"path_style": 1}}),
            "config.path_style",
            "true or false",
        ),
        (json!({"name": "X", "destinationType": "sftp", "config": {"port": 70000}}), "config.port", "from 1 to 65535"),
        (json!({"name": "X", "destinationType": "s3", "config": {}}), "config.bucket", "Bucket is required."),
        (json!({"name": "X", "destinationType": "local", "config": {}, "path": "/tmp"}), "path", "inside config"),
    ];
    for (body, field, message) in cases {
        let reply = api.post(BASE, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {reply:?}");
        assert_eq!(reply.json["error"], "Unprocessable Entity");
        let shown = reply.json["fields"][field].as_str().unwrap_or_else(|| panic!("{body}: no {field} in {reply:?}"));
        assert!(shown.contains(message), "{body}: {shown}");
    }
    // Wrong JSON types for the body's own fields.
    assert_error(&api.post(BASE, json!({"name": 5, "destinationType": "local"})).await, 422, "not valid");
    assert_error(
        &api.post(BASE, json!({"name": "X", "destinationType": "local", "config": [1]})).await,
        422,
        "not valid",
    );
    // The same rules on an update, and on a credentials test.
    let id = id_of(&api.get(BASE).await.json["data"][0]);
    let bad = json!({"config": {"path": "relative"}});
    let reply = api.put(&format!("{BASE}/{id}"), bad.clone()).await;
    assert_error(&reply, 422, "absolute");
    assert!(reply.json["fields"]["config.path"].is_string());
    let reply =
        api.post(&format!("{BASE}/test"), json!({"destinationType": "local", "config": {"path": "relative"}})).await;
    assert_error(&reply, 422, "absolute");
    assert!(reply.json["fields"]["config.path"].is_string() && reply.json.get("test").is_none(), "{reply:?}");
    assert_eq!(app.destination_rows().await.len(), 1, "nothing was saved");
}

async fn malformed_requests_are_400_401_or_404(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let id = id_of(&create_local(&api, "Disk", dir.path()).await);
    for (method, path) in [(reqwest::Method::POST, BASE.to_owned()), (reqwest::Method::PUT, format!("{BASE}/{id}"))] {
        let reply = api
            .raw(method, &path)
            .bearer_auth(&api.token)
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .expect("send");
        assert_eq!(reply.status(), 400, "{path}");
        let body: serde_json::Value = reply.json().await.expect("JSON");
        assert_eq!(body["error"], "Bad Request");
    }
    assert_error(&api.delete(&format!("{BASE}/{id}?force=maybe")).await, 400, "query string");
    assert_error(&api.post(&format!("{BASE}/{id}/test?deep=yes"), json!({})).await, 400, "query string");

    let nobody = anonymous(&app);
    for reply in super::every_write(&nobody, &id, dir.path()).await.into_iter().map(|(_, r)| r) {
        assert_error(&reply, 401, "Authorization: Bearer");
    }
    assert_error(&nobody.get(&format!("{BASE}/{id}")).await, 401, "Bearer");
    assert_error(&nobody.get(BASE).await, 401, "Bearer");

    let unknown = "00000000-0000-4000-8000-000000000000";
    for bad in [unknown, "not-a-uuid", "%00"] {
        assert_error(&api.get(&format!("{BASE}/{bad}")).await, 404, "Backup destination not found");
        assert_error(&api.put(&format!("{BASE}/{bad}"), json!({"name": "X"})).await, 404, "not found");
        assert_error(&api.delete(&format!("{BASE}/{bad}")).await, 404, "not found");
        for action in ["test", "default", "oauth"] {
            assert_error(&api.post(&format!("{BASE}/{bad}/{action}"), json!({})).await, 404, "not found");
        }
    }
    assert_eq!(app.destination("Disk").await.name, "Disk", "unchanged");
}

async fn deleting_a_destination_in_use_is_409_unless_forced(backend: Backend) {
    let f = fixture(backend).await;
    for name in ["Nightly", "Hourly"] {
        assert_eq!(f.save_plan("/plans", name, &[]).await.status, 303);
    }
    let api = admin(&f.app).await;
    let path = format!("{BASE}/{}", f.destination_id);
    let refused = api.delete(&path).await;
    assert_error(&refused, 409, "Plans use this destination: Hourly, Nightly.");
    assert_eq!(refused.json["plans"], json!(["Hourly", "Nightly"]));
    assert_eq!(api.get(&path).await.status, 200, "nothing was deleted");
    assert!(plan(&f.app, "Nightly").await.enabled, "and no plan was disabled");
    assert_error(&api.delete(&format!("{path}?force=false")).await, 409, "force=true");

    let forced = api.delete(&format!("{path}?force=true")).await;
    assert_eq!(forced.status, 200, "{forced:?}");
    assert_eq!(forced.json["message"], "Backup destination successfully deleted");
    assert_eq!(forced.json["disabled_plans"], json!(["Hourly", "Nightly"]));
    assert_eq!(api.get(&path).await.status, 404);
    for name in ["Nightly", "Hourly"] {
        let row = plan(&f.app, name).await;
        assert_eq!((row.enabled, row.destination_id), (false, None), "{name} is disabled and detached");
    }
}
