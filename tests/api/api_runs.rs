//! Backup runs through the JSON API: a run started with POST /backup-schedules/{id}/run, polled
//! until it succeeds, its artifact fetched through the download URL and checked against the
//! recorded SHA-256 (streamed by the API for a local destination, presigned for S3); histories
//! newest first a page at a time; no artifact for failed or pruned runs, 502 when the destination
//! lost it; viewers read but cannot start runs; another workspace's runs are 404.

use crate::api_client::{Api, admin, anonymous, assert_error};
use crate::api_schedules::{create, directory_schedule, other_workspace_api, viewer_api};
use crate::helpers::Backend;
use crate::on_both_backends;
use crate::plans::fixture;
use crate::runs::open_moto_destination;
use crate::runs::{assert_same_tree, fill};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

on_both_backends!(
    a_run_through_the_api_downloads_byte_for_byte,
    runs_are_listed_newest_first_a_page_at_a_time,
    failed_and_pruned_runs_have_no_artifact,
    viewers_read_runs_but_cannot_start_them,
    another_workspace_runs_are_not_found,
    an_s3_artifact_is_downloaded_through_a_presigned_url
);

const NO_SUCH_ID: &str = "00000000-0000-4000-8000-000000000000";

/// Starts a run of the schedule; returns the queued run.
pub async fn start(api: &Api<'_>, schedule: &str) -> Value {
    let reply = api.post(&format!("/api/v1/backup-schedules/{schedule}/run"), json!({})).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    reply.json["data"].clone()
}

/// Polls the run until it has ended; returns it.
pub async fn finished(api: &Api<'_>, run: &str) -> Value {
    for _ in 0..300 {
        let reply = api.get(&format!("/api/v1/backup-runs/{run}")).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        if !matches!(reply.json["data"]["status"].as_str(), Some("queued" | "running")) {
            return reply.json["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {run} did not end");
}

/// A run that succeeded.
async fn backed_up(api: &Api<'_>, schedule: &str) -> Value {
    let run = start(api, schedule).await;
    let run = finished(api, run["id"].as_str().expect("id")).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    run
}

async fn fetch(url: &str, token: Option<&str>) -> reqwest::Response {
    let request =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client").get(url);
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.expect("GET")
}

fn ids(reply: &crate::api_client::Reply) -> Vec<String> {
    reply.json["data"].as_array().expect("data").iter().map(|r| r["id"].as_str().unwrap_or("").to_owned()).collect()
}

async fn a_run_through_the_api_downloads_byte_for_byte(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let api = admin(&f.app).await;
    let schedule = create(&api, directory_schedule(&f, "Nightly files")).await;

    let queued = start(&api, &schedule).await;
    assert!(matches!(queued["status"].as_str(), Some("queued" | "running")), "{queued}");
    assert_eq!((queued["trigger"].as_str(), queued["schedule_id"].as_str()), (Some("manual"), Some(schedule.as_str())));
    assert_eq!(queued["schedule_name"], "Nightly files");
    assert_eq!(queued["artifact_available"], false);
    let id = queued["id"].as_str().expect("id").to_owned();

    let run = finished(&api, &id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["destination_id"], f.destination_id.as_str());
    assert_eq!((run["encrypted"].as_bool(), run["artifact_available"].as_bool()), (Some(false), Some(true)));
    assert!(run["started_at"].is_string() && run["finished_at"].is_string() && run["error"].is_null(), "{run}");
    let key = run["object_key"].as_str().expect("object_key");
    assert!(key.starts_with("nightly-files/") && key.ends_with(".tar.zst"), "{key}");
    let sha256 = run["sha256"].as_str().expect("sha256").to_owned();

    let link = api.get(&format!("/api/v1/backup-runs/{id}/download")).await;
    assert_eq!(link.status, 200, "{link:?}");
    let url = link.json["url"].as_str().expect("url").to_owned();
    assert_eq!(url, f.app.url(&format!("/api/v1/backup-runs/{id}/artifact")), "local disk: the API streams it");
    assert_eq!((link.json["requires_authorization"].as_bool(), link.json["expires_at"].is_null()), (Some(true), true));

    let response = fetch(&url, Some(&api.token)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zstd");
    let disposition = response.headers()["content-disposition"].to_str().expect("text").to_owned();
    assert!(disposition.starts_with("attachment") && disposition.contains(".tar.zst"), "{disposition}");
    let artifact = response.bytes().await.expect("body");
    assert_eq!(hex::encode(Sha256::digest(&artifact)), sha256, "the bytes are the ones recorded");
    assert_eq!(run["bytes"].as_i64(), Some(artifact.len() as i64));
    assert_same_tree(&artifact, f.source.path());
    assert_eq!(fetch(&url, None).await.status(), 401, "the artifact needs the token");
}

async fn runs_are_listed_newest_first_a_page_at_a_time(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let api = admin(&f.app).await;
    let first = create(&api, directory_schedule(&f, "First")).await;
    let second = create(&api, directory_schedule(&f, "Second")).await;
    let mut started = Vec::new();
    for schedule in [&first, &second, &first] {
        started.push(backed_up(&api, schedule).await["id"].as_str().expect("id").to_owned());
    }

    let page_one = api.get("/api/v1/backup-runs?per_page=2").await;
    assert_eq!(page_one.status, 200, "{page_one:?}");
    assert_eq!(ids(&page_one), [started[2].clone(), started[1].clone()], "newest first");
    let meta = &page_one.json["meta"];
    assert_eq!((meta["total"].as_i64(), meta["last_page"].as_i64(), meta["to"].as_i64()), (Some(3), Some(2), Some(2)));
    let next = page_one.json["links"]["next"].as_str().expect("next");
    assert!(next.ends_with("/api/v1/backup-runs?page=2&per_page=2"), "{next}");
    let page_two = api.get("/api/v1/backup-runs?page=2&per_page=2").await;
    assert_eq!(ids(&page_two), [started[0].clone()]);
    assert_eq!(page_two.json["data"][0]["schedule_name"], "First");

    let of_first = api.get(&format!("/api/v1/backup-schedules/{first}/runs")).await;
    assert_eq!(of_first.status, 200, "{of_first:?}");
    assert_eq!(ids(&of_first), [started[2].clone(), started[0].clone()]);
    assert_eq!(of_first.json["meta"]["total"], 2);
    let of_second = api.get(&format!("/api/v1/backup-schedules/{second}/runs?per_page=1&page=1")).await;
    assert_eq!(ids(&of_second), [started[1].clone()]);

    assert_error(&api.get("/api/v1/backup-runs?per_page=0").await, 422, "per_page");
    assert_error(&api.get(&format!("/api/v1/backup-schedules/{first}/runs?page=-1")).await, 422, "page");
    assert_error(
        &api.get(&format!("/api/v1/backup-schedules/{NO_SUCH_ID}/runs")).await,
        404,
        "Backup schedule not found",
    );
    for path in ["", "/download", "/artifact"] {
        assert_error(&api.get(&format!("/api/v1/backup-runs/{NO_SUCH_ID}{path}")).await, 404, "Backup run not found");
        assert_error(&api.get(&format!("/api/v1/backup-runs/not-a-run{path}")).await, 404, "");
    }
    // Deleting a schedule deletes its history.
    assert_eq!(api.delete(&format!("/api/v1/backup-schedules/{first}")).await.status, 200);
    assert_eq!(ids(&api.get("/api/v1/backup-runs").await), [started[1].clone()]);
    assert_error(&api.get(&format!("/api/v1/backup-runs/{}", started[0])).await, 404, "Backup run not found");
}

async fn failed_and_pruned_runs_have_no_artifact(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let api = admin(&f.app).await;
    let mut body = directory_schedule(&f, "Keep one");
    body["retention_count"] = json!(1);
    let schedule = create(&api, body).await;
    let older = backed_up(&api, &schedule).await;
    let newer = backed_up(&api, &schedule).await;
    let older =
        api.get(&format!("/api/v1/backup-runs/{}", older["id"].as_str().expect("id"))).await.json["data"].clone();
    assert!(older["pruned_at"].is_string() && older["artifact_available"] == false, "{older}");
    assert_eq!(newer["artifact_available"], true);
    for path in ["download", "artifact"] {
        let reply = api.get(&format!("/api/v1/backup-runs/{}/{path}", older["id"].as_str().expect("id"))).await;
        assert_error(&reply, 404, "no longer available");
    }

    std::fs::remove_dir_all(f.source.path()).expect("remove the source");
    let failed = start(&api, &schedule).await;
    let failed = finished(&api, failed["id"].as_str().expect("id")).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("Reading the source failed")), "{failed}");
    assert!(failed["sha256"].is_null() && failed["object_key"].is_null() && failed["artifact_available"] == false);
    for path in ["download", "artifact"] {
        let reply = api.get(&format!("/api/v1/backup-runs/{}/{path}", failed["id"].as_str().expect("id"))).await;
        assert_error(&reply, 404, "no longer available");
    }
    let newer_id = newer["id"].as_str().expect("id");
    let link = api.get(&format!("/api/v1/backup-runs/{newer_id}/download")).await;
    assert_eq!(link.status, 200, "the newest artifact is still there: {link:?}");

    // Removed behind our back: the destination cannot give it.
    std::fs::remove_file(f.target_path().join(newer["object_key"].as_str().expect("key"))).expect("remove");
    assert_error(&api.get(&format!("/api/v1/backup-runs/{newer_id}/artifact")).await, 502, "The download failed");
}

async fn viewers_read_runs_but_cannot_start_them(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let api = admin(&f.app).await;
    let schedule = create(&api, directory_schedule(&f, "Watched")).await;
    let run = backed_up(&api, &schedule).await;
    let id = run["id"].as_str().expect("id");

    let viewer = viewer_api(&f.app).await;
    assert_error(&viewer.post(&format!("/api/v1/backup-schedules/{schedule}/run"), json!({})).await, 403, "Viewers");
    assert_eq!(ids(&viewer.get("/api/v1/backup-runs").await), [id.to_owned()], "no run was started");
    assert_eq!(ids(&viewer.get(&format!("/api/v1/backup-schedules/{schedule}/runs")).await), [id.to_owned()]);
    assert_eq!(viewer.get(&format!("/api/v1/backup-runs/{id}")).await.json["data"], run);
    // Viewers may download, as on the pages.
    let link = viewer.get(&format!("/api/v1/backup-runs/{id}/download")).await;
    assert_eq!(link.status, 200, "{link:?}");
    let artifact = fetch(link.json["url"].as_str().expect("url"), Some(&viewer.token)).await;
    assert_eq!(artifact.status(), 200);
    let bytes = artifact.bytes().await.expect("body");
    assert_eq!(Some(hex::encode(Sha256::digest(&bytes)).as_str()), run["sha256"].as_str());

    let nobody = anonymous(&f.app);
    for path in [
        "/api/v1/backup-runs".to_owned(),
        format!("/api/v1/backup-runs/{id}"),
        format!("/api/v1/backup-runs/{id}/download"),
        format!("/api/v1/backup-runs/{id}/artifact"),
        format!("/api/v1/backup-schedules/{schedule}/runs"),
    ] {
        assert_error(&nobody.get(&path).await, 401, "Authorization: Bearer");
    }
}

async fn another_workspace_runs_are_not_found(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let api = admin(&f.app).await;
    let schedule = create(&api, directory_schedule(&f, "Private")).await;
    let run = backed_up(&api, &schedule).await;
    let id = run["id"].as_str().expect("id");

    let other = other_workspace_api(&f.app).await;
    assert_eq!(other.get("/api/v1/backup-runs").await.json["meta"]["total"], 0);
    assert_error(
        &other.get(&format!("/api/v1/backup-schedules/{schedule}/runs")).await,
        404,
        "Backup schedule not found",
    );
    for path in ["", "/download", "/artifact"] {
        assert_error(&other.get(&format!("/api/v1/backup-runs/{id}{path}")).await, 404, "Backup run not found");
    }
    assert_error(&other.post(&format!("/api/v1/backup-schedules/{schedule}/run"), json!({})).await, 404, "not found");
    assert_eq!(ids(&api.get("/api/v1/backup-runs").await), [id.to_owned()], "no run was started");
}

async fn an_s3_artifact_is_downloaded_through_a_presigned_url(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let endpoint = crate::provider_s3::moto_open();
    let prefix = format!("api-runs-{}/", uuid::Uuid::new_v4().simple());
    let moto = open_moto_destination(&f.app, "Moto", &endpoint, &prefix).await;
    let api = admin(&f.app).await;
    let mut body = directory_schedule(&f, "To S3");
    body["destination_id"] = json!(moto.id);
    let schedule = create(&api, body).await;
    let run = backed_up(&api, &schedule).await;
    let id = run["id"].as_str().expect("id");

    let asked = chrono::Utc::now();
    let link = api.get(&format!("/api/v1/backup-runs/{id}/download")).await;
    assert_eq!(link.status, 200, "{link:?}");
    let url = link.json["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with(&endpoint) && url.contains("X-Amz-Expires=300"), "{url}");
    assert_eq!(link.json["requires_authorization"], false);
    let expires: chrono::DateTime<chrono::Utc> =
        link.json["expires_at"].as_str().expect("expires_at").parse().expect("a time");
    let valid_for = (expires - asked).num_seconds();
    assert!((295..=305).contains(&valid_for), "valid for {valid_for} s");
    let artifact = fetch(&url, None).await.bytes().await.expect("body");
    assert_eq!(Some(hex::encode(Sha256::digest(&artifact)).as_str()), run["sha256"].as_str());
    assert_same_tree(&artifact, f.source.path());

    // The API's own artifact URL sends such a destination's callers on to it.
    let redirect = fetch(&f.app.url(&format!("/api/v1/backup-runs/{id}/artifact")), Some(&api.token)).await;
    assert_eq!(redirect.status(), 307);
    let location = redirect.headers()["location"].to_str().expect("text");
    assert!(location.starts_with(&endpoint) && location.contains("X-Amz-Signature="), "{location}");
}
