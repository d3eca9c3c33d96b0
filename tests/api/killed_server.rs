//! The server killed with SIGKILL (the real binary, a child process with its own data dir) while
//! two backups upload, to SFTP and to S3 behind throttled relays, and while a connection test
//! hangs; then started again on the same database. Its runs are marked interrupted (a status of
//! their own, with a message, in the history and the API), the scheduled plan runs again at its
//! next slot and only then, no destination stays Testing, and nothing the uploads left stays on
//! the destinations (SFTP's partial file, S3's incomplete multipart upload) or counts for
//! retention. With several instances on one PostgreSQL, one starting up leaves a live one's
//! running backup alone; once that one dies, a survivor marks it interrupted and cleans up.

use crate::api_client::Api;
use crate::helpers::{Backend, TestApp, moto, test_settings};
use crate::on_both_backends;
use crate::plans::plan;
use crate::provider_sftp::sftp;
use crate::relay::Relay;
use crate::runs::{RunRow, run_rows};
use crate::server_process::ServerProcess;
use devpilot::config::ProviderSettings;
use devpilot::fields::RawFields;
use devpilot::providers::ProviderContext;
use devpilot::providers::s3::{S3Config, S3Provider};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

on_both_backends!(killed_mid_run_and_mid_test);

/// Generous: the machine is shared, and these wait for real work (uploads, restarts).
const PATIENCE: Duration = Duration::from_secs(90);

/// Environment of every child: quick ticks, tests and stalls that outlive the kill, and a short
/// instance timeout (heartbeats every third of it).
fn env() -> Vec<(&'static str, String)> {
    vec![
        ("DEVPILOT_SCHEDULER_TICK_SECS", "1".into()),
        ("DEVPILOT_TEST_DEADLINE_SECS", "120".into()),
        ("DEVPILOT_UPLOAD_STALL_SECS", "300".into()),
        ("DEVPILOT_INSTANCE_TIMEOUT_SECS", "9".into()),
    ]
}

async fn killed_mid_run_and_mid_test(backend: Backend) {
    let (settings, data_dir, pg) = test_settings(backend);
    let mut server = ServerProcess::start(&settings, &env()).await;
    let mut app = TestApp::attach(server.address.clone(), &settings, data_dir, pg);
    app.setup_admin().await;

    let s = sftp();
    let sftp_relay = Relay::start(&format!("{}:{}", s.host, s.port)).await;
    let m = moto();
    let s3_relay = Relay::start(m.endpoint.trim_start_matches("http://").trim_end_matches('/')).await;
    let test_relay = Relay::start(m.endpoint.trim_start_matches("http://").trim_end_matches('/')).await;
    let remote = destination(&app, "Remote", "sftp", sftp_fields(sftp_relay.port)).await;
    let bucket = destination(&app, "Bucket", "s3", s3_fields(s3_relay.port)).await;
    let hangs = destination(&app, "Hangs", "s3", s3_fields(test_relay.port)).await;

    // Two plans over 48 MiB no compressor shrinks; the SFTP one started by the scheduler.
    let source = tempfile::tempdir().expect("source");
    std::fs::write(source.path().join("random.bin"), crate::killed_destination::pseudo_random(48 << 20))
        .expect("write");
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let (scheduled, manual) = (format!("scheduled-{unique}"), format!("manual-{unique}"));
    let scheduled_id = new_plan(&app, &scheduled, &remote, source.path()).await;
    let manual_id = new_plan(&app, &manual, &bucket, source.path()).await;

    // A connection test that hangs (its server stalls) and will still be running at the kill.
    test_relay.stall();
    let tester = {
        let (client, url, token) =
            (app.client.clone(), app.url(&format!("/destinations/{hangs}/test")), app.csrf(&app.client).await);
        tokio::spawn(async move { client.post(url).form(&[("csrf_token", token)]).send().await })
    };
    wait_for("the test to be running", || async { app.destination("Hangs").await.status == "testing" }).await;

    // The runs get under way, the S3 one once the SFTP one is going, so both are mid-way at once.
    make_due(&app, &scheduled_id).await;
    wait_for("the SFTP upload to start", || async { sftp_relay.uploaded() > 1 << 20 }).await;
    assert_eq!(app.post(&format!("/plans/{manual_id}/run"), &[]).await.status, 303);
    wait_for("both uploads to be under way", || async {
        sftp_relay.uploaded() > 6 << 20 && s3_relay.uploaded() > 12 << 20
    })
    .await;
    let slot = plan(&app, &scheduled).await.next_run_at.expect("the claim moved the plan to its next slot");
    assert!(slot > chrono::Utc::now().naive_utc(), "the next slot is ahead: {slot}");
    let plan_folder = Path::new(&s.directory).join(&scheduled);
    assert!(names_in(&plan_folder).iter().any(|n| n.contains(".partial-")), "the SFTP upload writes a partial file");

    server.kill();
    let _ = tester.await;

    // As the crash left it: running runs, a destination Testing, partial uploads on both.
    let runs = run_rows(&app).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r.status == "running"), "{runs:?}");
    assert_eq!(app.destination("Hangs").await.status, "testing");
    let direct_s3 = s3_provider(&m.endpoint);
    let incomplete = direct_s3.incomplete_uploads(&format!("{manual}/")).await.expect("list uploads");
    assert!(!incomplete.is_empty(), "the S3 upload left an incomplete multipart upload");

    // Started again on the same database and data dir.
    server = ServerProcess::start(&settings, &env()).await;
    app.address = server.address.clone();
    let runs = run_rows(&app).await;
    for run in &runs {
        assert_eq!(run.status, "interrupted", "{run:?}");
        let error = run.error.as_deref().unwrap_or_default();
        assert!(error.starts_with("Interrupted: the server running this backup stopped"), "{error}");
        assert_eq!((run.object_key.as_deref(), run.sha256.as_deref()), (None, None), "{run:?}");
    }
    let destinations = app.destination_rows().await;
    assert!(destinations.iter().all(|d| d.status != "testing"), "{destinations:?}");
    let hanging = app.destination("Hangs").await;
    assert_eq!(hanging.status, "active", "back to what it was: {}", hanging.message);
    assert!(hanging.message.contains("interrupted"), "{}", hanging.message);

    // Shown as Interrupted, in the history and the API.
    let history = app.get(&format!("/plans/{scheduled_id}")).await;
    assert!(history.body.contains("Interrupted"), "{}", history.body);
    let api = Api::with_token(&app, &crate::api_client::admin_jwt(&app).await);
    let reply = api.get(&format!("/api/v1/backup-runs/{}", runs[0].id)).await;
    assert_eq!(reply.json["data"]["status"], "interrupted", "{reply:?}");
    assert!(reply.json["data"]["error"].as_str().is_some_and(|e| e.starts_with("Interrupted")), "{reply:?}");

    // What the uploads left is removed.
    wait_for("the SFTP partial file to be removed", || async { names_in(&plan_folder).is_empty() }).await;
    wait_for("the incomplete S3 upload to be aborted", || async {
        direct_s3.incomplete_uploads(&format!("{manual}/")).await.is_ok_and(|u| u.is_empty())
    })
    .await;

    // The scheduled plan waits for its next slot: a few scheduler ticks start nothing.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(runs_of(&app, &scheduled_id).await.len(), 1, "the plan ran again at once");
    assert_eq!(plan(&app, &scheduled).await.next_run_at, Some(slot), "the slot moved");
    // Its slot comes: it runs once, and only the new artifact is on the destination.
    make_due(&app, &scheduled_id).await;
    wait_for("the plan's next run", || async {
        runs_of(&app, &scheduled_id).await.iter().any(|r| r.status == "succeeded")
    })
    .await;
    let after = runs_of(&app, &scheduled_id).await;
    assert_eq!(after.len(), 2, "{after:?}");
    let key = after[1].object_key.clone().expect("key");
    assert_eq!(names_in(&plan_folder), vec![key.rsplit('/').next().expect("name").to_owned()]);
    drop(source);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_instances_run_survives_another_starting_and_not_its_death() {
    let (settings, data_dir, pg) = test_settings(Backend::Postgres);
    let mut first = ServerProcess::start(&settings, &env()).await;
    let app = TestApp::attach(first.address.clone(), &settings, data_dir, pg);
    app.setup_admin().await;
    let s = sftp();
    let relay = Relay::start(&format!("{}:{}", s.host, s.port)).await;
    let remote = destination(&app, "Remote", "sftp", sftp_fields(relay.port)).await;
    let source = tempfile::tempdir().expect("source");
    std::fs::write(source.path().join("random.bin"), crate::killed_destination::pseudo_random(16 << 20))
        .expect("write");
    let name = format!("long-{}", uuid::Uuid::new_v4().simple());
    let plan_id = new_plan(&app, &name, &remote, source.path()).await;
    assert_eq!(app.post(&format!("/plans/{plan_id}/run"), &[]).await.status, 303);
    wait_for("the upload to be under way", || async { relay.uploaded() > 2 << 20 }).await;
    // The server behind hangs: the run stays running as long as its instance lives.
    relay.stall();

    // Another instance, with a data dir of its own, starts on the same database.
    let mut second_settings = settings.clone();
    let second_dir = tempfile::tempdir().expect("second data dir");
    second_settings.data_dir = second_dir.path().to_path_buf();
    let second = ServerProcess::start(&second_settings, &env()).await;
    // Its start-up and a few of its heartbeat rounds (every 3 s) leave the live instance's run alone.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let run = only_run(&app).await;
    assert_eq!(run.status, "running", "{run:?}\n{}", second.log());

    // The owner dies; the survivor marks its run interrupted once its heartbeat is stale.
    first.kill();
    relay.kill();
    relay.revive().await;
    wait_for("the survivor to interrupt the dead instance's run", || async {
        only_run(&app).await.status == "interrupted"
    })
    .await;
    let plan_folder = Path::new(&s.directory).join(&name);
    wait_for("the partial file to be removed", || async { names_in(&plan_folder).is_empty() }).await;
    drop(source);
}

async fn only_run(app: &TestApp) -> RunRow {
    let mut runs = run_rows(app).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs.remove(0)
}

fn sftp_fields(port: u16) -> Vec<(String, String)> {
    let mut fields = sftp().password_fields();
    fields.retain(|(k, _)| k != "port");
    fields.push(("port".into(), port.to_string()));
    fields
}

fn s3_fields(port: u16) -> Vec<(String, String)> {
    let m = moto();
    let mut fields = crate::conformance::fields(&m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket));
    fields.retain(|(k, _)| k != "endpoint");
    fields.push(("endpoint".into(), format!("http://127.0.0.1:{port}")));
    fields
}

/// The S3 provider straight at moto, as the test's own eyes on the bucket.
fn s3_provider(endpoint: &str) -> S3Provider {
    let m = moto();
    let mut fields = crate::conformance::fields(&m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket));
    fields.retain(|(k, _)| k != "endpoint");
    fields.push(("endpoint".into(), endpoint.to_owned()));
    let raw = RawFields::from_pairs(fields.iter().map(|(k, v)| (k.clone(), v.as_str())));
    let config = S3Config::parse(&raw).expect("S3 config");
    let outbound = devpilot::providers::outbound::AddressPolicy::allowing_loopback();
    let settings = ProviderSettings { max_retries: 0, outbound, ..Default::default() };
    let ctx = ProviderContext::new(settings, PathBuf::new()).expect("HTTP clients");
    S3Provider::new(&config, &ctx).expect("S3 provider")
}

/// Creates an Active destination; returns its id.
async fn destination(app: &TestApp, name: &str, kind: &str, fields: Vec<(String, String)>) -> String {
    let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(app.create_destination(name, kind, &form).await.status, 303);
    let row = app.destination(name).await;
    assert_eq!(row.status, "active", "{name}: {}", row.message);
    row.id
}

async fn new_plan(app: &TestApp, name: &str, destination: &str, source: &Path) -> String {
    app.grant_folder(source, "read").await;
    let path = source.to_string_lossy().into_owned();
    let form =
        crate::every_destination::plan_form(name, destination, &[("source_kind", "directory"), ("source_path", &path)]);
    assert_eq!(app.post("/plans", &form).await.status, 303);
    plan(app, name).await.id
}

/// Makes the plan due now, as when its slot comes.
async fn make_due(app: &TestApp, plan_id: &str) {
    let plan = plan_id.to_owned();
    let due = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(5);
    app.db()
        .run(move |c| {
            use devpilot::db::schema::plans::dsl::*;
            use diesel::prelude::*;
            diesel::update(plans.filter(id.eq(&plan))).set(next_run_at.eq(due)).execute(c)
        })
        .await
        .expect("make the plan due");
}

async fn runs_of(app: &TestApp, plan_id: &str) -> Vec<RunRow> {
    run_rows(app).await.into_iter().filter(|r| r.plan_id == plan_id).collect()
}

/// Every name in a folder of the SFTP server's disk, hidden ones included.
fn names_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

async fn wait_for<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < PATIENCE, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
