//! Who may do what: viewers read but get 403 on every write; another workspace's destination
//! is 404 on every endpoint and missing from the list.

use super::{ALIAS, BASE, create_local, every_write, id_of, other_workspace_api, viewer_api};
use crate::api_client::{admin, assert_error};
use crate::helpers::{Backend, spawn_app};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(viewers_read_but_every_write_is_403, another_workspace_destination_is_404);

async fn viewers_read_but_every_write_is_403(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let id = id_of(&create_local(&api, "Disk", dir.path()).await);
    let before = app.destination("Disk").await;

    let viewer = viewer_api(&app).await;
    assert_eq!(viewer.get(BASE).await.json["meta"]["total"], 1);
    assert_eq!(viewer.get(&format!("{BASE}/{id}")).await.json["data"]["name"], "Disk");
    assert_eq!(viewer.get(&format!("{ALIAS}/{id}")).await.status, 200);
    for (what, reply) in every_write(&viewer, &id, dir.path()).await {
        assert_eq!(reply.status, 403, "{what}: {reply:?}");
        assert_error(&reply, 403, "Viewers can read but not change anything");
    }
    let after = app.destination("Disk").await;
    assert_eq!(
        (after.name, after.status, after.is_default, after.settings),
        (before.name, before.status, before.is_default, before.settings)
    );
    assert_eq!(app.destination_rows().await.len(), 1, "nothing was created or deleted");
}

async fn another_workspace_destination_is_404(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let id = id_of(&create_local(&api, "Ours", dir.path()).await);

    let other = other_workspace_api(&app).await;
    assert_eq!(other.get(BASE).await.json["meta"]["total"], 0);
    for base in [BASE, ALIAS] {
        let shown = other.get(&format!("{base}/{id}")).await;
        assert_error(&shown, 404, "Backup destination not found");
        assert!(!shown.json.to_string().contains("Ours"));
    }
    for (what, reply) in every_write(&other, &id, dir.path()).await {
        match what.as_str() {
            // These two do not name a destination: they act in the other workspace, which was
            // not granted our folder.
            "create" => assert_error(&reply, 422, "not granted to this workspace"),
            "test credentials" => assert_error(&reply, 422, "not granted to this workspace"),
            _ => assert_error(&reply, 404, "Backup destination not found"),
        }
    }
    let ours = app.destination("Ours").await;
    assert_eq!((ours.name.as_str(), ours.status.as_str()), ("Ours", "active"), "untouched");
    assert_eq!(api.get(BASE).await.json["meta"]["total"], 1);
    assert_eq!(other.get(BASE).await.json["meta"]["total"], 0, "our folder is not the other workspace's");
    assert_eq!(api.post(&format!("{BASE}/{id}/test"), json!({})).await.status, 200);
}
