//! A local destination whose disk is full or read-only: the run fails with the system's words
//! for it, nothing is recorded as succeeded (an earlier artifact stays, counted as before), and
//! no partial file remains. On a small tmpfs the test mounts.

use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_backends;
use crate::plans::plan;
use crate::runs::{run_rows, settled};
use crate::tmpfs::Tmpfs;

on_both_backends!(a_full_disk_fails_the_run, a_read_only_disk_fails_the_run);

async fn a_full_disk_fails_the_run(backend: Backend) {
    let disk = Tmpfs::mount("1m");
    let (app, source, plan_id) = app_with_plan_on(&disk, backend).await;
    let first = run(&app, &plan_id, 1).await;
    assert_eq!(first.status, "succeeded", "{first:?}");
    let kept = disk.files();
    assert_eq!(kept.len(), 1, "{kept:?}");

    // Now more than the disk holds (incompressible).
    std::fs::write(source.path().join("large.bin"), crate::killed_destination::pseudo_random(3 << 20)).expect("write");
    let failed = run(&app, &plan_id, 2).await;
    assert_eq!(failed.status, "failed", "{failed:?}");
    let error = failed.error.clone().unwrap_or_default();
    assert!(error.contains("No space left on device"), "{error}");
    assert_eq!((failed.object_key.as_deref(), failed.sha256.as_deref(), failed.bytes), (None, None, 0));
    assert_eq!(disk.files(), kept, "a partial file remains, or the earlier artifact went");
    let succeeded: Vec<_> = run_rows(&app).await.into_iter().filter(|r| r.status == "succeeded").collect();
    assert_eq!(succeeded.len(), 1, "{succeeded:?}");
}

async fn a_read_only_disk_fails_the_run(backend: Backend) {
    let disk = Tmpfs::mount("4m");
    let (app, _source, plan_id) = app_with_plan_on(&disk, backend).await;
    disk.read_only(true);
    let failed = run(&app, &plan_id, 1).await;
    assert_eq!(failed.status, "failed", "{failed:?}");
    let error = failed.error.clone().unwrap_or_default();
    assert!(error.contains("Read-only file system"), "{error}");
    assert_eq!(failed.object_key, None);
    assert!(disk.files().is_empty(), "{:?}", disk.files());

    // Testing the destination says so too.
    let destination = app.destination("Small disk").await;
    app.post(&format!("/destinations/{}/test", destination.id), &[]).await;
    let destination = app.destination("Small disk").await;
    assert_eq!(destination.status, "failed");
    assert!(destination.message.contains("Read-only file system"), "{}", destination.message);
    disk.read_only(false);
}

/// An app with an Active local destination on `disk` and a plan over a small folder.
async fn app_with_plan_on(disk: &Tmpfs, backend: Backend) -> (TestApp, tempfile::TempDir, String) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    app.grant_folder(std::path::Path::new(&disk.path_string()), "read_write").await;
    let path = disk.path_string();
    assert_eq!(app.create_destination("Small disk", "local", &[("path", &path)]).await.status, 303);
    let destination = app.destination("Small disk").await;
    assert_eq!(destination.status, "active", "{}", destination.message);
    let source = tempfile::tempdir().expect("source");
    std::fs::write(source.path().join("small.txt"), b"a few bytes").expect("write");
    app.grant_folder(source.path(), "read").await;
    let source_path = source.path().to_string_lossy().into_owned();
    let form = crate::every_destination::plan_form(
        "Onto the small disk",
        &destination.id,
        &[("source_kind", "directory"), ("source_path", source_path.as_str())],
    );
    assert_eq!(app.post("/plans", &form).await.status, 303);
    let id = plan(&app, "Onto the small disk").await.id;
    (app, source, id)
}

/// Runs the plan now and returns the workspace's `count`th run once everything has ended.
async fn run(app: &TestApp, plan_id: &str, count: usize) -> crate::runs::RunRow {
    assert_eq!(app.post(&format!("/plans/{plan_id}/run"), &[]).await.status, 303);
    settled(app, count).await.remove(count - 1)
}
