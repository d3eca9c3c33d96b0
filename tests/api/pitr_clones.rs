//! Clones asked for at the same moment: each gets a port of its own and restores.

use crate::api_client::admin;
use crate::helpers::Backend;
use crate::pitr_clusters::{Cluster, ClusterOptions};
use crate::pitr_support::{
    PATIENCE, TICKS, archiving, base_backup, insert_ticks, protect, recorded, switch_wal, ticks_at, wait_for,
};
use crate::plans::fixture;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_asked_for_at_once_each_get_a_port_and_run() {
    let f = fixture(Backend::Sqlite).await;
    let api = admin(&f.app).await;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql(TICKS);
    let id = protect(&api, &f.destination_id, &cluster, json!({})).await;
    archiving(&api, &id).await;
    base_backup(&api, &id).await;
    insert_ticks(&cluster, 1..=10).await;
    recorded(&f.app, &id, &switch_wal(&cluster)).await;

    let path = format!("/api/v1/databases/{id}/pitr-clone");
    let (first, second) =
        tokio::join!(api.post(&path, json!({"new_name": "First"})), api.post(&path, json!({"new_name": "Second"})));
    assert_eq!((first.status, second.status), (202, 202), "{first:?} {second:?}");
    let listed = wait_for(&api, &format!("/api/v1/databases/{id}/clones"), PATIENCE, |list| {
        list["data"].as_array().is_some_and(|c| c.len() == 2 && c.iter().all(|c| c["status"] != "restoring"))
    })
    .await;
    let clones = listed["data"].as_array().cloned().unwrap_or_default();
    assert!(clones.iter().all(|c| c["status"] == "running"), "{listed}");
    let ports: Vec<u16> = clones
        .iter()
        .filter_map(|c| c["connection_url"].as_str()?.split(':').nth(2)?.split('/').next()?.parse().ok())
        .collect();
    assert!(ports.len() == 2 && ports[0] != ports[1], "{listed}");
    for port in ports {
        assert_eq!(ticks_at(port), (1..=10).collect::<Vec<i64>>(), "the clone on {port}");
    }
}
