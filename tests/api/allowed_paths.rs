//! `DEVPILOT_ALLOWED_PATHS`: local destinations, directory sources and restore targets must lie
//! under the allowed folders; anything else is refused with the reason and nothing is written.

use crate::helpers::{Backend, spawn_with, test_settings};
use crate::on_both_backends;
use crate::plans::plan;
use crate::runs::{fill, settled};
use devpilot::config::AllowedPaths;

on_both_backends!(paths_outside_the_allowed_folders_are_refused);

async fn paths_outside_the_allowed_folders_are_refused(backend: Backend) {
    let allowed = tempfile::tempdir().expect("allowed");
    let outside = tempfile::tempdir().expect("outside");
    let (mut settings, data_dir, pg) = test_settings(backend);
    settings.provider.allowed_paths = AllowedPaths::new(vec![allowed.path().to_path_buf()]);
    let app = spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;
    let inside = |name: &str| {
        let p = allowed.path().join(name);
        std::fs::create_dir_all(&p).expect("mkdir");
        p.to_string_lossy().into_owned()
    };
    let (store, source, elsewhere) = (inside("store"), inside("source"), outside.path().to_string_lossy().into_owned());

    assert_eq!(app.create_destination("Outside", "local", &[("path", &elsewhere)]).await.status, 303);
    let refused = app.destination("Outside").await;
    assert_eq!(refused.status, "failed");
    assert!(refused.message.contains("outside the folders this server allows"), "{}", refused.message);
    let sneaky = format!("{store}/../../{}", outside.path().file_name().expect("name").to_string_lossy());
    // `..` is refused by the form itself.
    assert_eq!(app.create_destination("Sneaky", "local", &[("path", &sneaky)]).await.status, 422);
    assert!(!app.destination_rows().await.iter().any(|d| d.name == "Sneaky"));
    assert_eq!(std::fs::read_dir(outside.path()).expect("outside").count(), 0, "no probe file outside");

    assert_eq!(app.create_destination("Inside", "local", &[("path", &store)]).await.status, 303);
    let destination = app.destination("Inside").await;
    assert_eq!(destination.status, "active", "{}", destination.message);
    let form = |source: String| {
        vec![
            ("name", "Files".to_owned()),
            ("source_kind", "directory".to_owned()),
            ("source_path", source),
            ("destination_id", destination.id.clone()),
            ("schedule", "0 2 * * *".to_owned()),
            ("retention", "3".to_owned()),
            ("enabled", "on".to_owned()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post("/plans", &fields).await
        }
    };
    let refused = post(form(elsewhere.clone())).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("outside the folders this server allows"), "{}", refused.body);

    fill(std::path::Path::new(&source));
    assert_eq!(post(form(source.clone())).await.status, 303);
    let id = plan(&app, "Files").await.id;
    assert_eq!(app.post(&format!("/plans/{id}/run"), &[]).await.status, 303);
    let run = settled(&app, 1).await.remove(0);
    assert_eq!(run.status, "succeeded", "{run:?}");
    let target = outside.path().join("restored").to_string_lossy().into_owned();
    let restore = app.post(&format!("/runs/{}/restore", run.id), &[("target", &target)]).await;
    assert_eq!(restore.status, 422);
    assert!(restore.body.contains("outside the folders this server allows"), "{}", restore.body);
    assert_eq!(std::fs::read_dir(outside.path()).expect("outside").count(), 0, "nothing restored outside");
    let target = allowed.path().join("restored").to_string_lossy().into_owned();
    assert_eq!(app.post(&format!("/runs/{}/restore", run.id), &[("target", &target)]).await.status, 200);
}
