//! Who may do what: another workspace's destination is not found (by number or UUID); a
//! viewer reads but every write is 403 in the dialect's words; no token, 401 in its shape;
//! types the dialect does not describe point to `/api/v1`.

use super::{BASE, assert_dialect_error, assert_fields};
use crate::api_client::{admin, anonymous};
use crate::api_destinations::{other_workspace_api, viewer_api};
use crate::helpers::{Backend, spawn_app};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(workspaces_and_roles_are_kept_apart, other_types_point_to_api_v1);

const FORBIDDEN: &str = "You are not authorized to access this backup destination";
const NOT_FOUND: &str = "Backup destination not found";

async fn workspaces_and_roles_are_kept_apart(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    app.grant_folder(dir.path(), "read_write").await;
    let body = json!({"label": "Mine", "type": "local", "path": dir.path().to_string_lossy()});
    let created = api.post(BASE, body.clone()).await;
    assert_eq!(created.status, 201, "{created:?}");
    let number = created.json["data"]["id"].clone();
    let uuid = api.get("/api/v1/backup-destinations").await.json["data"][0]["id"].as_str().expect("uuid").to_owned();

    let viewer = viewer_api(&app).await;
    assert_eq!(viewer.get(&format!("{BASE}/{number}")).await.status, 200, "viewers read");
    assert_dialect_error(&viewer.post(BASE, body.clone()).await, 403, FORBIDDEN);
    assert_dialect_error(&viewer.put(&format!("{BASE}/{number}"), json!({"label": "Theirs"})).await, 403, FORBIDDEN);
    assert_dialect_error(&viewer.delete(&format!("{BASE}/{number}")).await, 403, FORBIDDEN);
    // Refused before the body is read: a body that is not even JSON gets the same answer.
    let raw = viewer.raw(reqwest::Method::POST, BASE).bearer_auth(&viewer.token).body("{not json").send().await;
    assert_eq!(raw.expect("send").status(), 403);

    let other = other_workspace_api(&app).await;
    assert_eq!(other.get(BASE).await.json["meta"]["total"], 0, "the other workspace sees none");
    for id in [number.to_string(), uuid.clone()] {
        let path = format!("{BASE}/{id}");
        assert_dialect_error(&other.get(&path).await, 404, NOT_FOUND);
        assert_dialect_error(&other.put(&path, json!({"label": "Stolen"})).await, 404, NOT_FOUND);
        assert_dialect_error(&other.delete(&path).await, 404, NOT_FOUND);
    }
    let still = api.get(&format!("{BASE}/{number}")).await;
    assert_eq!(still.json["data"]["label"], "Mine", "unchanged: {still:?}");

    let nobody = anonymous(&app).get(BASE).await;
    assert_eq!(nobody.status, 401, "{nobody:?}");
    let keys: Vec<&String> = nobody.json.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(keys, ["error", "message"], "{nobody:?}");
    assert_eq!(anonymous(&app).post(BASE, body).await.status, 401);
}

async fn other_types_point_to_api_v1(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let secret = "cloudinary-secret-never-shown";
    let config = json!({"name": "Pictures", "destinationType": "cloudinary",
        "config": {"cloud_name": "demo", "api_key": "1234", "api_secret": secret}});
    let created = api.post("/api/v1/backup-destinations", config).await;
    assert_eq!(created.status, 201, "{created:?}");
    let uuid = created.json["data"]["id"].as_str().expect("uuid").to_owned();

    let list = api.get(BASE).await;
    let item = list.json["data"][0].clone();
    let number = item["id"].clone();
    let expected = json!({"id": number, "user_id": item["user_id"], "label": "Pictures", "type": "cloudinary",
        "type_human": "Cloudinary", "api_v1_url": app.url(&format!("/api/v1/backup-destinations/{uuid}")),
        "created_at": item["created_at"], "updated_at": item["updated_at"]});
    assert_fields(&item, &expected);
    assert!(item["user_id"].as_str().is_some_and(|w| !w.is_empty()), "{item}");
    assert!(!list.json.to_string().contains(secret), "no secret");
    assert_fields(&api.get(&format!("{BASE}/{number}")).await.json["data"], &expected);

    let put = api.put(&format!("{BASE}/{number}"), json!({"label": "Renamed"})).await;
    assert_eq!(put.status, 422, "{put:?}");
    let message = put.json["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("type: ") && message.contains(&format!("/api/v1/backup-destinations/{uuid}")),
        "{message}"
    );
    assert_eq!(api.get(&format!("{BASE}/{number}")).await.json["data"]["label"], "Pictures", "unchanged");
    assert_eq!(api.delete(&format!("{BASE}/{number}")).await.status, 200, "any type can be deleted");
}
