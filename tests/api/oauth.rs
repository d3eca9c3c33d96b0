//! The Google consent flow against the OAuth and Drive stand-ins: "Connect Google Drive"
//! redirects to Google with PKCE, offline access and a state; the callback stores the refresh
//! token sealed (never in a page, a log or a plaintext column) and the destination tests Active.
//! States of another session, replayed or expired are refused with a page and change nothing;
//! reconnecting keeps every other setting; viewers and other workspaces cannot start it. Last,
//! the same flow in Chromium: Connect → Google's consent page → Allow → back, Active.

use crate::browser::{Browser, TEST_WAIT, WAIT};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, captured_logs, new_client};
use crate::on_both_backends;
use crate::provider_drive::{CLIENT_ID, CLIENT_SECRET, endpoints};
use crate::standins::drive::Drive;
use crate::standins::google_oauth::{DRIVE_SCOPE, GoogleOAuth};
use devpilot::crypto::{CredentialCipher, MasterKey};
use devpilot::destinations::service::associated_data;
use devpilot::fields::RawFields;
use std::collections::HashMap;

const NAME: &str = "Team Drive";

struct Flow {
    app: TestApp,
    google: GoogleOAuth,
    drive: Drive,
    folder: String,
    id: String,
}

async fn flow(backend: Backend) -> Flow {
    let google = GoogleOAuth::start();
    let drive = Drive::start(&google);
    let folder = drive.add_folder("Backups", true, false);
    let (mut settings, data_dir, pg) = crate::helpers::test_settings(backend);
    settings.provider.endpoints = endpoints(&google, drive.api(), drive.upload());
    let app = crate::helpers::spawn_with(settings, data_dir, pg).await;
    google.register_client(CLIENT_ID, CLIENT_SECRET, &format!("{}/oauth/callback", app.address));
    app.setup_admin().await;
    let config = [("folder_id", folder.as_str()), ("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)];
    assert_eq!(app.create_destination(NAME, "google_drive", &config).await.status, 303);
    let row = app.destination(NAME).await;
    assert_eq!(row.status, "failed");
    assert!(row.message.contains("Not connected to Google yet"), "{}", row.message);
    Flow { id: row.id, app, google, drive, folder }
}

impl Flow {
    /// Starts the consent as `client`'s session; returns Google's consent URL.
    async fn start(&self, client: &reqwest::Client) -> String {
        let page = self.app.post_with(client, &format!("/destinations/{}/oauth", self.id), &[]).await;
        assert_eq!(page.status, 303, "{}", page.body);
        page.location.expect("a redirect to Google")
    }

    /// Start, and "Allow" on Google's page: the callback URL Google sends the browser to.
    async fn consented(&self, client: &reqwest::Client) -> String {
        let consent = self.start(client).await;
        self.google.consent(&consent).await
    }

    async fn callback(&self, client: &reqwest::Client, url: &str) -> crate::helpers::Page {
        assert!(url.starts_with(&format!("{}/oauth/callback?", self.app.address)), "{url}");
        self.app.get_with(client, url.trim_start_matches(&self.app.address)).await
    }

    /// The destination's settings and secrets, decrypted as the server would.
    async fn stored(&self) -> RawFields {
        let row = self.app.destination(NAME).await;
        let cipher = CredentialCipher::new(MasterKey::from_base64(&self.app.master_key).expect("key"));
        let plain = cipher.open(&row.credentials, &associated_data(&row.workspace_id, &row.id)).expect("opens");
        let mut fields = RawFields::from_json(&row.settings).expect("settings");
        fields.fill_from(&RawFields::from_json(std::str::from_utf8(&plain).expect("utf-8")).expect("secrets"));
        fields
    }

    async fn set_state_expiry(&self, minutes_from_now: i64) {
        let at = chrono::Utc::now().naive_utc() + chrono::Duration::minutes(minutes_from_now);
        self.app
            .db()
            .run(move |c| {
                use devpilot::db::schema::oauth_states::dsl::*;
                use diesel::prelude::*;
                diesel::update(oauth_states).set(expires_at.eq(at)).execute(c)
            })
            .await
            .expect("update the state's expiry");
    }
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).expect("url").query_pairs().into_owned().collect()
}

on_both_backends!(
    connect_stores_a_sealed_refresh_token_and_tests_active,
    a_state_from_another_session_is_refused,
    a_replayed_state_is_refused,
    cancelling_on_googles_page_changes_nothing,
    an_expired_state_is_refused,
    reconnect_keeps_every_other_setting,
    viewers_cannot_connect,
    another_workspaces_destination_is_not_found,
);

async fn connect_stores_a_sealed_refresh_token_and_tests_active(backend: Backend) {
    let f = flow(backend).await;
    let list = f.app.get("/destinations").await;
    assert!(list.body.contains(">Connect Google Drive</button>"), "the Drive row offers to connect");

    let consent = f.start(&f.app.client).await;
    assert!(consent.starts_with(&format!("{}?", f.google.authorize_url())), "{consent}");
    let q = query_of(&consent);
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["redirect_uri"], format!("{}/oauth/callback", f.app.address));
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["scope"], DRIVE_SCOPE);
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43, "a SHA-256 challenge in base64url");
    assert!(q["state"].len() >= 43, "a random state of 32 bytes");
    assert!(!q.contains_key("client_secret"));

    let callback = f.google.consent(&consent).await;
    let code = query_of(&callback).get("code").cloned().expect("Google sends a code");
    let raw_query = url::Url::parse(&callback).expect("url").query().unwrap_or_default().to_owned();
    let back = f.callback(&f.app.client, &callback).await;
    assert_eq!(back.status, 303, "{}", back.body);
    let logs = captured_logs();
    assert!(!logs.contains(&code) && !logs.contains(&raw_query), "the one-time code is not logged (no query strings)");
    assert_eq!(back.location.as_deref(), Some("/destinations"));
    let list = f.app.get("/destinations").await;
    assert!(list.body.contains("Connected “Team Drive” to Google Drive. Connection test passed."), "{}", list.body);
    assert!(list.body.contains(">Reconnect</button>"));
    let row = f.app.destination(NAME).await;
    assert_eq!(row.status, "active", "{}", row.message);

    let stored = f.stored().await;
    let refresh = stored.get("refresh_token").expect("a refresh token is stored").to_owned();
    assert!(f.google.knows_refresh_token(&refresh), "the token Google issued");
    let edit = f.app.get(&format!("/destinations/{}/edit", f.id)).await;
    for text in [&list.body, &edit.body, &row.settings, &row.message, &captured_logs()] {
        assert!(!text.contains(&refresh), "the refresh token leaked");
    }
    assert!(!row.credentials.windows(refresh.len()).any(|w| w == refresh.as_bytes()), "sealed, not plain");
    assert!(f.drive.files_in(&f.folder).is_empty());
}

async fn a_state_from_another_session_is_refused(backend: Backend) {
    let f = flow(backend).await;
    let callback = f.consented(&f.app.client).await;
    // The same admin signed in from another browser: a different session.
    let other = new_client();
    let login = f.app.post_with(&other, "/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(login.status, 303);
    let refused = f.callback(&other, &callback).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("started in another browser session"), "{}", refused.body);
    assert!(f.stored().await.get("refresh_token").is_none(), "nothing changed");
    assert_eq!(f.app.destination(NAME).await.status, "failed");
    // Refusing it did not use it up: the session that started it still can.
    assert_eq!(f.callback(&f.app.client, &callback).await.status, 303);
    assert_eq!(f.app.destination(NAME).await.status, "active");
}

async fn a_replayed_state_is_refused(backend: Backend) {
    let f = flow(backend).await;
    let callback = f.consented(&f.app.client).await;
    assert_eq!(f.callback(&f.app.client, &callback).await.status, 303);
    let first = f.stored().await.get("refresh_token").map(str::to_owned);
    let replayed = f.callback(&f.app.client, &callback).await;
    assert_eq!(replayed.status, 400);
    assert!(replayed.body.contains("already used"), "{}", replayed.body);
    assert_eq!(f.stored().await.get("refresh_token").map(str::to_owned), first, "nothing changed");
    let forged = f.app.get("/oauth/callback?state=made-up&code=4/abc").await;
    assert_eq!(forged.status, 400);
    assert!(forged.body.contains("does not match any request"));
    let bare = f.app.get("/oauth/callback?code=4/abc").await;
    assert_eq!(bare.status, 400);
}

async fn cancelling_on_googles_page_changes_nothing(backend: Backend) {
    let f = flow(backend).await;
    let consent = f.start(&f.app.client).await;
    let callback = f.google.decide(&consent, "deny").await;
    assert!(query_of(&callback).get("error").is_some_and(|e| e == "access_denied"), "{callback}");
    let back = f.callback(&f.app.client, &callback).await;
    assert_eq!(back.location.as_deref(), Some("/destinations"));
    let list = f.app.get("/destinations").await;
    assert!(list.body.contains("Google did not grant access for “Team Drive” (access_denied)"), "{}", list.body);
    assert!(f.stored().await.get("refresh_token").is_none());
    assert_eq!(f.callback(&f.app.client, &callback).await.status, 400, "the state is used up");
}

async fn an_expired_state_is_refused(backend: Backend) {
    let f = flow(backend).await;
    let callback = f.consented(&f.app.client).await;
    f.set_state_expiry(-1).await;
    let refused = f.callback(&f.app.client, &callback).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("expired"), "{}", refused.body);
    assert!(f.stored().await.get("refresh_token").is_none());
    assert_eq!(f.app.destination(NAME).await.status, "failed");
}

async fn reconnect_keeps_every_other_setting(backend: Backend) {
    let f = flow(backend).await;
    let callback = f.consented(&f.app.client).await;
    assert_eq!(f.callback(&f.app.client, &callback).await.status, 303);
    let before = f.stored().await;
    let first = before.get("refresh_token").expect("stored").to_owned();

    // The person removes the app's access in their Google account: the next test fails.
    f.google.revoke(&first);
    assert_eq!(f.app.post(&format!("/destinations/{}/test", f.id), &[]).await.status, 303);
    let failed = f.app.destination(NAME).await;
    assert_eq!(failed.status, "failed");
    assert!(failed.message.contains("invalid_grant: Token has been expired or revoked."), "{}", failed.message);
    assert!(failed.message.contains("click Reconnect"), "the hint says what to do: {}", failed.message);

    let callback = f.consented(&f.app.client).await;
    assert_eq!(f.callback(&f.app.client, &callback).await.status, 303);
    let after = f.stored().await;
    let second = after.get("refresh_token").expect("stored").to_owned();
    assert_ne!(second, first, "a new refresh token");
    for field in ["folder_id", "client_id", "client_secret"] {
        assert_eq!(after.get(field), before.get(field), "{field} is kept");
    }
    let row = f.app.destination(NAME).await;
    assert_eq!((row.name.as_str(), row.status.as_str()), (NAME, "active"), "{}", row.message);
}

async fn viewers_cannot_connect(backend: Backend) {
    let f = flow(backend).await;
    f.app.add_member("Vic", "viewer@example.com", "viewer password 1", "viewer").await;
    let viewer = new_client();
    let login =
        f.app.post_with(&viewer, "/login", &[("email", "viewer@example.com"), ("password", "viewer password 1")]).await;
    assert_eq!(login.status, 303);
    assert!(!f.app.get_with(&viewer, "/destinations").await.body.contains(">Connect Google Drive</button>"));
    let started = f.app.post_with(&viewer, &format!("/destinations/{}/oauth", f.id), &[]).await;
    assert_eq!(started.status, 403);
    let callback = f.consented(&f.app.client).await;
    assert_eq!(f.callback(&viewer, &callback).await.status, 403);
    assert!(f.stored().await.get("refresh_token").is_none());
}

async fn another_workspaces_destination_is_not_found(backend: Backend) {
    let f = flow(backend).await;
    let callback = f.consented(&f.app.client).await;
    // The admin opens a second workspace and works there now.
    assert_eq!(f.app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    let started = f.app.post(&format!("/destinations/{}/oauth", f.id), &[]).await;
    assert_eq!(started.status, 404);
    assert!(!started.body.contains(NAME));
    let refused = f.callback(&f.app.client, &callback).await;
    assert_eq!(refused.status, 400, "a state of the other workspace is refused");
    assert!(f.stored().await.get("refresh_token").is_none());
}

/// The consent flow as a person clicks through it, in headless Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_google_drive_in_a_real_browser() {
    let webdriver = std::env::var("DEVPILOT_TEST_WEBDRIVER")
        .expect("DEVPILOT_TEST_WEBDRIVER is not set: run scripts/test, which starts chromedriver");
    let chromium = std::env::var("DEVPILOT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let f = flow(Backend::Sqlite).await;
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let browser = Browser::start(&webdriver, &chromium, profile.path()).await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = click_through(&browser, &f).await;
    let finished = browser.finish().await;
    let (consent_title, notice, badge) = outcome.unwrap_or_else(|e| panic!("{e}"));
    finished.unwrap_or_else(|e| panic!("{e}"));

    assert!(consent_title.contains("wants access to your Google Account"), "{consent_title}");
    assert_eq!(notice, "Connected “Team Drive” to Google Drive. Connection test passed.");
    assert_eq!(badge, "Active");
    assert_eq!(f.app.destination(NAME).await.status, "active");
}

/// Signs in, clicks Connect, Allow on the consent page; returns the consent page's title, the
/// notice back on the destinations page, and the Drive row's status badge.
async fn click_through(b: &Browser, f: &Flow) -> Result<(String, String, String), String> {
    b.goto(&format!("{}/login", f.app.address)).await?;
    b.wait_for("the sign-in form", WAIT, || b.find("#email")).await?;
    b.type_into("#email", ADMIN_EMAIL).await?;
    b.type_into("#password", ADMIN_PASSWORD).await?;
    b.click(&b.must_find("main form button[type=submit]").await?).await?;
    // Signed in, one lands on the overview; the destination is on the destinations page.
    b.wait_for("the overview", WAIT, || async { Ok(b.current_url().await?.ends_with("/overview").then_some(())) })
        .await?;
    b.goto(&format!("{}/destinations", f.app.address)).await?;
    let connect = "//tr[.//strong[normalize-space()='Team Drive']]//button[normalize-space()='Connect Google Drive']";
    let button = b.wait_for("the Connect Google Drive button", WAIT, || b.find_xpath(connect)).await?;
    b.click(&button).await?;

    let title = b.wait_for("Google's consent page", WAIT, || b.find("#consent-title")).await?;
    let consent_title = b.text(&title).await?;
    if !b.current_url().await?.starts_with(&f.google.url) {
        return Err(b.describe("the consent page is not the OAuth stand-in's").await);
    }
    b.click(&b.must_find("#allow").await?).await?;

    let notice = b
        .wait_for("the success notice on the destinations page", TEST_WAIT, || async {
            if !b.current_url().await?.starts_with(&format!("{}/destinations", f.app.address)) {
                return Ok(None);
            }
            b.find(".notice").await
        })
        .await?;
    let notice = b.text(&notice).await?;
    let badge = b.must_find_xpath("//tr[.//strong[normalize-space()='Team Drive']]//span[contains(@class, 'badge') and not(contains(@class, 'default'))]").await?;
    Ok((consent_title, notice, b.text(&badge).await?))
}
