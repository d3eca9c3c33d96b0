//! Writers at the same moment: every request answers as it should, never "database is locked"
//! (SQLite write transactions take the write lock up front instead of upgrading a read lock).

use crate::api_client::admin;
use crate::helpers::{Backend, spawn_app};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(concurrent_creates_and_deletes_all_succeed);

async fn concurrent_creates_and_deletes_all_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let api = admin(&app).await;
    let folder = tempfile::tempdir().expect("folder");
    app.grant_folder(folder.path(), "read_write").await;
    let path = folder.path().to_string_lossy().into_owned();
    let create = |name: String| {
        let api = &api;
        let path = path.clone();
        async move {
            api.post(
                "/api/v1/backup-destinations",
                json!({"name": name, "destinationType": "local", "config": {"path": path}}),
            )
            .await
        }
    };
    let mut ids = Vec::new();
    for n in 0..40 {
        let reply = create(format!("First {n}")).await;
        assert_eq!(reply.status, 201, "{reply:?}");
        ids.push(reply.json["data"]["id"].as_str().expect("id").to_owned());
    }
    let deletes = ids.iter().map(|id| api.delete_owned(format!("/api/v1/backup-destinations/{id}")));
    let creates = (0..40).map(|n| create(format!("Second {n}")));
    let (deleted, created) = futures::join!(futures::future::join_all(deletes), futures::future::join_all(creates));
    for reply in &deleted {
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    for reply in &created {
        assert_eq!(reply.status, 201, "{reply:?}");
    }
    let list = api.get("/api/v1/backup-destinations?per_page=100").await;
    assert_eq!(list.json["meta"]["total"], 40, "{list:?}");
}
