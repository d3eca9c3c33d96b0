//! Google Drive in the conformance suite. Folder checks run twice: against google-drive-mock
//! (the real local server `scripts/test` starts; it knows only its own fixed tokens, which the
//! OAuth stand-in is told to issue) and against the Drive stand-in, which also checks token
//! expiry, trash and edit rights. Uploads, downloads, listing and deletes go through the Drive
//! stand-in (google-drive-mock breaks resumable uploads and bodies over 100 KB).

use crate::conformance::{self, Fixture, body, fields};
use crate::helpers::Backend;
use crate::on_both_backends;
use crate::standins::drive::Drive;
use crate::standins::google_oauth::GoogleOAuth;
use devpilot::config::ExternalEndpoints;
use devpilot::providers::ProviderKind;
use futures::StreamExt;
use std::time::Duration;

pub const CLIENT_ID: &str = "1234567890-devpilot.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-devpilot-test-secret";

/// google-drive-mock as `scripts/test` prepared it: a folder and a plain file in it.
#[derive(Debug, serde::Deserialize)]
pub struct DriveMock {
    pub endpoint: String,
    pub token: String,
    pub folder_id: String,
    pub file_id: String,
}

fn drive_mock() -> DriveMock {
    let value = std::env::var("DEVPILOT_TEST_DRIVE")
        .expect("DEVPILOT_TEST_DRIVE: run the tests with scripts/test, which starts google-drive-mock");
    // The variable holds the JSON, or the path of a file that does.
    let text = if value.trim_start().starts_with('{') {
        value
    } else {
        std::fs::read_to_string(&value).unwrap_or_else(|e| panic!("{value}: {e}"))
    };
    serde_json::from_str(&text).expect("DEVPILOT_TEST_DRIVE is JSON with endpoint, token, folder_id, file_id")
}

/// Endpoints pointing at the stand-ins (and a Drive API of choice).
pub fn endpoints(google: &GoogleOAuth, api: String, upload: String) -> ExternalEndpoints {
    ExternalEndpoints {
        google_oauth_authorize: google.authorize_url(),
        google_oauth_token: google.token_url(),
        google_drive_api: api,
        google_drive_upload: upload,
        ..ExternalEndpoints::default()
    }
}

fn with_refresh(folder: &str, refresh: &str) -> conformance::Fields {
    fields(&[
        ("folder_id", folder),
        ("refresh_token", refresh),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ])
}

/// Folder checks against google-drive-mock; tokens come from the OAuth stand-in.
fn mock_fixture(google: &GoogleOAuth) -> Fixture {
    let mock = drive_mock();
    google.register_client(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1/oauth/callback");
    google.issue_fixed_access_tokens(&mock.token);
    let api = mock.endpoint.trim_end_matches('/').trim_end_matches("/drive/v3").to_owned();
    let good = with_refresh(&mock.folder_id, &google.issue_refresh_token(CLIENT_ID));
    let mut f = Fixture::new(ProviderKind::GoogleDrive, good);
    f.settings.endpoints = endpoints(google, format!("{api}/drive/v3"), format!("{api}/upload/drive/v3"));
    let revoked = google.issue_refresh_token(CLIENT_ID);
    google.revoke(&revoked);
    let revoked = with_refresh(&mock.folder_id, &revoked);
    let bad_token = fields(&[("folder_id", &mock.folder_id), ("access_token", "not-a-valid-token")]);
    let missing = f.good_with(&[("folder_id", "noSuchFolder0123456789")]);
    let not_folder = f.good_with(&[("folder_id", &mock.file_id)]);
    f.bad("Revoked refresh token", revoked, "invalid_grant: Token has been expired or revoked.")
        .bad("Bad access token", bad_token, "Unauthorized: Invalid token (HTTP 401)")
        .bad("Missing folder", missing, "404: File not found")
        .bad("Not a folder", not_folder, "is not a folder")
}

/// The Drive stand-in with a writable folder, and what else the cases need.
pub struct StandIn {
    google: GoogleOAuth,
    drive: Drive,
    folder: String,
}

impl StandIn {
    pub fn start() -> StandIn {
        let google = GoogleOAuth::start();
        let drive = Drive::start(&google);
        google.register_client(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1/oauth/callback");
        let folder = drive.add_folder("Backups", true, false);
        StandIn { google, drive, folder }
    }

    pub fn fixture(&self) -> Fixture {
        let good = with_refresh(&self.folder, &self.google.issue_refresh_token(CLIENT_ID));
        let mut f = Fixture::new(ProviderKind::GoogleDrive, good);
        f.settings.endpoints = endpoints(&self.google, self.drive.api(), self.drive.upload());
        let expired =
            fields(&[("folder_id", &self.folder), ("access_token", &self.google.issue_access_token(Duration::ZERO))]);
        let revoked = self.google.issue_refresh_token(CLIENT_ID);
        self.google.revoke(&revoked);
        let revoked = with_refresh(&self.folder, &revoked);
        let wrong_secret = f.good_with(&[("client_secret", "GOCSPX-wrong")]);
        let not_connected =
            fields(&[("folder_id", &self.folder), ("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)]);
        let read_only = f.good_with(&[("folder_id", &self.drive.add_folder("Shared with me", false, false))]);
        let trashed = f.good_with(&[("folder_id", &self.drive.add_folder("Old", true, true))]);
        let file = f.good_with(&[("folder_id", &self.drive.add_file("notes.txt", &self.folder, b"hello"))]);
        let missing = f.good_with(&[("folder_id", "noSuchFolder0123456789")]);
        f.bad("Expired access token", expired, "the access token has expired")
            .bad("Revoked refresh token", revoked, "invalid_grant: Token has been expired or revoked.")
            .bad("Wrong client secret", wrong_secret, "invalid_client: Unauthorized")
            .bad("Not connected", not_connected, "Not connected to Google yet")
            .bad("Read-only folder", read_only, "cannot add files to the folder “Shared with me”")
            .bad("Trashed folder", trashed, "The folder “Old” is in the trash")
            .bad("A file", file, "is not a folder")
            .bad("Missing folder", missing, "notFound: File not found: noSuchFolder0123456789.")
    }
}

on_both_backends!(drive_conformance_on_google_drive_mock, drive_conformance_on_the_stand_in);

async fn drive_conformance_on_google_drive_mock(backend: Backend) {
    let google = GoogleOAuth::start();
    conformance::ui_cases(&mock_fixture(&google), backend).await;
}

async fn drive_conformance_on_the_stand_in(backend: Backend) {
    let standin = StandIn::start();
    conformance::ui_cases(&standin.fixture(), backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drive_round_trip() {
    let standin = StandIn::start();
    conformance::round_trip(&standin.fixture()).await;
    assert!(standin.drive.files_in(&standin.folder).iter().all(|(name, _)| name == "notes.txt"), "all cleaned up");
    assert_eq!(standin.drive.open_sessions(), 0, "the broken upload's session was cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_replaces_the_file_of_the_same_name() {
    let standin = StandIn::start();
    let f = standin.fixture();
    let dir = tempfile::tempdir().expect("dir");
    let p = conformance::provider(&f, &f.good, dir.path());
    assert_eq!(p.put("plan/a.tar", body(300_000).1).await.expect("first"), 300_000);
    let (data, stream) = body(9 * 1024 * 1024);
    assert_eq!(p.put("plan/a.tar", stream).await.expect("second"), data.len() as u64);
    assert_eq!(conformance::read_all(p.as_ref(), "plan/a.tar").await, data);
    let listed: Vec<(String, u64)> =
        p.list("plan/").await.expect("list").into_iter().map(|o| (o.key, o.size)).collect();
    assert_eq!(listed, vec![("plan/a.tar".to_owned(), data.len() as u64)]);
    // The key is the file's name in the folder, `/` included: no sub-folders.
    assert!(standin.drive.files_in(&standin.folder).contains(&("plan/a.tar".to_owned(), data.len())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_replacement_keeps_the_old_content() {
    let standin = StandIn::start();
    let f = standin.fixture();
    let dir = tempfile::tempdir().expect("dir");
    let p = conformance::provider(&f, &f.good, dir.path());
    let (old, stream) = body(1000);
    p.put("a.bin", stream).await.expect("put");
    let broken = body(10 * 1024 * 1024)
        .1
        .chain(futures::stream::once(async { Err(std::io::Error::other("source went away")) }))
        .boxed();
    assert!(p.put("a.bin", broken).await.is_err());
    assert_eq!(conformance::read_all(p.as_ref(), "a.bin").await, old);
    assert_eq!(standin.drive.open_sessions(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_is_exchanged_once_per_provider() {
    let standin = StandIn::start();
    let f = standin.fixture();
    let dir = tempfile::tempdir().expect("dir");
    let p = conformance::provider(&f, &f.good, dir.path());
    p.test().await.expect("test");
    p.put("x.bin", body(10).1).await.expect("put");
    p.list("").await.expect("list");
    assert_eq!(standin.google.token_requests(), 1, "the access token is cached until it nearly expires");
}
