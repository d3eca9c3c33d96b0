//! Managed servers against the real sshd: an SFTP destination that uses a server connects with
//! the server's login as it is now (an edit applies at once, no sync), the host key is pinned on
//! the server, a server in use cannot be deleted, and the usual rules hold: workspaces are
//! isolated, viewers only look, secrets never come back.

use crate::helpers::{Backend, Page, TestApp, captured_logs, spawn_app};
use crate::on_both_backends;
use crate::provider_sftp::{Sftp, host_key_of, sftp, viewer};
use devpilot::crypto::{CredentialCipher, MasterKey};
use devpilot::servers::service::associated_data;

on_both_backends!(
    a_destination_follows_its_server,
    the_host_key_is_pinned_on_the_server,
    a_server_in_use_cannot_be_deleted,
    another_workspace_is_not_found,
    viewers_cannot_change_servers,
    server_forms_report_each_bad_field,
    server_secrets_never_come_back
);

#[derive(Debug, Clone)]
struct ServerRow {
    id: String,
    workspace_id: String,
    name: String,
    host: String,
    username: String,
    credentials: Vec<u8>,
    host_key: Option<String>,
}

async fn server_rows(app: &TestApp) -> Vec<ServerRow> {
    app.db()
        .run(|c| {
            use devpilot::db::schema::servers::dsl::*;
            use diesel::prelude::*;
            servers
                .order(created_at.asc())
                .select((id, workspace_id, name, host, username, credentials, host_key_fingerprint))
                .load::<(String, String, String, String, String, Vec<u8>, Option<String>)>(c)
        })
        .await
        .expect("query servers")
        .into_iter()
        .map(|(id, workspace_id, name, host, username, credentials, host_key)| ServerRow {
            id,
            workspace_id,
            name,
            host,
            username,
            credentials,
            host_key,
        })
        .collect()
}

async fn server(app: &TestApp, name: &str) -> ServerRow {
    server_rows(app).await.into_iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no server {name}"))
}

/// Posts the server form; `config` names fields without the `config.` prefix.
async fn save_server(app: &TestApp, path: &str, name: &str, config: &[(&str, &str)]) -> Page {
    let keys: Vec<String> = config.iter().map(|(k, _)| format!("config.{k}")).collect();
    let mut form: Vec<(&str, &str)> = vec![("name", name)];
    form.extend(keys.iter().zip(config).map(|(k, (_, v))| (k.as_str(), *v)));
    app.post(path, &form).await
}

fn login(s: &Sftp, port: u16, password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("host", s.host.clone()),
        ("port", port.to_string()),
        ("username", s.username.clone()),
        ("password", password.to_owned()),
    ]
}

fn pairs<'a>(fields: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Creates the server "Box" with the sshd's password login and an SFTP destination "Via box"
/// that uses it; returns (server id, destination id).
async fn server_and_destination(app: &TestApp, s: &Sftp) -> (String, String) {
    let created = save_server(app, "/servers", "Box", &pairs(&login(s, s.port, &s.password))).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let server_id = server(app, "Box").await.id;
    let form = [("server_id", server_id.as_str()), ("directory", s.directory.as_str())];
    assert_eq!(app.create_destination("Via box", "sftp", &form).await.status, 303);
    (server_id, app.destination("Via box").await.id)
}

async fn a_destination_follows_its_server(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let s = sftp();
    let (server_id, id) = server_and_destination(&app, &s).await;
    let row = app.destination("Via box").await;
    assert_eq!(row.status, "active", "{}", row.message);
    assert!(!row.settings.contains("\"host\"") && !row.settings.contains("\"username\""), "{}", row.settings);
    assert_eq!(host_key_of(&app, "Via box").await, None, "the host key is pinned on the server, not here");
    let list = app.get("/destinations").await.body;
    assert!(list.contains("(server “Box”)") && list.contains(&s.host_key_fingerprint), "{list}");
    let edit = app.get(&format!("/destinations/{id}/edit")).await.body;
    assert!(edit.contains(&format!("<option value=\"{server_id}\" selected>Box</option>")), "{edit}");
    assert!(!edit.contains("name=\"config.host\""), "the login fields are hidden while a server is chosen");

    // A wrong password on the server: the destination's next test fails, without touching it.
    let wrong = save_server(&app, &format!("/servers/{server_id}"), "Box", &pairs(&login(&s, s.port, "wrong"))).await;
    assert_eq!(wrong.status, 303);
    let tested = app.post(&format!("/destinations/{id}/test"), &[]).await;
    assert_eq!(tested.status, 303);
    let row = app.destination("Via box").await;
    assert_eq!(row.status, "failed");
    assert!(row.message.contains("Authentication failed"), "{}", row.message);

    // Fixed on the server: passes again, still without an edit of the destination.
    let fixed =
        save_server(&app, &format!("/servers/{server_id}"), "Box", &pairs(&login(&s, s.port, &s.password))).await;
    assert_eq!(fixed.status, 303);
    app.post(&format!("/destinations/{id}/test"), &[]).await;
    assert_eq!(app.destination("Via box").await.status, "active");

    // "Test credentials" on the form resolves the server too.
    let form = [("type", "sftp"), ("config.server_id", server_id.as_str()), ("config.directory", s.directory.as_str())];
    let page = app.htmx_post("/destinations/test-credentials", &form).await;
    assert!(page.body.contains("Connection OK."), "{}", page.body);

    // Switching back to a login of its own works and drops the server.
    let own = [
        ("name", "Via box"),
        ("type", "sftp"),
        ("config.host", s.host.as_str()),
        ("config.port", &s.port()),
        ("config.username", s.username.as_str()),
        ("config.password", s.password.as_str()),
        ("config.directory", s.directory.as_str()),
    ];
    assert_eq!(app.post(&format!("/destinations/{id}"), &own).await.status, 303);
    assert_eq!(app.destination("Via box").await.status, "active");
    assert!(!app.get("/destinations").await.body.contains("(server “Box”)"));
    assert_eq!(host_key_of(&app, "Via box").await.as_deref(), Some(s.host_key_fingerprint.as_str()), "pinned here now");
}

async fn the_host_key_is_pinned_on_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let s = sftp();
    let (server_id, id) = server_and_destination(&app, &s).await;
    assert_eq!(server(&app, "Box").await.host_key.as_deref(), Some(s.host_key_fingerprint.as_str()));
    assert!(app.get("/servers").await.body.contains(&s.host_key_fingerprint));

    // The server moves to a host with another key: the server's own test and the destination's fail.
    let moved = save_server(&app, &format!("/servers/{server_id}"), "Box", &pairs(&login(&s, s.alt_port, ""))).await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    app.post(&format!("/destinations/{id}/test"), &[]).await;
    let row = app.destination("Via box").await;
    let expected = format!("host key changed: expected {}, got {}", s.host_key_fingerprint, s.alt_host_key_fingerprint);
    assert!(row.status == "failed" && row.message.contains(&expected), "{}", row.message);

    // Accepted from the destination: pinned on the server, so every destination that uses it passes.
    let confirm = app.get(&format!("/destinations/{id}/host-key")).await;
    assert!(confirm.body.contains(&s.alt_host_key_fingerprint), "{}", confirm.body);
    let accepted =
        app.post(&format!("/destinations/{id}/host-key"), &[("fingerprint", &s.alt_host_key_fingerprint)]).await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(app.destination("Via box").await.status, "active");
    assert_eq!(server(&app, "Box").await.host_key.as_deref(), Some(s.alt_host_key_fingerprint.as_str()));

    // And back, accepted from the Servers page this time.
    save_server(&app, &format!("/servers/{server_id}"), "Box", &pairs(&login(&s, s.port, ""))).await;
    let test = app.post(&format!("/servers/{server_id}/test"), &[]).await;
    assert_eq!(test.status, 303);
    assert!(app.get("/servers").await.body.contains("host key changed"));
    let confirm = app.get(&format!("/servers/{server_id}/host-key")).await;
    assert!(confirm.body.contains(&s.host_key_fingerprint), "{}", confirm.body);
    let accepted =
        app.post(&format!("/servers/{server_id}/host-key"), &[("fingerprint", &s.host_key_fingerprint)]).await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(server(&app, "Box").await.host_key.as_deref(), Some(s.host_key_fingerprint.as_str()));
}

async fn a_server_in_use_cannot_be_deleted(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let s = sftp();
    let (server_id, id) = server_and_destination(&app, &s).await;
    let confirm = app.get(&format!("/servers/{server_id}/delete")).await;
    assert!(confirm.body.contains("cannot be deleted") && confirm.body.contains("Via box"), "{}", confirm.body);
    let refused = app.post(&format!("/servers/{server_id}/delete"), &[]).await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains("Via box"));
    assert_eq!(server_rows(&app).await.len(), 1);

    assert_eq!(app.post(&format!("/destinations/{id}/delete"), &[]).await.status, 303);
    let deleted = app.post(&format!("/servers/{server_id}/delete"), &[]).await;
    assert_eq!(deleted.status, 303);
    assert!(server_rows(&app).await.is_empty());
}

async fn another_workspace_is_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let s = sftp();
    let created = save_server(&app, "/servers", "Ours", &pairs(&login(&s, s.port, &s.password))).await;
    assert_eq!(created.status, 303);
    let ours = server(&app, "Ours").await;

    assert_eq!(app.post("/workspaces", &[("workspace", "Other")]).await.status, 303);
    let id = ours.id.clone();
    for path in [format!("/servers/{id}/edit"), format!("/servers/{id}/delete"), format!("/servers/{id}/host-key")] {
        assert_eq!(app.get(&path).await.status, 404, "{path}");
    }
    for path in [format!("/servers/{id}/test"), format!("/servers/{id}/delete"), format!("/servers/{id}/host-key")] {
        let page = app.post(&path, &[("fingerprint", "SHA256:x")]).await;
        assert_eq!(page.status, 404, "{path}");
        assert!(!page.body.contains("Ours"));
    }
    let update = save_server(&app, &format!("/servers/{id}"), "Stolen", &pairs(&login(&s, s.port, "x"))).await;
    assert_eq!(update.status, 404);
    assert!(!app.get("/servers").await.body.contains("Ours"));

    // A destination here cannot use the other workspace's server.
    let form = [("server_id", id.as_str()), ("directory", s.directory.as_str())];
    let refused = app.create_destination("Borrowed", "sftp", &form).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("not one of this workspace"), "{}", refused.body);
    assert!(app.destination_rows().await.is_empty());

    let after = server(&app, "Ours").await;
    assert_eq!((after.name, after.workspace_id), (ours.name, ours.workspace_id));
}

async fn viewers_cannot_change_servers(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let s = sftp();
    let created = save_server(&app, "/servers", "Box", &pairs(&login(&s, s.port, &s.password))).await;
    assert_eq!(created.status, 303);
    let id = server(&app, "Box").await.id;
    let viewer = viewer(&app).await;
    let list = app.get_with(&viewer, "/servers").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Box") && list.body.contains("View only") && !list.body.contains("New server"));
    for path in ["/servers/new".to_owned(), format!("/servers/{id}/edit"), format!("/servers/{id}/host-key")] {
        assert_eq!(app.get_with(&viewer, &path).await.status, 403, "{path}");
    }
    for (path, form) in [
        ("/servers".to_owned(), vec![("name", "Mine"), ("config.host", "h"), ("config.username", "u")]),
        (format!("/servers/{id}"), vec![("name", "Renamed")]),
        (format!("/servers/{id}/test"), vec![]),
        (format!("/servers/{id}/host-key"), vec![("fingerprint", "SHA256:x")]),
        (format!("/servers/{id}/delete"), vec![]),
    ] {
        assert_eq!(app.post_with(&viewer, &path, &form).await.status, 403, "{path}");
    }
    let rows = server_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name, "Box");
}

async fn server_forms_report_each_bad_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let bad = save_server(&app, "/servers", "", &[("port", "99999"), ("private_key", "not a key")]).await;
    assert_eq!(bad.status, 422);
    for id in ["f-name-error", "f-host-error", "f-port-error", "f-username-error", "f-private_key-error"] {
        assert!(bad.body.contains(id), "{id}: {}", bad.body);
    }
    let s = sftp();
    assert_eq!(save_server(&app, "/servers", "Box", &pairs(&login(&s, s.port, &s.password))).await.status, 303);
    let duplicate = save_server(&app, "/servers", "box", &pairs(&login(&s, s.port, &s.password))).await;
    assert_eq!(duplicate.status, 422);
    assert!(duplicate.body.contains("already exists"));
    assert_eq!(server_rows(&app).await.len(), 1);
    // Without a server, an SFTP destination needs its own login.
    let missing = app.create_destination("No login", "sftp", &[("directory", "/srv")]).await;
    assert_eq!(missing.status, 422);
    assert!(missing.body.contains("or choose a managed server"), "{}", missing.body);
}

async fn server_secrets_never_come_back(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let s = sftp();
    let password = format!("srvpw{}", uuid::Uuid::new_v4().simple());
    let passphrase = format!("srvpass{}", uuid::Uuid::new_v4().simple());
    let key_body = format!("srvkey{}", uuid::Uuid::new_v4().simple());
    let key = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{key_body}\n-----END OPENSSH PRIVATE KEY-----");
    let config = [
        ("host", s.host.as_str()),
        ("port", "2"),
        ("username", s.username.as_str()),
        ("password", password.as_str()),
        ("private_key", key.as_str()),
        ("passphrase", passphrase.as_str()),
    ];
    let secrets = [password.as_str(), passphrase.as_str(), key_body.as_str()];
    let leaks = |text: &str| secrets.iter().filter(|x| text.contains(**x)).count();

    let mut bodies = vec![save_server(&app, "/servers", "Box", &config).await.body];
    bodies.push(save_server(&app, "/servers", "", &config).await.body); // a failed save shows the form again
    let id = server(&app, "Box").await.id;
    let form = [("server_id", id.as_str()), ("directory", s.directory.as_str())];
    assert_eq!(app.create_destination("Via box", "sftp", &form).await.status, 303);
    let dest = app.destination("Via box").await;
    for path in ["/servers".to_owned(), format!("/servers/{id}/edit"), format!("/servers/{id}/delete")] {
        bodies.push(app.get(&path).await.body);
    }
    bodies.push(app.get("/destinations").await.body);
    bodies.push(app.get(&format!("/destinations/{}/edit", dest.id)).await.body);
    bodies.push(app.htmx_post(&format!("/destinations/{}/test", dest.id), &[]).await.body);
    for body in &bodies {
        assert_eq!(leaks(body), 0, "a server secret appeared in a page");
    }
    assert!(bodies.iter().any(|b| b.contains("A value is stored")), "the edit form says secrets are stored");
    assert_eq!(leaks(&captured_logs()), 0, "a server secret appeared in the logs");

    // Plaintext columns hold none; the ciphertext opens only as this server's.
    let row = server(&app, "Box").await;
    for column in [&row.name, &row.host, &row.username, &dest.settings, &dest.message] {
        assert_eq!(leaks(column), 0);
    }
    assert_eq!(leaks(&String::from_utf8_lossy(&row.credentials)), 0);
    let cipher = CredentialCipher::new(MasterKey::from_base64(&app.master_key).expect("key"));
    let plain = cipher.open(&row.credentials, &associated_data(&row.workspace_id, &row.id)).expect("opens");
    assert_eq!(leaks(&String::from_utf8_lossy(&plain)), 3, "all three are sealed there");
    let as_destination = devpilot::destinations::service::associated_data(&row.workspace_id, &row.id);
    assert!(cipher.open(&row.credentials, &as_destination).is_err(), "not interchangeable with a destination's");
    let dest_plain = cipher
        .open(&dest.credentials, &devpilot::destinations::service::associated_data(&dest.workspace_id, &dest.id))
        .expect("opens");
    assert_eq!(String::from_utf8_lossy(&dest_plain), "{}", "the destination keeps no copy of the login");
}
