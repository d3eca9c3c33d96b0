//! Each workspace its own folder: local destinations without a folder write under
//! `<backups>/<workspace id>/`. Artifacts an older version wrote into the shared
//! `<backups>/<plan slug>/` are moved into their workspace's folder at start-up, under the same
//! object key, so the runs that recorded them still download and restore them.

use crate::helpers::{Backend, spawn_app, spawn_with, test_settings};
use crate::on_both_backends;
use crate::plans::plan;
use crate::runs::{fill, settled};

on_both_backends!(
    backups_of_the_shared_folder_move_into_their_workspace_folder,
    test_messages_name_the_workspace_folder_not_its_server_path
);

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

/// Where a workspace's own folder lies on the server is the operator's business: a workspace
/// admin's connection tests, passed or failed, name it "[workspace folder]".
async fn test_messages_name_the_workspace_folder_not_its_server_path(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let owner = crate::admin_area::tenant_owner(&app, "Olive", "olive@example.com", "olive password 1", "Olive").await;
    let server_path = app.data_dir.path().display().to_string();
    let saved = app.post_with(&owner, "/destinations", &[("name", "Own"), ("type", "local")]).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let own = app.destination("Own").await;
    assert_eq!((own.status.as_str(), own.message.as_str()), ("active", "[workspace folder] exists and is writable."));

    let tried = app.post_with(&owner, "/destinations/test-credentials", &[("name", "Again"), ("type", "local")]).await;
    assert!(tried.body.contains("[workspace folder] exists and is writable."), "{}", tried.body);
    assert!(!tried.body.contains(&server_path), "{}", tried.body);

    // The folder replaced by a file: the failure names it the same way.
    let folder = app.data_dir.path().join("backups").join(&own.workspace_id);
    std::fs::remove_dir_all(&folder).expect("rm the workspace folder");
    std::fs::write(&folder, b"not a folder").expect("a file in its place");
    assert_eq!(app.post_with(&owner, &format!("/destinations/{}/test", own.id), &[]).await.status, 303);
    let failed = app.destination("Own").await;
    assert_eq!(failed.status, "failed", "{failed:?}");
    assert!(failed.message.contains("[workspace folder]"), "{}", failed.message);
    let list = app.get_with(&owner, "/destinations").await.body;
    for shown in [&failed.message, &list] {
        assert!(!shown.contains(&server_path), "no server path in {shown}");
    }
}
