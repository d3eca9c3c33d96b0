//! Bucket sources. On s3s-fs (SigV4 checked), in a bucket of its own: 10,000 small objects and
//! one of 1 GiB backed up to Azurite (encrypted), restored into a new prefix and compared object by
//! object (SHA-256, streamed), the test process's peak memory growth measured across backup,
//! restore and compare; an object deleted between the listing and its read, and one rewritten
//! meanwhile, reported in the run (a relay in front of s3s-fs runs the deletion when the first
//! object's GET passes). On moto with credentials enforced, which has IAM: the save-time check says
//! which step failed (unreachable, keys refused, listing refused, no such bucket), the README's
//! least-privilege policy is enough, the outbound policy refuses metadata and (unless allowed)
//! loopback endpoints, another workspace's destination is unknown. Against a stand-in whose listing holds
//! hostile keys: left out and named, the archive's names safe, restores only below their prefix,
//! a drill reading it through against its manifest; and a large object streaming slowly for
//! longer than the stall timeout while the small ones after it are read ahead. The secret key
//! never shows.

mod fake_s3;
mod hook;

use crate::api_client::{Api, admin};
use crate::api_runs::{finished, start};
use crate::api_schedules::create;
use crate::helpers::{Backend, Moto, TestApp, captured_logs, moto, spawn_app, spawn_with, test_settings};
use crate::on_both_backends;
use crate::plans::{fixture, fixture_of, plan_rows};
use crate::provider_s3::s3s;
use crate::s3_probe::{iam, xml_field};
use fake_s3::{FakeS3, Pacing};
use futures::{StreamExt, TryStreamExt};
use hook::{Hook, HookRelay};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

on_both_backends!(
    the_check_says_which_step_failed,
    hostile_keys_are_left_out_and_restores_stay_below_their_prefix,
    the_readmes_policy_is_enough_and_a_key_that_only_lists_is_told
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_objects_and_a_gibibyte_round_trip_through_azurite() {
    round_trip(Backend::Sqlite).await
}

const SMALL: usize = 10_000;
const BIG: u64 = 1 << 30;
/// The most the test process may grow while the run, the restore and the comparison go on: half
/// the big object, since the process is shared with tests running beside it (alone the growth is
/// about 60 MiB; holding the object anywhere would be 1 GiB more).
const MEMORY_LIMIT: u64 = 512 << 20;

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// A bucket on one of the local S3 servers, path-style, with keys that may do anything in it.
struct Bucket {
    endpoint: String,
    region: String,
    name: String,
    access_key_id: String,
    secret_access_key: String,
}

impl Bucket {
    fn of_moto(m: &Moto) -> Bucket {
        Bucket {
            endpoint: m.endpoint.clone(),
            region: m.region.clone(),
            name: m.bucket.clone(),
            access_key_id: m.access_key_id.clone(),
            secret_access_key: m.secret_access_key.clone(),
        }
    }

    fn store(&self) -> AmazonS3 {
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_region(&self.region)
            .with_bucket_name(&self.name)
            .with_access_key_id(&self.access_key_id)
            .with_secret_access_key(&self.secret_access_key)
            .with_virtual_hosted_style_request(false)
            .build()
            .expect("S3 client")
    }
}

fn moto_store(m: &Moto) -> AmazonS3 {
    Bucket::of_moto(m).store()
}

/// Creates the bucket with its keys (boto3 from the test servers' venv).
fn create_bucket(b: &Bucket) {
    let python = std::env::var("DEVPILOT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import boto3, sys\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name=sys.argv[2], \
        aws_access_key_id=sys.argv[3], aws_secret_access_key=sys.argv[4])\n\
        s3.create_bucket(Bucket=sys.argv[5])\n";
    let output = std::process::Command::new(python)
        .args(["-c", script, &b.endpoint, &b.region, &b.access_key_id, &b.secret_access_key, &b.name])
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("python runs");
    assert!(output.status.success(), "creating {}: {}", b.name, String::from_utf8_lossy(&output.stderr));
}

/// A bucket source URL on `endpoint` (an S3 server's or a relay's) with these keys.
fn url_with(endpoint: &str, key: &str, secret: &str, bucket: &str, prefix: &str, region: &str) -> String {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let (key, secret) = (utf8_percent_encode(key, NON_ALPHANUMERIC), utf8_percent_encode(secret, NON_ALPHANUMERIC));
    format!("http://{key}:{secret}@{host}/{bucket}/{prefix}?region={region}")
}

fn hex_sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn small_content(i: usize, tag: &str) -> Vec<u8> {
    format!("object {i} of run {tag}: {}", "abc".repeat(i % 50)).into_bytes()
}

/// Uploads the small objects 32 at a time; their SHA-256s by key below `prefix`.
async fn upload_small(store: &Arc<AmazonS3>, prefix: &str, tag: &str) -> BTreeMap<String, String> {
    futures::stream::iter(0..SMALL)
        .map(|i| {
            let store = Arc::clone(store);
            let (name, body) = (format!("small/{:02}/{i:05}.txt", i % 100), small_content(i, tag));
            let path = StorePath::from(format!("{prefix}/{name}"));
            async move {
                let sha = hex_sha(&body);
                store.put(&path, PutPayload::from(body)).await.expect("put a small object");
                (name, sha)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await
}

/// One MiB of the big object: a pseudo-random 4 KiB block (from the MiB's number), stamped with
/// its offset every 4 KiB, so no two MiBs are alike yet zstd has something to find.
fn big_segment(n: u64) -> Vec<u8> {
    let mut state = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let block: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut segment = Vec::with_capacity(1 << 20);
    for i in 0..256u64 {
        segment.extend_from_slice(&block);
        let at = segment.len() - 4096;
        segment[at..at + 8].copy_from_slice(&(n * 256 + i).to_le_bytes());
    }
    segment
}

/// Uploads the 1 GiB object as a multipart upload, a MiB generated at a time; its SHA-256.
async fn upload_big(store: &AmazonS3, key: &str) -> String {
    let upload = store.put_multipart(&StorePath::from(key)).await.expect("start the upload");
    let mut writer = WriteMultipart::new_with_chunk_size(upload, 16 << 20);
    let mut hash = Sha256::new();
    for n in 0..(BIG >> 20) {
        let segment = big_segment(n);
        hash.update(&segment);
        writer.wait_for_capacity(2).await.expect("capacity");
        writer.write(&segment);
    }
    writer.finish().await.expect("finish the upload");
    hex::encode(hash.finalize())
}

/// The SHA-256 of every object below `prefix/`, each read as a stream, 32 at a time.
async fn hashes_under(store: &Arc<AmazonS3>, prefix: &str) -> BTreeMap<String, String> {
    let listed: Vec<_> = store.list(Some(&StorePath::from(prefix))).try_collect().await.expect("list");
    futures::stream::iter(listed)
        .map(|meta| {
            let store = Arc::clone(store);
            async move {
                let mut body = store.get(&meta.location).await.expect("get").into_stream();
                let mut hash = Sha256::new();
                while let Some(chunk) = body.next().await {
                    hash.update(chunk.expect("chunk"));
                }
                let name = meta.location.as_ref().strip_prefix(&format!("{prefix}/")).expect("below").to_owned();
                (name, hex::encode(hash.finalize()))
            }
        })
        .buffer_unordered(32)
        .collect()
        .await
}

/// A field of /proc/self/status in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field}"));
    line.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()).expect("kB") * 1024
}

/// Resets the peak (VmHWM) to the resident size now, which it answers.
fn reset_peak() -> u64 {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    status_bytes("VmRSS:")
}

/// Polls a run until it has ended, for long runs.
async fn ended(api: &Api<'_>, run: &str, within: Duration) -> Value {
    let until = Instant::now() + within;
    while Instant::now() < until {
        let reply = api.get(&format!("/api/v1/backup-runs/{run}")).await;
        if !matches!(reply.json["data"]["status"].as_str(), Some("queued" | "running")) {
            return reply.json["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("run {run} did not end within {within:?}");
}

async fn azurite_destination(app: &TestApp, tag: &str) -> String {
    let a = crate::provider_azure::azurite();
    let prefix = format!("bucket-sources-{tag}/");
    let fields = [
        ("account_name", a.account.as_str()),
        ("container", a.container.as_str()),
        ("endpoint", a.endpoint.as_str()),
        ("account_key", a.key.as_str()),
        ("prefix", prefix.as_str()),
    ];
    assert_eq!(app.create_destination("Azurite", "azure_blob", &fields).await.status, 303);
    app.destination("Azurite").await.id
}

async fn round_trip(backend: Backend) {
    let began = Instant::now();
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let tag = tag();
    // s3s-fs, not moto: moto's Python took about five minutes to move these bytes four times and
    // slowed every test beside it. A bucket of its own: s3s-fs lists by reading the bucket's
    // folder, so 10,000 more keys in the shared bucket would slow other tests' listings.
    let s = s3s();
    let m = Bucket {
        endpoint: s.endpoint,
        region: s.region,
        name: format!("devpilot-bulk-{tag}"),
        access_key_id: s.access_key_id,
        secret_access_key: s.secret_access_key,
    };
    create_bucket(&m);
    let store = Arc::new(m.store());
    let prefix = format!("bucket-source-{tag}");
    let azurite = azurite_destination(&app, &tag).await;

    let mut expected = upload_small(&store, &prefix, &tag).await;
    expected.insert("big.bin".into(), upload_big(&store, &format!("{prefix}/big.bin")).await);
    for (name, body) in [("aab-victim", "deleted"), ("aac-changed", "v1")] {
        store.put(&StorePath::from(format!("{prefix}/{name}")), PutPayload::from(body)).await.expect("put");
    }
    let uploaded = began.elapsed();

    // Between the listing and the read: the victim's GET finds it deleted, the other's rewritten.
    let rewritten = b"v2, written after the listing".to_vec();
    let delete: Hook = {
        let (store, victim) = (Arc::clone(&store), StorePath::from(format!("{prefix}/aab-victim")));
        Arc::new(move || {
            let (store, victim) = (Arc::clone(&store), victim.clone());
            Box::pin(async move { store.delete(&victim).await.expect("delete the victim") })
        })
    };
    let rewrite: Hook = {
        let (store, changed) = (Arc::clone(&store), StorePath::from(format!("{prefix}/aac-changed")));
        let rewritten = rewritten.clone();
        Arc::new(move || {
            let (store, changed, rewritten) = (Arc::clone(&store), changed.clone(), rewritten.clone());
            Box::pin(async move {
                store.put(&changed, PutPayload::from(rewritten)).await.expect("rewrite");
            })
        })
    };
    let address = m.endpoint.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let get = |name: &str| format!("GET /{}/{prefix}/{name} ", m.name);
    let relay = HookRelay::start(&address, vec![(get("aab-victim"), delete), (get("aac-changed"), rewrite)]).await;
    let relayed = format!("http://127.0.0.1:{}", relay.port);
    let url = url_with(&relayed, &m.access_key_id, &m.secret_access_key, &m.name, &prefix, &m.region);

    let api = admin(&app).await;
    let body = json!({"name": "Media", "destination_id": azurite, "cron_expression": "0 2 * * *",
                      "retention_count": 3, "encrypt": true, "source": {"type": "bucket", "url": url}});
    let schedule = create(&api, body).await;
    relay.arm();

    let baseline = reset_peak();
    let run = start(&api, &schedule).await;
    let run_id = run["id"].as_str().expect("id").to_owned();
    let run = ended(&api, &run_id, Duration::from_secs(1500)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(relay.fired.load(std::sync::atomic::Ordering::SeqCst), 2, "both hooks ran");
    let backed_up = began.elapsed();
    let notes = run["notes"].as_str().unwrap_or_default();
    assert!(notes.contains("“aab-victim” vanished after it was listed"), "{notes}");
    assert!(notes.contains("“aac-changed” changed after it was listed") && notes.contains("2 → 29 bytes"), "{notes}");
    assert!(!notes.contains("big.bin") && !notes.contains("small/"), "only those two: {notes}");
    let page = app.get(&format!("/plans/{schedule}")).await;
    assert!(page.body.contains("vanished after it was listed"), "the run page tells it too");

    // Into a new prefix of the same bucket, every object byte for byte.
    let restored_prefix = format!("{prefix}-restored");
    let target = format!("{}/{restored_prefix}", m.name);
    let reply = api.post(&format!("/api/v1/backups/bucket/{run_id}/restore"), json!({"target": target})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json["path"], target.as_str());
    let restored = hashes_under(&store, &restored_prefix).await;
    let peak = status_bytes("VmHWM:").saturating_sub(baseline);
    expected.insert("aac-changed".into(), hex_sha(&rewritten));
    assert_eq!(restored.len(), SMALL + 2, "the small ones, the big one and the changed one");
    assert_eq!(restored, expected, "every restored object is byte-identical");
    assert!(
        peak < MEMORY_LIMIT,
        "the process grew by {} MiB over backing up, restoring and comparing a 1 GiB object",
        peak >> 20
    );

    // That prefix now holds objects: only with its name typed again.
    let again = api.post(&format!("/api/v1/backups/bucket/{run_id}/restore"), json!({"target": target})).await;
    assert_eq!(again.status, 422, "{again:?}");
    assert!(again.json["fields"]["confirm"].as_str().is_some_and(|m| m.contains(&target)), "{again:?}");
    assert!(!captured_logs().contains(&m.secret_access_key), "the secret key reached the logs");
    eprintln!(
        "uploaded in {uploaded:?}, backed up by {backed_up:?}, all done in {:?}; peak growth {} MiB",
        began.elapsed(),
        peak >> 20
    );
}

/// A large object that streams for longer than the stall timeout (its body never silent for
/// long) before small ones, which are read ahead meanwhile: each is read on a task of its own, so
/// none meets the client's read timeout for having waited its turn (whose clock runs from the
/// request, answered or not).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn small_objects_read_ahead_outlast_a_large_one_streaming_past_the_stall_timeout() {
    const STALL: Duration = Duration::from_secs(3);
    const PAUSE: Duration = Duration::from_millis(700);
    // Ten pieces of 64 KiB, 700 ms apart: about 7 s, more than twice the stall timeout.
    let large: Vec<u8> = (0..640u32 << 10).map(|i| (i % 251) as u8).collect();
    // A small one first: the window waits for it in order, asking for those after the large one
    // meanwhile; they are answered late, so the large one's turn comes before their answers.
    let mut objects = vec![("src/a-first.txt".to_owned(), b"first".to_vec()), ("src/b-large.bin".to_owned(), large)];
    objects.extend((0..10).map(|i| (format!("src/c-small-{i}.txt"), format!("small {i}").into_bytes())));
    let total: usize = objects.iter().map(|(_, body)| body.len()).sum();
    let pacing = Pacing { streamed: "src/b-large.bin".into(), late: "src/c-small-".into(), pause: PAUSE };
    let fake = FakeS3::paced("fake-bucket", objects, pacing).await;

    let (mut settings, data_dir, pg) = test_settings(Backend::Sqlite);
    settings.provider.stall_timeout = STALL;
    let f = fixture_of(spawn_with(settings, data_dir, pg).await).await;
    let api = admin(&f.app).await;
    let url = format!("http://AKIAFAKE:fake-secret-{}@127.0.0.1:{}/fake-bucket/src?region=us-east-1", tag(), fake.port);
    let body = json!({"name": "Slow bucket", "cron_expression": "0 2 * * *", "retention_count": 3,
                      "destination_id": f.destination_id, "source": {"type": "bucket", "url": url}});
    let schedule = create(&api, body).await;

    let began = Instant::now();
    let run = start(&api, &schedule).await;
    let run = ended(&api, run["id"].as_str().expect("id"), Duration::from_secs(120)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(began.elapsed() > 2 * STALL, "the large object streamed for {:?} only", began.elapsed());
    assert_eq!(run["read_bytes"].as_u64(), Some(total as u64), "{run}");
    assert_eq!(run["notes"].as_str().unwrap_or_default(), "", "nothing left out: {run}");
}

/// The message next to `field` when a bucket schedule is created with `source`.
async fn refused(api: &Api<'_>, source: Value, field: &str) -> String {
    let destination = api.get("/api/v1/backup-destinations").await.json["data"][0]["id"].clone();
    let body = json!({"name": "Bucket", "cron_expression": "0 2 * * *", "retention_count": 3, "source": source,
                      "destination_id": destination});
    let reply = api.post("/api/v1/backup-schedules", body).await;
    assert_eq!(reply.status, 422, "{reply:?}");
    reply.json["fields"][field].as_str().unwrap_or_else(|| panic!("no error on {field}: {reply:?}")).to_owned()
}

async fn the_check_says_which_step_failed(backend: Backend) {
    let f = fixture(backend).await;
    let m = moto();
    let api = admin(&f.app).await;
    let url = |endpoint: &str, key: &str, secret: &str, bucket: &str| json!({"type": "bucket", "url": url_with(endpoint, key, secret, bucket, "photos", &m.region)});
    let wrong = refused(&api, url(&m.endpoint, &m.access_key_id, "not-the-secret", &m.bucket), "source.url").await;
    assert!(wrong.contains("refused the keys"), "{wrong}");
    let denied =
        refused(&api, url(&m.endpoint, &m.noperm_access_key_id, &m.noperm_secret_access_key, &m.bucket), "source.url")
            .await;
    assert!(denied.contains("may not list “photos/”"), "{denied}");
    let missing =
        refused(&api, url(&m.endpoint, &m.access_key_id, &m.secret_access_key, "no-such-bucket-here"), "source.url")
            .await;
    assert!(missing.contains("was not found"), "{missing}");
    let nowhere = format!("http://127.0.0.1:{}", crate::helpers::refused_port());
    let unreachable = refused(&api, url(&nowhere, "AKIAX", "s", "b-1"), "source.url").await;
    assert!(unreachable.contains("cannot be reached"), "{unreachable}");
    let metadata = refused(&api, url("http://169.254.169.254", "AKIAX", "s", "b-1"), "source.url").await;
    assert!(metadata.contains("metadata") && metadata.contains("never connects"), "{metadata}");
    let messages = [&wrong, &denied, &missing, &unreachable, &metadata];
    assert!(messages.iter().all(|a| messages.iter().filter(|b| b == &a).count() == 1), "distinct messages");
    assert!(messages.iter().all(|m| !m.contains("not-the-secret")), "the secret is never repeated");

    // What the URL itself gets wrong, before anything is connected to.
    let keyless = refused(&api, json!({"type": "bucket", "url": "http://127.0.0.1:9/b-1/x"}), "source.url").await;
    assert!(keyless.contains("access key"), "{keyless}");
    let nul = refused(&api, json!({"type": "bucket", "url": "http://a:b@127.0.0.1:9/b-1/x%00y"}), "source.url").await;
    assert!(nul.contains("control characters"), "{nul}");
    let nothing = refused(&api, json!({"type": "bucket"}), "source.url").await;
    assert!(nothing.contains("or choose an S3 destination"), "{nothing}");

    // A destination's keys: only an S3 destination of this same workspace.
    let disk = refused(
        &api,
        json!({"type": "bucket", "destination_id": f.destination_id, "path": "b-1/x"}),
        "source.destination_id",
    )
    .await;
    assert!(disk.contains("not an S3-compatible"), "{disk}");
    let fields = m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket);
    assert_eq!(f.app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    assert_eq!(f.app.create_destination("Theirs", "s3", &fields).await.status, 303);
    let theirs = f.app.destination("Theirs").await.id;
    let home = f.app.workspace_id("Acme").await;
    assert_eq!(f.app.post(&format!("/workspaces/{home}/switch"), &[]).await.status, 303);
    let source = json!({"type": "bucket", "destination_id": theirs, "path": format!("{}/x", m.bucket)});
    let foreign = refused(&api, source, "source.destination_id").await;
    assert_eq!(foreign, "That destination does not exist in this workspace.");
    let page = f
        .save_plan(
            "/plans",
            "Theirs",
            &[("source_kind", "bucket"), ("source_destination_id", &theirs), ("source_path", &m.bucket)],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(
        page.body.contains("id=\"f-source_destination_id-error\">That destination does not exist"),
        "{}",
        page.body
    );
    assert!(plan_rows(&f.app).await.is_empty(), "nothing was saved");

    // With ours, and a prefix that lists and reads: saved.
    assert_eq!(f.app.create_destination("Moto", "s3", &fields).await.status, 303);
    let ours = f.app.destination("Moto").await.id;
    let bad_path =
        refused(&api, json!({"type": "bucket", "destination_id": ours, "path": "../etc"}), "source.path").await;
    assert!(bad_path.contains("not a bucket name"), "{bad_path}");
    let source = json!({"type": "bucket", "destination_id": ours, "path": format!("{}/photos/", m.bucket)});
    let body = json!({"name": "Photos", "cron_expression": "0 2 * * *", "retention_count": 3, "source": source,
                      "destination_id": f.destination_id});
    let created = api.post("/api/v1/backup-schedules", body).await;
    assert_eq!(created.status, 201, "{created:?}");
    let location = created.json["data"]["source"]["location"].as_str().expect("location");
    assert_eq!(location, format!("destination:{ours}:{}/photos", m.bucket));

    // Loopback endpoints only where the operator allows them, as for destinations.
    let (mut settings, data_dir, pg) = test_settings(backend);
    settings.provider.outbound.allow_loopback = false;
    let strict = fixture_of(spawn_with(settings, data_dir, pg).await).await;
    let strict_api = admin(&strict.app).await;
    let body = url(&m.endpoint, &m.access_key_id, &m.secret_access_key, &m.bucket);
    let loopback = refused(&strict_api, body, "source.url").await;
    assert!(loopback.contains("loopback") && loopback.contains("DEVPILOT_ALLOW_LOOPBACK_DESTINATIONS"), "{loopback}");
}

async fn hostile_keys_are_left_out_and_restores_stay_below_their_prefix(backend: Backend) {
    let f = fixture(backend).await;
    let long = format!("src/{}", "k".repeat(1100));
    let objects: Vec<(String, Vec<u8>)> = [
        ("src/ok.txt", b"fine".as_slice()),
        ("src/../../etc/passwd", b"root:x:0:0"),
        ("src//abs", b"absolute"),
        ("src/a\0b", b"nul"),
        ("src/bell\u{7}\u{1b}[31m", b"control"),
        (long.as_str(), b"long"),
        ("src/folder/", b""),
        ("src/nested/deep.txt", b"deep down"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_vec()))
    .collect();
    let fake = FakeS3::start("fake-bucket", objects, "elsewhere/stray.txt").await;
    let secret = format!("fake-secret-{}", tag());
    let url = format!("http://AKIAFAKE:{secret}@127.0.0.1:{}/fake-bucket/src?region=us-east-1", fake.port);
    let api = admin(&f.app).await;
    let body = json!({"name": "Hostile bucket", "cron_expression": "0 2 * * *", "retention_count": 3,
                      "destination_id": f.destination_id, "source": {"type": "bucket", "url": url}});
    let schedule = create(&api, body).await;
    let shown = api.get(&format!("/api/v1/backup-schedules/{schedule}")).await;
    assert_eq!(
        shown.json["data"]["source"],
        json!({"type": "bucket", "location": format!("http://127.0.0.1:{}/fake-bucket/src?region=us-east-1", fake.port)})
    );

    let run = start(&api, &schedule).await;
    let run = finished(&api, run["id"].as_str().expect("id")).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let run_id = run["id"].as_str().expect("id").to_owned();
    // Its size was listed beforehand (only what it backs up), for the progress.
    assert_eq!((run["expected_bytes"].as_i64(), run["read_bytes"].as_i64()), (Some(13), Some(13)), "{run}");
    assert_eq!(run["percent"], 100, "{run}");
    let notes = run["notes"].as_str().unwrap_or_default();
    for said in [
        "“../../etc/passwd” left out: a . or .. segment",
        "“/abs” left out: an absolute name",
        "“a\\0b” left out: control characters",
        "“bell\\u{7}\\u{1b}[31m” left out: control characters",
        "left out: longer than 1,024 bytes",
        "“folder/” left out: an empty segment",
        "“elsewhere/stray.txt” left out: not under the prefix",
    ] {
        assert!(notes.contains(said), "{said}: {notes}");
    }
    assert!(!notes.contains('\0') && !notes.contains('\u{1b}'), "no raw control character in the notes");
    let page = f.app.get(&format!("/plans/{schedule}")).await;
    assert!(page.body.contains("left out: a . or .. segment") && !page.body.contains('\u{1b}'), "{}", page.body);

    // The download is the tar: only safe names, then the manifest with each object's ETag.
    let artifact = reqwest::Client::new()
        .get(f.app.url(&format!("/api/v1/backup-runs/{run_id}/artifact")))
        .bearer_auth(&api.token)
        .send()
        .await
        .expect("artifact");
    assert_eq!(artifact.status(), 200);
    let bytes = artifact.bytes().await.expect("bytes");
    let mut archive = tar::Archive::new(zstd::Decoder::new(&bytes[..]).expect("zstd"));
    let mut entries = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let mut content = String::new();
        std::io::Read::read_to_string(&mut entry, &mut content).expect("read");
        entries.push((entry.path().expect("path").display().to_string(), content));
    }
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["nested/deep.txt", "ok.txt", ".devpilot/manifest.jsonl"]);
    let manifest: Vec<Value> =
        entries[2].1.lines().map(|l| serde_json::from_str(l).expect("a manifest line")).collect();
    assert_eq!(manifest[1]["path"], "ok.txt");
    assert_eq!(manifest[1]["size"], 4);
    assert_eq!(manifest[1]["sha256"], hex_sha(b"fine"));
    assert_eq!(manifest[1]["etag"], hex::encode(&Sha256::digest(b"fine")[..16]));

    // `devpilot recover` reads it as a folder's archive, the manifest checked and removed.
    let work = tempfile::tempdir().expect("work");
    std::fs::write(work.path().join("bucket.tar.zst"), &bytes).expect("write");
    let recovered = std::process::Command::new(env!("CARGO_BIN_EXE_devpilot"))
        .args(["recover", "bucket.tar.zst", "--out", "recovered"])
        .env_clear()
        .env("HOME", work.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(work.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("devpilot recover");
    let said = String::from_utf8_lossy(&recovered.stderr).into_owned() + &String::from_utf8_lossy(&recovered.stdout);
    assert!(recovered.status.success(), "{said}");
    let out = work.path().join("recovered");
    assert_eq!(std::fs::read(out.join("ok.txt")).expect("ok.txt"), b"fine");
    assert_eq!(std::fs::read(out.join("nested/deep.txt")).expect("deep.txt"), b"deep down");
    assert!(!out.join(".devpilot").exists(), "the manifest is Devpilot's, not the bucket's");

    // A drill reads it through like a folder's: each object's size and hash against the manifest.
    let drilled = crate::drills::drill(&api, &schedule).await;
    assert_eq!(drilled["status"], "passed", "{drilled}");
    assert!(drilled["checked"].as_str().is_some_and(|c| c.starts_with("2 files")), "{drilled}");

    // Restores: a target that climbs is refused; a new prefix is written below it only; the
    // source's own prefix (it holds objects) only when typed again.
    let restore_path = format!("/api/v1/backups/bucket/{run_id}/restore");
    let restore = |body: Value| api.post(&restore_path, body);
    let climbing = restore(json!({"target": "fake-bucket/restored/../../etc"})).await;
    assert_eq!(climbing.status, 422, "{climbing:?}");
    assert!(climbing.json["fields"]["target"].as_str().is_some_and(|m| m.contains("cannot be used")), "{climbing:?}");
    assert!(fake.puts.lock().expect("puts").is_empty(), "nothing written");
    let restored = restore(json!({"target": "fake-bucket/restored"})).await;
    assert_eq!(restored.status, 200, "{restored:?}");
    // Small objects are written several at once: in any order.
    let mut puts: Vec<(String, Vec<u8>)> = fake.puts.lock().expect("puts").drain(..).collect();
    puts.sort();
    assert_eq!(
        puts,
        [
            ("restored/nested/deep.txt".to_owned(), b"deep down".to_vec()),
            ("restored/ok.txt".to_owned(), b"fine".to_vec())
        ]
    );
    let unconfirmed = restore(json!({"target": "fake-bucket/src"})).await;
    assert_eq!(unconfirmed.status, 422, "{unconfirmed:?}");
    assert!(unconfirmed.json["fields"]["confirm"].as_str().is_some_and(|m| m.contains("already holds objects")));
    assert!(fake.puts.lock().expect("puts").is_empty(), "nothing written");
    let confirmed = restore(json!({"target": "fake-bucket/src", "confirm": "fake-bucket/src"})).await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    let mut keys: Vec<String> = fake.puts.lock().expect("puts").iter().map(|(k, _)| k.clone()).collect();
    keys.sort();
    assert_eq!(keys, ["src/nested/deep.txt", "src/ok.txt"]);
    // The restore page: bucket and prefix, and the confirmation next to its field.
    let form = f.app.get(&format!("/runs/{run_id}/restore")).await;
    assert!(form.body.contains("Bucket and prefix to restore into"), "{}", form.body);
    let fields = [("target", "fake-bucket/src"), ("confirm", "")];
    let refused_page = f.app.post(&format!("/runs/{run_id}/restore"), &fields).await;
    assert_eq!(refused_page.status, 422, "{}", refused_page.body);
    assert!(refused_page.body.contains("id=\"f-confirm-error\">“fake-bucket/src” already holds objects"));
    let fields = [("target", "fake-bucket/from-the-page"), ("confirm", "")];
    let restored_page = f.app.post(&format!("/runs/{run_id}/restore"), &fields).await;
    assert_eq!(restored_page.status, 200, "{}", restored_page.body);
    assert!(restored_page.body.contains("Restored every object into “fake-bucket/from-the-page/”"));
    let mut keys: Vec<String> = fake.puts.lock().expect("puts").drain(..).map(|(k, _)| k).collect();
    keys.sort();
    assert_eq!(keys, ["from-the-page/nested/deep.txt", "from-the-page/ok.txt", "src/nested/deep.txt", "src/ok.txt"]);
    // Another bucket of the same service, with the same keys (the stand-in keeps its name in the key).
    let other = restore(json!({"target": "other-bucket/x"})).await;
    assert_eq!(other.status, 200, "{other:?}");
    let mut keys: Vec<String> = fake.puts.lock().expect("puts").drain(..).map(|(k, _)| k).collect();
    keys.sort();
    assert_eq!(keys, ["other-bucket/x/nested/deep.txt", "other-bucket/x/ok.txt"]);
    let wrong_kind =
        api.post(&format!("/api/v1/backups/volume/{run_id}/restore"), json!({"target_path": "/tmp/x"})).await;
    assert_eq!(wrong_kind.status, 422);
    assert!(wrong_kind.json.to_string().contains("/backups/bucket/"), "{wrong_kind:?}");

    // The secret key: not in JSON, pages, logs, or the database in the clear.
    let edit = f.app.get(&format!("/plans/{schedule}/edit")).await;
    assert_eq!(edit.status, 200);
    assert!(edit.body.contains("A connection URL is stored"), "the edit form says a URL is kept");
    let overrides = [("source_kind", "bucket"), ("source_path", ""), ("source_url", "")];
    let saved = f.save_plan(&format!("/plans/{schedule}"), "Hostile bucket, renamed", &overrides).await;
    assert_eq!(saved.status, 303, "a blank URL keeps (and checks again) the stored one: {}", saved.body);
    let kept = api.get(&format!("/api/v1/backup-schedules/{schedule}")).await;
    assert_eq!(kept.json["data"]["name"], "Hostile bucket, renamed");
    assert_eq!(kept.json["data"]["source"], shown.json["data"]["source"]);
    for (what, text) in [
        ("the schedule", shown.json.to_string()),
        ("the run", run.to_string()),
        ("the edit form", edit.body),
        ("the run page", page.body),
        ("the logs", captured_logs()),
    ] {
        assert!(!text.contains(&secret), "the secret key is in {what}");
    }
    if backend == Backend::Sqlite {
        for file in ["devpilot.db", "devpilot.db-wal"] {
            if let Ok(bytes) = std::fs::read(f.app.data_dir.path().join(file)) {
                assert!(!String::from_utf8_lossy(&bytes).contains(&secret), "{file} holds the secret in the clear");
            }
        }
    }
    let stored = f
        .app
        .db()
        .run(|c| {
            use devpilot::db::schema::plans::dsl::*;
            use diesel::prelude::*;
            plans.select((source_path, source_secret)).load::<(String, Option<Vec<u8>>)>(c)
        })
        .await
        .expect("plans");
    for (location, sealed) in stored {
        assert!(!location.contains(&secret));
        assert!(sealed.is_some_and(|s| !String::from_utf8_lossy(&s).contains(&secret)), "sealed");
    }
}

/// A moto user with `statements` (IAM actions and moto's operation names both, as
/// `s3_probe.rs` explains); its (key, secret).
async fn moto_user(statements: serde_json::Value) -> (String, String) {
    let user = format!("bucket-source-{}", tag());
    let policy = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    iam(&[("Action", "CreateUser"), ("UserName", &user)]).await;
    iam(&[("Action", "PutUserPolicy"), ("UserName", &user), ("PolicyName", "source"), ("PolicyDocument", &policy)])
        .await;
    let key = iam(&[("Action", "CreateAccessKey"), ("UserName", &user)]).await;
    (xml_field(&key, "AccessKeyId"), xml_field(&key, "SecretAccessKey"))
}

async fn the_readmes_policy_is_enough_and_a_key_that_only_lists_is_told(backend: Backend) {
    let f = fixture(backend).await;
    let (m, tag) = (moto(), tag());
    let store = Arc::new(moto_store(&m));
    let prefix = format!("least-{tag}");
    let mut expected = BTreeMap::new();
    for i in 0..3 {
        let body = small_content(i, &tag);
        expected.insert(format!("f{i}.txt"), hex_sha(&body));
        store.put(&StorePath::from(format!("{prefix}/f{i}.txt")), PutPayload::from(body)).await.expect("put");
    }
    let bucket = format!("arn:aws:s3:::{}", m.bucket);
    let list = json!({"Effect": "Allow", "Action": ["s3:ListBucket", "s3:ListObjectsV2", "s3:ListObjects"],
                      "Resource": bucket,
                      "Condition": {"StringLike": {"s3:prefix": [format!("{prefix}/*"), format!("{prefix}-restored/*")]}}});
    let read = json!({"Effect": "Allow", "Action": ["s3:GetObject", "s3:HeadObject"], "Resource": format!("{bucket}/{prefix}/*")});
    let write = json!({"Effect": "Allow",
                       "Action": ["s3:PutObject", "s3:CreateMultipartUpload", "s3:UploadPart", "s3:CompleteMultipartUpload"],
                       "Resource": format!("{bucket}/{prefix}-restored/*")});
    let api = admin(&f.app).await;

    let (key, secret) = moto_user(json!([list.clone()])).await;
    let source = json!({"type": "bucket", "url": url_with(&m.endpoint, &key, &secret, &m.bucket, &prefix, &m.region)});
    let told = refused(&api, source, "source.url").await;
    assert!(told.contains(&format!("may list “{prefix}/” in bucket")) || told.contains("but not read"), "{told}");
    assert!(told.contains("but not read its objects"), "{told}");

    let (key, secret) = moto_user(json!([list, read, write])).await;
    let url = url_with(&m.endpoint, &key, &secret, &m.bucket, &prefix, &m.region);
    let body = json!({"name": "Least", "cron_expression": "0 2 * * *", "retention_count": 3,
                      "destination_id": f.destination_id, "source": {"type": "bucket", "url": url}});
    let schedule = create(&api, body).await;
    let run = start(&api, &schedule).await;
    let run = finished(&api, run["id"].as_str().expect("id")).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["notes"].is_null() || run["notes"] == "", "nothing to report: {run}");
    let target = format!("{}/{prefix}-restored", m.bucket);
    let run_id = run["id"].as_str().expect("id");
    let reply = api.post(&format!("/api/v1/backups/bucket/{run_id}/restore"), json!({"target": target})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(hashes_under(&store, &format!("{prefix}-restored")).await, expected);
}
