//! The destinations API: create (tested at once), show, list, update (blank secrets kept),
//! delete (409 while plans use it, `force` disables them), tests of saved destinations and of
//! unsaved credentials (200 or 422 with the provider's message), the default, Google's consent
//! URL; every error in one shape; viewers 403 on every write; another workspace's destination
//! 404; no secret in any response body. Also under spec 002's `/settings/backup-destinations`.

mod access;
mod crud;
mod errors;
mod oauth;
mod redaction;
mod tests_and_default;

use crate::api_client::{Api, Reply, anonymous};
use crate::helpers::TestApp;
use serde_json::{Value, json};

pub const BASE: &str = "/api/v1/backup-destinations";
/// The same endpoints at the path of spec 002.
pub const ALIAS: &str = "/api/v1/settings/backup-destinations";
pub const REDACTED: &str = "••••";

/// Creates a local destination in `dir` (granted first) through the API; returns the reply's `data`.
pub async fn create_local(api: &Api<'_>, name: &str, dir: &std::path::Path) -> Value {
    api.app.grant_folder(dir, "read_write").await;
    let reply = api
        .post(BASE, json!({"name": name, "destinationType": "local", "config": {"path": dir.to_string_lossy()}}))
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.json["data"].clone()
}

pub fn id_of(data: &Value) -> String {
    data["id"].as_str().expect("an id").to_owned()
}

/// An API client for a new viewer of the admin's workspace.
pub async fn viewer_api(app: &TestApp) -> Api<'_> {
    crate::provider_sftp::viewer(app).await;
    let reply = anonymous(app)
        .post("/api/v1/auth/token", json!({"email": "viewer@example.com", "password": "viewer password 1"}))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    Api::with_token(app, reply.json["access_token"].as_str().expect("a token"))
}

/// The admin opens a second workspace; an API client acting there.
pub async fn other_workspace_api(app: &TestApp) -> Api<'_> {
    assert_eq!(app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    let other: String = app
        .db()
        .run(|c| {
            use devpilot::db::schema::workspaces::dsl::*;
            use diesel::prelude::*;
            workspaces.filter(name.eq("Other")).select(id).first(c)
        })
        .await
        .expect("the other workspace");
    let reply = anonymous(app)
        .post(
            "/api/v1/auth/token",
            json!({"email": crate::helpers::ADMIN_EMAIL, "password": crate::helpers::ADMIN_PASSWORD, "workspace_id": other}),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    Api::with_token(app, reply.json["access_token"].as_str().expect("a token"))
}

/// Every write endpoint of one destination, with a body that would be valid.
pub async fn every_write(api: &Api<'_>, id: &str, dir: &std::path::Path) -> Vec<(String, Reply)> {
    let config = json!({"name": "Changed", "destinationType": "local", "config": {"path": dir.to_string_lossy()}});
    vec![
        ("create".into(), api.post(BASE, config.clone()).await),
        ("test credentials".into(), api.post(&format!("{BASE}/test"), config.clone()).await),
        ("update".into(), api.put(&format!("{BASE}/{id}"), config).await),
        ("test".into(), api.post(&format!("{BASE}/{id}/test"), json!({})).await),
        ("default".into(), api.post(&format!("{BASE}/{id}/default"), json!({})).await),
        ("oauth".into(), api.post(&format!("{BASE}/{id}/oauth"), json!({})).await),
        ("delete".into(), api.delete(&format!("{BASE}/{id}")).await),
        ("force delete".into(), api.delete(&format!("{BASE}/{id}?force=true")).await),
    ]
}
