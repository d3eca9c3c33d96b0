//! A destination server that dies mid-upload: the run fails and records no artifact, nothing
//! half-written is visible on the destination, and once the server is back the next run succeeds
//! and removes what the cut-off upload could not (SFTP's partial file). Against the real sshd and
//! moto, behind a relay the test kills.

use crate::conformance::{self, Fixture, fields};
use crate::helpers::{Backend, TestApp, moto};
use crate::on_both_backends;
use crate::plans::plan;
use crate::provider_sftp::sftp;
use crate::relay::Relay;
use crate::runs::{run_rows, settled};
use devpilot::providers::ProviderKind;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

on_both_backends!(an_sftp_server_killed_mid_upload, an_s3_server_killed_mid_upload);

/// How long SFTP writes may go unacknowledged: the killed connection never reports an error.
const STALL: Duration = Duration::from_secs(4);

async fn an_sftp_server_killed_mid_upload(backend: Backend) {
    let s = sftp();
    let relay = Relay::start(&format!("{}:{}", s.host, s.port)).await;
    let mut fixture = Fixture::new(ProviderKind::Sftp, {
        let mut f = s.password_fields();
        f.retain(|(k, _)| k != "port");
        f.push(("port".into(), relay.port.to_string()));
        f
    });
    fixture.settings.stall_timeout = STALL;
    let plan_folder = |slug: &str| Path::new(&s.directory).join(slug);
    killed_mid_upload(&fixture, backend, &relay, |slug| {
        // sshd serves this machine's disk: the test can look at what the upload left.
        let folder = plan_folder(slug);
        std::fs::read_dir(&folder)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    })
    .await;
}

async fn an_s3_server_killed_mid_upload(backend: Backend) {
    let m = moto();
    let target = m.endpoint.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let relay = Relay::start(&target).await;
    let endpoint = format!("http://127.0.0.1:{}", relay.port);
    let good = m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket);
    let mut good = fields(&good);
    good.retain(|(k, _)| k != "endpoint");
    good.push(("endpoint".into(), endpoint));
    let fixture = Fixture::new(ProviderKind::S3, good);
    let direct = fields(&m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket));
    let dir = tempfile::tempdir().expect("dir");
    let provider = conformance::provider(&fixture, &direct, dir.path());
    let listed = |slug: String| {
        let provider = &provider;
        async move { provider.list(&format!("{slug}/")).await.expect("list").into_iter().map(|o| o.key).collect::<Vec<_>>() }
    };
    killed_mid_upload_s3(&fixture, backend, &relay, listed).await;
}

/// The shared story; `files_in(slug)` lists every name in the plan's folder on the server.
async fn killed_mid_upload(fixture: &Fixture, backend: Backend, relay: &Relay, files_in: impl Fn(&str) -> Vec<String>) {
    let (app, slug, source) = plan_with_large_source(fixture, backend).await;
    let first = start_run(&app, &slug).await;
    // Wait until the upload is well under way on the server, then kill it.
    wait_for_upload(relay).await;
    assert!(files_in(&slug).iter().any(|n| n.contains(".partial-")), "the upload writes a partial file");
    relay.kill();
    let run = settled(&app, 1).await.remove(0);
    assert_eq!((run.id.as_str(), run.status.as_str()), (first.as_str(), "failed"), "{run:?}");
    assert_eq!(run.object_key, None);
    let left = files_in(&slug);
    assert!(left.iter().all(|n| n.starts_with('.')), "a visible artifact after a failed run: {left:?}");

    relay.revive().await;
    start_run(&app, &slug).await;
    let run = settled(&app, 2).await.remove(1);
    assert_eq!(run.status, "succeeded", "{run:?}");
    let key = run.object_key.clone().expect("key");
    let name = key.rsplit('/').next().expect("name").to_owned();
    assert_eq!(files_in(&slug), vec![name], "exactly the new artifact, and no leftovers");
    drop(source);
}

async fn killed_mid_upload_s3<F, Fut>(fixture: &Fixture, backend: Backend, relay: &Relay, listed: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let (app, slug, source) = plan_with_large_source(fixture, backend).await;
    let first = start_run(&app, &slug).await;
    wait_for_upload(relay).await;
    relay.kill();
    let run = settled(&app, 1).await.remove(0);
    assert_eq!((run.id.as_str(), run.status.as_str()), (first.as_str(), "failed"), "{run:?}");
    assert!(listed(slug.clone()).await.is_empty(), "an object is visible after the failed run");

    relay.revive().await;
    start_run(&app, &slug).await;
    let run = settled(&app, 2).await.remove(1);
    assert_eq!(run.status, "succeeded", "{run:?}");
    assert_eq!(listed(slug.clone()).await, vec![run.object_key.clone().expect("key")]);
    let dir = tempfile::tempdir().expect("dir");
    let provider = conformance::provider(fixture, &fixture.good, dir.path());
    let stored = conformance::read_all(provider.as_ref(), &run.object_key.expect("key")).await;
    assert_eq!(hex::encode(Sha256::digest(&stored)), run.sha256.expect("sha"), "the stored object is whole");
    drop(source);
}

/// An app with the fixture's destination and a plan over 48 MiB that zstd cannot shrink (so the
/// throttled upload takes seconds). Returns the plan's slug.
async fn plan_with_large_source(fixture: &Fixture, backend: Backend) -> (TestApp, String, tempfile::TempDir) {
    let (app, destination) = crate::every_destination::app_with_destination(fixture, backend).await;
    let source = tempfile::tempdir().expect("source");
    std::fs::write(source.path().join("random.bin"), pseudo_random(48 * 1024 * 1024)).expect("write");
    app.grant_folder(source.path(), "read").await;
    let slug = format!("killed-{}", uuid::Uuid::new_v4().simple());
    let path = source.path().to_string_lossy().into_owned();
    let form = crate::every_destination::plan_form(
        &slug,
        &destination,
        &[("source_kind", "directory"), ("source_path", &path)],
    );
    assert_eq!(app.post("/plans", &form).await.status, 303);
    (app, slug, source)
}

async fn start_run(app: &TestApp, plan_name: &str) -> String {
    let id = plan(app, plan_name).await.id;
    let before = run_rows(app).await.len();
    assert_eq!(app.post(&format!("/plans/{id}/run"), &[]).await.status, 303);
    run_rows(app).await.get(before).expect("the new run").id.clone()
}

/// Waits until 12 MiB of the upload (more than one 8 MiB part) has reached the server.
async fn wait_for_upload(relay: &Relay) {
    for _ in 0..600 {
        if relay.uploaded() > 12 * 1024 * 1024 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the upload did not get under way: {} bytes", relay.uploaded());
}

/// Bytes no compressor can shrink (xorshift).
pub fn pseudo_random(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}
