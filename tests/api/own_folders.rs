//! Each workspace its own folder: local destinations without a folder write under
//! `<backups>/<workspace id>/`. Artifacts an older version wrote into the shared
//! `<backups>/<plan slug>/` are moved into their workspace's folder at start-up, under the same
//! object key, so the runs that recorded them still download and restore them.

use crate::helpers::{Backend, spawn_with, test_settings};
use crate::on_both_backends;
use crate::plans::plan;
use crate::runs::{fill, settled};

on_both_backends!(backups_of_the_shared_folder_move_into_their_workspace_folder);

async fn backups_of_the_shared_folder_move_into_their_workspace_folder(backend: Backend) {
    let (settings, data_dir, pg) = test_settings(backend);
    let app = spawn_with(settings.clone(), data_dir, pg).await;
    app.setup_admin().await;
    assert_eq!(app.create_destination("Disk", "local", &[]).await.status, 303);
    let disk = app.destination("Disk").await.id;
    let source = tempfile::tempdir().expect("source");
    fill(source.path());
    app.grant_folder(source.path(), "read").await;
    let path = source.path().to_string_lossy().into_owned();
    let form =
        crate::every_destination::plan_form("Nightly", &disk, &[("source_kind", "directory"), ("source_path", &path)]);
    assert_eq!(app.post("/plans", &form).await.status, 303);
    let id = plan(&app, "Nightly").await.id;
    assert_eq!(app.post(&format!("/plans/{id}/run"), &[]).await.status, 303);
    let run = settled(&app, 1).await.remove(0);
    assert_eq!(run.status, "succeeded", "{run:?}");
    let key = run.object_key.clone().expect("key");
    let backups = app.data_dir.path().join("backups");
    let own = backups.join(app.workspace_id("Acme").await);
    let artifact = std::fs::read(own.join(&key)).expect("written into the workspace's own folder");

    // As an older version left it: in the folder every workspace shared.
    let shared = backups.join(&key);
    std::fs::create_dir_all(shared.parent().expect("folder")).expect("mkdir");
    std::fs::rename(own.join(&key), &shared).expect("move");
    std::fs::remove_dir(own.join(&key).parent().expect("folder")).expect("rmdir");
    assert_ne!(app.get(&format!("/runs/{}/download", run.id)).await.status, 200, "not where it is looked for");
    devpilot::startup::Application::build(settings).await.expect("a start on the same database");
    assert_eq!(std::fs::read(own.join(&key)).expect("moved back under its key"), artifact);
    assert!(!shared.exists() && !shared.parent().expect("folder").exists(), "the shared folder is emptied");
    let download = app.get(&format!("/runs/{}/download", run.id)).await;
    assert_eq!(download.status, 200, "{}", download.body);
}
