//! A provider that accepts the connection and never answers, for an S3 endpoint, an Azure
//! endpoint and an SFTP host: a connection test to it ends Failed at the test deadline (a fresh
//! destination on a listener that never says a word, and a saved one whose server hangs after it
//! was set up), and a run whose server hangs mid-upload fails with a timeout, while another
//! plan's run succeeds and pages keep answering. The real servers sit behind a relay the test
//! stalls: every connection stays open, no byte passes.

use crate::conformance::{Fields, Fixture};
use crate::helpers::{Backend, TestApp, moto};
use crate::on_both_backends;
use crate::plans::plan;
use crate::provider_azure::azurite;
use crate::provider_sftp::sftp;
use crate::relay::Relay;
use crate::runs::run_rows;
use crate::silent_server::SilentServer;
use devpilot::providers::ProviderKind;
use std::time::{Duration, Instant};

on_both_backends!(a_silent_s3_endpoint, a_silent_azure_endpoint, a_silent_sftp_host);

const DEADLINE: Duration = Duration::from_secs(4);
const STALL: Duration = Duration::from_secs(3);
/// How long anything that must be bounded by the deadlines above may take here: generous, as
/// the machine is shared; without the timeouts these take minutes.
const BOUND: Duration = Duration::from_secs(40);

async fn a_silent_s3_endpoint(backend: Backend) {
    let m = moto();
    let relay = Relay::start(m.endpoint.trim_start_matches("http://").trim_end_matches('/')).await;
    let silent = SilentServer::start().await;
    let with_endpoint = |endpoint: String| {
        let mut f = crate::conformance::fields(&m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket));
        replace(&mut f, "endpoint", endpoint);
        f
    };
    let fixture = fixture(ProviderKind::S3, with_endpoint(format!("http://127.0.0.1:{}", relay.port)));
    silent_provider(&fixture, backend, &relay, with_endpoint(silent.endpoint())).await;
}

async fn a_silent_azure_endpoint(backend: Backend) {
    let a = azurite();
    let account_path = a.endpoint.rsplit_once('/').map(|(_, account)| account.to_owned()).expect("account");
    let origin = a.endpoint.trim_start_matches("http://").split('/').next().expect("host").to_owned();
    let relay = Relay::start(&origin).await;
    let silent = SilentServer::start().await;
    let with_endpoint = |endpoint: String| {
        let mut f = crate::provider_azure::fixture().good;
        replace(&mut f, "endpoint", endpoint);
        f
    };
    let fixture =
        fixture(ProviderKind::AzureBlob, with_endpoint(format!("http://127.0.0.1:{}/{account_path}", relay.port)));
    silent_provider(&fixture, backend, &relay, with_endpoint(format!("{}/{account_path}", silent.endpoint()))).await;
}

async fn a_silent_sftp_host(backend: Backend) {
    let s = sftp();
    let relay = Relay::start(&format!("{}:{}", s.host, s.port)).await;
    let silent = SilentServer::start().await;
    let with_port = |port: u16| {
        let mut f = s.password_fields();
        replace(&mut f, "host", "127.0.0.1".into());
        replace(&mut f, "port", port.to_string());
        f
    };
    let fixture = fixture(ProviderKind::Sftp, with_port(relay.port));
    silent_provider(&fixture, backend, &relay, with_port(silent.port)).await;
}

fn fixture(kind: ProviderKind, good: Fields) -> Fixture {
    let mut f = Fixture::new(kind, good);
    f.settings.test_deadline = DEADLINE;
    f.settings.stall_timeout = STALL;
    f.settings.connect_timeout = Duration::from_secs(3);
    f
}

fn replace(fields: &mut Fields, name: &str, value: String) {
    fields.retain(|(k, _)| k != name);
    fields.push((name.to_owned(), value));
}

/// The shared story: `fixture.good` reaches the real server through `relay`; `silent` is a
/// destination on a listener that never answers.
async fn silent_provider(fixture: &Fixture, backend: Backend, relay: &Relay, silent: Fields) {
    let kind = fixture.kind.as_str();
    let (app, destination) = crate::every_destination::app_with_destination(fixture, backend).await;

    // A new destination on a server that accepts and says nothing: Failed at the deadline.
    let form: Vec<(&str, &str)> = silent.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let started = Instant::now();
    assert_eq!(app.create_destination("Silent", kind, &form).await.status, 303, "{kind}");
    let row = app.destination("Silent").await;
    assert_eq!(row.status, "failed", "{kind}: {}", row.message);
    assert!(says_timeout(&row.message), "{kind}: not a timeout: {}", row.message);
    assert!(started.elapsed() < BOUND, "{kind}: the test took {:?}", started.elapsed());

    // Two plans: one to the provider that is about to hang, one to a local folder.
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let hanging = format!("Hanging {unique}");
    let source = tempfile::tempdir().expect("source");
    std::fs::write(source.path().join("random.bin"), crate::killed_destination::pseudo_random(32 << 20))
        .expect("write");
    app.grant_folder(source.path(), "read").await;
    let source_path = source.path().to_string_lossy().into_owned();
    let plan_source = [("source_kind", "directory"), ("source_path", source_path.as_str())];
    let form = crate::every_destination::plan_form(&hanging, &destination, &plan_source);
    assert_eq!(app.post("/plans", &form).await.status, 303, "{kind}");
    let local = local_plan(&app, &unique).await;

    // The upload gets under way, then the server hangs.
    let hanging_id = plan(&app, &hanging).await.id;
    assert_eq!(app.post(&format!("/plans/{hanging_id}/run"), &[]).await.status, 303);
    wait_for_upload(relay).await;
    relay.stall();
    let stalled_at = Instant::now();

    // Meanwhile other work goes on: another plan's run succeeds, pages answer.
    let local_id = plan(&app, &local.0).await.id;
    assert_eq!(app.post(&format!("/plans/{local_id}/run"), &[]).await.status, 303);
    let other = wait_for_end(&app, &local_id).await;
    assert_eq!(other.status, "succeeded", "{kind}: {other:?}");
    for path in ["/destinations", "/plans", "/runs", &format!("/plans/{hanging_id}")] {
        let asked = Instant::now();
        assert_eq!(app.get(path).await.status, 200, "{kind}: {path}");
        assert!(asked.elapsed() < Duration::from_secs(10), "{kind}: {path} took {:?}", asked.elapsed());
    }

    // The hanging run fails with a timeout, bounded by the stall timeout and the retries.
    let run = wait_for_end(&app, &hanging_id).await;
    assert_eq!(run.status, "failed", "{kind}: {run:?}");
    let error = run.error.clone().unwrap_or_default();
    assert!(says_timeout(&error), "{kind}: not a timeout: {error}");
    assert!(stalled_at.elapsed() < BOUND * 2, "{kind}: the run took {:?} to fail", stalled_at.elapsed());
    assert_eq!(run.object_key, None);

    // Testing the saved destination now: Failed at the deadline, the phase after connect included.
    let started = Instant::now();
    let tested = app.post(&format!("/destinations/{destination}/test"), &[]).await;
    assert!(matches!(tested.status, 200 | 303), "{kind}: {}", tested.status);
    let row = app.destination("Everywhere").await;
    assert_eq!(row.status, "failed", "{kind}: {}", row.message);
    assert!(says_timeout(&row.message), "{kind}: not a timeout: {}", row.message);
    assert!(started.elapsed() < BOUND, "{kind}: the test took {:?}", started.elapsed());
    drop(source);
}

/// A local destination and a small plan to it; returns the plan's name and the folders.
async fn local_plan(app: &TestApp, unique: &str) -> (String, [tempfile::TempDir; 2]) {
    let (folder, source) = (tempfile::tempdir().expect("folder"), tempfile::tempdir().expect("source"));
    std::fs::write(source.path().join("small.txt"), b"small").expect("write");
    app.grant_folder(folder.path(), "read_write").await;
    app.grant_folder(source.path(), "read").await;
    let path = folder.path().to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    let disk = app.destination("Disk").await;
    assert_eq!(disk.status, "active", "{}", disk.message);
    let source_path = source.path().to_string_lossy().into_owned();
    let name = format!("Local {unique}");
    let form = crate::every_destination::plan_form(
        &name,
        &disk.id,
        &[("source_kind", "directory"), ("source_path", source_path.as_str())],
    );
    assert_eq!(app.post("/plans", &form).await.status, 303);
    (name, [folder, source])
}

/// The words every timeout of the providers and the test deadline say.
pub fn says_timeout(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "no answer in time",
        "did not answer within",
        "did not answer in time",
        "did not finish within",
        "stopped answering",
        "stopped acknowledging",
    ]
    .iter()
    .any(|p| m.contains(p))
}

async fn wait_for_upload(relay: &Relay) {
    for _ in 0..600 {
        if relay.uploaded() > 4 * 1024 * 1024 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the upload did not get under way: {} bytes", relay.uploaded());
}

/// Waits (at most a few minutes) for the plan's latest run to end.
async fn wait_for_end(app: &TestApp, plan_id: &str) -> crate::runs::RunRow {
    for _ in 0..1800 {
        let run = run_rows(app).await.into_iter().rfind(|r| r.plan_id == plan_id);
        if let Some(run) = run.filter(|r| r.status != "queued" && r.status != "running") {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the run of {plan_id} did not end: {:?}", run_rows(app).await);
}
