//! Host folders by grant. `DEVPILOT_ALLOWED_PATHS` is the operator's ceiling: a folder outside it
//! is never granted. Inside a grant a workspace backs up, writes and restores; anywhere else it is
//! told "not granted to this workspace", and an operator gets a link to the grant page.

use crate::fingerprint;
use crate::helpers::{Backend, spawn_with, test_settings};
use crate::on_both_backends;
use crate::plans::plan;
use crate::runs::{fill, settled};
use devpilot::config::AllowedPaths;

on_both_backends!(grants_under_the_ceiling_are_what_a_workspace_may_use);

async fn grants_under_the_ceiling_are_what_a_workspace_may_use(backend: Backend) {
    let allowed = tempfile::tempdir().expect("allowed");
    let outside = tempfile::tempdir().expect("outside");
    let (mut settings, data_dir, pg) = test_settings(backend);
    settings.allowed_paths = AllowedPaths::new(vec![allowed.path().to_path_buf()]);
    let app = spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;
    let inside = |name: &str| {
        let p = allowed.path().join(name);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    };
    let (store, source) = (inside("store"), inside("source"));
    let elsewhere = outside.path().to_string_lossy().into_owned();

    // The ceiling: a grant outside it is refused next to the field, nothing stored.
    let before = fingerprint::state(&app).await;
    let workspace = app.workspace_id("Acme").await;
    let form = [("kind", "folder"), ("workspace_id", &workspace), ("path", &elsewhere), ("access", "read")];
    let refused = app.post("/admin/grants", &form).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("outside the folders this server allows grants in"), "{}", refused.body);
    assert_eq!(fingerprint::state(&app).await, before, "a refused grant changes nothing");
    app.grant_folder(&store, "read_write").await;
    app.grant_folder(&source, "read").await;
    let page = app.get("/admin/grants").await;
    assert!(page.body.contains(&store.to_string_lossy().into_owned()) && page.body.contains("Read and write"));

    // Not granted: refused at save with the words and, to this operator, the grant link.
    let refused = app.create_destination("Outside", "local", &[("path", &elsewhere)]).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("not granted to this workspace"), "{}", refused.body);
    assert!(refused.body.contains("/admin/grants?workspace="), "the operator gets the grant link");
    let read_only = app.create_destination("Read only", "local", &[("path", &source.to_string_lossy())]).await;
    assert_eq!(read_only.status, 422);
    assert!(read_only.body.contains("for reading only"), "{}", read_only.body);
    assert_eq!(std::fs::read_dir(outside.path()).expect("outside").count(), 0, "no probe file outside");

    assert_eq!(app.create_destination("Inside", "local", &[("path", &store.to_string_lossy())]).await.status, 303);
    let destination = app.destination("Inside").await;
    assert_eq!(destination.status, "active", "{}", destination.message);
    let post_plan = |source: String| {
        let (app, destination) = (&app, destination.id.clone());
        async move {
            let source = [("source_kind", "directory"), ("source_path", source.as_str())];
            app.post("/plans", &crate::every_destination::plan_form("Files", &destination, &source)).await
        }
    };
    let refused = post_plan(elsewhere.clone()).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("not granted to this workspace"), "{}", refused.body);
    assert!(refused.body.contains("/admin/grants?workspace="), "the operator gets the grant link");

    fill(&source);
    assert_eq!(post_plan(source.to_string_lossy().into_owned()).await.status, 303);
    let id = plan(&app, "Files").await.id;
    assert_eq!(app.post(&format!("/plans/{id}/run"), &[]).await.status, 303);
    let run = settled(&app, 1).await.remove(0);
    assert_eq!(run.status, "succeeded", "{run:?}");
    let target = outside.path().join("restored").to_string_lossy().into_owned();
    let restore = app.post(&format!("/runs/{}/restore", run.id), &[("target", &target)]).await;
    assert_eq!(restore.status, 422);
    assert!(restore.body.contains("not granted to this workspace"), "{}", restore.body);
    assert!(restore.body.contains("/admin/grants?workspace="), "the operator gets the grant link");
    assert_eq!(std::fs::read_dir(outside.path()).expect("outside").count(), 0, "nothing restored outside");
    let into_source = source.join("restored").to_string_lossy().into_owned();
    let restore = app.post(&format!("/runs/{}/restore", run.id), &[("target", &into_source)]).await;
    assert!(restore.body.contains("for reading only"), "{}", restore.body);
    let target = store.join("restored").to_string_lossy().into_owned();
    assert_eq!(app.post(&format!("/runs/{}/restore", run.id), &[("target", &target)]).await.status, 200);
    assert!(store.join("restored").is_dir());
}
