//! The Databases pages on throwaway clusters (1 MB WAL segments): saving through the form names
//! every prerequisite step beside the URL and refuses a source that lacks one (422, nothing
//! saved); a good source is saved, archived, backed up with "Back up now", drawn as a window bar,
//! restored to a second through the restore form, and deleted once its name is typed. Viewers
//! see the pages without a button and every change they try is refused. The connection URL's
//! password is in no page.

use crate::api_client::admin;
use crate::database_grants::{grant_database, workspace_ids};
use crate::helpers::{Backend, Page, TestApp};
use crate::pitr_clusters::{Cluster, ClusterOptions, PASSWORD};
use crate::plans::{Fixture, fixture};
use crate::provider_sftp::viewer;
use devpilot::grants::DatabaseServer;
use std::time::{Duration, Instant};

/// The form's fields for `cluster`, with `overrides` in place of the defaults.
fn form<'a>(f: &'a Fixture, url: &'a str, overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("name", "Shop"),
        ("url", url),
        ("destination_id", f.destination_id.as_str()),
        ("base_schedule", "0 3 * * *"),
        ("window_days", "7"),
        ("min_base_backups", "2"),
    ];
    for (key, value) in overrides {
        fields.retain(|(k, _)| k != key);
        fields.push((key, value));
    }
    fields
}

pub async fn grant(f: &Fixture, cluster: &Cluster) {
    let workspace = workspace_ids(&f.app).await.into_iter().next().expect("the workspace");
    grant_database(&f.app, &workspace, DatabaseServer::Tcp { host: "127.0.0.1".into(), port: cluster.port }).await;
}

/// Saves `cluster` as "Shop" through the form; its id.
pub async fn protect(f: &Fixture, cluster: &Cluster) -> String {
    grant(f, cluster).await;
    let url = cluster.url();
    let saved = f.app.post("/databases", &form(f, &url, &[])).await;
    assert_eq!(saved.status, 303, "{}\n{}", saved.body, crate::helpers::captured_logs());
    let location = saved.location.expect("a redirect to the database's page");
    location.strip_prefix("/databases/").expect("/databases/{id}").to_owned()
}

/// Reads `path` until `ready` holds for its body (failing early on `broken`), or fails after `within`.
pub async fn wait_for_page(app: &TestApp, path: &str, within: Duration, ready: &str, broken: &str) -> String {
    let deadline = Instant::now() + within;
    loop {
        let page = app.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        if let Some(at) = page.body.find(broken).filter(|_| !broken.is_empty()) {
            let row = page.body[at..].split("</tr>").next().unwrap_or_default();
            panic!("{path} shows {broken}: {row}\n{}", crate::helpers::captured_logs());
        }
        if page.body.contains(ready) {
            return page.body;
        }
        assert!(Instant::now() < deadline, "{path} did not show {ready} within {within:?}: {}", page.body);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Takes a base backup with the page's button and waits for the window bar it starts.
pub async fn back_up_and_draw_the_window(app: &TestApp, id: &str) -> String {
    let page = format!("/databases/{id}");
    // A receiver that failed retries by itself (its message says when): only "ok" is awaited.
    wait_for_page(app, &page, Duration::from_secs(60), "database-status\">ok<", "").await;
    let started = app.post(&format!("/databases/{id}/backup"), &[]).await;
    assert_eq!((started.status, started.location.as_deref()), (303, Some(page.as_str())), "{}", started.body);
    let after = app.get(&page).await.body;
    assert!(after.contains("Base backup started"), "the flash says so: {after}");
    assert!(after.contains("hx-trigger=\"every 3s\""), "the page looks again while it runs: {after}");
    wait_for_page(
        app,
        &page,
        Duration::from_secs(120),
        "class=\"base-status\">succeeded<",
        "class=\"base-status\">failed<",
    )
    .await;
    wait_for_page(app, &page, Duration::from_secs(60), "<svg class=\"window-bar\"", "").await
}

/// The text of the element whose opening tag ends with `marker`, up to the next `</`.
pub fn text_after<'a>(body: &'a str, marker: &str) -> &'a str {
    let at = body.find(marker).unwrap_or_else(|| panic!("no {marker} in {body}"));
    body[at + marker.len()..].split("</").next().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_without_what_pitr_needs_is_refused_with_every_step_beside_the_url() {
    let f = fixture(Backend::Sqlite).await;
    let cluster =
        Cluster::start(ClusterOptions { wal_level: "minimal", max_wal_senders: 0, ..ClusterOptions::default() });
    grant(&f, &cluster).await;
    let url = cluster.url();

    let refused = f.app.post("/databases", &form(&f, &url, &[])).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let checks = text_after(&refused.body, "id=\"f-url-error\">");
    assert!(checks.contains("not ready for point-in-time recovery"), "{checks}");
    let beside_url = refused.body.split("id=\"f-url\"").nth(1).and_then(|b| b.split("id=\"f-destination_id\"").next());
    let beside_url = beside_url.expect("the URL field");
    for (step, outcome) in [
        ("connects", "pass"),
        ("wal_level", "fail"),
        ("max_wal_senders", "fail"),
        ("REPLICATION role", "pass"),
        ("max_slot_wal_keep_size", "pass"),
    ] {
        let item = format!("<li class=\"pitr-step {outcome}\" data-step=\"{step}\">");
        assert!(beside_url.contains(&item), "{step} is {outcome} beside the URL: {beside_url}");
    }
    assert!(beside_url.contains("wal_level = minimal"), "PostgreSQL's own terms: {beside_url}");
    assert!(!refused.body.contains(PASSWORD), "the typed URL is not sent back");
    assert!(refused.body.contains("value=\"Shop\""), "what was typed stays, but the URL");

    // "Check" runs the same steps and saves nothing; a blank name does not keep it from checking.
    let checked = f.app.htmx_post("/databases/check", &form(&f, &url, &[("name", "")])).await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert!(checked.body.starts_with("<div id=\"f-url-checks\""), "{}", checked.body);
    assert!(checked.body.contains("<li class=\"pitr-step fail\" data-step=\"wal_level\">"), "{}", checked.body);
    assert!(!checked.body.contains(PASSWORD));

    // A bad field is shown next to itself, never as a 500.
    for (field, value, message) in [
        ("window_days", "0", "must be a whole number from 1 to 3650"),
        ("base_schedule", "0 3 * *", "5 fields"),
        ("url", "not a url", "not usable"),
        ("destination_id", "", "Choose the destination"),
    ] {
        let page = f.app.post("/databases", &form(&f, &url, &[(field, value)])).await;
        assert_eq!(page.status, 422, "{field}={value}: {}", page.body);
        let shown = text_after(&page.body, &format!("id=\"f-{field}-error\">"));
        assert!(shown.contains(message), "{field}={value}: {shown}");
    }
    let list = f.app.get("/databases").await;
    assert!(list.body.contains("No databases yet") && list.body.contains("wal_level = replica"), "{}", list.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_saved_by_form_is_backed_up_drawn_restored_and_deleted() {
    let f = fixture(Backend::Sqlite).await;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql("CREATE TABLE ticks (id int PRIMARY KEY)");
    let id = protect(&f, &cluster).await;
    let mut seen: Vec<Page> = Vec::new();

    let list = f.app.get("/databases").await;
    assert!(list.body.contains("href=\"/databases\" class=\"active\">Databases</a>"), "nav link: {}", list.body);
    let server = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    assert!(list.body.contains("Shop") && list.body.contains(&server), "{}", list.body);
    assert!(list.body.contains("every day at 03:00 UTC"), "the schedule's preview: {}", list.body);
    seen.push(list);
    let edit = f.app.get(&format!("/databases/{id}/edit")).await;
    assert!(edit.body.contains("A connection URL is stored") && edit.body.contains(&server), "{}", edit.body);
    seen.push(edit);

    let page = back_up_and_draw_the_window(&f.app, &id).await;
    assert!(page.contains("class=\"range\""), "a restorable stretch on the bar: {page}");
    assert!(text_after(&page, "class=\"window-summary\">").contains("Any second from"), "{page}");
    assert!(page.contains("<td>manual</td>"), "the base backup's trigger: {page}");
    assert!(page.contains("devpilot_"), "the slot's name: {page}");

    // A second outside the window is refused next to the field, with the window in the message.
    let too_early = [("target_time", "2001-01-01T00:00:00"), ("new_name", "Old")];
    let refused = f.app.post(&format!("/databases/{id}/pitr-clone"), &too_early).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let message = text_after(&refused.body, "id=\"f-target_time-error\">");
    assert!(message.contains("outside the recovery window, which is from"), "{message}");
    let garbled =
        f.app.post(&format!("/databases/{id}/pitr-clone"), &[("target_time", "soon"), ("new_name", "X")]).await;
    assert_eq!(garbled.status, 422);
    assert!(text_after(&garbled.body, "id=\"f-target_time-error\">").contains("in UTC"));
    seen.push(refused);
    seen.push(garbled);

    for n in 1..=10 {
        cluster.psql(&format!("INSERT INTO ticks VALUES ({n})"));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let target = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    cluster.psql("INSERT INTO ticks VALUES (11)");
    let api = admin(&f.app).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let window = api.get(&format!("/api/v1/databases/{id}/recovery-window")).await.json;
        let latest = window["latest"].as_str().and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
        if latest.is_some_and(|t| t > target) {
            break;
        }
        assert!(Instant::now() < deadline, "the window never passed the target: {window}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let typed = target.format("%Y-%m-%dT%H:%M:%S").to_string();
    let restore =
        f.app.post(&format!("/databases/{id}/pitr-clone"), &[("target_time", &typed), ("new_name", "Shop then")]).await;
    assert_eq!(restore.status, 303, "{}", restore.body);
    let page = wait_for_page(
        &f.app,
        &format!("/databases/{id}"),
        Duration::from_secs(180),
        "clone-status\">running<",
        "clone-status\">failed<",
    )
    .await;
    assert!(page.contains("Shop then"), "{page}");
    let clone_url = text_after(&page, "<code class=\"clone-url\">");
    assert!(clone_url.starts_with("postgres://postgres@127.0.0.1:"), "without a password: {clone_url}");
    let clone_id = text_after(&page, "<tr id=\"clone-").split('"').next().unwrap_or_default().to_owned();
    let port: u16 =
        clone_url.split(':').nth(2).and_then(|p| p.split('/').next()).and_then(|p| p.parse().ok()).expect("port");
    let restored = std::process::Command::new(crate::pitr_clusters::binaries().program("psql"))
        .args(["-X", "-A", "-t", "-c", "SELECT count(*) FROM ticks"])
        .arg(format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/postgres?sslmode=disable"))
        .output()
        .expect("psql");
    assert_eq!(String::from_utf8_lossy(&restored.stdout).trim(), "10", "the rows committed by the second typed");
    seen.push(Page { status: 200, location: None, body: page });

    let confirm = f.app.get(&format!("/database-clones/{clone_id}/delete")).await;
    assert!(confirm.status == 200 && confirm.body.contains("Delete the clone “Shop then”?"), "{}", confirm.body);
    let deleted = f.app.post(&format!("/database-clones/{clone_id}/delete"), &[]).await;
    assert_eq!(deleted.location, Some(format!("/databases/{id}")), "{}", deleted.body);

    let confirm = f.app.get(&format!("/databases/{id}/delete")).await;
    assert!(confirm.body.contains("the replication slot") && confirm.body.contains("stays in the destination"));
    seen.push(confirm);
    let wrong = f.app.post(&format!("/databases/{id}/delete"), &[("confirm", "shop")]).await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(text_after(&wrong.body, "id=\"f-confirm-error\">").contains("Type “Shop” exactly"), "{}", wrong.body);
    assert!(f.app.get("/databases").await.body.contains(&format!("/databases/{id}")), "not deleted");
    let gone = f.app.post(&format!("/databases/{id}/delete"), &[("confirm", "Shop")]).await;
    assert_eq!(gone.location.as_deref(), Some("/databases"), "{}", gone.body);
    let list = f.app.get("/databases").await;
    assert!(list.body.contains("its replication slot was dropped"), "{}", list.body);
    let slots = cluster.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'devpilot_%'");
    assert_eq!(slots, "0");
    seen.push(list);
    for page in seen {
        assert!(!page.body.contains(PASSWORD), "the password is in a page: {}", page.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_see_databases_but_cannot_change_them() {
    let f = fixture(Backend::Sqlite).await;
    let cluster = Cluster::start(ClusterOptions::default());
    let id = protect(&f, &cluster).await;
    let viewer = viewer(&f.app).await;
    let list = f.app.get_with(&viewer, "/databases").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Shop") && !list.body.contains("/databases/new"), "{}", list.body);
    let page = f.app.get_with(&viewer, &format!("/databases/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for button in ["Back up now", "Pause archiving", "/edit", "/delete", "Restore to a point in time"] {
        assert!(!page.body.contains(button), "a viewer sees {button}: {}", page.body);
    }
    assert!(!page.body.contains(PASSWORD));
    for path in ["/databases/new".to_owned(), format!("/databases/{id}/edit"), format!("/databases/{id}/delete")] {
        assert_eq!(f.app.get_with(&viewer, &path).await.status, 403, "{path}");
    }
    let url = cluster.url();
    let fields = form(&f, &url, &[("confirm", "Shop"), ("new_name", "Mine")]);
    for path in [
        "/databases".to_owned(),
        "/databases/check".to_owned(),
        format!("/databases/{id}"),
        format!("/databases/{id}/backup"),
        format!("/databases/{id}/pause"),
        format!("/databases/{id}/pitr-clone"),
        format!("/databases/{id}/delete"),
    ] {
        assert_eq!(f.app.post_with(&viewer, &path, &fields).await.status, 403, "{path}");
    }
    let api = admin(&f.app).await;
    let database = api.get(&format!("/api/v1/databases/{id}")).await.json;
    assert_eq!(database["data"]["archiving"], true, "{database}");
    assert_eq!(api.get(&format!("/api/v1/databases/{id}/backups")).await.json["meta"]["total"], 0);
    assert_eq!(api.get("/api/v1/databases").await.json["meta"]["total"], 1);
}
