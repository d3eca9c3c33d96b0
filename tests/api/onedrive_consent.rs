//! Microsoft's consent flow for OneDrive, against the identity + Graph stand-in: "Connect
//! OneDrive" sends the browser to the tenant's authorize endpoint (PKCE S256, `offline_access`
//! and `Files.ReadWrite`, or `Files.ReadWrite.All` for a drive named by ID), the callback checks
//! the state as Google's does (the same code: single-use, bound to the session and destination),
//! exchanges the code, stores the refresh token sealed and tests Active. Last, the flow in Chromium.

use crate::browser::{Browser, TEST_WAIT, WAIT};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, captured_logs, new_client};
use crate::on_both_backends;
use crate::provider_onedrive::{SECRET, client_id, stored};
use crate::standins::onedrive::{OneDrive, count};
use std::collections::HashMap;

const NAME: &str = "Office";
const TENANT: &str = "contoso.onmicrosoft.com";

pub struct Flow {
    pub app: TestApp,
    pub drive: OneDrive,
    pub client_id: String,
    pub id: String,
}

/// An app with a OneDrive destination that has its app registration and no token yet.
pub async fn flow(backend: Backend, extra: &[(&str, &str)]) -> Flow {
    let drive = OneDrive::own().await;
    let (mut settings, data_dir, pg) = crate::helpers::test_settings(backend);
    settings.provider.endpoints.microsoft = drive.clouds();
    let app = crate::helpers::spawn_with(settings, data_dir, pg).await;
    let client_id = client_id();
    drive.register(&client_id, SECRET, &format!("{}/oauth/callback", app.address)).await;
    app.setup_admin().await;
    let mut config = vec![("client_id", client_id.as_str()), ("client_secret", SECRET), ("tenant", TENANT)];
    config.extend_from_slice(extra);
    let created = app.create_destination(NAME, "onedrive", &config).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let row = app.destination(NAME).await;
    assert_eq!(row.status, "failed");
    assert!(row.message.contains("Not connected to Microsoft yet"), "{}", row.message);
    Flow { id: row.id, app, drive, client_id }
}

impl Flow {
    async fn start(&self, client: &reqwest::Client) -> String {
        let page = self.app.post_with(client, &format!("/destinations/{}/oauth", self.id), &[]).await;
        assert_eq!(page.status, 303, "{}", page.body);
        page.location.expect("a redirect to Microsoft")
    }

    async fn callback(&self, client: &reqwest::Client, url: &str) -> crate::helpers::Page {
        assert!(url.starts_with(&format!("{}/oauth/callback?", self.app.address)), "{url}");
        self.app.get_with(client, url.trim_start_matches(&self.app.address)).await
    }
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).expect("url").query_pairs().into_owned().collect()
}

on_both_backends!(
    connect_onedrive_stores_a_sealed_refresh_token_and_tests_active,
    a_shared_library_asks_for_files_readwrite_all,
    the_state_rules_are_googles,
);

async fn connect_onedrive_stores_a_sealed_refresh_token_and_tests_active(backend: Backend) {
    let f = flow(backend, &[]).await;
    let list = f.app.get("/destinations").await;
    assert!(list.body.contains(">Connect OneDrive</button>"), "the row offers to connect");

    let consent = f.start(&f.app.client).await;
    let authorize = format!("{}/{TENANT}/oauth2/v2.0/authorize?", f.drive.endpoint);
    assert!(consent.starts_with(&authorize), "{consent}");
    let q = query_of(&consent);
    assert_eq!(q["client_id"], f.client_id);
    assert_eq!(q["redirect_uri"], format!("{}/oauth/callback", f.app.address));
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["scope"], "offline_access Files.ReadWrite", "the least scope for one's own drive");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43, "a SHA-256 challenge in base64url");
    assert!(q["state"].len() >= 43);
    assert!(!q.contains_key("client_secret"));

    let callback = f.drive.consent(&consent).await;
    let code = query_of(&callback).get("code").cloned().expect("a code");
    let back = f.callback(&f.app.client, &callback).await;
    assert_eq!(back.location.as_deref(), Some("/destinations"), "{}", back.body);
    let list = f.app.get("/destinations").await;
    assert!(list.body.contains("Connected “Office” to OneDrive. Connection test passed."), "{}", list.body);
    assert!(list.body.contains(">Reconnect</button>"));
    let row = f.app.destination(NAME).await;
    assert_eq!(row.status, "active", "{}", row.message);
    assert!(row.message.contains("Found the root folder"), "{}", row.message);

    // The code exchange's token was spent by the test, which stored its successor.
    assert_eq!(count(&f.drive.state().await, "refreshes"), 1);
    let refresh = stored(&f.app, NAME).await.get("refresh_token").expect("stored").to_owned();
    let edit = f.app.get(&format!("/destinations/{}/edit", f.id)).await;
    for text in [&list.body, &edit.body, &row.settings, &row.message, &captured_logs()] {
        assert!(!text.contains(&refresh) && !text.contains(&code), "a token or the code leaked");
    }
    assert!(!row.credentials.windows(refresh.len()).any(|w| w == refresh.as_bytes()), "sealed, not plain");
    let (status, _) = f.drive.refresh(&f.client_id, SECRET, &refresh).await;
    assert_eq!(status, 200, "the stored token is the live one");
}

async fn a_shared_library_asks_for_files_readwrite_all(backend: Backend) {
    let f = flow(backend, &[]).await;
    let state = f.drive.state().await;
    let drive_id = state["drive_id"].as_str().expect("the drive's id").to_owned();
    let edited = f
        .app
        .post(
            &format!("/destinations/{}", f.id),
            &[
                ("name", NAME),
                ("type", "onedrive"),
                ("config.client_id", &f.client_id),
                ("config.tenant", TENANT),
                ("config.drive_id", &drive_id),
            ],
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.body);
    let consent = f.start(&f.app.client).await;
    assert_eq!(query_of(&consent)["scope"], "offline_access Files.ReadWrite.All");
    let back = f.callback(&f.app.client, &f.drive.consent(&consent).await).await;
    assert_eq!(back.status, 303);
    let row = f.app.destination(NAME).await;
    assert_eq!(row.status, "active", "the library (drives/{drive_id}) answers: {}", row.message);
}

async fn the_state_rules_are_googles(backend: Backend) {
    let f = flow(backend, &[]).await;
    let callback = f.drive.consent(&f.start(&f.app.client).await).await;
    let other = new_client();
    let login = f.app.post_with(&other, "/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]).await;
    assert_eq!(login.status, 303);
    let refused = f.callback(&other, &callback).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("another browser session"), "{}", refused.body);
    assert_eq!(f.callback(&f.app.client, &callback).await.status, 303);
    let replayed = f.callback(&f.app.client, &callback).await;
    assert_eq!(replayed.status, 400, "single-use");
    assert_eq!(count(&f.drive.state().await, "refreshes"), 1, "the replay exchanged nothing");
}

/// The consent flow as a person clicks through it, in headless Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_onedrive_in_a_real_browser() {
    let webdriver = std::env::var("DEVPILOT_TEST_WEBDRIVER")
        .expect("DEVPILOT_TEST_WEBDRIVER is not set: run scripts/test, which starts chromedriver");
    let chromium = std::env::var("DEVPILOT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let f = flow(Backend::Sqlite, &[]).await;
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let browser = Browser::start(&webdriver, &chromium, profile.path()).await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = click_through(&browser, &f).await;
    let finished = browser.finish().await;
    let (notice, badge) = outcome.unwrap_or_else(|e| panic!("{e}"));
    finished.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(notice, "Connected “Office” to OneDrive. Connection test passed.");
    assert_eq!(badge, "Active");
    assert_eq!(f.app.destination(NAME).await.status, "active");
}

pub async fn sign_in(b: &Browser, app: &TestApp) -> Result<(), String> {
    b.goto(&format!("{}/login", app.address)).await?;
    b.wait_for("the sign-in form", WAIT, || b.find("#email")).await?;
    b.type_into("#email", ADMIN_EMAIL).await?;
    b.type_into("#password", ADMIN_PASSWORD).await?;
    b.click(&b.must_find("main form button[type=submit]").await?).await?;
    b.wait_for("the overview", WAIT, || async { Ok(b.current_url().await?.ends_with("/overview").then_some(())) }).await
}

async fn click_through(b: &Browser, f: &Flow) -> Result<(String, String), String> {
    sign_in(b, &f.app).await?;
    b.goto(&format!("{}/destinations", f.app.address)).await?;
    let connect = "//tr[.//strong[normalize-space()='Office']]//button[normalize-space()='Connect OneDrive']";
    let button = b.wait_for("the Connect OneDrive button", WAIT, || b.find_xpath(connect)).await?;
    b.click(&button).await?;
    // Microsoft's page (the stand-in consents at once) sends the browser back with a code.
    let notice = b
        .wait_for("the success notice on the destinations page", TEST_WAIT, || async {
            if !b.current_url().await?.starts_with(&format!("{}/destinations", f.app.address)) {
                return Ok(None);
            }
            b.find(".notice").await
        })
        .await?;
    let notice = b.text(&notice).await?;
    let badge = b.must_find_xpath("//tr[.//strong[normalize-space()='Office']]//span[contains(@class, 'badge') and not(contains(@class, 'default'))]").await?;
    Ok((notice, b.text(&badge).await?))
}
