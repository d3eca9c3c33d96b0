//! "Load a dump" on a database's page, on a throwaway cluster: a SQL file in a granted folder is
//! loaded into a new database through the form (bad paths, a name that exists and an unconfirmed
//! existing database refused next to their fields), an object of the destination through htmx (the
//! section answered in place), and a file uploaded as the page sends it (multipart, the token as
//! the header); the database's backups list the runs of its `pg_dump` plan, marked as dumps with
//! a link to their restore page.

use crate::api_client::admin;
use crate::databases_pages::{protect, text_after};
use crate::helpers::{Backend, Page};
use crate::pitr_clusters::{Cluster, ClusterOptions, PASSWORD};
use crate::plans::{Fixture, fixture};
use serde_json::json;
use std::time::{Duration, Instant};

const SQL: &str = "CREATE TABLE fruit (name text);\nINSERT INTO fruit VALUES ('apple'), ('pear');\n";

/// Sends the upload form as the page does: multipart, with the CSRF token as the header.
async fn upload(f: &Fixture, id: &str, fields: &[(&str, &str)], file: Option<&str>, header: bool) -> Page {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    if let Some(body) = file {
        form = form.part("file", reqwest::multipart::Part::bytes(body.as_bytes().to_vec()).file_name("fruit.sql"));
    }
    let token = f.app.csrf(&f.app.client).await;
    let request = f.app.client.post(f.app.url(&format!("/databases/{id}/import"))).header("HX-Request", "true");
    let request = if header { request.header("X-CSRF-Token", token) } else { request };
    let response = request.multipart(form).send().await.expect("upload");
    let status = response.status().as_u16();
    Page { status, location: None, body: response.text().await.unwrap_or_default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dumps_load_from_a_path_an_object_and_an_upload_and_are_listed_with_the_backups() {
    let f = fixture(Backend::Sqlite).await;
    let cluster = Cluster::start(ClusterOptions::default());
    let id = protect(&f, &cluster).await;
    let page = f.app.get(&format!("/databases/{id}")).await.body;
    for part in ["<section class=\"panel\" id=\"dumps\">", "id=\"f-upload-file\"", "id=\"f-from-path\""] {
        assert!(page.contains(part), "{part}: {page}");
    }
    assert!(page.contains("id=\"f-from-database\" name=\"database\" type=\"text\" value=\"postgres\""), "{page}");

    let folder = tempfile::tempdir().expect("folder");
    let dump = folder.path().join("fruit.sql");
    std::fs::write(&dump, SQL).expect("dump");
    f.app.grant_folder(folder.path(), "read").await;
    let dump = dump.to_string_lossy().into_owned();
    let from = format!("/databases/{id}/restore-from-path");
    for (fields, field, message) in [
        (vec![("database", "x")], "path", "Give the dump"),
        (vec![("path", "/etc/passwd"), ("database", "nope")], "path", ""),
        (vec![("path", dump.as_str()), ("object_key", "fruit.sql"), ("database", "x")], "path", "not both"),
        (vec![("path", dump.as_str()), ("database", "from_path"), ("into", "existing")], "confirm", "“from_path”"),
        (vec![("path", dump.as_str()), ("database", "postgres")], "database", "already exists"),
    ] {
        let refused = f.app.post(&from, &fields).await;
        assert_eq!(refused.status, 422, "{fields:?}: {}", refused.body);
        let shown = text_after(&refused.body, &format!("id=\"f-from-{field}-error\">"));
        assert!(shown.contains(message), "{fields:?}: {shown}");
    }
    let loaded = f.app.post(&from, &[("path", &dump), ("database", "from_path"), ("into", "new")]).await;
    assert_eq!(loaded.location, Some(format!("/databases/{id}")), "{}", loaded.body);
    let flash = f.app.get(&format!("/databases/{id}")).await.body;
    assert!(flash.contains("Loaded a SQL dump (psql) into the new database “from_path”."), "{flash}");
    assert_eq!(cluster.psql_in("from_path", "SELECT count(*) FROM fruit"), "2");

    // An object of the destination, as htmx sends the form: the section answers in place.
    std::fs::write(f.target_path().join("fruit.sql"), SQL).expect("object");
    let object = f.app.htmx_post(&from, &[("object_key", "fruit.sql"), ("database", "from_object")]).await;
    assert_eq!(object.status, 200, "{}", object.body);
    assert!(object.body.starts_with("<section class=\"panel\" id=\"dumps\">"), "{}", object.body);
    assert!(text_after(&object.body, "id=\"from-outcome\">").contains("“from_object”"), "{}", object.body);
    assert_eq!(cluster.psql_in("from_object", "SELECT count(*) FROM fruit"), "2");

    // An upload.
    let uploaded = upload(&f, &id, &[("database", "uploaded"), ("into", "new")], Some(SQL), true).await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.body);
    let outcome = text_after(&uploaded.body, "id=\"upload-outcome\">");
    assert!(outcome.contains("“fruit.sql”: Loaded a SQL dump (psql) into the new database “uploaded”."), "{outcome}");
    assert_eq!(cluster.psql_in("uploaded", "SELECT count(*) FROM fruit"), "2");
    let no_file = upload(&f, &id, &[("database", "nothing")], None, true).await;
    assert_eq!(no_file.status, 422, "{}", no_file.body);
    assert!(text_after(&no_file.body, "id=\"f-upload-file-error\">").contains("Choose the dump file"));
    let not_a_dump = upload(&f, &id, &[("database", "garbage")], Some("\u{1}\u{2}binary"), true).await;
    assert_eq!(not_a_dump.status, 422, "{}", not_a_dump.body);
    assert!(not_a_dump.body.contains("id=\"f-upload-file-error\""), "{}", not_a_dump.body);
    let without_header = upload(&f, &id, &[("database", "forged")], Some(SQL), false).await;
    assert_eq!(without_header.status, 403, "the token in the body is not read: {}", without_header.body);
    let databases = cluster.psql("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database");
    assert!(!databases.contains("forged") && !databases.contains("nothing"), "{databases}");

    // The runs of the database's pg_dump plan are listed with its backups.
    let api = admin(&f.app).await;
    let plan = api
        .post(
            "/api/v1/backup-schedules",
            json!({"database_id": id, "destination_id": f.destination_id, "cron_expression": "0 2 * * *", "retention_count": 7}),
        )
        .await;
    assert_eq!(plan.status, 201, "{plan:?}");
    let started = api
        .post(&format!("/api/v1/backup-schedules/{}/run", plan.json["data"]["id"].as_str().expect("id")), json!({}))
        .await;
    assert_eq!(started.status, 202, "{started:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let page = loop {
        let page = f.app.get(&format!("/databases/{id}")).await.body;
        if page.contains("class=\"dump-run status-succeeded\"") {
            break page;
        }
        assert!(!page.contains("class=\"dump-run status-failed\""), "{page}");
        assert!(Instant::now() < deadline, "no succeeded dump run: {page}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let run = text_after(&page, "<tr id=\"run-").split('"').next().unwrap_or_default().to_owned();
    assert!(text_after(&page, "<div class=\"sub dump-plan\">").contains("Shop dump"), "{page}");
    assert!(page.contains(&format!("href=\"/runs/{run}/restore\">Restore…")), "{page}");
    assert!(!page.contains(PASSWORD));
}

/// The page's upload is read by its handler, not by the CSRF check's 256 KiB: a file larger than
/// that loads; one past `DEVPILOT_IMPORT_MAX_BYTES` is refused next to the file field (the
/// browser hears the answer), with nothing left in the private temporary folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_bounded_by_the_import_limit_not_the_form_limit() {
    let (mut settings, data_dir, pg) = crate::helpers::test_settings(Backend::Sqlite);
    settings.import_max_bytes = 1024 * 1024;
    let app = crate::helpers::spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;
    let (source, target) = (tempfile::tempdir().expect("source"), tempfile::tempdir().expect("target"));
    app.grant_folder(target.path(), "read_write").await;
    let path = target.path().to_string_lossy().into_owned();
    assert_eq!(app.create_destination("Disk", "local", &[("path", &path)]).await.status, 303);
    let destination_id = app.destination("Disk").await.id;
    let f = Fixture { app, source, target, destination_id };
    let cluster = Cluster::start(ClusterOptions::default());
    let id = protect(&f, &cluster).await;

    // About 600 KiB of SQL: past every other form's limit, within this one.
    let rows: String = (0..20_000).map(|n| format!("INSERT INTO big VALUES ({n}, 'row {n:>10}');\n")).collect();
    let sql = format!("CREATE TABLE big (id int, note text);\n{rows}");
    assert!(sql.len() > 512 * 1024 && sql.len() < 1024 * 1024, "{}", sql.len());
    let loaded = upload(&f, &id, &[("database", "big")], Some(&sql), true).await;
    assert_eq!(loaded.status, 200, "{}", loaded.body);
    assert_eq!(cluster.psql_in("big", "SELECT count(*) FROM big"), "20000");

    // Refused on its announced length, and (a little past the limit) found out while it streams.
    for too_large in [format!("{sql}{sql}"), "-".repeat(1024 * 1024 + 10_000)] {
        let refused = upload(&f, &id, &[("database", "too_large")], Some(&too_large), true).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        let message = text_after(&refused.body, "id=\"f-upload-file-error\">");
        assert!(message.contains("larger than 1.0 MiB") && message.contains("DEVPILOT_IMPORT_MAX_BYTES"), "{message}");
    }
    let leftovers = std::fs::read_dir(f.app.data_dir.path().join("tmp")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "nothing kept");
    assert!(!cluster.psql("SELECT string_agg(datname, ',') FROM pg_database").contains("too_large"));
}
