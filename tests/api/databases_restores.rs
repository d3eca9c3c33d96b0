//! Spec 002's ways of writing a protected database back, through the API on a throwaway cluster:
//! `pitr` in place (typed confirmation; the source holds exactly the rows of the target second),
//! `restore` of one base backup as a clone, `switch` to a clone (archived under a new prefix,
//! the old record kept), `import` of an uploaded dump, `restore-from-path` of a granted file and
//! of a destination object, and a `pg_dump` schedule made from `database_id`.

use crate::api_client::{Api, admin};
use crate::helpers::Backend;
use crate::pitr_clusters::{Cluster, ClusterOptions, PASSWORD};
use crate::pitr_support::{
    TICKS, archiving, base_backup, ids, insert_ticks, port_of, protect, psql_at, wait_for, window_past,
};
use crate::plans::{Fixture, fixture};
use serde_json::json;
use std::time::{Duration, Instant};

/// A protected cluster with a table, archiving, one base backup taken: (database id, cluster).
async fn protected(f: &Fixture, api: &Api<'_>) -> (String, Cluster) {
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql(TICKS);
    let id = protect(api, &f.destination_id, &cluster, json!({})).await;
    archiving(api, &id).await;
    base_backup(api, &id).await;
    (id, cluster)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pitr_in_place_puts_the_source_back_to_the_second() {
    let f = fixture(Backend::Sqlite).await;
    let api = admin(&f.app).await;
    let (id, cluster) = protected(&f, &api).await;
    insert_ticks(&cluster, 1..=10).await;
    let target = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    insert_ticks(&cluster, 11..=20).await;
    cluster.psql("DELETE FROM ticks WHERE id <= 5");
    window_past(&api, &id, target).await;

    let unconfirmed =
        api.post(&format!("/api/v1/databases/{id}/pitr"), json!({"target_time": target, "confirm": "shop"})).await;
    assert_eq!(unconfirmed.status, 422, "{unconfirmed:?}");
    assert!(
        unconfirmed.json["fields"]["confirm"].as_str().is_some_and(|m| m.contains("“postgres”")),
        "{unconfirmed:?}"
    );

    let started =
        api.post(&format!("/api/v1/databases/{id}/pitr"), json!({"target_time": target, "confirm": "postgres"})).await;
    assert_eq!(started.status, 202, "{started:?}");
    let clones = format!("/api/v1/databases/{id}/clones");
    let done = wait_for(&api, &clones, Duration::from_secs(240), |c| {
        !matches!(c["data"][0]["status"].as_str(), Some("restoring" | "copying"))
    })
    .await;
    assert_eq!(done["data"][0]["status"], "copied", "{done}");
    assert_eq!(ids(&cluster.psql("SELECT id FROM ticks ORDER BY id")), (1..=10).collect::<Vec<i64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_backup_restores_as_a_clone_and_a_clone_becomes_the_database() {
    let f = fixture(Backend::Postgres).await;
    let api = admin(&f.app).await;
    cluster_rows_then_backup_restore_and_switch(&f, &api).await;
}

async fn cluster_rows_then_backup_restore_and_switch(f: &Fixture, api: &Api<'_>) {
    let (id, cluster) = protected(f, api).await;
    let backup = api.get(&format!("/api/v1/databases/{id}/backups")).await.json["data"][0]["id"]
        .as_str()
        .expect("backup")
        .to_owned();
    insert_ticks(&cluster, 1..=5).await;
    let unknown = api
        .post(
            &format!("/api/v1/databases/{id}/restore"),
            json!({"backup_id": "00000000-0000-4000-8000-000000000000", "new_name": "X"}),
        )
        .await;
    assert_eq!(unknown.status, 422, "{unknown:?}");
    // Right after a segment completes, the archive may need a moment to show the backup as
    // usable again: ask until it is.
    let deadline = Instant::now() + Duration::from_secs(60);
    let restored = loop {
        let reply = api
            .post(&format!("/api/v1/databases/{id}/restore"), json!({"backup_id": backup, "new_name": "As backed up"}))
            .await;
        if reply.status == 202 || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(restored.status, 202, "{restored:?}");
    let clone_id = restored.json["data"]["id"].as_str().expect("clone").to_owned();
    let clones = format!("/api/v1/databases/{id}/clones");
    let ready = wait_for(api, &clones, Duration::from_secs(180), |c| c["data"][0]["status"] != "restoring").await;
    assert_eq!(ready["data"][0]["status"], "running", "{ready}");
    let port = port_of(&ready["data"][0]["connection_url"]);
    assert_eq!(psql_at(port, "SELECT count(*) FROM ticks"), "0", "the clone is the cluster as the backup stopped");

    let switched = api.post(&format!("/api/v1/databases/{id}/switch"), json!({"clone_id": clone_id})).await;
    assert_eq!(switched.status, 200, "{switched:?}");
    let new_id = switched.json["data"]["id"].as_str().expect("new id").to_owned();
    assert_ne!(new_id, id);
    assert_eq!(switched.json["data"]["name"], "Shop");
    let old = api.get(&format!("/api/v1/databases/{id}")).await.json;
    assert_eq!(old["data"]["replaced_by"], new_id.as_str(), "{old}");
    assert_eq!(old["data"]["archiving"], false);
    // The clone is archived now, under its own prefix, from its own first base backup.
    wait_for(api, &format!("/api/v1/databases/{new_id}"), Duration::from_secs(60), |d| d["data"]["status"] == "ok")
        .await;
    let backups = format!("/api/v1/databases/{new_id}/backups");
    let first = wait_for(api, &backups, Duration::from_secs(120), |b| b["data"][0]["status"] != "running").await;
    assert_eq!(first["data"][0]["status"], "succeeded", "{first}");
    assert!(first["data"][0]["timeline"].as_i64().is_some_and(|t| t >= 2), "a new timeline: {first}");
    let again = api.post(&format!("/api/v1/databases/{id}/switch"), json!({"clone_id": clone_id})).await;
    assert_eq!(again.status, 409, "{again:?}");
    // The clone is the new record's server: it is listed there, and deleting that record alone
    // is refused (a record's deletion never stops the database it protects).
    let moved = api.get(&format!("/api/v1/databases/{new_id}/clones")).await.json;
    assert_eq!(moved["data"][0]["id"], clone_id.as_str(), "{moved}");
    let refused = api.delete(&format!("/api/v1/databases/{new_id}")).await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(refused.json["message"].as_str().is_some_and(|m| m.contains("As backed up")), "{refused:?}");
    assert_eq!(api.delete(&format!("/api/v1/database-clones/{clone_id}")).await.status, 200);
    assert_eq!(api.delete(&format!("/api/v1/databases/{new_id}")).await.status, 200);
    // The old record goes too (its archive stays in the destination).
    assert_eq!(api.delete(&format!("/api/v1/databases/{id}")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dumps_are_imported_uploaded_from_a_granted_file_and_from_the_destination() {
    let f = fixture(Backend::Sqlite).await;
    let api = admin(&f.app).await;
    let (id, cluster) = protected(&f, &api).await;
    let sql = "CREATE TABLE fruit (name text);\nINSERT INTO fruit VALUES ('apple'), ('pear');\n";

    let uploaded = f
        .app
        .client
        .post(f.app.url(&format!("/api/v1/databases/{id}/import?database=imported")))
        .bearer_auth(&api.token)
        .header("content-type", "application/sql")
        .body(sql)
        .send()
        .await
        .expect("import");
    assert_eq!(uploaded.status(), 200, "{:?}", uploaded.text().await);
    assert_eq!(cluster.psql_in("imported", "SELECT count(*) FROM fruit"), "2");

    let folder = tempfile::tempdir().expect("folder");
    let dump = folder.path().join("fruit.sql");
    std::fs::write(&dump, sql).expect("dump");
    f.app.grant_folder(folder.path(), "read").await;
    let from_path = api
        .post(&format!("/api/v1/databases/{id}/restore-from-path"), json!({"path": dump, "database": "from_path"}))
        .await;
    assert_eq!(from_path.status, 200, "{from_path:?}");
    assert_eq!(from_path.json["format"], "sql");
    assert_eq!(cluster.psql_in("from_path", "SELECT count(*) FROM fruit"), "2");

    let not_granted = api
        .post(&format!("/api/v1/databases/{id}/restore-from-path"), json!({"path": "/etc/passwd", "database": "nope"}))
        .await;
    assert_eq!(not_granted.status, 422, "{not_granted:?}");
    assert!(not_granted.json["fields"]["path"].is_string(), "{not_granted:?}");

    std::fs::write(f.target_path().join("fruit.sql"), sql).expect("object");
    let from_object = api
        .post(
            &format!("/api/v1/databases/{id}/restore-from-path"),
            json!({"object_key": "fruit.sql", "database": "from_object"}),
        )
        .await;
    assert_eq!(from_object.status, 200, "{from_object:?}");
    assert_eq!(cluster.psql_in("from_object", "SELECT count(*) FROM fruit"), "2");
    let escape = api
        .post(
            &format!("/api/v1/databases/{id}/restore-from-path"),
            json!({"object_key": "../../etc/passwd", "database": "escape"}),
        )
        .await;
    assert_eq!(escape.status, 422, "{escape:?}");

    let existing_unconfirmed = api
        .post(
            &format!("/api/v1/databases/{id}/restore-from-path"),
            json!({"path": dump, "database": "from_path", "into": "existing"}),
        )
        .await;
    assert_eq!(existing_unconfirmed.status, 422, "{existing_unconfirmed:?}");
    assert!(existing_unconfirmed.json["fields"]["confirm"].is_string(), "{existing_unconfirmed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_is_made_from_a_database_id() {
    let f = fixture(Backend::Sqlite).await;
    let api = admin(&f.app).await;
    let (id, _cluster) = protected(&f, &api).await;
    let made = api
        .post(
            "/api/v1/backup-schedules",
            json!({"database_id": id, "destination_id": f.destination_id, "cron_expression": "0 2 * * *", "retention_count": 7}),
        )
        .await;
    assert_eq!(made.status, 201, "{made:?}");
    assert_eq!(made.json["data"]["name"], "Shop dump");
    assert_eq!(made.json["data"]["source"]["type"], "postgres");
    assert!(!made.json.to_string().contains(PASSWORD), "{made:?}");
    let run = api
        .post(&format!("/api/v1/backup-schedules/{}/run", made.json["data"]["id"].as_str().expect("id")), json!({}))
        .await;
    assert_eq!(run.status, 202, "{run:?}");
    // The database's backups list its dump runs beside its base backups.
    let listed = wait_for(&api, &format!("/api/v1/databases/{id}/backups"), Duration::from_secs(60), |b| {
        b["data"].as_array().is_some_and(|all| all.iter().any(|x| x["kind"] == "dump" && x["status"] == "succeeded"))
    })
    .await;
    let kinds: Vec<&str> = listed["data"].as_array().expect("list").iter().filter_map(|x| x["kind"].as_str()).collect();
    assert!(kinds.contains(&"base"), "{listed}");
    assert!(listed["data"].as_array().expect("list").iter().any(|x| x["schedule_name"] == "Shop dump"), "{listed}");
    let unknown = api
        .post(
            "/api/v1/backup-schedules",
            json!({"database_id": "00000000-0000-4000-8000-000000000000", "cron_expression": "0 2 * * *", "retention_count": 7}),
        )
        .await;
    assert_eq!(unknown.status, 422, "{unknown:?}");
    assert!(unknown.json["fields"]["database_id"].is_string(), "{unknown:?}");
}
