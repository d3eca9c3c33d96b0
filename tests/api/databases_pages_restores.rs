//! Writing a database back from its page, on throwaway clusters: "Restore in place" refuses a
//! wrong confirmation next to its field, then puts the source back to the second typed (its row
//! under Clones going to `copied`); a base backup's row leads to "Restore as a clone", which makes
//! a running clone of the cluster as that backup stopped; that clone's "Make this the database"
//! leads to a page saying what a switch does, then to the new record's page, which archives,
//! while the old record is renamed. Viewers see none of these buttons and every POST is refused.

use crate::api_client::admin;
use crate::databases_pages::{back_up_and_draw_the_window, protect, text_after, wait_for_page};
use crate::helpers::Backend;
use crate::pitr_clusters::{Cluster, ClusterOptions};
use crate::pitr_support::{ids, insert_ticks, psql_at};
use crate::plans::fixture;
use crate::provider_sftp::viewer;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restoring_in_place_through_the_form_puts_the_source_back_to_the_second() {
    let f = fixture(Backend::Sqlite).await;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql("CREATE TABLE ticks (id int PRIMARY KEY)");
    let id = protect(&f, &cluster).await;
    let page = back_up_and_draw_the_window(&f.app, &id).await;
    let explained = page.split("<div class=\"explain in-place-explain\">").nth(1).expect("the explanation");
    let explained = explained.split("</div>").next().unwrap_or_default();
    for said in [
        "makes a clone at that second",
        "<code>pg_restore --clean --if-exists</code>",
        "Objects created after it, which the backup does not know, stay",
        "stop the application first",
        "<code>restoring</code>, <code>copying</code>, then <code>copied</code>",
    ] {
        assert!(explained.contains(said), "the in-place form says {said}: {explained}");
    }

    insert_ticks(&cluster, 1..=10).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let target = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    insert_ticks(&cluster, 11..=20).await;
    cluster.psql("DELETE FROM ticks WHERE id <= 5");
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
    let path = format!("/databases/{id}/pitr");
    let unconfirmed = f.app.post(&path, &[("target_time", &typed), ("confirm", "Shop")]).await;
    assert_eq!(unconfirmed.status, 422, "{}", unconfirmed.body);
    let message = text_after(&unconfirmed.body, "id=\"f-in-place-confirm-error\">");
    assert!(message.contains("name, “postgres”, to confirm"), "{message}");
    assert!(unconfirmed.body.contains(&format!("value=\"{typed}\"")), "what was typed stays");
    let blank = f.app.post(&path, &[("target_time", ""), ("confirm", "postgres")]).await;
    assert_eq!(blank.status, 422);
    assert!(text_after(&blank.body, "id=\"f-in-place-target_time-error\">").contains("in UTC"), "{}", blank.body);
    assert!(!blank.body.contains("<tr id=\"clone-"), "nothing started: {}", blank.body);

    let started = f.app.post(&path, &[("target_time", &typed), ("confirm", "postgres")]).await;
    assert_eq!((started.status, started.location.clone()), (303, Some(format!("/databases/{id}"))), "{}", started.body);
    let after = f.app.get(&format!("/databases/{id}")).await.body;
    assert!(after.contains("Restoring “postgres” in place to"), "the flash: {after}");
    assert!(after.contains("hx-trigger=\"every 3s\""), "the page follows it: {after}");
    let done = wait_for_page(
        &f.app,
        &format!("/databases/{id}"),
        Duration::from_secs(240),
        "clone-status\">copied<",
        "clone-status\">failed<",
    )
    .await;
    assert!(done.contains("copied back into the source; its cluster was removed"), "{done}");
    assert_eq!(ids(&cluster.psql("SELECT id FROM ticks ORDER BY id")), (1..=10).collect::<Vec<i64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_backup_restores_as_a_clone_from_its_row_and_the_clone_becomes_the_database() {
    let f = fixture(Backend::Sqlite).await;
    let cluster = Cluster::start(ClusterOptions::default());
    cluster.psql("CREATE TABLE ticks (id int PRIMARY KEY)");
    let id = protect(&f, &cluster).await;
    let page = back_up_and_draw_the_window(&f.app, &id).await;
    let backup = text_after(&page, "<tr id=\"base-").split('"').next().unwrap_or_default().to_owned();
    let form_path = format!("/databases/{id}/restore?backup={backup}");
    assert!(page.contains(&format!("href=\"{form_path}\">Restore as a clone…")), "{page}");
    insert_ticks(&cluster, 1..=5).await;

    let form = f.app.get(&form_path).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("as the database was when that backup stopped"), "{}", form.body);
    assert_eq!(f.app.get(&format!("/databases/{id}/restore?backup=nope")).await.status, 404);
    let restore = format!("/databases/{id}/restore");
    let unnamed = f.app.post(&restore, &[("backup_id", &backup), ("new_name", " ")]).await;
    assert_eq!(unnamed.status, 422, "{}", unnamed.body);
    assert!(unnamed.body.contains("id=\"f-new_name-error\""), "{}", unnamed.body);
    let unknown = f.app.post(&restore, &[("backup_id", "nope"), ("new_name", "X")]).await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert!(text_after(&unknown.body, "id=\"restore-refused\">").contains("No usable base backup"));
    let restored = f.app.post(&restore, &[("backup_id", &backup), ("new_name", "As backed up")]).await;
    assert_eq!(restored.location, Some(format!("/databases/{id}")), "{}", restored.body);
    let page = wait_for_page(
        &f.app,
        &format!("/databases/{id}"),
        Duration::from_secs(180),
        "clone-status\">running<",
        "clone-status\">failed<",
    )
    .await;
    let clone = text_after(&page, "<tr id=\"clone-").split('"').next().unwrap_or_default().to_owned();
    let url = text_after(&page, "<code class=\"clone-url\">");
    let port: u16 = url.split(':').nth(2).and_then(|p| p.split('/').next()).and_then(|p| p.parse().ok()).expect("port");
    assert_eq!(psql_at(port, "SELECT count(*) FROM ticks"), "0", "the cluster as the backup stopped");
    let switch_path = format!("/database-clones/{clone}/switch");
    assert!(page.contains(&format!("href=\"{switch_path}\">Make this the database…")), "{page}");

    viewers_see_no_restore_and_cannot_post(&f, &id, &clone, &backup).await;

    let confirm = f.app.get(&switch_path).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    for said in ["under a prefix of its own", "first base backup starts now", "is renamed", "kept with its archive"] {
        assert!(confirm.body.contains(said), "the switch page says {said}: {}", confirm.body);
    }
    let switched = f.app.post(&switch_path, &[]).await;
    assert_eq!(switched.status, 303, "{}", switched.body);
    let new_page = switched.location.expect("the new record's page");
    assert!(new_page.starts_with("/databases/") && new_page != format!("/databases/{id}"), "{new_page}");
    let new_id = new_page.trim_start_matches("/databases/").to_owned();
    let shown = f.app.get(&new_page).await.body;
    assert!(shown.contains("is now the clone “As backed up”") && shown.contains("(before switch"), "{shown}");
    wait_for_page(&f.app, &new_page, Duration::from_secs(60), "database-status\">ok<", "").await;
    wait_for_page(
        &f.app,
        &new_page,
        Duration::from_secs(120),
        "class=\"base-status\">succeeded<",
        "class=\"base-status\">failed<",
    )
    .await;
    let old = f.app.get(&format!("/databases/{id}")).await.body;
    assert!(old.contains("Shop (before switch") && old.contains("replaced by a switch"), "{old}");
    assert!(!old.contains("Make this the database"), "a replaced record offers no second switch: {old}");
    let again = f.app.get(&switch_path).await.body;
    assert!(text_after(&again, "id=\"switch-refused\">").contains("server already"), "{again}");

    let api = admin(&f.app).await;
    let old = api.get(&format!("/api/v1/databases/{id}")).await.json;
    assert_eq!(
        (old["data"]["replaced_by"].as_str(), &old["data"]["archiving"]),
        (Some(new_id.as_str()), &false.into())
    );
    assert_eq!(api.get(&format!("/api/v1/databases/{new_id}")).await.json["data"]["status"], "ok");
    // The clone is the new record's server: the record alone is not deleted while it runs.
    assert_eq!(api.delete(&format!("/api/v1/databases/{new_id}")).await.status, 409);
    assert_eq!(api.delete(&format!("/api/v1/database-clones/{clone}")).await.status, 200);
    assert_eq!(api.delete(&format!("/api/v1/databases/{new_id}")).await.status, 200);
}

/// A viewer sees the page with a running clone and a succeeded base backup, but none of the
/// buttons that write back, and is refused every one of their routes.
async fn viewers_see_no_restore_and_cannot_post(f: &crate::plans::Fixture, id: &str, clone: &str, backup: &str) {
    let viewer = viewer(&f.app).await;
    let page = f.app.get_with(&viewer, &format!("/databases/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("clone-status\">running<"), "{}", page.body);
    for button in ["Make this the database", "Restore as a clone", "Restore in place", "Load a dump", "/restore"] {
        assert!(!page.body.contains(button), "a viewer sees {button}: {}", page.body);
    }
    for path in [format!("/database-clones/{clone}/switch"), format!("/databases/{id}/restore?backup={backup}")] {
        assert_eq!(f.app.get_with(&viewer, &path).await.status, 403, "{path}");
    }
    let fields = [
        ("target_time", "2030-01-01T00:00:00"),
        ("confirm", "postgres"),
        ("backup_id", backup),
        ("new_name", "Mine"),
        ("path", "/tmp/x.sql"),
        ("database", "mine"),
    ];
    for path in [
        format!("/databases/{id}/pitr"),
        format!("/databases/{id}/restore"),
        format!("/databases/{id}/import"),
        format!("/databases/{id}/restore-from-path"),
        format!("/database-clones/{clone}/switch"),
    ] {
        assert_eq!(f.app.post_with(&viewer, &path, &fields).await.status, 403, "{path}");
    }
    // The upload as the page sends it (the token as the header, the body unread by the check).
    let token = f.app.csrf(&viewer).await;
    let upload = reqwest::multipart::Form::new()
        .text("database", "mine")
        .part("file", reqwest::multipart::Part::bytes(b"CREATE TABLE x ();".to_vec()).file_name("x.sql"));
    let sent = viewer
        .post(f.app.url(&format!("/databases/{id}/import")))
        .header("X-CSRF-Token", token)
        .header("HX-Request", "true")
        .multipart(upload)
        .send()
        .await
        .expect("upload");
    assert_eq!(sent.status().as_u16(), 403);
}
