//! `POST /{id}/oauth`: Google's consent URL for a Google Drive destination (422 for any other
//! type or without an OAuth client). The consent is bound to the API's user: it completes in
//! that user's signed-in browser, and another member's browser is refused.

use super::{BASE, create_local, id_of};
use crate::api_client::{admin, assert_error};
use crate::helpers::{Backend, TestApp, new_client};
use crate::on_both_backends;
use crate::provider_drive::{CLIENT_ID, CLIENT_SECRET, endpoints};
use crate::standins::drive::Drive;
use crate::standins::google_oauth::GoogleOAuth;
use serde_json::json;

on_both_backends!(drive_gets_a_consent_url_others_422, the_consent_completes_only_for_the_same_user);

async fn drive_app(backend: Backend) -> (TestApp, GoogleOAuth, Drive, String) {
    let google = GoogleOAuth::start();
    let drive = Drive::start(&google);
    let folder = drive.add_folder("Backups", true, false);
    let (mut settings, data_dir, pg) = crate::helpers::test_settings(backend);
    settings.provider.endpoints = endpoints(&google, drive.api(), drive.upload());
    let app = crate::helpers::spawn_with(settings, data_dir, pg).await;
    google.register_client(CLIENT_ID, CLIENT_SECRET, &format!("{}/oauth/callback", app.address));
    app.setup_admin().await;
    (app, google, drive, folder)
}

async fn create_drive(app: &TestApp, folder: &str, with_client: bool) -> String {
    // Without an OAuth client, only an access token makes a valid config.
    let config = if with_client {
        json!({"folder_id": folder, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    } else {
        json!({"folder_id": folder, "access_token": "ya29.expired"})
    };
    let name = if with_client { "Team Drive" } else { "No client" };
    let created =
        admin(app).await.post(BASE, json!({"name": name, "destinationType": "google_drive", "config": config})).await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.json["data"]["status"], "failed", "not connected, or an unknown token");
    id_of(&created.json["data"])
}

async fn drive_gets_a_consent_url_others_422(backend: Backend) {
    let (app, google, _drive, folder) = drive_app(backend).await;
    let api = admin(&app).await;
    let id = create_drive(&app, &folder, true).await;
    let started = api.post(&format!("{BASE}/{id}/oauth"), json!({})).await;
    assert_eq!(started.status, 200, "{started:?}");
    let url = started.json["authorization_url"].as_str().expect("authorization_url");
    assert!(url.starts_with(&format!("{}?", google.authorize_url())), "{url}");
    let query: std::collections::HashMap<String, String> =
        url::Url::parse(url).expect("url").query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], format!("{}/oauth/callback", app.address));
    assert!(!url.contains(CLIENT_SECRET));

    let no_client = create_drive(&app, &folder, false).await;
    let refused = api.post(&format!("{BASE}/{no_client}/oauth"), json!({})).await;
    assert_error(&refused, 422, "OAuth client ID and secret");
    let dir = tempfile::tempdir().expect("dir");
    let local = id_of(&create_local(&api, "Disk", dir.path()).await);
    let refused = api.post(&format!("{BASE}/{local}/oauth"), json!({})).await;
    assert_error(&refused, 422, "Only Google Drive");
    assert!(refused.json["fields"]["destinationType"].is_string());
}

async fn the_consent_completes_only_for_the_same_user(backend: Backend) {
    let (app, google, _drive, folder) = drive_app(backend).await;
    let api = admin(&app).await;
    let id = create_drive(&app, &folder, true).await;

    // Another admin's browser cannot complete the admin's consent.
    app.add_member("Bo", "bo@example.com", "bo password 12", "admin").await;
    let bo = new_client();
    assert_eq!(
        app.post_with(&bo, "/login", &[("email", "bo@example.com"), ("password", "bo password 12")]).await.status,
        303
    );
    let url =
        api.post(&format!("{BASE}/{id}/oauth"), json!({})).await.json["authorization_url"].as_str().map(str::to_owned);
    let callback = google.consent(&url.expect("a URL")).await;
    let path = callback.trim_start_matches(&app.address).to_owned();
    let refused = app.get_with(&bo, &path).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(api.get(&format!("{BASE}/{id}")).await.json["data"]["status"], "failed");

    // The admin's own browser completes a new one: the refresh token is stored, the test passes.
    let url =
        api.post(&format!("{BASE}/{id}/oauth"), json!({})).await.json["authorization_url"].as_str().map(str::to_owned);
    let callback = google.consent(&url.expect("a URL")).await;
    let back = app.get(callback.trim_start_matches(&app.address)).await;
    assert_eq!((back.status, back.location.as_deref()), (303, Some("/destinations")), "{}", back.body);
    let shown = api.get(&format!("{BASE}/{id}")).await.json["data"].clone();
    assert_eq!(shown["status"], "active", "{shown}");
    assert_eq!(shown["credentials"]["refresh_token"], super::REDACTED);
    // A used consent does not work twice.
    assert_eq!(app.get(callback.trim_start_matches(&app.address)).await.status, 400);
}

/// Spec 001's initiate endpoint for OneDrive: Microsoft's consent URL for the tenant, with PKCE
/// and the least scope; the callback in the same user's browser connects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onedrive_gets_microsofts_consent_url() {
    let f = crate::onedrive_consent::flow(Backend::Sqlite, &[]).await;
    let started = admin(&f.app).await.post(&format!("{BASE}/{}/oauth", f.id), json!({})).await;
    assert_eq!(started.status, 200, "{started:?}");
    let url = started.json["authorization_url"].as_str().expect("authorization_url");
    assert!(url.starts_with(&format!("{}/contoso.onmicrosoft.com/oauth2/v2.0/authorize?", f.drive.endpoint)), "{url}");
    let query: std::collections::HashMap<String, String> =
        url::Url::parse(url).expect("url").query_pairs().into_owned().collect();
    assert_eq!(query["scope"], "offline_access Files.ReadWrite");
    assert_eq!(query["code_challenge_method"], "S256");
    let callback = f.drive.consent(url).await;
    let back = f.app.get(callback.trim_start_matches(&f.app.address)).await;
    assert_eq!(back.status, 303, "{}", back.body);
    assert_eq!(f.app.destination("Office").await.status, "active");
}
