//! Backup runs for real: a directory streamed as tar + zstd to a local destination, read back
//! and compared byte for byte; SHA-256 and size recorded; retention keeps exactly N; a Failed
//! destination fails the run, a Disabled one skips it; the scheduler runs a due plan once;
//! viewers and other workspaces cannot start runs.

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::plans::{Fixture, fixture, plan};
use crate::provider_sftp::viewer;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

on_both_backends!(
    a_directory_is_backed_up_and_comes_back_byte_for_byte,
    retention_keeps_exactly_n,
    a_failed_destination_fails_the_run,
    a_disabled_destination_skips_the_run,
    the_scheduler_runs_a_due_plan_once,
    a_directory_goes_to_s3_and_downloads_through_a_presigned_url,
    another_workspace_cannot_download,
    deleting_a_destination_in_use_disables_its_plans,
    a_source_that_vanished_fails_and_leaves_nothing,
    runs_left_running_by_a_crash_are_interrupted_at_start_up,
    a_transient_failure_is_retried,
    a_failed_retention_delete_is_reported,
    only_writers_of_the_workspace_start_runs,
    a_sqlite_database_is_backed_up_as_a_snapshot
);

#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: String,
    pub plan_id: String,
    pub status: String,
    pub trigger: String,
    pub bytes: i64,
    pub sha256: Option<String>,
    pub object_key: Option<String>,
    pub error: Option<String>,
    pub pruned: bool,
}

pub async fn run_rows(app: &TestApp) -> Vec<RunRow> {
    app.db()
        .run(|c| {
            use devpilot::db::schema::runs::dsl::*;
            use diesel::prelude::*;
            runs.order(created_at.asc())
                .select((id, plan_id, status, trigger, bytes, sha256, object_key, error, pruned_at.is_not_null()))
                .load::<(String, String, String, String, i64, Option<String>, Option<String>, Option<String>, bool)>(c)
        })
        .await
        .expect("query runs")
        .into_iter()
        .map(|(id, plan_id, status, trigger, bytes, sha256, object_key, error, pruned)| RunRow {
            id,
            plan_id,
            status,
            trigger,
            bytes,
            sha256,
            object_key,
            error,
            pruned,
        })
        .collect()
}

/// Waits until every run has ended; returns them.
pub async fn settled(app: &TestApp, count: usize) -> Vec<RunRow> {
    for _ in 0..300 {
        let rows = run_rows(app).await;
        if rows.len() >= count && rows.iter().all(|r| r.status != "queued" && r.status != "running") {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("runs did not end: {:?}", run_rows(app).await);
}

/// Files of different shapes: nested, empty, binary, a few MiB of poorly compressible bytes.
pub fn fill(dir: &Path) {
    std::fs::create_dir_all(dir.join("nested/deeper")).expect("mkdir");
    std::fs::write(dir.join("readme.txt"), "hello, backups\n").expect("write");
    std::fs::write(dir.join("empty"), b"").expect("write");
    let noise: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    std::fs::write(dir.join("nested/deeper/noise.bin"), noise).expect("write");
}

/// Unpacks a `.tar.zst` and checks every file of `original` is there with the same bytes.
pub fn assert_same_tree(artifact: &[u8], original: &Path) {
    let out = tempfile::tempdir().expect("out");
    tar::Archive::new(zstd::Decoder::new(artifact).expect("zstd")).unpack(out.path()).expect("unpack");
    for rel in ["readme.txt", "empty", "nested/deeper/noise.bin"] {
        let a = std::fs::read(original.join(rel)).expect("original");
        let b = std::fs::read(out.path().join(rel)).unwrap_or_else(|e| panic!("{rel} restored: {e}"));
        assert!(a == b, "{rel} differs after the round trip");
    }
}

/// An S3 destination on the moto without auth (presigned URLs work there), under `prefix`:
/// Active.
pub async fn open_moto_destination(
    app: &TestApp,
    name: &str,
    endpoint: &str,
    prefix: &str,
) -> crate::helpers::DestinationRow {
    let config = [
        ("provider", "custom"),
        ("endpoint", endpoint),
        ("region", "us-east-1"),
        ("bucket", "devpilot-open"),
        ("prefix", prefix),
        ("path_style", "true"),
        ("access_key_id", "test"),
        ("secret_access_key", "test"),
    ];
    assert_eq!(app.create_destination(name, "s3", &config).await.status, 303);
    let destination = app.destination(name).await;
    assert_eq!(destination.status, "active", "{}", destination.message);
    destination
}

async fn create_plan(f: &Fixture, name: &str, retention: &str) -> String {
    let page = f.save_plan("/plans", name, &[("retention", retention)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    plan(&f.app, name).await.id
}

async fn run_now(app: &TestApp, plan_id: &str) {
    let page = app.post(&format!("/plans/{plan_id}/run"), &[]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location, Some(format!("/plans/{plan_id}")));
}

async fn a_directory_is_backed_up_and_comes_back_byte_for_byte(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let id = create_plan(&f, "Nightly Files", "3").await;
    run_now(&f.app, &id).await;
    let runs = settled(&f.app, 1).await;
    let run = &runs[0];
    assert_eq!((run.status.as_str(), run.trigger.as_str()), ("succeeded", "manual"), "{run:?}");
    let key = run.object_key.clone().expect("key");
    assert!(key.starts_with("nightly-files/") && key.ends_with(&format!("-{}.tar.zst", run.id)), "{key}");
    let artifact = std::fs::read(f.target_path().join(&key)).expect("the artifact is on the destination");
    assert_eq!(run.bytes, artifact.len() as i64, "recorded size");
    assert_eq!(run.sha256.clone().expect("sha"), hex::encode(Sha256::digest(&artifact)), "recorded SHA-256");
    assert!(artifact.len() < 3_200_000, "zstd did its part: {}", artifact.len());
    assert_same_tree(&artifact, f.source.path());

    let page = f.app.get(&format!("/plans/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("succeeded") && page.body.contains("<svg class=\"size-chart chart\""), "{}", page.body);
    let tooltip = format!(": {}</title>", devpilot::web::format::human_bytes(artifact.len() as u64));
    assert!(page.body.contains(&tooltip), "the point's tooltip gives its size: {}", page.body);
    assert!(page.body.contains(&run.sha256.clone().expect("sha")));
    let runs_page = f.app.get("/runs").await.body;
    assert!(runs_page.contains("Nightly Files") && runs_page.contains("succeeded"));
    // Local disk has no presigned URLs: the server streams it, to viewers too.
    assert!(page.body.contains(&format!("href=\"/runs/{}/download\"", run.id)));
    let viewer = viewer(&f.app).await;
    let response = viewer.get(f.app.url(&format!("/runs/{}/download", run.id))).send().await.expect("download");
    assert_eq!(response.status(), 200);
    let disposition = response.headers().get("content-disposition").expect("disposition").to_str().expect("ascii");
    assert!(disposition.starts_with("attachment") && disposition.contains(".tar.zst"), "{disposition}");
    assert_eq!(response.bytes().await.expect("body").as_ref(), artifact.as_slice(), "downloaded = stored");
    let partial = f.app.get(&format!("/runs/{}/progress", run.id)).await;
    assert_eq!(partial.status, 200);
    assert!(partial.body.contains("succeeded") && !partial.body.contains("hx-trigger"), "{}", partial.body);
}

async fn retention_keeps_exactly_n(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let id = create_plan(&f, "Keep two", "2").await;
    for n in 1..=4 {
        run_now(&f.app, &id).await;
        settled(&f.app, n).await;
    }
    let runs = run_rows(&f.app).await;
    assert!(runs.iter().all(|r| r.status == "succeeded" && r.error.is_none()), "{runs:?}");
    let pruned: Vec<bool> = runs.iter().map(|r| r.pruned).collect();
    assert_eq!(pruned, [true, true, false, false]);
    let mut on_disk: Vec<String> = std::fs::read_dir(f.target_path().join("keep-two"))
        .expect("plan folder")
        .flatten()
        .map(|e| format!("keep-two/{}", e.file_name().to_string_lossy()))
        .collect();
    on_disk.sort();
    let mut kept: Vec<String> = runs[2..].iter().filter_map(|r| r.object_key.clone()).collect();
    kept.sort();
    assert_eq!(on_disk, kept, "exactly the newest two stay");
    assert_eq!(f.app.get(&format!("/runs/{}/download", runs[0].id)).await.status, 404, "pruned");
    assert_eq!(f.app.get(&format!("/runs/{}/download", runs[3].id)).await.status, 200);
}

async fn a_failed_destination_fails_the_run(backend: Backend) {
    let f = fixture(backend).await;
    let id = create_plan(&f, "Doomed", "3").await;
    std::fs::remove_dir_all(f.target_path()).expect("remove the destination folder");
    assert_eq!(f.app.post(&format!("/destinations/{}/test", f.destination_id), &[]).await.status, 303);
    assert_eq!(f.app.destination("Disk").await.status, "failed");
    run_now(&f.app, &id).await;
    let run = settled(&f.app, 1).await.remove(0);
    assert_eq!(run.status, "failed");
    let error = run.error.unwrap_or_default();
    assert!(error.starts_with("destination failed its last test: ") && error.contains("does not exist"), "{error}");
    assert_eq!(run.object_key, None);
}

async fn a_disabled_destination_skips_the_run(backend: Backend) {
    let f = fixture(backend).await;
    let id = create_plan(&f, "Paused", "3").await;
    assert_eq!(f.app.post(&format!("/destinations/{}/disable", f.destination_id), &[]).await.status, 303);
    run_now(&f.app, &id).await;
    let run = settled(&f.app, 1).await.remove(0);
    assert_eq!(run.status, "skipped");
    assert!(run.error.unwrap_or_default().contains("“Disk” is disabled"));
    assert_eq!(std::fs::read_dir(f.target_path()).expect("target").count(), 0, "nothing was written");
}

async fn the_scheduler_runs_a_due_plan_once(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let id = create_plan(&f, "Scheduled", "3").await;
    let due = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
    let pid = id.clone();
    f.app
        .db()
        .run(move |c| {
            use devpilot::db::schema::plans::dsl::*;
            use diesel::prelude::*;
            diesel::update(plans.filter(id.eq(&pid))).set(next_run_at.eq(due)).execute(c)
        })
        .await
        .expect("make the plan due");
    // The scheduler checks every 15 s.
    for _ in 0..250 {
        if !run_rows(&f.app).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let runs = settled(&f.app, 1).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!((runs[0].status.as_str(), runs[0].trigger.as_str()), ("succeeded", "schedule"));
    let next = plan(&f.app, "Scheduled").await.next_run_at.expect("still scheduled");
    assert!(next > chrono::Utc::now().naive_utc(), "claimed: the next run moved on to {next}");
    assert_eq!(runs[0].plan_id, id);
}

async fn only_writers_of_the_workspace_start_runs(backend: Backend) {
    let f = fixture(backend).await;
    let id = create_plan(&f, "Guarded", "3").await;
    let viewer = viewer(&f.app).await;
    assert_eq!(f.app.get_with(&viewer, &format!("/plans/{id}")).await.status, 200, "viewers see the history");
    assert_eq!(f.app.post_with(&viewer, &format!("/plans/{id}/run"), &[]).await.status, 403);
    assert_eq!(f.app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    assert_eq!(f.app.post(&format!("/plans/{id}/run"), &[]).await.status, 404);
    assert_eq!(f.app.get(&format!("/plans/{id}")).await.status, 404);
    assert_eq!(f.app.get("/runs/no-such-run/download").await.status, 404);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(run_rows(&f.app).await.is_empty());
}

async fn a_directory_goes_to_s3_and_downloads_through_a_presigned_url(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let prefix = format!("runs-{}/", uuid::Uuid::new_v4().simple());
    let endpoint = crate::provider_s3::moto_open();
    let moto = open_moto_destination(&f.app, "Moto", &endpoint, &prefix).await;
    let page = f.save_plan("/plans", "To S3", &[("destination_id", &moto.id), ("retention", "1")]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let id = plan(&f.app, "To S3").await.id;
    run_now(&f.app, &id).await;
    settled(&f.app, 1).await;
    run_now(&f.app, &id).await;
    let runs = settled(&f.app, 2).await;
    assert!(runs.iter().all(|r| r.status == "succeeded" && r.error.is_none()), "{runs:?}");
    let run = &runs[1];

    let redirect = f.app.get(&format!("/runs/{}/download", run.id)).await;
    assert_eq!(redirect.status, 303);
    let url = redirect.location.expect("a presigned URL");
    assert!(url.starts_with(&endpoint) && url.contains("X-Amz-Expires=300"), "{url}");
    let artifact = reqwest::get(&url).await.expect("GET presigned").bytes().await.expect("body");
    assert_eq!(run.bytes, artifact.len() as i64);
    assert_eq!(run.sha256.clone().expect("sha"), hex::encode(Sha256::digest(&artifact)));
    assert_same_tree(&artifact, f.source.path());

    // Retention 1: the first artifact is gone from the bucket.
    assert!(runs[0].pruned);
    let first = format!("{endpoint}/devpilot-open/{prefix}{}", runs[0].object_key.clone().expect("key"));
    assert_eq!(reqwest::get(&first).await.expect("GET").status(), 404, "{first}");
}

async fn another_workspace_cannot_download(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let id = create_plan(&f, "Private", "3").await;
    run_now(&f.app, &id).await;
    let run = settled(&f.app, 1).await.remove(0);
    assert_eq!(run.status, "succeeded");
    assert_eq!(f.app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    let page = f.app.get(&format!("/runs/{}/download", run.id)).await;
    assert_eq!(page.status, 404);
    assert!(page.body.len() < 100_000 && !page.body.contains("Private"));
    let anonymous = crate::helpers::new_client();
    let response = anonymous.get(f.app.url(&format!("/runs/{}/download", run.id))).send().await.expect("GET");
    assert_ne!(response.status(), 200, "signed-out visitors get no artifact");
}

async fn deleting_a_destination_in_use_disables_its_plans(backend: Backend) {
    let f = fixture(backend).await;
    let id = create_plan(&f, "Uses disk", "3").await;
    let confirm = f.app.get(&format!("/destinations/{}/delete", f.destination_id)).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("<li>Uses disk</li>"), "the plans using it are listed: {}", confirm.body);
    let deleted = f.app.post(&format!("/destinations/{}/delete", f.destination_id), &[]).await;
    assert_eq!(deleted.status, 303);
    let row = plan(&f.app, "Uses disk").await;
    assert_eq!((row.enabled, row.destination_id, row.next_run_at), (false, None, None));
    assert!(f.app.get("/plans").await.body.contains("Disabled"));
    // Enabling needs a destination first; running says why it cannot.
    assert_eq!(f.app.post(&format!("/plans/{id}/enable"), &[]).await.status, 303);
    assert!(!plan(&f.app, "Uses disk").await.enabled);
    assert!(f.app.get("/plans").await.body.contains("edit it and choose one first"));
    run_now(&f.app, &id).await;
    let run = settled(&f.app, 1).await.remove(0);
    assert_eq!(run.status, "failed");
    assert!(run.error.unwrap_or_default().contains("no destination"));
}

async fn a_source_that_vanished_fails_and_leaves_nothing(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let id = create_plan(&f, "Vanishing", "3").await;
    std::fs::remove_dir_all(f.source.path()).expect("remove the source");
    run_now(&f.app, &id).await;
    let run = settled(&f.app, 1).await.remove(0);
    assert_eq!(run.status, "failed");
    let error = run.error.clone().unwrap_or_default();
    assert!(error.starts_with("Reading the source failed: ") && error.contains("No such file"), "{run:?}");
    assert_eq!((run.object_key, run.sha256), (None, None), "a failed run records no artifact");
    let mut left = Vec::new();
    for entry in walk(f.target_path()) {
        left.push(entry);
    }
    assert!(left.is_empty(), "no partial upload is left: {left:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

async fn runs_left_running_by_a_crash_are_interrupted_at_start_up(backend: Backend) {
    let (settings, data_dir, pg) = crate::helpers::test_settings(backend);
    let app = crate::helpers::spawn_with(settings.clone(), data_dir, pg).await;
    app.setup_admin().await;
    let source = tempfile::tempdir().expect("source");
    let target = tempfile::tempdir().expect("target");
    app.grant_folder(source.path(), "read").await;
    app.grant_folder(target.path(), "read_write").await;
    let path = target.path().to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    let destination = app.destination("Disk").await.id;
    let source_path = source.path().to_string_lossy().into_owned();
    let form = [
        ("name", "Crashy"),
        ("source_kind", "directory"),
        ("source_path", source_path.as_str()),
        ("destination_id", destination.as_str()),
        ("schedule", "0 2 * * *"),
        ("retention", "3"),
    ];
    assert_eq!(app.post("/plans", &form).await.status, 303);
    let crashy = plan(&app, "Crashy").await.id;
    let workspace = app.destination("Disk").await.workspace_id;
    app.db()
        .run(move |c| {
            use devpilot::db::schema::runs::dsl::*;
            use diesel::prelude::*;
            let now = chrono::Utc::now().naive_utc();
            diesel::insert_into(runs)
                .values((
                    id.eq("crashed-run"),
                    workspace_id.eq(workspace),
                    plan_id.eq(crashy),
                    status.eq("running"),
                    trigger.eq("manual"),
                    started_at.eq(now),
                    bytes.eq(1234_i64),
                    created_at.eq(now),
                ))
                .execute(c)
        })
        .await
        .expect("a run left running");
    // A second start on the same database, as after a crash.
    let restarted = devpilot::startup::Application::build(settings).await.expect("restart");
    drop(restarted);
    let run = run_rows(&app).await.remove(0);
    assert_eq!(run.status, "interrupted");
    assert!(run.error.as_deref().is_some_and(|e| e.starts_with("Interrupted: the server running this backup stopped")));
}

/// 256 MiB of incompressible bytes, so the run takes long enough to watch: the progress partial
/// shows bytes so far while it runs. (Memory while streaming is measured by the benchmark, not
/// here: other tests running beside this one would blur a figure taken in this process.)
#[tokio::test]
async fn a_large_backup_shows_live_progress() {
    const SIZE: usize = 256 * 1024 * 1024;
    let f = fixture(Backend::Sqlite).await;
    {
        use std::io::Write;
        let mut file = std::fs::File::create(f.source.path().join("large.bin")).expect("create");
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut chunk = vec![0u8; 1024 * 1024];
        for _ in 0..SIZE / chunk.len() {
            for word in chunk.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                word.copy_from_slice(&state.to_le_bytes());
            }
            file.write_all(&chunk).expect("write");
        }
    }
    let id = create_plan(&f, "Large", "1").await;
    run_now(&f.app, &id).await;
    let run_id = run_rows(&f.app).await.remove(0).id;
    let mut saw_progress = false;
    for _ in 0..600 {
        let partial = f.app.get(&format!("/runs/{run_id}/progress")).await.body;
        if partial.contains("hx-trigger=\"every 1s\"") && partial.contains("<progress") {
            saw_progress |= partial.contains("MiB");
        } else {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = settled(&f.app, 1).await.remove(0);
    assert_eq!(run.status, "succeeded", "{run:?}");
    assert!(run.bytes > SIZE as i64, "incompressible: {}", run.bytes);
    assert!(saw_progress, "the progress partial showed bytes so far while it ran");
}

/// The destination is unreachable on the first attempt and back for the next: the run
/// retries after a pause and succeeds, with one whole artifact.
async fn a_transient_failure_is_retried(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let moto = crate::provider_s3::moto_open();
    let upstream = moto.trim_start_matches("http://").to_owned();
    let relay = crate::relay::Relay::start(&upstream).await;
    let endpoint = format!("http://127.0.0.1:{}", relay.port);
    let prefix = format!("retry-{}/", uuid::Uuid::new_v4().simple());
    let flaky = open_moto_destination(&f.app, "Flaky", &endpoint, &prefix).await;
    let page = f.save_plan("/plans", "Retried", &[("destination_id", &flaky.id)]).await;
    assert_eq!(page.status, 303, "{}", page.body);
    let id = plan(&f.app, "Retried").await.id;

    relay.kill();
    tokio::time::sleep(Duration::from_millis(200)).await;
    run_now(&f.app, &id).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    relay.revive().await;
    let run = settled(&f.app, 1).await.remove(0);
    assert_eq!(run.status, "succeeded", "{run:?}");
    let logs = crate::helpers::captured_logs();
    let retried = logs.lines().any(|l| l.contains("upload failed; retrying") && l.contains(&run.id));
    assert!(retried, "the first attempt of this run failed and was retried");
    assert!(run.object_key.clone().expect("key").starts_with("retried/"), "{run:?}");
    // Through the app's download (a presigned link: moto refuses unsigned GETs of objects stored
    // with PutObject, as S3 does for private objects).
    let download = f.app.client.get(f.app.url(&format!("/runs/{}/download", run.id))).send().await.expect("download");
    let link = download.headers().get("location").and_then(|l| l.to_str().ok()).expect("a presigned link").to_owned();
    assert!(link.contains(&prefix), "{link}");
    let artifact = reqwest::get(link).await.expect("GET").bytes().await.expect("body");
    assert_eq!(run.sha256.clone().expect("sha"), hex::encode(Sha256::digest(&artifact)));
    assert_same_tree(&artifact, f.source.path());
}

/// An old artifact that cannot be deleted: the new run still succeeds, and says so.
async fn a_failed_retention_delete_is_reported(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let id = create_plan(&f, "Stubborn", "1").await;
    run_now(&f.app, &id).await;
    let first = settled(&f.app, 1).await.remove(0);
    // Even root cannot remove_file a directory: the delete fails for real.
    let old = f.target_path().join(first.object_key.clone().expect("key"));
    std::fs::remove_file(&old).expect("remove");
    std::fs::create_dir_all(old.join("blocker")).expect("a folder where the artifact was");
    run_now(&f.app, &id).await;
    let runs = settled(&f.app, 2).await;
    assert_eq!(runs[1].status, "succeeded");
    let error = runs[1].error.clone().unwrap_or_default();
    assert!(error.starts_with("Retention: could not delete ") && error.contains(&runs[0].id), "{error}");
    assert!(!runs[0].pruned, "the old run still counts as on the destination");
    let page = f.app.get(&format!("/plans/{id}")).await.body;
    assert!(page.contains("Retention: could not delete"), "shown in the history");
}

async fn a_sqlite_database_is_backed_up_as_a_snapshot(backend: Backend) {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let f = fixture(backend).await;
    let database = f.source.path().join("app.db");
    let path = database.to_string_lossy().into_owned();
    let mut connection = SqliteConnection::establish(&path).expect("create the database");
    diesel::sql_query("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&mut connection)
        .expect("table");
    for i in 0..100 {
        diesel::sql_query(format!("INSERT INTO notes (body) VALUES ('note {i} ✓')"))
            .execute(&mut connection)
            .expect("row");
    }
    let not_a_database = f.source.path().join("notes.txt");
    std::fs::write(&not_a_database, "just text, long enough to have a header").expect("write");
    let bad = f
        .save_plan(
            "/plans",
            "Not a db",
            &[("source_kind", "sqlite"), ("source_path", &not_a_database.to_string_lossy())],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("is not a SQLite database"), "{}", bad.body);

    let saved = f.save_plan("/plans", "App database", &[("source_kind", "sqlite"), ("source_path", &path)]).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let id = plan(&f.app, "App database").await.id;
    run_now(&f.app, &id).await;
    let run = settled(&f.app, 1).await.remove(0);
    assert_eq!(run.status, "succeeded", "{run:?}");
    let key = run.object_key.clone().expect("key");
    assert!(key.ends_with(&format!("-{}.sqlite3", run.id)), "{key}");
    let artifact = std::fs::read(f.target_path().join(&key)).expect("the artifact is on the destination");
    assert_eq!(run.sha256.clone().expect("sha"), hex::encode(Sha256::digest(&artifact)), "recorded SHA-256");

    let restored = tempfile::tempdir().expect("dir");
    let copy = restored.path().join("copy.db");
    std::fs::write(&copy, &artifact).expect("write the snapshot");
    let mut copy = SqliteConnection::establish(&copy.to_string_lossy()).expect("the snapshot opens as SQLite");
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM notes WHERE body LIKE 'note %'")
        .get_result(&mut copy)
        .expect("query the snapshot");
    assert_eq!(count.n, 100, "every row is in the snapshot");
}
