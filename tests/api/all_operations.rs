//! Every operation a destination's credentials must allow, through the app (for the
//! least-privilege tests: S3 with the IAM policy shown, Azure with the SAS shown).

use crate::every_destination::plan_form;
use crate::helpers::TestApp;
use crate::runs::{fill, settled};

/// How the download went.
#[derive(Debug, PartialEq, Eq)]
pub enum Download {
    /// A redirect to a presigned link, followed.
    Link,
    /// Streamed through Devpilot.
    Streamed,
}

/// A plan of a directory on `destination` with retention 1, run twice (the second prunes the
/// first), the last backup downloaded and restored; each asserted to succeed, nothing failed for
/// want of a permission.
pub async fn runs_prune_download_restore(app: &TestApp, destination: &str, plan_name: &str) -> Download {
    let source = tempfile::tempdir().expect("source");
    app.grant_folder(source.path(), "read").await;
    fill(source.path());
    let path = source.path().to_string_lossy().into_owned();
    let mut form = plan_form(plan_name, destination, &[("source_kind", "directory"), ("source_path", &path)]);
    form.retain(|(k, _)| *k != "retention");
    form.push(("retention", "1"));
    assert_eq!(app.post("/plans", &form).await.status, 303);
    let plan = crate::plans::plan(app, plan_name).await.id;
    for count in 1..=2 {
        assert_eq!(app.post(&format!("/plans/{plan}/run"), &[]).await.status, 303);
        let runs = settled(app, count).await;
        let last = runs.last().expect("a run");
        assert_eq!(last.status, "succeeded", "{last:?}");
        assert!(last.error.is_none(), "nothing failed for want of a permission: {last:?}");
    }
    let runs = settled(app, 2).await;
    assert!(runs[0].pruned, "retention deleted the first backup: {runs:?}");
    let run = &runs[1];

    let download = app.client.get(app.url(&format!("/runs/{}/download", run.id))).send().await.expect("download");
    let (how, bytes) = match download.headers().get("location").and_then(|l| l.to_str().ok()) {
        Some(link) => (Download::Link, reqwest::get(link).await.expect("presigned").bytes().await.expect("body")),
        None => {
            assert_eq!(download.status(), 200);
            (Download::Streamed, download.bytes().await.expect("body"))
        }
    };
    assert_eq!(Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))), run.sha256);
    let place = tempfile::tempdir().expect("restore place");
    app.grant_folder(place.path(), "read_write").await;
    let into = place.path().join("restored");
    let restored = app.post(&format!("/runs/{}/restore", run.id), &[("target", &into.to_string_lossy())]).await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(crate::artifacts::tree(&into), crate::artifacts::tree(source.path()));
    how
}
