//! The destination lifecycle: create (auto-tested), list, edit, test, default, disable/enable,
//! delete, pagination, and recovery of tests interrupted by a restart.

use crate::helpers::{Backend, spawn_app, spawn_with, test_settings};
use crate::on_both_backends;

on_both_backends!(
    a_local_destination_is_tested_on_create_and_listed,
    exactly_one_default_per_workspace,
    disabled_stays_disabled_until_enabled,
    edit_keeps_stored_secrets_when_left_blank,
    test_credentials_stores_nothing,
    a_failed_test_shows_the_reason_inline,
    the_list_paginates_past_fifty,
    delete_asks_first_then_removes,
    a_test_interrupted_by_a_restart_is_put_back,
    the_type_picker_loads_each_types_fields,
    a_deep_test_writes_reads_and_deletes_a_probe
);

async fn a_local_destination_is_tested_on_create_and_listed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let empty = app.get("/destinations").await;
    assert!(empty.body.contains("No destinations yet"), "empty state explains destinations");

    let created = app.create_destination("Server disk", "local", &[]).await;
    assert_eq!(created.location.as_deref(), Some("/destinations"));
    let row = app.destination("Server disk").await;
    assert_eq!(row.status, "active", "{}", row.message);
    assert!(row.tested, "the successful test time is recorded");
    assert!(row.is_default, "the first destination becomes the default");
    let own = app.data_dir.path().join("backups").join(app.workspace_id("Acme").await);
    assert!(own.is_dir(), "the workspace's own folder was created");

    let list = app.get("/destinations").await;
    assert!(list.body.contains("Saved “Server disk”. Connection test passed."));
    assert!(list.body.contains("badge active"));
    assert!(list.body.contains("just now"));
    assert!(list.body.contains("/static/icons/local.svg"));
    assert!(list.body.contains("Default"));
}

async fn exactly_one_default_per_workspace(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    for name in ["A", "B", "C"] {
        assert_eq!(app.create_destination(name, "local", &[]).await.status, 303);
    }
    let b = app.destination("B").await;
    let page = app.htmx_post(&format!("/destinations/{}/default", b.id), &[("page", "1")]).await;
    assert_eq!(page.status, 303);
    let rows = app.destination_rows().await;
    let defaults: Vec<&str> = rows.iter().filter(|r| r.is_default).map(|r| r.name.as_str()).collect();
    assert_eq!(defaults, ["B"]);

    // The database itself refuses a second default.
    let a = app.destination("A").await;
    let db = app.db();
    let result = db
        .run(move |c| {
            use devpilot::db::schema::destinations::dsl::*;
            use diesel::prelude::*;
            diesel::update(destinations.filter(id.eq(a.id))).set(is_default.eq(true)).execute(c)
        })
        .await;
    assert!(result.is_err(), "the partial unique index refuses two defaults");
}

async fn disabled_stays_disabled_until_enabled(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    app.create_destination("Disk", "local", &[]).await;
    let d = app.destination("Disk").await;
    assert_eq!(app.post(&format!("/destinations/{}/disable", d.id), &[]).await.status, 303);
    assert_eq!(app.destination("Disk").await.status, "disabled");

    let tested = app.htmx_post(&format!("/destinations/{}/test", d.id), &[]).await;
    assert_eq!(tested.status, 200);
    assert!(tested.body.contains("badge disabled"), "the row still says Disabled: {}", tested.body);
    assert_eq!(app.destination("Disk").await.status, "disabled");
    assert!(app.get("/destinations").await.body.contains("Enable"));

    assert_eq!(app.post(&format!("/destinations/{}/enable", d.id), &[]).await.status, 303);
    assert_eq!(app.destination("Disk").await.status, "active", "enabling re-tests");
}

async fn edit_keeps_stored_secrets_when_left_blank(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let fields = [("cloud_name", "demo"), ("api_key", "123456"), ("api_secret", "first-secret")];
    app.create_destination("Media", "cloudinary", &fields).await;
    let before = app.destination("Media").await;
    // The test's Cloudinary endpoint is a closed local port.
    assert_eq!(before.status, "failed", "Cloudinary cannot be reached: {}", before.message);
    assert!(before.message.contains("Could not reach http://127.0.0.1:"), "{}", before.message);

    let edit = app.get(&format!("/destinations/{}/edit", before.id)).await;
    assert!(edit.body.contains("value=\"demo\""), "settings are shown again");
    assert!(edit.body.contains("A value is stored"));
    assert!(!edit.body.contains("first-secret") && !edit.body.contains("123456"));

    // Blank secrets keep the stored ones: the form is valid without retyping them.
    let updated = app
        .post(
            &format!("/destinations/{}", before.id),
            &[("name", "Media library"), ("type", "cloudinary"), ("config.cloud_name", "demo2")],
        )
        .await;
    assert_eq!(updated.status, 303, "{}", updated.body);
    let after = app.destination("Media library").await;
    assert_ne!(after.credentials, before.credentials, "re-sealed with a fresh nonce");
    assert!(after.settings.contains("demo2"));

    // Switching the type does not carry secrets over: the new type's must be entered.
    let switched = app
        .post(
            &format!("/destinations/{}", before.id),
            &[("name", "Media library"), ("type", "s3"), ("config.bucket", "b-1")],
        )
        .await;
    assert_eq!(switched.status, 422);
    assert!(switched.body.contains("id=\"f-access_key_id-error\""));
}

async fn test_credentials_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let ok = app.htmx_post("/destinations/test-credentials", &[("name", ""), ("type", "local")]).await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("Connection OK."), "{}", ok.body);

    let granted = tempfile::tempdir().expect("granted");
    app.grant_folder(granted.path(), "read_write").await;
    let missing = granted.path().join("no-such-folder");
    let path = missing.to_string_lossy().into_owned();
    let bad = app.htmx_post("/destinations/test-credentials", &[("type", "local"), ("config.path", &path)]).await;
    assert!(bad.body.contains("Test failed.") && bad.body.contains("does not exist"), "{}", bad.body);
    assert!(!missing.exists(), "a folder the admin named is never created by a test");
    let inside = app.data_dir.path().join("no-such-folder").to_string_lossy().into_owned();
    let refused = app.htmx_post("/destinations/test-credentials", &[("type", "local"), ("config.path", &inside)]).await;
    assert!(refused.body.contains("not granted to this workspace"), "{}", refused.body);

    // Invalid input comes back as the form body with the error next to its field.
    let invalid =
        app.htmx_post("/destinations/test-credentials", &[("type", "local"), ("config.path", "relative/path")]).await;
    assert_eq!(invalid.status, 422);
    assert!(invalid.body.contains("id=\"f-path-error\""));
    assert!(invalid.body.contains("absolute path"));
    assert!(app.destination_rows().await.is_empty());
}

async fn a_failed_test_shows_the_reason_inline(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let granted = tempfile::tempdir().expect("granted");
    app.grant_folder(granted.path(), "read_write").await;
    let target = granted.path().join("target");
    std::fs::create_dir_all(&target).expect("mkdir");
    let path = target.to_string_lossy().into_owned();
    app.create_destination("Mount", "local", &[("path", &path)]).await;
    let d = app.destination("Mount").await;
    assert_eq!(d.status, "active");

    // The folder goes away (an unmounted disk): the next test fails with the reason.
    std::fs::remove_dir_all(&target).expect("rmdir");
    let row = app.htmx_post(&format!("/destinations/{}/test", d.id), &[]).await;
    assert_eq!(row.status, 200);
    assert!(row.body.starts_with("<tr id=\"dest-"), "an htmx test returns the row: {}", row.body);
    assert!(row.body.contains("badge failed"));
    assert!(row.body.contains("does not exist"));
    let after = app.destination("Mount").await;
    assert_eq!(after.status, "failed");
    assert!(after.tested, "the last successful test time is kept");
}

async fn the_list_paginates_past_fifty(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    for i in 0..53 {
        assert_eq!(app.create_destination(&format!("Disk {i:02}"), "local", &[]).await.status, 303);
    }
    let first = app.get("/destinations").await;
    assert_eq!(first.body.matches("<tr id=\"dest-").count(), 50);
    assert!(first.body.contains("53 destinations · page 1 of 2"));
    assert!(first.body.contains("/destinations?page=2"));
    let second = app.get("/destinations?page=2").await;
    assert_eq!(second.body.matches("<tr id=\"dest-").count(), 3);
    assert!(second.body.contains("/destinations?page=1"));
}

async fn delete_asks_first_then_removes(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    app.create_destination("Old", "local", &[]).await;
    let d = app.destination("Old").await;
    let confirm = app.get(&format!("/destinations/{}/delete", d.id)).await;
    assert!(confirm.body.contains("Delete “Old”?"));
    assert!(confirm.body.contains("default destination"), "deleting the default is called out");
    assert!(!app.destination_rows().await.is_empty(), "asking deletes nothing");
    let deleted = app.post(&format!("/destinations/{}/delete", d.id), &[]).await;
    assert_eq!(deleted.location.as_deref(), Some("/destinations"));
    assert!(app.destination_rows().await.is_empty());
    assert!(app.get("/destinations").await.body.contains("Deleted “Old”."));
    assert_eq!(app.post(&format!("/destinations/{}/delete", d.id), &[]).await.status, 404);
}

async fn a_test_interrupted_by_a_restart_is_put_back(backend: Backend) {
    let (settings, data_dir, pg) = test_settings(backend);
    let app = spawn_with(settings.clone(), data_dir, pg).await;
    app.setup_admin().await;
    app.create_destination("Disk", "local", &[]).await;
    let granted = tempfile::tempdir().expect("granted");
    app.grant_folder(granted.path(), "read_write").await;
    let broken = granted.path().join("nonexistent").to_string_lossy().into_owned();
    app.create_destination("Broken", "local", &[("path", &broken)]).await;
    // Simulate a crash mid-test: both rows left in Testing, remembering what they were.
    app.db()
        .run(|c| {
            use devpilot::db::schema::destinations::dsl::*;
            use diesel::prelude::*;
            diesel::update(destinations)
                .set((status_before_test.eq(status.nullable()), status.eq("testing")))
                .execute(c)
        })
        .await
        .expect("update");
    assert!(app.destination_rows().await.iter().all(|r| r.status == "testing"));

    // A second server start on the same database puts them back.
    let mut restarted = settings;
    restarted.port = 0;
    devpilot::startup::Application::build(restarted).await.expect("restart");
    let rows = app.destination_rows().await;
    let status_of = |n: &str| rows.iter().find(|r| r.name == n).map(|r| r.status.clone()).unwrap_or_default();
    assert_eq!(status_of("Disk"), "active");
    assert_eq!(status_of("Broken"), "failed");
    assert!(rows.iter().all(|r| r.message.contains("interrupted")));
}

async fn the_type_picker_loads_each_types_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let new = app.get("/destinations/new").await;
    assert!(new.body.contains("id=\"f-path\""), "the form opens on the local type");
    for kind in devpilot::providers::ProviderKind::ALL {
        let body = app
            .htmx_post(
                "/destinations/fields",
                &[("name", "Kept"), ("type", kind.as_str()), ("config.bucket", "kept-bucket")],
            )
            .await;
        assert_eq!(body.status, 200);
        assert!(body.body.starts_with("<div id=\"form-body\">"), "a partial, not a page");
        assert!(body.body.contains("value=\"Kept\""), "the name typed so far is kept");
        for spec in kind.fields() {
            assert!(body.body.contains(&format!("name=\"config.{}\"", spec.name)), "{}: {}", kind.as_str(), spec.name);
        }
    }
    let s3 = app.htmx_post("/destinations/fields", &[("type", "s3"), ("config.bucket", "kept-bucket")]).await;
    assert!(s3.body.contains("value=\"kept-bucket\""), "values typed so far survive a type change");
    assert!(s3.body.contains("Cloudflare R2") && s3.body.contains("Backblaze B2") && s3.body.contains("MinIO"));
}

async fn a_deep_test_writes_reads_and_deletes_a_probe(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let granted = tempfile::tempdir().expect("granted");
    app.grant_folder(granted.path(), "read_write").await;
    let folder = granted.path().join("deep");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let path = folder.to_string_lossy().into_owned();
    let tested = app
        .htmx_post("/destinations/test-credentials", &[("type", "local"), ("config.path", &path), ("deep", "true")])
        .await;
    assert!(tested.body.contains("Wrote, read back and deleted a probe object."), "{}", tested.body);
    for step in ["✓ find bucket/folder", "✓ write probe", "✓ read back", "✓ delete probe"] {
        assert!(tested.body.contains(step), "{step}: {}", tested.body);
    }
    app.create_destination("Deep", "local", &[("path", &path)]).await;
    let d = app.destination("Deep").await;
    let row = app.htmx_post(&format!("/destinations/{}/test", d.id), &[("deep", "true")]).await;
    assert!(row.body.contains("probe object"), "{}", row.body);
    let left: Vec<_> = walk(&folder);
    assert!(left.is_empty(), "the probe is deleted: {left:?}");

    // A staged failure says which step broke.
    std::fs::remove_dir_all(&folder).expect("rmdir");
    let failed = app
        .htmx_post("/destinations/test-credentials", &[("type", "local"), ("config.path", &path), ("deep", "true")])
        .await;
    assert!(failed.body.contains("✗ find bucket/folder") && failed.body.contains("· write probe"), "{}", failed.body);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { found.extend(walk(&path)) } else { found.push(path) }
    }
    found
}
