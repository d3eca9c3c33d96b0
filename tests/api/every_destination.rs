//! Backups that come back, on every destination type against its real local server (stand-ins
//! only for Google's token endpoint, Drive's resumable uploads and Cloudinary): a directory is backed up, restored through
//! the restore page into an empty folder and compared file for file; a PostgreSQL database is
//! backed up encrypted, the stored object is checked to be ciphertext, and it is restored into a
//! fresh database and compared row for row.

use crate::artifacts::{ScratchDb, rows, tree};
use crate::conformance::{self, Fixture, read_all};
use crate::helpers::{Backend, TestApp, spawn_with, test_settings};
use crate::on_both_backends;
use crate::plans::plan;
use crate::runs::{fill, settled};
use crate::standins::cloudinary::Cloudinary;
use crate::{provider_azure, provider_cloudinary, provider_drive, provider_gcs, provider_local, provider_s3};
use crate::{provider_sftp, runs};
use diesel::RunQueryDsl;

on_both_backends!(
    local_backups_restore,
    s3_backups_restore,
    s3s_backups_restore,
    s3s_vhost_backups_restore,
    azure_backups_restore,
    azure_sas_backups_restore,
    sftp_backups_restore,
    gcs_backups_restore,
    drive_backups_restore,
    cloudinary_backups_restore
);

async fn local_backups_restore(backend: Backend) {
    let (fixture, _dir) = provider_local::fixture();
    backups_restore(&fixture, backend).await;
}

async fn s3_backups_restore(backend: Backend) {
    backups_restore(&provider_s3::fixture(), backend).await;
}

/// The same against s3s-fs, a second S3 implementation: path-style, and virtual-hosted.
async fn s3s_backups_restore(backend: Backend) {
    backups_restore(&provider_s3::s3s_fixture(false), backend).await;
}

async fn s3s_vhost_backups_restore(backend: Backend) {
    backups_restore(&provider_s3::s3s_fixture(true), backend).await;
}

async fn azure_backups_restore(backend: Backend) {
    backups_restore(&provider_azure::fixture(), backend).await;
}

/// Signed with a container SAS that has only the permissions Devpilot needs.
async fn azure_sas_backups_restore(backend: Backend) {
    backups_restore(&provider_azure::sas_fixture(), backend).await;
}

async fn sftp_backups_restore(backend: Backend) {
    backups_restore(&provider_sftp::fixture(), backend).await;
}

async fn gcs_backups_restore(backend: Backend) {
    let google = provider_gcs::google().await;
    backups_restore(&provider_gcs::fixture(&google), backend).await;
}

/// On our Drive stand-in: google-drive-mock has no resumable uploads, which runs use.
async fn drive_backups_restore(backend: Backend) {
    let standin = provider_drive::StandIn::start();
    backups_restore(&standin.fixture(), backend).await;
}

async fn cloudinary_backups_restore(backend: Backend) {
    use provider_cloudinary::{API_KEY, API_SECRET, CLOUD};
    let cloudinary = Cloudinary::start(CLOUD, API_KEY, API_SECRET);
    backups_restore(&provider_cloudinary::fixture(&cloudinary), backend).await;
}

/// An app with the fixture's provider settings and its good destination, through the form:
/// Active. Returns the destination's id.
pub async fn app_with_destination(fixture: &Fixture, backend: Backend) -> (TestApp, String) {
    let (mut settings, data_dir, pg) = test_settings(backend);
    settings.provider = fixture.settings.clone();
    let app = spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;
    if let Some(folder) = &fixture.grant {
        app.grant_folder(folder, "read_write").await;
    }
    let good: Vec<(&str, &str)> = fixture.good.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(app.create_destination("Everywhere", fixture.kind.as_str(), &good).await.status, 303);
    let row = app.destination("Everywhere").await;
    assert_eq!(row.status, "active", "{}: {}", fixture.kind.as_str(), row.message);
    (app, row.id)
}

async fn backups_restore(fixture: &Fixture, backend: Backend) {
    let kind = fixture.kind.as_str();
    let (app, destination) = app_with_destination(fixture, backend).await;
    crate::database_grants::grant_test_postgres(&app).await;
    // Plans with unique names: the destinations behind moto, Azurite, sshd … are shared by tests.
    let unique = uuid::Uuid::new_v4().simple().to_string();

    // A directory, plain.
    let source = tempfile::tempdir().expect("source");
    fill(source.path());
    app.grant_folder(source.path(), "read").await;
    let files = format!("Files {unique}");
    let source_path = path_of(&source);
    let form = plan_form(&files, &destination, &[("source_kind", "directory"), ("source_path", &source_path)]);
    assert_eq!(app.post("/plans", &form).await.status, 303, "{kind}");
    let run = run_and_wait(&app, &files, 1).await;
    assert!(run.object_key.as_deref().is_some_and(|k| k.ends_with(".tar.zst")), "{kind}: {run:?}");
    let place = tempfile::tempdir().expect("restore place");
    app.grant_folder(place.path(), "read_write").await;
    let into = place.path().join("restored");
    let restored = app.post(&format!("/runs/{}/restore", run.id), &[("target", &into.to_string_lossy())]).await;
    assert_eq!(restored.status, 200, "{kind}: {}", restored.body);
    assert!(restored.body.contains("the checksum matched"), "{kind}: {}", restored.body);
    assert_eq!(tree(&into), tree(source.path()), "{kind}: the restored folder differs");

    // A PostgreSQL database, encrypted.
    let database = ScratchDb::new();
    let mut connection = database.connect();
    for statement in [
        "CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(10,2), receipt bytea)",
        "INSERT INTO orders (customer, total, receipt) SELECT 'customer ' || i || ' — ünïcödé', i * 1.25, \
         decode(md5(i::text), 'hex') FROM generate_series(1, 300) i",
    ] {
        diesel::sql_query(statement).execute(&mut connection).expect(statement);
    }
    let orders = format!("Orders {unique}");
    let url = database.url();
    let form =
        plan_form(&orders, &destination, &[("source_kind", "postgres"), ("source_url", &url), ("encrypt", "on")]);
    assert_eq!(app.post("/plans", &form).await.status, 303, "{kind}");
    let run = run_and_wait(&app, &orders, 2).await;
    let key = run.object_key.clone().expect("key");
    assert!(key.ends_with(".pgdump.zst.dpbe"), "{kind}: {key}");
    let dir = tempfile::tempdir().expect("provider dir");
    let stored = read_all(conformance::provider(fixture, &fixture.good, dir.path()).as_ref(), &key).await;
    assert!(stored.starts_with(b"DPBE"), "{kind}: the stored object is not our ciphertext");
    assert!(!stored.windows(8).any(|w| w == b"customer"), "{kind}: plaintext reached the destination");

    let target = ScratchDb::new();
    let (url, name) = (target.url(), target.name().to_owned());
    let restore = format!("/runs/{}/restore", run.id);
    let unconfirmed = app.post(&restore, &[("target", &url), ("into", "existing"), ("confirm", "on")]).await;
    assert_eq!(unconfirmed.status, 422, "{kind}");
    assert!(
        unconfirmed.body.contains("to confirm that its backed-up tables are replaced"),
        "{kind}: {}",
        unconfirmed.body
    );
    let restored = app.post(&restore, &[("target", &url), ("into", "existing"), ("confirm", &name)]).await;
    assert_eq!(restored.status, 200, "{kind}: {}", restored.body);
    let original = rows(&mut connection, "orders");
    assert_eq!(original.len(), 300);
    assert_eq!(rows(&mut target.connect(), "orders"), original, "{kind}: the restored rows differ");
}

fn path_of(dir: &tempfile::TempDir) -> String {
    dir.path().to_string_lossy().into_owned()
}

pub fn plan_form<'a>(name: &'a str, destination: &'a str, source: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("name", name),
        ("destination_id", destination),
        ("schedule", "0 2 * * *"),
        ("retention", "3"),
        ("enabled", "on"),
    ];
    form.extend_from_slice(source);
    form
}

/// Runs the plan now and waits for the workspace's `count`th run: it must have succeeded.
pub async fn run_and_wait(app: &TestApp, plan_name: &str, count: usize) -> runs::RunRow {
    let id = plan(app, plan_name).await.id;
    assert_eq!(app.post(&format!("/plans/{id}/run"), &[]).await.status, 303);
    let run = settled(app, count).await.into_iter().rfind(|r| r.plan_id == id).expect("the run");
    assert_eq!(run.status, "succeeded", "{run:?}");
    run
}
