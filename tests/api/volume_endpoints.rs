//! Spec 002's volumes over HTTP: a directory run cloned into a new granted folder, file for file;
//! restored in place into the folder it was made of only after that folder's path is typed (its
//! changes since undone, staged and swapped in whole); hostile targets and ids refused before
//! anything is written; `/applications/{id}/volume-backups` answered with directory schedules.

use crate::api_client::{admin, assert_error};
use crate::api_runs::{finished, start};
use crate::api_schedules::{create, other_workspace_api, viewer_api};
use crate::artifacts::tree;
use crate::helpers::Backend;
use crate::on_both_backends;
use crate::plans::fixture;
use crate::runs::fill;
use serde_json::json;

on_both_backends!(volumes_are_cloned_and_restored_in_place, applications_are_answered_with_directory_schedules);

const NO_SUCH_ID: &str = "00000000-0000-4000-8000-000000000000";

fn field(reply: &crate::api_client::Reply, name: &str) -> String {
    assert_eq!(reply.status, 422, "{reply:?}");
    reply.json["fields"][name].as_str().unwrap_or_else(|| panic!("no error on {name}: {reply:?}")).to_owned()
}

async fn volumes_are_cloned_and_restored_in_place(backend: Backend) {
    let f = fixture(backend).await;
    let root = tempfile::tempdir().expect("root");
    f.app.grant_folder(root.path(), "read_write").await;
    let root_path = std::fs::canonicalize(root.path()).expect("resolved");
    let data = root_path.join("data");
    fill(&data);
    let original = tree(&data);
    let api = admin(&f.app).await;
    let body = json!({"name": "Volume", "cron_expression": "0 2 * * *", "retention_count": 3,
                      "source": {"type": "directory", "path": data}});
    let schedule = create(&api, body).await;
    let run = start(&api, &schedule).await;
    let run = finished(&api, run["id"].as_str().expect("id")).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let run = run["id"].as_str().expect("id").to_owned();

    let clone = format!("/api/v1/backups/volume/{run}/clone");
    let into = root_path.join("clone");
    let reply = api.post(&clone, json!({"target_path": into})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json, json!({"restored": true, "from_copy": "the primary (“Disk”)", "run_id": run, "path": into}));
    assert_eq!(tree(&into), original, "the clone is file for file the backup");
    let again = api.post(&clone, json!({"target_path": into})).await;
    assert!(field(&again, "target_path").contains("already exists"), "{again:?}");

    // Hostile targets: outside the grants, through a link, relative, Devpilot's own data.
    std::os::unix::fs::symlink("/etc", root_path.join("link")).expect("symlink");
    let own = f.app.data_dir.path().join("stolen").to_string_lossy().into_owned();
    for (target, words) in [
        ("/etc/devpilot-clone".to_owned(), "not granted"),
        (root_path.join("link/clone").to_string_lossy().into_owned(), "link"),
        (format!("{}/data/../../../etc/x", root_path.display()), "not granted"),
        ("clone".to_owned(), "not an absolute path"),
        (own, "not granted"),
        (String::new(), "Enter the absolute path"),
    ] {
        let reply = api.post(&clone, json!({"target_path": target})).await;
        assert!(field(&reply, "target_path").contains(words), "{target}: {reply:?}");
    }
    assert!(!std::path::Path::new("/etc/devpilot-clone").exists() && !std::path::Path::new("/etc/clone").exists());
    for id in [NO_SUCH_ID, "not-a-uuid", "..%2F..%2Fetc"] {
        let reply = api.post(&format!("/api/v1/backups/volume/{id}/clone"), json!({"target_path": into})).await;
        assert_eq!(reply.status, 404, "{id}: {reply:?}");
    }
    let elsewhere = root_path.join("by-others");
    assert_eq!(viewer_api(&f.app).await.post(&clone, json!({"target_path": elsewhere})).await.status, 403);
    assert_eq!(other_workspace_api(&f.app).await.post(&clone, json!({"target_path": elsewhere})).await.status, 404);
    assert!(!elsewhere.exists());

    // In place: the folder changed since the backup; only its typed path lets the restore replace it.
    std::fs::write(data.join("readme.txt"), "changed since").expect("change");
    std::fs::write(data.join("added.txt"), "new since").expect("add");
    std::fs::remove_file(data.join("empty")).expect("remove");
    let changed = tree(&data);
    let restore = format!("/api/v1/backups/volume/{run}/restore");
    let unconfirmed = api.post(&restore, json!({"target_path": data})).await;
    assert!(field(&unconfirmed, "confirm").contains("type its path"), "{unconfirmed:?}");
    let mistyped = api.post(&restore, json!({"target_path": data, "confirm": root_path})).await;
    assert_eq!(mistyped.status, 422, "{mistyped:?}");
    assert_eq!(tree(&data), changed, "nothing written without the confirmation");
    let reply = api.post(&restore, json!({"target_path": data, "confirm": data})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(tree(&data), original, "restored in place: the changes since are undone");
    let leftovers: Vec<_> = std::fs::read_dir(&root_path)
        .expect("root")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.starts_with(".devpilot"))
        .collect();
    assert!(leftovers.is_empty(), "the staging folder is gone: {leftovers:?}");
    // Another non-empty folder is still refused (only the backed-up folder is replaced).
    let other = api.post(&restore, json!({"target_path": into, "confirm": into})).await;
    assert!(field(&other, "target_path").contains("is not empty"), "{other:?}");
}

async fn applications_are_answered_with_directory_schedules(backend: Backend) {
    let f = fixture(backend).await;
    let api = admin(&f.app).await;
    for id in ["app-1", NO_SUCH_ID, "%3Cscript%3Ealert(1)%3C%2Fscript%3E"] {
        let path = format!("/api/v1/applications/{id}/volume-backups");
        assert_error(&api.get(&path).await, 404, "directory schedule");
        assert_error(&api.post(&path, json!({})).await, 404, "Devpilot runs no applications");
    }
    assert_eq!(viewer_api(&f.app).await.post("/api/v1/applications/x/volume-backups", json!({})).await.status, 403);
    let document = api.get("/api/v1/openapi.json").await.json;
    for path in ["/api/v1/backups/volume/{id}/clone", "/api/v1/applications/{id}/volume-backups"] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
    assert!(document["paths"]["/api/v1/applications/{id}/volume-backups"]["post"].is_object());
}
