//! The benchmark's helper (`bench/run` drives it; not part of the server):
//!
//! ```text
//! devpilot-bench upload KIND FIELDS.json FILE KEY   # one upload through the provider code a
//!                                                    # backup run uses; prints "BYTES SECONDS"
//! devpilot-bench download KIND FIELDS.json KEY FILE # one download into FILE; "BYTES SECONDS"
//! devpilot-bench delete KIND FIELDS.json KEY        # removes what upload stored
//! devpilot-bench seed DATABASE_URL COUNT TEMPLATES.json
//!                                                    # COUNT destinations in the first workspace,
//!                                                    # sealed as the server seals them
//! devpilot-bench seed-plans DATABASE_URL COUNT DESTINATION_ID FOLDER SCHEDULE [DUE_AT]
//!                                                    # COUNT directory plans of FOLDER in the first
//!                                                    # workspace, next due at DUE_AT (UTC,
//!                                                    # "2026-12-06 21:00:00") or by SCHEDULE
//! ```
//!
//! FIELDS.json is an object of a destination's form fields (`{"bucket": "b", …}`); TEMPLATES.json
//! a list of `{"kind": KIND, "fields": {…}}` used in turn. The master key comes from
//! `DEVPILOT_MASTER_KEY`, the GCS endpoint from `DEVPILOT_GCS_API_URL`.
//!
//! Retries and errors are logged on stderr (object_store's retries at info, `RUST_LOG` to
//! change): `bench/run` marks a figure INVALID when a run of it logged one.

use anyhow::{Context, bail};
use devpilot::config::ProviderSettings;
use devpilot::crypto::{CredentialCipher, MasterKey};
use devpilot::db::Db;
use devpilot::destinations::service::associated_data;
use devpilot::destinations::store::DestinationRow;
use devpilot::fields::RawFields;
use devpilot::hostfs::{DevpilotFiles, FolderAccess, HostAccess};
use devpilot::plans::schedule::Schedule;
use devpilot::plans::store::{PlanChange, PlanRow};
use devpilot::providers::file_writer::{self, Durability};
use devpilot::providers::local::LocalConfig;
use devpilot::providers::{self, ByteStream, ProviderContext};
use devpilot::providers::{ProviderConfig, ProviderKind};
use futures::StreamExt;
use std::time::Instant;

/// Chunks read from the file at a time: what the directory source hands the uploader.
const CHUNK: usize = 256 * 1024;

/// One thread, as each of the server's workers is (actix-web runs a current-thread runtime per
/// worker, and a run or restore spawned from it stays there with its connections' tasks). On a
/// multi-thread runtime every chunk a connection's task received woke the main thread across
/// threads: 190,000 context switches in a 1 GiB S3 download, the CPU figure doubled by them.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    log_to_stderr();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["upload", kind, fields, file, key] => upload(kind, fields, file, key).await,
        ["download", kind, fields, key, file] => download(kind, fields, key, file).await,
        ["delete", kind, fields, key] => provider_for(kind, fields)?.delete(key).await.map_err(Into::into),
        ["seed", url, count, templates] => seed(url, count.parse().context("COUNT")?, templates).await,
        ["seed-plans", url, count, destination, folder, schedule, due @ ..] if due.len() <= 1 => {
            seed_plans(url, count.parse().context("COUNT")?, destination, folder, schedule, due.first().copied()).await
        }
        _ => bail!(
            "usage: devpilot-bench upload KIND FIELDS.json FILE KEY | download KIND FIELDS.json KEY FILE \
             | delete KIND FIELDS.json KEY | seed DATABASE_URL COUNT TEMPLATES.json \
             | seed-plans DATABASE_URL COUNT DESTINATION_ID FOLDER SCHEDULE [DUE_AT]"
        ),
    }
}

/// A retry inside the provider code (object_store logs each at info) is what makes a figure
/// INVALID, so those lines reach stderr; everything else only from warn up.
fn log_to_stderr() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,object_store=info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();
}

fn read_fields(value: &serde_json::Value) -> anyhow::Result<RawFields> {
    let object = value.as_object().context("fields must be a JSON object")?;
    let mut fields = RawFields::new();
    for (k, v) in object {
        fields.set(k, v.as_str().context("field values are strings")?);
    }
    Ok(fields)
}

fn context() -> ProviderContext {
    let mut settings = ProviderSettings::default();
    if let Ok(url) = std::env::var("DEVPILOT_GCS_API_URL") {
        settings.endpoints.gcs_api = url.trim_end_matches('/').to_owned();
    }
    // The benchmark's servers are all on loopback (bench/run sets it for the server too).
    settings.outbound.allow_loopback =
        std::env::var(devpilot::providers::outbound::ALLOW_LOOPBACK_VAR).is_ok_and(|v| v.trim() == "true");
    ProviderContext::new(settings, std::env::temp_dir()).expect("the HTTP clients build")
}

/// The benchmark is the operator's own tool: the folder a local destination names is granted for
/// writing, as an operator grants it on `/admin/grants` before a workspace may write there.
fn context_for(config: &ProviderConfig) -> ProviderContext {
    let ctx = context();
    let ProviderConfig::Local(LocalConfig { path: Some(folder) }) = config else { return ctx };
    let scratch = std::env::temp_dir().join("devpilot-bench-own");
    let devpilot = DevpilotFiles::new(&scratch.join("data"), &scratch.join("backups"), &scratch.join("key"), None);
    let granted = vec![(folder.clone(), FolderAccess::ReadWrite)];
    ctx.with_host(HostAccess::new(granted, scratch, std::sync::Arc::new(devpilot)))
}

fn provider_for(kind: &str, fields: &str) -> anyhow::Result<Box<dyn providers::Provider>> {
    let kind = ProviderKind::parse(kind).map_err(anyhow::Error::msg)?;
    let fields = read_fields(&serde_json::from_str(&std::fs::read_to_string(fields)?)?)?;
    let config = ProviderConfig::parse(kind, &fields).map_err(|e| {
        let detail: Vec<String> = e.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        anyhow::anyhow!("invalid fields: {}", detail.join("; "))
    })?;
    Ok(providers::build(&config, &context_for(&config))?)
}

/// The object stays: `bench/run` reads it back to compare its SHA-256, then deletes it.
async fn upload(kind: &str, fields: &str, file: &str, key: &str) -> anyhow::Result<()> {
    let provider = provider_for(kind, fields)?;
    let file = std::fs::File::open(file).with_context(|| format!("opening {file}"))?;
    let started = Instant::now();
    let body = read_in_chunks(file);
    let bytes = provider.put(key, body).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!("{bytes} {seconds:.4}");
    Ok(())
}

/// The file in chunks of [`CHUNK`] read on a blocking thread, each read straight into the chunk
/// handed on — as a backup's tar and zstd thread hands its output to the uploader.
fn read_in_chunks(mut file: std::fs::File) -> ByteStream {
    use std::io::Read;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut chunk = bytes::BytesMut::zeroed(CHUNK);
            let read = match file.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            chunk.truncate(read);
            if tx.blocking_send(Ok(chunk.freeze())).is_err() {
                return;
            }
        }
    });
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// Into a file, as a restore downloads into its private file (`download_verified`; no fsync, as
/// rclone's reference does none).
async fn download(kind: &str, fields: &str, key: &str, file: &str) -> anyhow::Result<()> {
    let provider = provider_for(kind, fields)?;
    let out = std::fs::File::create(file).with_context(|| format!("creating {file}"))?;
    let started = Instant::now();
    let body = provider.get(key).await?;
    let bytes = file_writer::write(out, body, Durability::Unsynced).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!("{bytes} {seconds:.4}");
    Ok(())
}

async fn seed(url: &str, count: usize, templates: &str) -> anyhow::Result<()> {
    let templates: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(templates)?)?;
    let mut parsed = Vec::new();
    for t in &templates {
        let kind = ProviderKind::parse(t["kind"].as_str().context("kind")?).map_err(anyhow::Error::msg)?;
        parsed.push((kind, read_fields(&t["fields"])?));
    }
    if parsed.is_empty() {
        bail!("no templates");
    }
    let key = std::env::var("DEVPILOT_MASTER_KEY").context("DEVPILOT_MASTER_KEY")?;
    let cipher = CredentialCipher::new(MasterKey::from_base64(&key)?);
    let db = Db::connect(url, 2)?;
    let workspace = first_workspace(&db).await?;
    let now = chrono::Utc::now().naive_utc();
    let rows: Vec<DestinationRow> = (0..count)
        .map(|i| {
            let (kind, fields) = &parsed[i % parsed.len()];
            let (settings, secrets) = fields.split(kind.fields());
            let id = uuid::Uuid::new_v4().to_string();
            DestinationRow {
                credentials: cipher.seal(secrets.to_json().as_bytes(), &associated_data(&workspace, &id)),
                id,
                workspace_id: workspace.clone(),
                name: format!("bench-{}-{i:05}", kind.as_str()),
                kind: kind.as_str().to_owned(),
                settings: settings.to_json(),
                status: "active".into(),
                status_before_test: None,
                last_tested_at: Some(now),
                last_test_message: Some("Seeded by the benchmark.".into()),
                is_default: false,
                created_at: now,
                updated_at: now,
                host_key_fingerprint: None,
                server_id: None,
                test_owner: None,
                compatibility: None,
            }
        })
        .collect();
    db.run(move |c| {
        use devpilot::db::schema::destinations::dsl::destinations;
        use diesel::prelude::*;
        c.transaction(|c| {
            for row in &rows {
                diesel::insert_into(destinations).values(row).execute(c)?;
            }
            Ok(())
        })
    })
    .await?;
    println!("{count}");
    Ok(())
}

/// The first workspace (the one `bench/run`'s setup made).
async fn first_workspace(db: &Db) -> anyhow::Result<String> {
    Ok(db
        .run(|c| {
            use devpilot::db::schema::workspaces::dsl::*;
            use diesel::prelude::*;
            workspaces.select(id).order(created_at.asc()).first(c)
        })
        .await?)
}

/// Directory plans, inserted as the plan service stores them (unencrypted, keeping one backup).
async fn seed_plans(
    url: &str,
    count: usize,
    destination: &str,
    folder: &str,
    schedule: &str,
    due_at: Option<&str>,
) -> anyhow::Result<()> {
    let db = Db::connect(url, 2)?;
    let workspace = first_workspace(&db).await?;
    let now = chrono::Utc::now().naive_utc();
    let next_run_at = match due_at {
        Some(at) => chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").context("DUE_AT")?,
        None => {
            Schedule::parse(schedule).map_err(anyhow::Error::msg)?.next_after(now).context("the schedule never runs")?
        }
    };
    let rows: Vec<PlanRow> = (0..count)
        .map(|i| {
            let change = PlanChange {
                name: format!("bench-plan-{i:05}"),
                slug: format!("bench-plan-{i:05}"),
                source_kind: "directory".into(),
                source_path: folder.to_owned(),
                destination_id: Some(destination.to_owned()),
                schedule: schedule.to_owned(),
                retention: 1,
                enabled: true,
                next_run_at: Some(next_run_at),
                updated_at: now,
                source_secret: None,
                encrypt: false,
            };
            PlanRow::new(uuid::Uuid::new_v4().to_string(), workspace.clone(), now, change)
        })
        .collect();
    db.run(move |c| {
        use diesel::Connection;
        c.transaction(|c| rows.iter().try_for_each(|row| devpilot::plans::store::insert(c, row)))
    })
    .await?;
    println!("{count}");
    Ok(())
}
