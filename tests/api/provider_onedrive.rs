//! OneDrive in the conformance suite, against the Microsoft identity + Graph stand-in
//! (scripts/onedrive_standin.py): good → Active, each bad credential Failed with Microsoft's
//! words (AADSTS codes, "reconnect"), round trips of 0 B, 1 B and 64 MiB (the last through an
//! upload session, throttled once with Retry-After), list, delete, a broken upload leaving
//! nothing. Then what Graph's protocol asks of a client: the upload host never sees the
//! Authorization header, an expired access token is refreshed, every rotated refresh token is
//! stored sealed (the old one no longer works), and one that Microsoft refuses fails the test with
//! its AADSTS code and "Reconnect".

use crate::conformance::{self, Fixture, body, fields};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::standins::onedrive::{OneDrive, count};
use devpilot::crypto::{CredentialCipher, MasterKey};
use devpilot::destinations::service::associated_data;
use devpilot::fields::RawFields;
use devpilot::providers::ProviderKind;
use std::time::{Duration, Instant};

pub const SECRET: &str = "od~client.secret_1";
pub const SCOPE: &str = "offline_access Files.ReadWrite";

/// An app registration of its own for each test (the stand-in may be shared).
pub fn client_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub struct Setup {
    pub drive: OneDrive,
    pub client_id: String,
    /// An access token of the client's, for looking at the drive.
    pub access: String,
    pub folder: String,
}

impl Setup {
    pub async fn new(drive: OneDrive) -> Setup {
        let client_id = client_id();
        drive.register(&client_id, SECRET, "http://127.0.0.1/oauth/callback").await;
        let (_, access) = drive.grant(&client_id, SCOPE).await;
        let folder = drive.add_folder(&access, &format!("Backups {}", uuid::Uuid::new_v4().simple())).await;
        Setup { drive, client_id, access, folder }
    }

    pub async fn refresh_token(&self) -> String {
        self.drive.grant(&self.client_id, SCOPE).await.0
    }

    pub async fn good(&self) -> conformance::Fields {
        let refresh = self.refresh_token().await;
        fields(&[
            ("folder_id", &self.folder),
            ("client_id", &self.client_id),
            ("client_secret", SECRET),
            ("refresh_token", &refresh),
        ])
    }

    pub async fn fixture(&self) -> Fixture {
        let mut f = Fixture::new(ProviderKind::OneDrive, self.good().await);
        f.settings.endpoints.microsoft = self.drive.clouds();
        // Graph throttles the first fragment of each session for a second.
        f.settings.test_deadline = Duration::from_secs(20);
        let revoked = self.refresh_token().await;
        self.drive.revoke(&revoked).await;
        let used = self.refresh_token().await;
        assert_eq!(self.drive.refresh(&self.client_id, SECRET, &used).await.0, 200);
        let file = self.drive.add_file(&self.access, &self.folder, "notes.txt", b"hello").await;
        let not_connected =
            fields(&[("folder_id", &self.folder), ("client_id", &self.client_id), ("client_secret", SECRET)]);
        // Each case its own refresh token: one use spends it.
        let mut fresh = Vec::new();
        for _ in 0..5 {
            fresh.push(self.refresh_token().await);
        }
        let with = |token: &str, change: (&str, &str)| f.good_with(&[("refresh_token", token), change]);
        let cases = vec![
            (
                "Revoked refresh token",
                f.good_with(&[("refresh_token", &revoked)]),
                "AADSTS50173: invalid_grant: The provided grant has expired due to it being revoked. Reconnect",
            ),
            (
                "Rotated-away refresh token",
                f.good_with(&[("refresh_token", &used)]),
                "AADSTS70000: invalid_grant: The refresh token was already used",
            ),
            (
                "Wrong client secret",
                with(&fresh[0], ("client_secret", "wrong~secret")),
                "AADSTS7000215: invalid_client: Invalid client secret provided.",
            ),
            (
                "Unknown app",
                with(&fresh[1], ("client_id", "00000000-0000-0000-0000-000000000000")),
                "AADSTS700016: unauthorized_client",
            ),
            ("Not connected", not_connected, "Not connected to Microsoft yet"),
            (
                "Missing folder",
                with(&fresh[2], ("folder_id", "0123456789ABCDEF")),
                "itemNotFound: The resource could not be found. (HTTP 404)",
            ),
            (
                "Missing drive",
                with(&fresh[3], ("drive_id", "b!0123456789abcdef")),
                "itemNotFound: The drive does not exist. (HTTP 404)",
            ),
            ("A file", with(&fresh[4], ("folder_id", &file)), "is not a folder"),
        ];
        cases.into_iter().fold(f, |f, (label, fields, expect)| f.bad(label, fields, expect))
    }
}

on_both_backends!(onedrive_conformance, rotated_refresh_tokens_are_stored_sealed, backups_restore_on_onedrive);

async fn onedrive_conformance(backend: Backend) {
    let setup = Setup::new(OneDrive::shared()).await;
    conformance::ui_cases(&setup.fixture().await, backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onedrive_round_trip() {
    let setup = Setup::new(OneDrive::own().await).await;
    let fixture = setup.fixture().await;
    let before = setup.drive.state().await;
    conformance::round_trip(&fixture).await;
    let after = setup.drive.state().await;
    let left: Vec<(String, u64)> = setup.drive.children(&setup.access, &setup.folder).await;
    let run_folders: Vec<&(String, u64)> = left.iter().filter(|(name, _)| name.starts_with("run")).collect();
    assert_eq!(run_folders.len(), 1, "one folder for the run's keys: {left:?}");
    assert_eq!(after["sessions"], 0, "no upload session is left open");
    assert_eq!(after["auth_on_upload_host"], 0, "the upload host never saw an Authorization header");
    let throttled = count(&after, "throttled") - count(&before, "throttled");
    assert!(throttled >= 1, "the 64 MiB upload went through a session, throttled once and retried");
    assert!(count(&after, "recycled") >= 3, "deletes go to the recycle bin");
    assert!(count(&after, "deleted") >= 64 * 1024 * 1024, "and count against the quota there");
}

fn provider(setup: &Setup, fixture: &Fixture, fields: &conformance::Fields) -> Box<dyn devpilot::providers::Provider> {
    let _ = setup;
    let dir = tempfile::tempdir().expect("dir");
    conformance::provider(fixture, fields, dir.path())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_waits_out_retry_after_and_nothing_leaks_the_token() {
    let setup = Setup::new(OneDrive::own().await).await;
    let f = setup.fixture().await;
    let p = provider(&setup, &f, &f.good);
    let (data, stream) = body(5 * 1024 * 1024);
    let started = Instant::now();
    assert_eq!(p.put("big.bin", stream).await.expect("put"), data.len() as u64);
    assert!(started.elapsed() >= Duration::from_secs(1), "the 429's Retry-After: 1 was waited out");
    assert_eq!(conformance::read_all(p.as_ref(), "big.bin").await, data);
    let state = setup.drive.state().await;
    assert_eq!(state["throttled"], 1);
    assert_eq!(state["uploads"], 1, "one session for the 5 MiB file (above the 4 MB simple upload)");
    assert_eq!(state["auth_on_upload_host"], 0, "neither the fragments nor the download carried the token");
    let (small, stream) = body(4 * 1024 * 1024);
    p.put("small.bin", stream).await.expect("4 MiB in one PUT");
    assert_eq!(setup.drive.state().await["uploads"], 1, "4 MiB went without a session");
    assert_eq!(conformance::read_all(p.as_ref(), "small.bin").await, small);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_is_refreshed() {
    let setup = Setup::new(OneDrive::own().await).await;
    let f = setup.fixture().await;
    let p = provider(&setup, &f, &f.good);
    p.test().await.expect("test");
    let refreshes = count(&setup.drive.state().await, "refreshes");
    setup.drive.expire_access_tokens().await;
    p.put("after-expiry.bin", body(10).1).await.expect("put after the token expired");
    assert_eq!(count(&setup.drive.state().await, "refreshes"), refreshes + 1, "refreshed once, on the 401");
    assert_eq!(p.list("after-").await.expect("list").len(), 1);
}

/// The destination's settings and secrets, decrypted as the server would.
pub async fn stored(app: &TestApp, name: &str) -> RawFields {
    let row = app.destination(name).await;
    let cipher = CredentialCipher::new(MasterKey::from_base64(&app.master_key).expect("key"));
    let plain = cipher.open(&row.credentials, &associated_data(&row.workspace_id, &row.id)).expect("opens");
    let mut fields = RawFields::from_json(&row.settings).expect("settings");
    fields.fill_from(&RawFields::from_json(std::str::from_utf8(&plain).expect("utf-8")).expect("secrets"));
    fields
}

async fn rotated_refresh_tokens_are_stored_sealed(backend: Backend) {
    let setup = Setup::new(OneDrive::own().await).await;
    let (mut settings, data_dir, pg) = crate::helpers::test_settings(backend);
    settings.provider.endpoints.microsoft = setup.drive.clouds();
    settings.provider.outbound = devpilot::providers::outbound::AddressPolicy::allowing_loopback();
    let app = crate::helpers::spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;
    let first = setup.refresh_token().await;
    let config = [
        ("folder_id", setup.folder.as_str()),
        ("client_id", setup.client_id.as_str()),
        ("client_secret", SECRET),
        ("refresh_token", first.as_str()),
    ];
    assert_eq!(app.create_destination("Office", "onedrive", &config).await.status, 303);
    let row = app.destination("Office").await;
    assert_eq!(row.status, "active", "{}", row.message);
    let second = stored(&app, "Office").await.get("refresh_token").expect("a refresh token").to_owned();
    assert_ne!(second, first, "the rotated token replaced the one entered");
    assert!(!row.settings.contains(&second) && !row.settings.contains(&first), "tokens only in the sealed column");
    let (status, answer) = setup.drive.refresh(&setup.client_id, SECRET, &first).await;
    assert_eq!((status, answer["error_codes"][0].as_u64()), (400, Some(70000)), "the first token is spent");

    // The access token expires: the next test refreshes again, and stores that rotation too.
    setup.drive.expire_access_tokens().await;
    let tested = app.post(&format!("/destinations/{}/test", row.id), &[]).await;
    assert!(tested.status < 400, "{}", tested.body);
    assert_eq!(app.destination("Office").await.status, "active");
    let third = stored(&app, "Office").await.get("refresh_token").expect("a refresh token").to_owned();
    assert_ne!(third, second);
    let page = app.get(&format!("/destinations/{}/edit", row.id)).await;
    assert!(!page.body.contains(&third) && !page.body.contains(&second), "never rendered back");

    // Microsoft stops accepting it (revoked): Failed, with the code and what to do.
    setup.drive.revoke(&third).await;
    app.post(&format!("/destinations/{}/test", row.id), &[]).await;
    let failed = app.destination("Office").await;
    assert_eq!(failed.status, "failed");
    assert!(failed.message.contains("AADSTS50173") && failed.message.contains("Reconnect"), "{}", failed.message);
    let list = app.get("/destinations").await;
    assert!(list.body.contains(">Reconnect</button>"), "the row offers to reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_drive_cancels_the_session_and_leaves_nothing() {
    let setup = Setup::new(OneDrive::own().await).await;
    let f = setup.fixture().await;
    let p = provider(&setup, &f, &f.good);
    let used = count(&setup.drive.state().await, "used");
    setup.drive.set_quota(used + 12 * 1024 * 1024).await;
    let failed = p.put("full.bin", body(20 * 1024 * 1024).1).await.expect_err("the drive is full");
    assert!(failed.to_string().contains("quotaLimitReached"), "{failed}");
    let state = setup.drive.state().await;
    assert_eq!(count(&state, "cancelled"), 1, "the session was deleted");
    assert_eq!(count(&state, "sessions"), 0);
    let names: Vec<String> =
        setup.drive.children(&setup.access, &setup.folder).await.into_iter().map(|(n, _)| n).collect();
    assert!(!names.contains(&"full.bin".to_owned()), "nothing half-written: {names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_resumes_where_graph_expects() {
    let setup = Setup::new(OneDrive::own().await).await;
    let f = setup.fixture().await;
    let p = provider(&setup, &f, &f.good);
    setup.drive.lose_answers(2).await;
    let (data, stream) = body(35 * 1024 * 1024);
    assert_eq!(p.put("resumed.bin", stream).await.expect("put"), data.len() as u64);
    assert_eq!(conformance::read_all(p.as_ref(), "resumed.bin").await, data, "no fragment twice, none skipped");
    let state = setup.drive.state().await;
    assert_eq!((count(&state, "uploads"), count(&state, "cancelled")), (1, 0), "one session, resumed");
}

/// A backup run and its restore through a OneDrive destination: each (the save's test, the run,
/// the restore, a second run) refreshes with the token the last one stored.
async fn backups_restore_on_onedrive(backend: Backend) {
    use crate::every_destination::{app_with_destination, plan_form, run_and_wait};
    let setup = Setup::new(OneDrive::own().await).await;
    let fixture = setup.fixture().await;
    let (app, destination) = app_with_destination(&fixture, backend).await;
    let source = tempfile::tempdir().expect("source");
    crate::runs::fill(source.path());
    app.grant_folder(source.path(), "read").await;
    let source_path = source.path().to_string_lossy().into_owned();
    let form = plan_form("Files", &destination, &[("source_kind", "directory"), ("source_path", &source_path)]);
    assert_eq!(app.post("/plans", &form).await.status, 303);
    let run = run_and_wait(&app, "Files", 1).await;
    let place = tempfile::tempdir().expect("restore place");
    app.grant_folder(place.path(), "read_write").await;
    let into = place.path().join("restored");
    let restored = app.post(&format!("/runs/{}/restore", run.id), &[("target", &into.to_string_lossy())]).await;
    assert!(restored.body.contains("the checksum matched"), "{}", restored.body);
    assert_eq!(crate::artifacts::tree(&into), crate::artifacts::tree(source.path()));
    run_and_wait(&app, "Files", 2).await;
    let refreshes = count(&setup.drive.state().await, "refreshes");
    assert!(refreshes >= 4, "each of the test, two runs and the restore refreshed: {refreshes}");
    let live = stored(&app, "Everywhere").await.get("refresh_token").expect("stored").to_owned();
    assert_eq!(setup.drive.refresh(&setup.client_id, SECRET, &live).await.0, 200, "the stored token is the live one");
}
