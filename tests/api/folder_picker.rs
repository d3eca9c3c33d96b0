//! The folder picker of connected Google Drive and OneDrive destinations (one template and
//! handler for both, through `FolderBrowser`): the edit form offers "Browse folders"; the picker
//! lists sub-folders, goes into one and up, makes a folder, and "Choose" fills the Folder ID
//! field. Only the destination's workspace, and only members who may change it, browse a drive:
//! a viewer gets 403 and another workspace 404, without the drive being asked; hostile folder
//! IDs and names are refused before they reach Google or Microsoft. Last, both in Chromium.

use crate::browser::{Browser, WAIT};
use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use crate::onedrive_consent::sign_in;
use crate::provider_drive::{CLIENT_ID, CLIENT_SECRET, endpoints};
use crate::provider_onedrive::{SCOPE, SECRET, client_id};
use crate::standins::drive::Drive;
use crate::standins::google_oauth::GoogleOAuth;
use crate::standins::onedrive::{OneDrive, count};

/// A connected destination of either type, with a folder "Backups" it points at.
struct Connected {
    app: TestApp,
    id: String,
    /// The "Backups" folder's ID.
    folder: String,
    drive: Place,
}

enum Place {
    Google { _google: GoogleOAuth, drive: Drive },
    Microsoft { drive: OneDrive, access: String },
}

impl Connected {
    async fn onedrive(backend: Backend) -> Connected {
        let drive = OneDrive::own().await;
        let client = client_id();
        drive.register(&client, SECRET, "http://127.0.0.1/oauth/callback").await;
        let (refresh, access) = drive.grant(&client, SCOPE).await;
        let folder = drive.add_folder(&access, "Backups").await;
        let (mut settings, data_dir, pg) = crate::helpers::test_settings(backend);
        settings.provider.endpoints.microsoft = drive.clouds();
        let app = crate::helpers::spawn_with(settings, data_dir, pg).await;
        app.setup_admin().await;
        let config = [
            ("folder_id", folder.as_str()),
            ("client_id", client.as_str()),
            ("client_secret", SECRET),
            ("refresh_token", refresh.as_str()),
        ];
        Connected::create(app, "onedrive", &config, folder.clone(), Place::Microsoft { drive, access }).await
    }

    async fn google_drive(backend: Backend) -> Connected {
        let google = GoogleOAuth::start();
        let drive = Drive::start(&google);
        google.register_client(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1/oauth/callback");
        let folder = drive.add_folder("Backups", true, false);
        let (mut settings, data_dir, pg) = crate::helpers::test_settings(backend);
        settings.provider.endpoints = endpoints(&google, drive.api(), drive.upload());
        let app = crate::helpers::spawn_with(settings, data_dir, pg).await;
        app.setup_admin().await;
        let refresh = google.issue_refresh_token(CLIENT_ID);
        let config = [
            ("folder_id", folder.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", refresh.as_str()),
        ];
        Connected::create(app, "google_drive", &config, folder.clone(), Place::Google { _google: google, drive }).await
    }

    async fn create(app: TestApp, kind: &str, config: &[(&str, &str)], folder: String, drive: Place) -> Connected {
        assert_eq!(app.create_destination("Drive", kind, config).await.status, 303);
        let row = app.destination("Drive").await;
        assert_eq!(row.status, "active", "{kind}: {}", row.message);
        Connected { id: row.id, app, folder, drive }
    }

    /// The ID of the folder named `name` in `parent`, as the drive holds it.
    async fn folder_named(&self, parent: &str, name: &str) -> Option<String> {
        match &self.drive {
            Place::Google { drive, .. } => drive.folder_named(parent, name),
            Place::Microsoft { drive, access } => drive.child_id(access, parent, name).await,
        }
    }

    fn folders(&self, query: &str) -> String {
        format!("/destinations/{}/folders{query}", self.id)
    }
}

on_both_backends!(
    the_picker_browses_makes_and_chooses_in_onedrive,
    the_picker_browses_makes_and_chooses_in_google_drive,
    viewers_and_other_workspaces_cannot_browse_a_drive,
);

async fn the_picker_browses_makes_and_chooses_in_onedrive(backend: Backend) {
    picker_story(Connected::onedrive(backend).await).await;
}

async fn the_picker_browses_makes_and_chooses_in_google_drive(backend: Backend) {
    picker_story(Connected::google_drive(backend).await).await;
}

async fn picker_story(c: Connected) {
    let edit = c.app.get(&format!("/destinations/{}/edit", c.id)).await;
    assert!(edit.body.contains("id=\"browse-folders\""), "the connected form offers the picker");
    assert!(edit.body.contains("name=\"config.folder_id\""), "the ID field stays for pasting");

    let at = c.app.get(&c.folders("")).await;
    assert_eq!(at.status, 200);
    assert!(at.body.contains("<strong id=\"picker-current\">Backups</strong>"), "{}", at.body);
    assert!(at.body.contains("No folders in here."));
    assert!(at.body.contains("id=\"picker-up\""), "Backups has a parent");

    let made = c.app.htmx_post(&c.folders(""), &[("folder_parent", &c.folder), ("folder_name", "Nightly")]).await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(made.body.contains(">Nightly</button>"), "{}", made.body);
    let nightly = c.folder_named(&c.folder, "Nightly").await.expect("the drive has the new folder");

    let inside = c.app.get(&c.folders(&format!("?folder={nightly}"))).await;
    assert!(inside.body.contains("<strong id=\"picker-current\">Nightly</strong>"), "{}", inside.body);
    assert!(inside.body.contains(&format!("folders?folder={}\"", c.folder)), "Up leads back to Backups");

    let chosen = c.app.get(&c.folders(&format!("/choose?folder={nightly}"))).await;
    assert_eq!(chosen.status, 200);
    assert!(
        chosen.body.contains(&format!("name=\"config.folder_id\" type=\"text\" value=\"{nightly}\"")),
        "{}",
        chosen.body
    );

    // Hostile input is refused before the drive sees it.
    let bad_name = c.app.htmx_post(&c.folders(""), &[("folder_parent", &c.folder), ("folder_name", "a/b")]).await;
    assert!(bad_name.body.contains("picker-new-name-error"), "{}", bad_name.body);
    assert!(c.folder_named(&c.folder, "a/b").await.is_none());
    let bad_id = c.app.get(&c.folders("?folder=..%2F..%2Fme")).await;
    assert!(bad_id.body.contains("That is not a folder ID."), "{}", bad_id.body);
    let quoted = c.app.get(&c.folders("?folder=x%27%20or%20name%20!%3D%20%27")).await;
    assert!(quoted.body.contains("That is not a folder ID."), "{}", quoted.body);
    assert_eq!(c.app.get(&c.folders("/choose?folder=a%2Fb")).await.status, 400);
}

async fn viewers_and_other_workspaces_cannot_browse_a_drive(backend: Backend) {
    let c = Connected::onedrive(backend).await;
    let Place::Microsoft { drive, .. } = &c.drive else { unreachable!() };
    let refreshes = count(&drive.state().await, "refreshes");
    let viewer = c.app.add_member("Vic", "viewer@example.com", "viewer password 1", "viewer").await;
    assert_eq!(c.app.get_with(&viewer, &c.folders("")).await.status, 403);
    assert_eq!(c.app.get_with(&viewer, &c.folders("/choose?folder=abc")).await.status, 403);
    let made = c.app.post_with(&viewer, &c.folders(""), &[("folder_parent", &c.folder), ("folder_name", "Mine")]).await;
    assert_eq!(made.status, 403);
    let edit = c.app.get_with(&viewer, &format!("/destinations/{}/edit", c.id)).await;
    assert!(!edit.body.contains("browse-folders"));

    // The admin of another workspace (the same person, switched) sees no such destination.
    assert_eq!(c.app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    let other = c.app.get(&c.folders("")).await;
    assert_eq!(other.status, 404);
    assert!(!other.body.contains("Backups"));
    let made = c.app.htmx_post(&c.folders(""), &[("folder_parent", &c.folder), ("folder_name", "Theirs")]).await;
    assert_eq!(made.status, 404);
    assert_eq!(c.app.get(&c.folders("/choose?folder=abc")).await.status, 404);
    assert_eq!(count(&drive.state().await, "refreshes"), refreshes, "the drive was never asked");
    assert!(c.folder_named(&c.folder, "Mine").await.is_none() && c.folder_named(&c.folder, "Theirs").await.is_none());
}

/// The picker as a person uses it, in headless Chromium, for both types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_folder_picker_in_a_real_browser() {
    let webdriver = std::env::var("DEVPILOT_TEST_WEBDRIVER")
        .expect("DEVPILOT_TEST_WEBDRIVER is not set: run scripts/test, which starts chromedriver");
    let chromium = std::env::var("DEVPILOT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    for c in [Connected::onedrive(Backend::Sqlite).await, Connected::google_drive(Backend::Sqlite).await] {
        let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
        let browser = Browser::start(&webdriver, &chromium, profile.path()).await.unwrap_or_else(|e| panic!("{e}"));
        let outcome = pick(&browser, &c).await;
        let finished = browser.finish().await;
        let chosen = outcome.unwrap_or_else(|e| panic!("{e}"));
        finished.unwrap_or_else(|e| panic!("{e}"));
        let nightly = c.folder_named(&c.folder, "Nightly").await.expect("made in the drive");
        assert_eq!(chosen, nightly, "Choose filled in the new folder's ID");
        let row = c.app.destination("Drive").await;
        assert!(row.settings.contains(&nightly), "saved: {}", row.settings);
        assert_eq!(row.status, "active", "{}", row.message);
    }
}

/// Edit → Browse folders → make "Nightly" → into it → Up → into it → Choose → Save; returns the
/// Folder ID field's value after Choose.
async fn pick(b: &Browser, c: &Connected) -> Result<String, String> {
    sign_in(b, &c.app).await?;
    b.goto(&format!("{}/destinations/{}/edit", c.app.address, c.id)).await?;
    let browse = b.wait_for("the Browse folders button", WAIT, || b.find("#browse-folders")).await?;
    b.click(&browse).await?;
    let current = |name: &'static str| async move {
        b.wait_for(&format!("the picker at {name}"), WAIT, || async {
            match b.find("#picker-current").await? {
                Some(el) if b.text(&el).await? == name => Ok(Some(())),
                _ => Ok(None),
            }
        })
        .await
    };
    current("Backups").await?;
    b.type_into("#picker-new-name", "Nightly").await?;
    b.click(&b.must_find("#picker-create").await?).await?;
    let nightly = "//button[contains(@class, 'picker-folder') and normalize-space()='Nightly']";
    b.click(&b.wait_for("the new folder in the list", WAIT, || b.find_xpath(nightly)).await?).await?;
    current("Nightly").await?;
    b.click(&b.must_find("#picker-up").await?).await?;
    current("Backups").await?;
    b.click(&b.wait_for("the folder again", WAIT, || b.find_xpath(nightly)).await?).await?;
    current("Nightly").await?;
    let before = b.attr(&b.must_find("#f-folder_id").await?, "value").await?.unwrap_or_default();
    b.click(&b.must_find("#picker-choose").await?).await?;
    let chosen = b
        .wait_for("the Folder ID field filled in", WAIT, || async {
            let value = b.execute("return document.getElementById('f-folder_id').value", serde_json::json!([])).await?;
            Ok(value.as_str().filter(|v| *v != before).map(str::to_owned))
        })
        .await?;
    b.click(&b.must_find("button.btn.primary[type=submit]").await?).await?;
    b.wait_for("the destinations list", WAIT, || async {
        Ok(b.current_url().await?.ends_with("/destinations").then_some(()))
    })
    .await?;
    Ok(chosen)
}
