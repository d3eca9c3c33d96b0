//! Master key rotation (`devpilot rotate-key`, run here in-process through the same function): every
//! sealed value moves to the new key; a run interrupted after the new key file was written is
//! finished by running it again; the running server keeps opening everything meanwhile (it reads
//! the key file again); `--retire-previous` drops the old key. A server started with a key the
//! database does not know, or without its key file, refuses to start and says why.

use crate::helpers::{Backend, TestApp, spawn_with, test_settings};
use crate::on_both_backends;
use crate::runs::{fill, settled};
use devpilot::config::Settings;
use devpilot::crypto::{KeyRing, MasterKey, sealed_key_id, write_key_file};
use devpilot::keys::{key_ids_in_use, rotate};
use devpilot::startup::Application;

on_both_backends!(rotation_reseals_everything_and_the_server_keeps_working, a_wrong_or_missing_key_stops_the_start);

/// An app whose master key lives in its key file (not the environment), with sealed values of
/// every kind: destination credentials, a managed server's login, an artifact key.
async fn app_with_secrets(backend: Backend) -> (TestApp, Settings, tempfile::TempDir) {
    let (mut settings, data_dir, pg) = test_settings(backend);
    settings.master_key = None;
    let kept = settings.clone();
    let app = spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;
    let store = tempfile::tempdir().expect("store");
    app.grant_folder(store.path(), "read_write").await;
    let path = store.path().to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    let cloud = [("cloud_name", "acme"), ("api_key", "1234"), ("api_secret", "cloudinary-secret-value")];
    assert_eq!(app.create_destination("Cloud", "cloudinary", &cloud).await.status, 303);
    let server = [
        ("name", "Box"),
        ("config.host", "127.0.0.1"),
        ("config.port", "1"),
        ("config.username", "u"),
        ("config.password", "server-pw"),
    ];
    let saved = app.post("/servers", &server).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    (app, kept, store)
}

async fn rotation_reseals_everything_and_the_server_keeps_working(backend: Backend) {
    let (app, settings, _store) = app_with_secrets(backend).await;
    let source = tempfile::tempdir().expect("source");
    fill(source.path());
    app.grant_folder(source.path(), "read").await;
    let disk = app.destination("Disk").await.id;
    let source_path = source.path().to_string_lossy().into_owned();
    let plan = [
        ("name", "Sealed"),
        ("source_kind", "directory"),
        ("source_path", source_path.as_str()),
        ("destination_id", disk.as_str()),
        ("schedule", "0 2 * * *"),
        ("retention", "5"),
        ("encrypt", "on"),
    ];
    assert_eq!(app.post("/plans", &plan).await.status, 303);
    let plan_id = crate::plans::plan(&app, "Sealed").await.id;
    assert_eq!(app.post(&format!("/plans/{plan_id}/run"), &[]).await.status, 303);
    let before = settled(&app, 1).await.remove(0);
    assert_eq!(before.status, "succeeded", "{before:?}");

    let key_file = settings.master_key_file();
    let old = KeyRing::parse(&std::fs::read_to_string(&key_file).expect("key file")).expect("ring");
    let db = app.db();
    let in_use = key_ids_in_use(&db).await.expect("ids");
    assert_eq!(in_use.into_iter().collect::<Vec<_>>(), vec![old.current.id().to_owned()]);

    // An interrupted rotation: the new key file was written, nothing re-sealed yet.
    let new = MasterKey::generate();
    let new_id = new.id().to_owned();
    let interrupted =
        KeyRing { current: new, previous: vec![MasterKey::from_base64(&old.current.to_base64()).expect("key")] };
    write_key_file(&key_file, &interrupted).expect("write");
    let message = rotate::run(&settings, false).await.expect("rotate");
    assert!(message.contains(&format!("Current master key: {new_id}")), "{message}");
    assert_eq!(key_ids_in_use(&db).await.expect("ids").into_iter().collect::<Vec<_>>(), vec![new_id.clone()]);
    let again = rotate::run(&settings, false).await.expect("run again");
    assert!(again.contains("Re-sealed 0 value(s)"), "{again}");

    // The running server opens values under the new key (it reads the key file again).
    assert_eq!(app.post(&format!("/destinations/{disk}/test"), &[]).await.status, 303);
    assert_eq!(app.destination("Disk").await.status, "active");
    let place = tempfile::tempdir().expect("restore");
    app.grant_folder(place.path(), "read_write").await;
    let restored = place.path().join("into");
    let page = app.post(&format!("/runs/{}/restore", before.id), &[("target", &restored.to_string_lossy())]).await;
    assert_eq!(page.status, 200, "the encrypted backup restores after the rotation: {}", page.body);

    let retired = rotate::run(&settings, true).await.expect("retire");
    assert!(retired.contains("Retired 1 previous key"), "{retired}");
    let ring = KeyRing::parse(&std::fs::read_to_string(&key_file).expect("key file")).expect("ring");
    assert_eq!((ring.current.id(), ring.previous.len()), (new_id.as_str(), 0));
    // A fresh rotation makes yet another key.
    rotate::run(&settings, false).await.expect("rotate again");
    let third = KeyRing::parse(&std::fs::read_to_string(&key_file).expect("key file")).expect("ring");
    assert_ne!(third.current.id(), new_id);
    let credentials: Vec<Vec<u8>> = db
        .run(|c| {
            use devpilot::db::schema::destinations::dsl::*;
            use diesel::prelude::*;
            destinations.select(credentials).load(c)
        })
        .await
        .expect("rows");
    assert!(credentials.iter().all(|v| sealed_key_id(v) == Some(third.current.id())));
}

async fn a_wrong_or_missing_key_stops_the_start(backend: Backend) {
    let (_app, settings, _store) = app_with_secrets(backend).await;
    let mut wrong = settings.clone();
    wrong.master_key = Some(MasterKey::generate().to_base64());
    let error = Application::build(wrong).await.err().expect("a wrong key stops the start").to_string();
    assert!(error.contains("which this server does not have"), "{error}");

    std::fs::remove_file(settings.master_key_file()).expect("remove the key file");
    let error = Application::build(settings.clone()).await.err().expect("a missing key stops the start").to_string();
    assert!(error.contains("is missing") && error.contains("restore the file"), "{error}");
    assert!(!settings.master_key_file().exists(), "no new key file was made over the old data");
}
