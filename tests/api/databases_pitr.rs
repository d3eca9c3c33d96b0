//! PostgreSQL point-in-time recovery through the API, on a throwaway cluster (1 MB WAL
//! segments) made for each test: saving names what the source lacks; a saved database archives
//! its WAL into a local destination under writes; a base backup; the recovery window; a clone at
//! a recorded second holds exactly the rows committed by then; deleting the database drops its
//! replication slot.

use crate::api_client::{Api, admin};
use crate::database_grants::grant_database;
use crate::helpers::Backend;
use crate::on_both_backends;
use crate::pitr_clusters::{Cluster, ClusterOptions, PASSWORD};
use crate::pitr_support::{psql_at, wait_for};
use crate::plans::{Fixture, fixture};
use devpilot::grants::DatabaseServer;
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(a_database_is_archived_and_cloned_to_a_second);

async fn workspace_of(f: &Fixture) -> String {
    crate::database_grants::workspace_ids(&f.app).await.into_iter().next().expect("the workspace")
}

async fn protect(api: &Api<'_>, f: &Fixture, cluster: &Cluster) -> Value {
    grant_database(
        &f.app,
        &workspace_of(f).await,
        DatabaseServer::Tcp { host: "127.0.0.1".into(), port: cluster.port },
    )
    .await;
    api.post(
        "/api/v1/databases",
        json!({
            "name": "Shop",
            "url": cluster.url(),
            "destination_id": f.destination_id,
            "base_schedule": "0 3 * * *",
            "window_days": 7,
        }),
    )
    .await
    .json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_says_what_the_source_lacks_in_postgresql_terms() {
    let f = fixture(Backend::Sqlite).await;
    let api = admin(&f.app).await;
    let cluster =
        Cluster::start(ClusterOptions { wal_level: "minimal", max_wal_senders: 0, ..ClusterOptions::default() });
    grant_database(
        &f.app,
        &workspace_of(&f).await,
        DatabaseServer::Tcp { host: "127.0.0.1".into(), port: cluster.port },
    )
    .await;
    let reply = api
        .post("/api/v1/databases", json!({"name": "Shop", "url": cluster.url(), "destination_id": f.destination_id}))
        .await;
    assert_eq!(reply.status, 422, "{reply:?}");
    let message = reply.json["fields"]["url"].as_str().expect("a message on url");
    assert!(message.contains("wal_level"), "{message}");
    assert!(message.contains("max_wal_senders"), "{message}");
    assert_eq!(api.get("/api/v1/databases").await.json["meta"]["total"], 0, "nothing was saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_was_not_granted_is_refused_before_anything_connects() {
    let f = fixture(Backend::Sqlite).await;
    let api = admin(&f.app).await;
    let cluster = Cluster::start(ClusterOptions::default());
    let reply = api
        .post("/api/v1/databases", json!({"name": "Shop", "url": cluster.url(), "destination_id": f.destination_id}))
        .await;
    assert_eq!(reply.status, 422, "{reply:?}");
    let message = reply.json["fields"]["url"].as_str().expect("a message on url");
    assert!(message.contains("granted") || message.contains("grant"), "{message}");
}

async fn a_database_is_archived_and_cloned_to_a_second(backend: Backend) {
    let f = fixture(backend).await;
    let api = admin(&f.app).await;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql("CREATE TABLE ticks (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    let created = protect(&api, &f, &cluster).await;
    let id = created["data"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("created: {created}\n{}", crate::helpers::captured_logs()))
        .to_owned();
    assert!(created["checks"].as_array().is_some_and(|c| !c.is_empty()), "{created}");
    assert!(!created.to_string().contains(PASSWORD), "the password never comes back");
    wait_for(&api, &format!("/api/v1/databases/{id}"), Duration::from_secs(60), |d| d["data"]["status"] == "ok").await;

    let base = api.post(&format!("/api/v1/databases/{id}/backups"), json!({})).await;
    assert_eq!(base.status, 202, "{base:?}");
    let backups = format!("/api/v1/databases/{id}/backups");
    let done = wait_for(&api, &backups, Duration::from_secs(120), |b| b["data"][0]["status"] != "running").await;
    assert_eq!(done["data"][0]["status"], "succeeded", "{done}");

    for n in 1..=20 {
        cluster.psql(&format!("INSERT INTO ticks (id) VALUES ({n})"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let target = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 21..=40 {
        cluster.psql(&format!("INSERT INTO ticks (id) VALUES ({n})"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let committed_by_target: Vec<i64> = cluster
        .psql(&format!("SELECT id FROM ticks WHERE at <= '{}' ORDER BY id", target.to_rfc3339()))
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!((15..=25).contains(&committed_by_target.len()), "{committed_by_target:?}");

    let window = format!("/api/v1/databases/{id}/recovery-window");
    let reached = wait_for(&api, &window, Duration::from_secs(60), |w| {
        w["latest"].as_str().and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok()).is_some_and(|t| t > target)
    })
    .await;
    assert!(reached["earliest"].is_string(), "{reached}");

    let too_early = api
        .post(
            &format!("/api/v1/databases/{id}/pitr-clone"),
            json!({"target_time": "2001-01-01T00:00:00Z", "new_name": "Old"}),
        )
        .await;
    assert_eq!(too_early.status, 422, "{too_early:?}");
    assert!(
        too_early.json["fields"]["target_time"].as_str().is_some_and(|m| m.contains("recovery window")),
        "{too_early:?}"
    );

    let clone = api
        .post(
            &format!("/api/v1/databases/{id}/pitr-clone"),
            json!({"target_time": target.to_rfc3339(), "new_name": "Shop at target"}),
        )
        .await;
    assert_eq!(clone.status, 202, "{clone:?}");
    let clone_id = clone.json["data"]["id"].as_str().expect("clone id").to_owned();
    let clones = format!("/api/v1/databases/{id}/clones");
    let ready = wait_for(&api, &clones, Duration::from_secs(180), |c| c["data"][0]["status"] != "restoring").await;
    assert_eq!(ready["data"][0]["status"], "running", "{ready}");
    let port: u16 = ready["data"][0]["connection_url"]
        .as_str()
        .and_then(|u| u.split(':').nth(2))
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("the clone's port");
    let restored: Vec<i64> =
        psql_at(port, "SELECT id FROM ticks ORDER BY id").lines().filter_map(|l| l.trim().parse().ok()).collect();
    assert_eq!(restored, committed_by_target, "exactly the rows committed by the target second");

    let stopped = api.post(&format!("/api/v1/database-clones/{clone_id}/stop"), json!({})).await;
    assert_eq!((stopped.status, &stopped.json["data"]["status"]), (200, &json!("stopped")), "{stopped:?}");
    let started = api.post(&format!("/api/v1/database-clones/{clone_id}/start"), json!({})).await;
    assert_eq!((started.status, &started.json["data"]["status"]), (200, &json!("running")), "{started:?}");
    assert_eq!(psql_at(port, "SELECT count(*) FROM ticks"), committed_by_target.len().to_string(), "it keeps its data");
    assert_eq!(api.delete(&format!("/api/v1/database-clones/{clone_id}")).await.status, 200);
    assert_eq!(api.get(&clones).await.json["meta"]["total"], 0, "{}", api.get(&clones).await.json);
    let deleted = api.delete(&format!("/api/v1/databases/{id}")).await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    let slots = cluster.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'devpilot_%'");
    assert_eq!(slots.trim(), "0", "the slot went with the database: {deleted:?}");
}
