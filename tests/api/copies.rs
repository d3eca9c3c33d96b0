//! Copies (3-2-1): a plan writes its primary destination and up to two more at once, reading the
//! source once. Against the real servers: moto (auth on), Azurite, sshd and a local folder, each
//! a copy in some plan here; every copy byte-identical and restorable, read from the next copy
//! when the primary's object is damaged or gone; a copy cut off mid-upload makes the run "partially
//! succeeded", notified as such, while the others stay whole; and the hostile cases: another
//! workspace's destination as a copy, the same destination twice.

use crate::api_client::{Api, admin};
use crate::conformance::{self, Fields, Fixture, fields};
use crate::helpers::{Backend, TestApp, moto};
use crate::on_both_backends;
use crate::plans::{fixture, plan};
use crate::provider_sftp::sftp;
use crate::relay::Relay;
use crate::runs::{fill, settled};
use crate::standins::notify::WebhookReceiver;
use devpilot::providers::ProviderKind;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

on_both_backends!(
    every_kind_holds_a_byte_identical_restorable_copy,
    a_copy_cut_off_mid_upload_makes_the_run_partial,
    copies_must_be_other_destinations_of_the_same_workspace,
    the_destination_dialog_fills_a_copy
);

/// A destination created through the form, tested and active; returns its id.
async fn destination(app: &TestApp, name: &str, kind: ProviderKind, good: &Fields) -> String {
    let pairs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(app.create_destination(name, kind.as_str(), &pairs).await.status, 303, "{name}");
    let row = app.destination(name).await;
    assert_eq!(row.status, "active", "{name}: {}", row.message);
    row.id
}

fn moto_fields() -> Fields {
    let m = moto();
    fields(&m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket))
}

/// A run's copies as the API shows them.
async fn copies_of(api: &Api<'_>, run: &str) -> Vec<Value> {
    let reply = api.get(&format!("/api/v1/backup-runs/{run}")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json["data"]["copies"].as_array().expect("copies").clone()
}

/// What the destination behind `fixture`/`good` stores under `key`.
async fn stored(kind: ProviderKind, good: &Fields, key: &str) -> Vec<u8> {
    if kind == ProviderKind::Local {
        let folder = &good.iter().find(|(k, _)| k == "path").expect("path").1;
        return std::fs::read(std::path::Path::new(folder).join(key)).expect("the local copy");
    }
    let dir = tempfile::tempdir().expect("dir");
    let provider = conformance::provider(&Fixture::new(kind, good.clone()), good, dir.path());
    conformance::read_all(provider.as_ref(), key).await
}

async fn delete_stored(kind: ProviderKind, good: &Fields, key: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let provider = conformance::provider(&Fixture::new(kind, good.clone()), good, dir.path());
    provider.delete(key).await.expect("delete the object behind Devpilot's back");
}

/// Restores the run into a new folder through the restore page; returns the page's outcome.
async fn restore(app: &TestApp, run: &str, source: &std::path::Path) -> String {
    let place = tempfile::tempdir().expect("restore place");
    app.grant_folder(place.path(), "read_write").await;
    let into = place.path().join("restored");
    let page = app.post(&format!("/runs/{run}/restore"), &[("target", &into.to_string_lossy())]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(crate::artifacts::tree(&into), crate::artifacts::tree(source), "the restored folder differs");
    let at = page.body.find("id=\"restore-outcome\">").expect("the outcome");
    let rest = &page.body[at..];
    rest[..rest.find("</p>").unwrap_or(rest.len())].to_owned()
}

async fn run_plan(app: &TestApp, name: &str, count: usize) -> crate::runs::RunRow {
    let id = plan(app, name).await.id;
    assert_eq!(app.post(&format!("/plans/{id}/run"), &[]).await.status, 303);
    settled(app, count).await.into_iter().rfind(|r| r.plan_id == id).expect("the run")
}

async fn every_kind_holds_a_byte_identical_restorable_copy(backend: Backend) {
    let f = fixture(backend).await;
    fill(f.source.path());
    let app = &f.app;
    let (s3, azure, sftp) =
        (moto_fields(), crate::provider_azure::fixture().good, crate::provider_sftp::fixture().good);
    let local = fields(&[("path", &f.target_path().to_string_lossy())]);
    let moto_id = destination(app, "Moto", ProviderKind::S3, &s3).await;
    let azure_id = destination(app, "Azurite", ProviderKind::AzureBlob, &azure).await;
    let sftp_id = destination(app, "Sshd", ProviderKind::Sftp, &sftp).await;
    let unique = uuid::Uuid::new_v4().simple().to_string();

    // Plan A: the local folder, copies on moto and Azurite (plain). Plan B: moto, copies on sshd
    // and the local folder (encrypted): every kind is a copy somewhere.
    let a = format!("Three copies {unique}");
    let saved = f.save_plan("/plans", &a, &[("copy_1", &moto_id), ("copy_2", &azure_id)]).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let b = format!("Encrypted copies {unique}");
    let overrides = [
        ("destination_id", moto_id.as_str()),
        ("copy_1", sftp_id.as_str()),
        ("copy_2", f.destination_id.as_str()),
        ("encrypt", "on"),
    ];
    let saved = f.save_plan("/plans", &b, &overrides).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let edit = app.get(&format!("/plans/{}/edit", plan(app, &b).await.id)).await;
    assert!(edit.body.contains(&format!("<option value=\"{sftp_id}\" selected>Sshd")), "copy 1 is shown chosen");

    let api = admin(app).await;
    let kinds = [
        (ProviderKind::Local, &local),
        (ProviderKind::S3, &s3),
        (ProviderKind::AzureBlob, &azure),
        (ProviderKind::S3, &s3),
        (ProviderKind::Sftp, &sftp),
        (ProviderKind::Local, &local),
    ];
    let mut runs = Vec::new();
    for (n, name) in [&a, &b].into_iter().enumerate() {
        let run = run_plan(app, name, n + 1).await;
        assert_eq!(run.status, "succeeded", "{run:?}");
        let key = run.object_key.clone().expect("key");
        let copies = copies_of(&api, &run.id).await;
        assert_eq!(copies.len(), 3, "{copies:?}");
        for (position, copy) in copies.iter().enumerate() {
            let (kind, good) = kinds[n * 3 + position];
            assert_eq!(
                (copy["position"].as_u64(), copy["status"].as_str()),
                (Some(position as u64), Some("succeeded"))
            );
            let bytes = stored(kind, good, &key).await;
            let sha = hex::encode(Sha256::digest(&bytes));
            assert_eq!(copy["sha256"].as_str(), Some(sha.as_str()), "{kind:?} holds exactly what it received");
            assert_eq!(copy["bytes"].as_u64(), Some(bytes.len() as u64));
            assert_eq!(Some(sha.as_str()), run.sha256.as_deref(), "one read, the same bytes on every copy");
        }
        runs.push((run.id.clone(), key));
    }
    let page = app.get(&format!("/plans/{}", plan(app, &a).await.id)).await;
    assert!(page.body.contains("Copy 2: Azurite — <span class=\"copy-status\">stored</span>"), "{}", page.body);

    // Every copy restores, each read once the copies before it lost the object.
    let ((run_a, key_a), (run_b, key_b)) = (&runs[0], &runs[1]);
    assert!(restore(app, run_a, f.source.path()).await.contains("Read from the primary (“Disk”)"));
    // A primary whose bytes changed behind Devpilot's back fails its checksum: the restore sets it
    // aside and reads the next copy.
    let primary = f.target_path().join(key_a);
    let mut bytes = std::fs::read(&primary).expect("the primary's object");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&primary, &bytes).expect("flip a byte of the primary");
    assert!(restore(app, run_a, f.source.path()).await.contains("Read from copy 1 (“Moto”)"));
    std::fs::remove_file(f.target_path().join(key_a)).expect("remove the primary's object");
    let link = api.get(&format!("/api/v1/backup-runs/{run_a}/download")).await;
    assert_eq!((link.status, link.json["copy"]["position"].as_u64()), (200, Some(1)), "{link:?}");
    assert!(restore(app, run_a, f.source.path()).await.contains("Read from copy 1 (“Moto”)"));
    delete_stored(ProviderKind::S3, &s3, key_a).await;
    assert!(restore(app, run_a, f.source.path()).await.contains("Read from copy 2 (“Azurite”)"));

    assert!(restore(app, run_b, f.source.path()).await.contains("Read from the primary (“Moto”)"));
    delete_stored(ProviderKind::S3, &s3, key_b).await;
    // Streamed from the first copy that has it, which the answer names.
    let artifact = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/backup-runs/{run_b}/artifact")))
        .bearer_auth(&api.token)
        .send()
        .await
        .expect("GET");
    assert_eq!(artifact.status(), 200);
    assert_eq!(artifact.headers().get("x-devpilot-copy").and_then(|v| v.to_str().ok()), Some("1"));
    let fetched = artifact.bytes().await.expect("body");
    assert_eq!(hex::encode(Sha256::digest(&fetched)), runs_sha(&api, run_b).await, "the fallback copy's bytes");
    assert!(restore(app, run_b, f.source.path()).await.contains("Read from copy 1 (“Sshd”)"));
    delete_stored(ProviderKind::Sftp, &sftp, key_b).await;
    assert!(restore(app, run_b, f.source.path()).await.contains("Read from copy 2 (“Disk”)"));
    std::fs::remove_file(f.target_path().join(key_b)).expect("remove the last copy");
    let gone = api.get(&format!("/api/v1/backup-runs/{run_b}/artifact")).await;
    assert_eq!(gone.status, 502, "no copy can give it: {gone:?}");
    let message = gone.json["message"].as_str().unwrap_or_default();
    assert!(message.contains("copy 1 (“Sshd”)") && message.contains("the primary (“Moto”)"), "{message}");
    delete_stored(ProviderKind::AzureBlob, &azure, key_a).await;
}

async fn runs_sha(api: &Api<'_>, run: &str) -> String {
    api.get(&format!("/api/v1/backup-runs/{run}")).await.json["data"]["sha256"].as_str().expect("sha").to_owned()
}

async fn a_copy_cut_off_mid_upload_makes_the_run_partial(backend: Backend) {
    let f = fixture(backend).await;
    let app = &f.app;
    // 24 MiB no compressor shrinks: through the relay's 8 MiB/s the copies take seconds.
    std::fs::write(f.source.path().join("random.bin"), crate::killed_destination::pseudo_random(24 << 20))
        .expect("write");
    let s = sftp();
    // A folder of the sshd account's own, removed mid-upload (sshd serves this machine's disk).
    let folder = std::path::Path::new(&s.directory).join(format!("copies-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&folder).expect("mkdir");
    let owner = std::fs::metadata(&s.directory).expect("the account's folder");
    use std::os::unix::fs::MetadataExt;
    std::os::unix::fs::chown(&folder, Some(owner.uid()), Some(owner.gid())).expect("chown");
    let relay = Relay::start(&format!("{}:{}", s.host, s.port)).await;
    let mut sftp_fields = s.password_fields();
    sftp_fields.retain(|(k, _)| k != "port" && k != "directory");
    sftp_fields.push(("port".into(), relay.port.to_string()));
    sftp_fields.push(("directory".into(), folder.to_string_lossy().into_owned()));
    let s3 = moto_fields();
    let moto_id = destination(app, "Moto", ProviderKind::S3, &s3).await;
    let sftp_id = destination(app, "Offsite", ProviderKind::Sftp, &sftp_fields).await;

    let api = admin(app).await;
    let webhook = WebhookReceiver::start(vec![]);
    let created = crate::notifications_support::create_channel(
        &api,
        json!({"name": "Hook", "kind": "webhook", "config": {"url": webhook.url}}),
    )
    .await;
    webhook.set_secret(created["signing_secret"].as_str().expect("secret"));
    assert!(created["data"]["events"].as_array().expect("events").contains(&json!("run.partial")), "on by default");

    let name = format!("Cut copy {}", uuid::Uuid::new_v4().simple());
    let saved = f.save_plan("/plans", &name, &[("copy_1", &moto_id), ("copy_2", &sftp_id)]).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let id = plan(app, &name).await.id;
    assert_eq!(app.post(&format!("/plans/{id}/run"), &[]).await.status, 303);
    for _ in 0..600 {
        if relay.uploaded() > 4 << 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(relay.uploaded() > 4 << 20, "the upload did not get under way");
    std::fs::remove_dir_all(&folder).expect("remove the account's folder mid-upload");
    let run = settled(app, 1).await.remove(0);
    assert_eq!(run.status, "partial", "{run:?}");
    let error = run.error.clone().unwrap_or_default();
    assert!(error.starts_with("Some copies failed: copy 2 (“Offsite”): "), "{error}");

    let copies = copies_of(&api, &run.id).await;
    let status: Vec<&str> = copies.iter().map(|c| c["status"].as_str().unwrap_or_default()).collect();
    assert_eq!(status, ["succeeded", "succeeded", "failed"], "{copies:?}");
    assert!(copies[2]["error"].as_str().is_some_and(|e| !e.is_empty()) && copies[2]["sha256"].is_null());
    let key = run.object_key.clone().expect("key");
    let local = fields(&[("path", &f.target_path().to_string_lossy())]);
    for (copy, (kind, good)) in copies.iter().zip([(ProviderKind::Local, &local), (ProviderKind::S3, &s3)]) {
        let sha = hex::encode(Sha256::digest(stored(kind, good, &key).await));
        assert_eq!(copy["sha256"].as_str(), Some(sha.as_str()), "{kind:?} is whole");
    }
    // Shown with its own label, the failed copy's error on the run; restorable from the others.
    let page = app.get(&format!("/plans/{id}")).await;
    assert!(page.body.contains("Partially succeeded"), "{}", page.body);
    assert!(page.body.contains("Copy 2: Offsite — <span class=\"copy-status\">failed</span>"), "{}", page.body);
    assert!(app.get("/overview").await.body.contains("badge run-partial"), "the overview shows it");
    let (_, _, metrics) = crate::metrics::scrape(app, Some(&api.token)).await;
    assert!(metrics.lines().any(|l| l.contains("status=\"partial\"") && l.ends_with(" 1")), "{metrics}");
    let restored = restore_file(app, &run.id).await;
    assert!(restored.contains("Read from the primary (“Disk”)"), "{restored}");
    std::fs::remove_file(f.target_path().join(&key)).expect("remove the primary's object");
    assert!(restore_file(app, &run.id).await.contains("Read from copy 1 (“Moto”)"));

    let hook = webhook.log.wait_accepted(1).await.remove(0);
    let payload = hook.json();
    assert_eq!(payload["type"].as_str(), Some("run.partial"), "{payload}");
    assert_eq!(payload["run"]["status"].as_str(), Some("partial"));
    let message = payload["message"].as_str().unwrap_or_default();
    assert!(message.contains("copy 2 (“Offsite”) failed"), "the message names the failed copy: {message}");
    delete_stored(ProviderKind::S3, &s3, &key).await;
}

/// Restores a run of the large source (checked by size only).
async fn restore_file(app: &TestApp, run: &str) -> String {
    let place = tempfile::tempdir().expect("restore place");
    app.grant_folder(place.path(), "read_write").await;
    let into = place.path().join("restored");
    let page = app.post(&format!("/runs/{run}/restore"), &[("target", &into.to_string_lossy())]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(std::fs::metadata(into.join("random.bin")).expect("restored").len(), 24 << 20);
    page.body
}

async fn copies_must_be_other_destinations_of_the_same_workspace(backend: Backend) {
    let f = fixture(backend).await;
    let app = &f.app;
    let other_path = tempfile::tempdir().expect("second folder");
    app.grant_folder(other_path.path(), "read_write").await;
    let second =
        destination(app, "Second", ProviderKind::Local, &fields(&[("path", &other_path.path().to_string_lossy())]))
            .await;
    // A destination of another workspace (the admin's second one).
    assert_eq!(app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    let theirs_path = tempfile::tempdir().expect("their folder");
    app.grant_folder_to("Other", theirs_path.path(), "read_write").await;
    let theirs =
        destination(app, "Theirs", ProviderKind::Local, &fields(&[("path", &theirs_path.path().to_string_lossy())]))
            .await;
    let home = app.workspace_id("Acme").await;
    assert_eq!(app.post(&format!("/workspaces/{home}/switch"), &[]).await.status, 303);

    // The form: a message next to the field, nothing saved.
    let page = f.save_plan("/plans", "Hostile", &[("copy_1", &theirs)]).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("id=\"f-copy_1-error\">That destination does not exist in this workspace."));
    assert!(!page.body.contains("Theirs"), "another workspace's destination is never shown");
    let page = f.save_plan("/plans", "Hostile", &[("copy_1", &second), ("copy_2", &second)]).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("id=\"f-copy_2-error\">This destination is already a copy"), "{}", page.body);
    let page = f.save_plan("/plans", "Hostile", &[("copy_1", &f.destination_id)]).await;
    assert!(page.body.contains("primary destination; a copy must go somewhere else."), "{}", page.body);
    assert!(crate::plans::plan_rows(app).await.is_empty(), "nothing was saved");

    // The API: 422 naming the field.
    let api = admin(app).await;
    let body = |copies: Value| {
        json!({"name": "Api copies", "destination_id": f.destination_id, "cron_expression": "0 2 * * *",
               "retention_count": 3, "source": {"type": "directory", "path": f.source_path()}, "copies": copies})
    };
    let reply = api.post("/api/v1/backup-schedules", body(json!([{"destination_id": theirs}]))).await;
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(reply.json["fields"]["copies[0].destination_id"].as_str().is_some_and(|m| m.contains("does not exist")));
    let twice = json!([{"destination_id": second}, {"destination_id": second}]);
    let reply = api.post("/api/v1/backup-schedules", body(twice)).await;
    assert!(
        reply.json["fields"]["copies[1].destination_id"].as_str().is_some_and(|m| m.contains("already")),
        "{reply:?}"
    );
    let three = json!([{"destination_id": second}, {"destination_id": "a"}, {"destination_id": "b"}]);
    assert!(api.post("/api/v1/backup-schedules", body(three)).await.json["fields"]["copies"].is_string());

    // A good one: shown on the plan, changed on an edit, and the change audited.
    let reply = api.post("/api/v1/backup-schedules", body(json!([{"destination_id": second}]))).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(
        reply.json["data"]["copies"],
        json!([{"destination_id": second, "retention": null}]),
        "the plan's retention"
    );
    let id = reply.json["data"]["id"].as_str().expect("id").to_owned();
    let changed = api.put(&format!("/api/v1/backup-schedules/{id}"), json!({"copies": []})).await;
    assert_eq!((changed.status, &changed.json["data"]["copies"]), (200, &json!([])), "{changed:?}");
    let audit = app.get("/audit").await;
    assert!(audit.body.contains("Copies: “Second”."), "the creation names its copies");
    assert!(audit.body.contains("Changed: copies. Copies: none."), "{}", audit.body);
}

/// "New destination…" beside a copy: the dialog carries which select it fills, and its save
/// swaps in that copy's options (the new one chosen), leaving the primary's select alone.
async fn the_destination_dialog_fills_a_copy(backend: Backend) {
    let f = fixture(backend).await;
    let app = &f.app;
    let form = app.get("/plans/new").await;
    assert!(form.body.contains("hx-get=\"/destinations/new?dialog=1&amp;select=copy_2\""), "{}", form.body);
    assert!(form.body.contains("<select id=\"f-copy_1\" name=\"copy_1\">"));
    let dialog = app.get("/destinations/new?dialog=1&select=copy_2").await;
    assert!(dialog.body.contains("<input type=\"hidden\" name=\"select\" value=\"copy_2\">"), "{}", dialog.body);
    let forged = app.get("/destinations/new?dialog=1&select=csrf_token").await;
    assert!(!forged.body.contains("name=\"select\""), "only the plan form's selects are taken");

    let folder = tempfile::tempdir().expect("folder");
    app.grant_folder(folder.path(), "read_write").await;
    let path = folder.path().to_string_lossy().into_owned();
    let token = app.csrf(&app.client).await;
    let fields =
        [("name", "Vault"), ("type", "local"), ("config.path", path.as_str()), ("dialog", "1"), ("select", "copy_2")];
    let request = app.client.post(app.url("/destinations")).header("HX-Request", "true").header("X-CSRF-Token", token);
    let saved = request.form(&fields).send().await.expect("POST");
    assert_eq!(saved.status(), 200);
    let body = saved.text().await.expect("body");
    let vault = app.destination("Vault").await;
    assert!(body.contains("<select id=\"f-copy_2\" hx-swap-oob=\"innerHTML\">"), "{body}");
    assert!(body.contains(&format!("<option value=\"{}\" selected>Vault</option>", vault.id)), "{body}");
    assert!(body.contains("No copy</option>") && !body.contains("f-destination_id"), "{body}");
    // The option it chose is one the plan form takes as a copy.
    let saved = f.save_plan("/plans", "With a vault", &[("copy_2", &vault.id)]).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let edit = app.get(&format!("/plans/{}/edit", plan(app, "With a vault").await.id)).await;
    assert!(edit.body.contains(&format!("<option value=\"{}\" selected>Vault</option>", vault.id)));
}
