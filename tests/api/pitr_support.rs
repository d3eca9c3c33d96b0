//! What the point-in-time recovery tests through the API share: a throwaway cluster protected
//! through the API, waiting on the API with generous deadlines, base backups and clones, a table
//! of rows with their commit times, the archive's records and objects, and the `pg_receivewal`
//! processes of a database.

use crate::api_client::Api;
use crate::database_grants::{grant_database, workspace_ids};
use crate::pitr_clusters::{Cluster, PASSWORD};
use chrono::{DateTime, Utc};
use devpilot::databases::archive_store::{self, WalFileRow};
use devpilot::grants::DatabaseServer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

/// Generous: the machine is small and shared, and these wait for real work (WAL, restores).
pub const PATIENCE: Duration = Duration::from_secs(240);

/// The table every test writes: ids with the second each was committed.
pub const TICKS: &str = "CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())";

/// Grants the cluster to the first workspace and protects it (`extra` fields override the
/// body's); the database's id.
pub async fn protect(api: &Api<'_>, destination_id: &str, cluster: &Cluster, extra: Value) -> String {
    let workspace = workspace_ids(api.app).await.remove(0);
    grant_database(api.app, &workspace, DatabaseServer::Tcp { host: "127.0.0.1".into(), port: cluster.port }).await;
    let mut body = json!({
        "name": "Shop",
        "url": cluster.url(),
        "destination_id": destination_id,
        "base_schedule": "0 3 * * *",
        "window_days": 7,
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    let created = api.post("/api/v1/databases", body).await;
    assert_eq!(created.status, 201, "{created:?}");
    created.json["data"]["id"].as_str().expect("the database's id").to_owned()
}

/// Polls `path` until `ready` holds for its JSON, or fails after `within`.
pub async fn wait_for(api: &Api<'_>, path: &str, within: Duration, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let reply = api.get(path).await;
        if reply.status == 200 && ready(&reply.json) {
            return reply.json;
        }
        assert!(Instant::now() < deadline, "{path} did not get there in {within:?}: {reply:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until `done` holds, or fails naming `what`.
pub async fn until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !done().await {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The database as the API shows it.
pub async fn database(api: &Api<'_>, id: &str) -> Value {
    let reply = api.get(&format!("/api/v1/databases/{id}")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json["data"].clone()
}

/// Waits for the receiver to report itself working.
pub async fn archiving(api: &Api<'_>, id: &str) -> Value {
    wait_for(api, &format!("/api/v1/databases/{id}"), PATIENCE, |d| d["data"]["status"] == "ok").await["data"].clone()
}

/// Takes a base backup through the API and waits for it to succeed; the backup as listed.
pub async fn base_backup(api: &Api<'_>, id: &str) -> Value {
    let started = api.post(&format!("/api/v1/databases/{id}/backups"), json!({})).await;
    assert_eq!(started.status, 202, "{started:?}");
    let base = started.json["id"].as_str().expect("the backup's id").to_owned();
    let listed = wait_for(api, &format!("/api/v1/databases/{id}/backups"), PATIENCE, |list| {
        list["data"].as_array().into_iter().flatten().any(|b| b["id"] == base.as_str() && b["status"] != "running")
    })
    .await;
    let backup = listed["data"].as_array().into_iter().flatten().find(|b| b["id"] == base.as_str()).cloned();
    let backup = backup.expect("the backup is listed");
    assert_eq!(backup["status"], "succeeded", "{backup}");
    backup
}

/// The recovery window as the API shows it.
pub async fn window(api: &Api<'_>, id: &str) -> Value {
    let reply = api.get(&format!("/api/v1/databases/{id}/recovery-window")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json
}

pub fn time(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str().and_then(|t| t.parse().ok())
}

/// Waits until the window reaches past `moment`.
pub async fn window_past(api: &Api<'_>, id: &str, moment: DateTime<Utc>) -> Value {
    wait_for(api, &format!("/api/v1/databases/{id}/recovery-window"), PATIENCE, |w| {
        time(&w["latest"]).is_some_and(|latest| latest > moment)
    })
    .await
}

/// A clone at `target` (None: the end of the archive) named `name`, restored and running; its
/// id and port.
pub async fn clone_at(api: &Api<'_>, id: &str, target: Option<DateTime<Utc>>, name: &str) -> (String, u16) {
    let mut body = json!({"new_name": name});
    if let Some(target) = target {
        body["target_time"] = json!(target.to_rfc3339());
    }
    let started = api.post(&format!("/api/v1/databases/{id}/pitr-clone"), body).await;
    assert_eq!(started.status, 202, "{started:?}");
    let clone = started.json["data"]["id"].as_str().expect("the clone's id").to_owned();
    let listed = wait_for(api, &format!("/api/v1/databases/{id}/clones"), PATIENCE, |list| {
        list["data"].as_array().into_iter().flatten().any(|c| c["id"] == clone.as_str() && c["status"] != "restoring")
    })
    .await;
    let found = listed["data"].as_array().into_iter().flatten().find(|c| c["id"] == clone.as_str()).cloned();
    let found = found.expect("the clone is listed");
    assert_eq!(found["status"], "running", "{found}");
    (clone, port_of(&found["connection_url"]))
}

/// The port of a clone's connection URL.
pub fn port_of(url: &Value) -> u16 {
    url.as_str()
        .and_then(|u| u.split(':').nth(2))
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

/// SQL on a clone, over TCP as the source's role.
pub fn psql_at(port: u16, sql: &str) -> String {
    psql_url(&format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/postgres?sslmode=disable"), sql)
}

/// SQL on the database `url` names; the output unaligned, without headers.
pub fn psql_url(url: &str, sql: &str) -> String {
    let output = std::process::Command::new(crate::pitr_clusters::binaries().program("psql"))
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .arg(url)
        .env("PGSSLMODE", "disable")
        .output()
        .expect("psql");
    assert!(output.status.success(), "{sql}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The ids of `ticks` a cluster or clone answered, in order.
pub fn ids(text: &str) -> Vec<i64> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// The rows of a clone's `ticks`.
pub fn ticks_at(port: u16) -> Vec<i64> {
    ids(&psql_at(port, "SELECT id FROM ticks ORDER BY id"))
}

/// Inserts `range` one row (one commit) at a time, a little apart.
pub async fn insert_ticks(cluster: &Cluster, range: std::ops::RangeInclusive<i64>) {
    for n in range {
        cluster.psql(&format!("INSERT INTO ticks (id) VALUES ({n})"));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// The ids committed at or before `moment`, as the source recorded them.
pub fn committed_by(cluster: &Cluster, moment: DateTime<Utc>) -> Vec<i64> {
    ids(&cluster.psql(&format!("SELECT id FROM ticks WHERE at <= '{}' ORDER BY id", moment.to_rfc3339())))
}

/// Writes some WAL and switches to the next segment; the name of the segment it finished.
pub fn switch_wal(cluster: &Cluster) -> String {
    cluster.psql("CREATE TABLE IF NOT EXISTS filler (g int, t text)");
    cluster.psql("INSERT INTO filler SELECT g, md5(g::text) FROM generate_series(1, 2000) g");
    cluster.psql("SELECT pg_walfile_name(pg_switch_wal())")
}

/// What Devpilot recorded uploading for the database.
pub async fn wal_records(app: &crate::helpers::TestApp, id: &str) -> Vec<WalFileRow> {
    let id = id.to_owned();
    app.db().run(move |c| archive_store::wal_files(c, &id)).await.expect("the WAL records")
}

/// Waits until `name` is recorded as uploaded; its record.
pub async fn recorded(app: &crate::helpers::TestApp, id: &str, name: &str) -> WalFileRow {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(row) = wal_records(app, id).await.into_iter().find(|r| r.name == name) {
            return row;
        }
        assert!(Instant::now() < deadline, "{name} was never uploaded: {:?}", wal_records(app, id).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An archived object's bytes as PostgreSQL wrote them (zstd undone; not encrypted).
pub fn decompressed(stored: &[u8]) -> Vec<u8> {
    zstd::decode_all(stored).expect("a zstd object")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every record whose object in a local destination folder does not hold the recorded bytes
/// (a `.partial` is replaced by design and left out).
pub fn mismatched_objects(folder: &Path, records: &[WalFileRow]) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.kind != archive_store::PARTIAL)
        .filter(|r| match std::fs::read(folder.join(&r.object_key)) {
            Ok(stored) => sha256_hex(&decompressed(&stored)) != r.sha256,
            Err(_) => true,
        })
        .map(|r| r.name.clone())
        .collect()
}

/// The `pg_receivewal` processes spooling for the database, in any data folder: (pid, command line).
pub fn receivers(database_id: &str) -> Vec<(i32, String)> {
    let spool = format!("wal-spool/{database_id}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        if line.contains("pg_receivewal") && line.contains(&spool) {
            found.push((pid, line));
        }
    }
    found
}

/// SIGKILL to a process the test's own server started.
pub fn kill(pid: i32) {
    let status = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("kill");
    assert!(status.success(), "kill -KILL {pid}");
}
