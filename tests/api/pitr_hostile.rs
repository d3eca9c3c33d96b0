//! A hostile tenant against point-in-time recovery (../shared/SECURITY.md): the route a clone's
//! restore command fetches WAL from serves one archived file only to a clone that is restoring,
//! with that clone's own token, and only by a name PostgreSQL writes; a source on the server that
//! holds Devpilot's own database, or on a loopback server nobody granted, is refused on save; a
//! clone's name that hides characters is refused.

use crate::api_client::admin;
use crate::database_grants::{grant_database, workspace_ids};
use crate::helpers::{Backend, TestApp, postgres_base_url};
use crate::pitr_clusters::{Cluster, ClusterOptions};
use crate::pitr_support::{
    TICKS, archiving, base_backup, clone_at, insert_ticks, protect, recorded, sha256_hex, switch_wal,
};
use crate::plans::fixture;
use devpilot::databases::archive_store::{self, CloneRow};
use devpilot::databases::own_server;
use devpilot::grants::DatabaseServer;
use serde_json::json;

/// A clone row as a restore in progress has it, with a token whose hash is stored.
async fn clone_row(app: &TestApp, database: &str, status: &str, token: &str, port: i32) -> String {
    let row = CloneRow {
        id: uuid::Uuid::now_v7().to_string(),
        workspace_id: workspace_ids(app).await.remove(0),
        database_id: database.to_owned(),
        name: format!("Clone on {port}"),
        port,
        target_time: None,
        timeline: None,
        status: status.to_owned(),
        error: None,
        instance_id: None,
        fetch_token_hash: Some(devpilot::crypto::sha256_hex(token)),
        created_at: chrono::Utc::now().naive_utc(),
    };
    let id = row.id.clone();
    app.db().run(move |c| archive_store::insert_clone(c, &row)).await.expect("insert the clone");
    id
}

/// `GET /internal/wal/{clone}/{name}` (the name as written into the URL); status, body and the
/// checksum header.
async fn fetch(app: &TestApp, clone: &str, name: &str, token: Option<&str>) -> (u16, Vec<u8>, Option<String>) {
    let mut request = app.client.get(app.url(&format!("/internal/wal/{clone}/{name}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("GET");
    let status = response.status().as_u16();
    let sha = response.headers().get("x-devpilot-sha256").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, response.bytes().await.expect("body").to_vec(), sha)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_route_serves_a_restoring_clone_its_own_files_only() {
    let f = fixture(Backend::Sqlite).await;
    let api = admin(&f.app).await;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql(TICKS);
    let id = protect(&api, &f.destination_id, &cluster, json!({})).await;
    archiving(&api, &id).await;
    base_backup(&api, &id).await;
    insert_ticks(&cluster, 1..=10).await;
    // A segment whose name has hex letters, so that its lower-case spelling is another name.
    let mut name = switch_wal(&cluster);
    while !name.contains(|c: char| c.is_ascii_uppercase()) {
        name = switch_wal(&cluster);
    }
    let record = recorded(&f.app, &id, &name).await;

    let (mine, theirs, done) = ("token-of-a", "token-of-b", "token-of-c");
    let restoring = clone_row(&f.app, &id, "restoring", mine, 1).await;
    let other = clone_row(&f.app, &id, "restoring", theirs, 2).await;
    let finished = clone_row(&f.app, &id, "running", done, 3).await;

    // The one way in: a restoring clone, its own token, a segment's name.
    let (status, body, sha) = fetch(&f.app, &restoring, &name, Some(mine)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!((sha.as_deref(), sha256_hex(&body)), (Some(record.sha256.as_str()), record.sha256.clone()));

    for (clone, token, case) in [
        (&restoring, None, "no token"),
        (&restoring, Some("not-a-token"), "a wrong token"),
        (&restoring, Some(theirs), "another clone's token"),
        (&other, Some(mine), "a token used for another clone"),
        (&finished, Some(done), "a clone that finished restoring"),
        (&"01a24a5a-0000-7000-8000-000000000000".to_owned(), Some(mine), "a clone that does not exist"),
    ] {
        let (status, body, _) = fetch(&f.app, clone, &name, token).await;
        assert_eq!(status, 401, "{case}: {}", String::from_utf8_lossy(&body));
        assert!(body.len() < 100, "{case}: nothing of the file");
    }

    let lower = name.to_lowercase();
    let traversal = format!("{name}%2F..%2Fx");
    let backup = format!("{name}.00000028.backup");
    let partial = format!("{name}.partial");
    let encoded_dot = format!("{name}%2E%2E");
    for bad in [
        "..%2F..%2Fmaster.key",
        "..%2F..%2Fdevpilot.db",
        "%2Fetc%2Fpasswd",
        "00000001000000000000000A%2F..%2Fx",
        &traversal,
        &lower,
        &backup,
        &partial,
        &encoded_dot,
        "00000002.history",
    ] {
        let (status, body, _) = fetch(&f.app, &restoring, bad, Some(mine)).await;
        assert_eq!(status, 404, "{bad}: {}", String::from_utf8_lossy(&body));
        assert!(body.len() < 100 && !body.starts_with(b"SQLite"), "{bad}: nothing but a refusal");
    }

    // A real clone: once restored, its token is gone from the database and its folder.
    let (clone, _) = clone_at(&api, &id, None, "Restored").await;
    let cid = clone.clone();
    let row = f.app.db().run(move |c| archive_store::clone_by_id(c, &cid)).await.expect("the clone");
    assert_eq!(row.and_then(|r| r.fetch_token_hash), None, "the token is revoked");
    let folder = std::path::PathBuf::from(format!("{}-clones", f.app.data_dir.path().display())).join(&clone);
    assert!(folder.join("data").is_dir() && !folder.join("fetch-token").exists(), "{}", folder.display());
    let (status, _, _) = fetch(&f.app, &clone, &name, Some(mine)).await;
    assert_eq!(status, 401);

    // Names that hide characters are refused for clones, as for everything people name.
    for hidden in ["Shop\u{202E}gpj.exe", "Shop\u{200B}", "Shop\u{0}"] {
        let reply = api.post(&format!("/api/v1/databases/{id}/pitr-clone"), json!({"new_name": hidden})).await;
        assert_eq!(reply.status, 422, "{hidden:?}: {reply:?}");
        assert!(reply.json["fields"]["new_name"].is_string(), "{hidden:?}: {reply:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_on_devpilots_own_server_or_an_ungranted_one_are_refused() {
    let f = fixture(Backend::Postgres).await;
    let api = admin(&f.app).await;
    let workspace = workspace_ids(&f.app).await.remove(0);
    grant_database(&f.app, &workspace, DatabaseServer::Tcp { host: "127.0.0.1".into(), port: 5432 }).await;
    let own = f.app.database_url.rsplit('/').next().expect("the own database's name").to_owned();
    let save = |url: String| {
        let api = &api;
        let destination = f.destination_id.clone();
        async move {
            api.post("/api/v1/databases", json!({"name": "Mine", "url": url, "destination_id": destination})).await
        }
    };

    // Its own database, and any other database of the same server: WAL archiving copies the
    // whole server, Devpilot's own tables with it.
    for url in [
        format!("postgres://postgres@127.0.0.1:5432/{own}?sslmode=disable"),
        "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".to_owned(),
        "postgres://postgres@localhost:5432/template1?sslmode=disable".to_owned(),
    ] {
        let reply = save(url.clone()).await;
        assert_eq!(reply.status, 422, "{url}: {reply:?}");
        let message = reply.json["fields"]["url"].as_str().unwrap_or_default();
        assert!(message.contains("Devpilot's own"), "{url}: {message}");
    }

    // By identity too, for an address that does not give the server away: the cluster of
    // Devpilot's own database, and no other.
    let cluster = Cluster::start(ClusterOptions::default());
    let system = "SELECT system_identifier FROM pg_control_system()";
    let own_system = crate::pitr_support::psql_url(&format!("{}/postgres", postgres_base_url()), system);
    let refused = own_server::refuse_identity(&f.app.db(), &own_system).await;
    assert!(refused.as_ref().is_err_and(|m| m.contains("Devpilot's own")), "{refused:?}");
    assert_eq!(own_server::refuse_identity(&f.app.db(), &cluster.psql(system)).await, Ok(()));

    // A loopback server nobody granted, however it is named.
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("postgres://postgres:pw@{host}:{}/postgres?sslmode=disable", cluster.port);
        let reply = save(url.clone()).await;
        assert_eq!(reply.status, 422, "{url}: {reply:?}");
        let message = reply.json["fields"]["url"].as_str().unwrap_or_default();
        assert!(message.contains("not granted"), "{url}: {message}");
    }
    assert_eq!(api.get("/api/v1/databases").await.json["meta"]["total"], 0, "nothing was saved");
    let slots = cluster.psql("SELECT count(*) FROM pg_replication_slots");
    assert_eq!(slots, "0", "nothing reached the ungranted server");
}

/// Another workspace's clone and base backup, named in the bodies of `switch` and `restore` on a
/// database of one's own (the same cluster, protected by both), are not found: a body never
/// reaches across workspaces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_workspace_s_clone_and_backup_cannot_be_named() {
    let f = fixture(Backend::Sqlite).await;
    let api = admin(&f.app).await;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql(TICKS);
    let theirs = protect(&api, &f.destination_id, &cluster, json!({})).await;
    archiving(&api, &theirs).await;
    let backup = base_backup(&api, &theirs).await["id"].as_str().expect("backup id").to_owned();
    insert_ticks(&cluster, 1..=3).await;
    crate::pitr_support::window_past(&api, &theirs, chrono::Utc::now()).await;
    let (clone, _) = clone_at(&api, &theirs, None, "Theirs").await;

    let other = crate::api_schedules::other_workspace_api(&f.app).await;
    let folder = tempfile::tempdir().expect("folder");
    let workspace = f.app.workspace_id("Other").await;
    f.app.grant_folder_to("Other", folder.path(), "read_write").await;
    let disk = other
        .post(
            crate::api_destinations::BASE,
            json!({"name": "Disk", "destination_type": "local", "config": {"path": folder.path()}}),
        )
        .await;
    assert_eq!(disk.status, 201, "{disk:?}");
    grant_database(&f.app, &workspace, DatabaseServer::Tcp { host: "127.0.0.1".into(), port: cluster.port }).await;
    let destination = disk.json["data"]["id"].as_str().expect("destination id").to_owned();
    let mine = protect(&other, &destination, &cluster, json!({"name": "Mine"})).await;

    let switch = other.post(&format!("/api/v1/databases/{mine}/switch"), json!({"clone_id": clone})).await;
    assert_eq!(switch.status, 422, "{switch:?}");
    assert!(switch.json["fields"]["clone_id"].is_string(), "{switch:?}");
    let restore = other
        .post(&format!("/api/v1/databases/{mine}/restore"), json!({"backup_id": backup, "new_name": "Stolen"}))
        .await;
    assert_eq!(restore.status, 422, "{restore:?}");
    assert!(restore.json["fields"]["backup_id"].is_string(), "{restore:?}");
    assert_eq!(other.get(&format!("/api/v1/databases/{mine}/clones")).await.json["meta"]["total"], 0);
    assert_eq!(api.delete(&format!("/api/v1/database-clones/{clone}")).await.status, 200);
}
