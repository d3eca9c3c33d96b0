//! SFTP in the conformance suite, against a real OpenSSH sshd on loopback (password, ed25519,
//! RSA with a passphrase in OpenSSH and PEM format, ECDSA; wrong password and passphrase, a
//! missing and a read-only directory, a closed port), then host-key pinning: a second sshd with
//! another host key stands in for a reinstalled server.

use crate::conformance::{self, Fields, Fixture, fields};
use crate::helpers::{Backend, Page, TestApp, new_client, spawn_app};
use crate::on_both_backends;
use bytes::Bytes;
use devpilot::providers::ProviderKind;
use futures::StreamExt;
use std::path::Path;

/// The sshd that `scripts/test-servers.sh` starts (`DEVPILOT_TEST_SFTP`: the JSON itself or a
/// file holding it). Keys are file paths or the keys themselves.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Sftp {
    pub host: String,
    pub port: u16,
    pub alt_port: u16,
    pub username: String,
    pub password: String,
    pub directory: String,
    pub readonly_directory: String,
    pub ed25519_key: String,
    pub rsa_key: String,
    pub rsa_pem_key: String,
    pub rsa_passphrase: String,
    pub ecdsa_key: String,
    pub host_key_fingerprint: String,
    pub alt_host_key_fingerprint: String,
}

pub fn sftp() -> Sftp {
    let value = std::env::var("DEVPILOT_TEST_SFTP").expect("DEVPILOT_TEST_SFTP: run the tests with scripts/test");
    let text = if value.trim_start().starts_with('{') {
        value
    } else {
        std::fs::read_to_string(&value).unwrap_or_else(|e| panic!("{value}: {e}"))
    };
    serde_json::from_str(&text).expect("DEVPILOT_TEST_SFTP is the sshd's JSON")
}

impl Sftp {
    pub fn key(&self, key: &str) -> String {
        if key.starts_with("-----BEGIN") {
            key.to_owned()
        } else {
            std::fs::read_to_string(key).unwrap_or_else(|e| panic!("{key}: {e}"))
        }
    }

    pub fn port(&self) -> String {
        self.port.to_string()
    }

    /// A working destination that logs in with the password.
    pub fn password_fields(&self) -> Fields {
        fields(&[
            ("host", &self.host),
            ("port", &self.port()),
            ("directory", &self.directory),
            ("username", &self.username),
            ("password", &self.password),
        ])
    }

    /// A destination that logs in with a key (and passphrase, if any).
    pub fn key_fields(&self, key: &str, passphrase: &str) -> Fields {
        let key = self.key(key);
        fields(&[
            ("host", &self.host),
            ("port", &self.port()),
            ("directory", &self.directory),
            ("username", &self.username),
            ("private_key", &key),
            ("passphrase", passphrase),
        ])
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }
}

fn closed_port() -> String {
    crate::helpers::refused_port().to_string()
}

pub fn fixture() -> Fixture {
    let s = sftp();
    let mut f = Fixture::new(ProviderKind::Sftp, s.password_fields());
    let wrong_password = f.good_with(&[("password", "not-the-password")]);
    let wrong_passphrase = s.key_fields(&s.rsa_key, "not-the-passphrase");
    let missing = f.good_with(&[("directory", &format!("{}/missing-{}", s.directory, uuid::Uuid::new_v4()))]);
    let read_only = f.good_with(&[("directory", &s.readonly_directory)]);
    let unreachable = f.good_with(&[("port", &closed_port())]);
    f = f
        .bad("Wrong password", wrong_password, "Authentication failed: the server refused the password")
        .bad("Wrong passphrase", wrong_passphrase, "wrong passphrase")
        .bad("Missing directory", missing, "SSH_FX_NO_SUCH_FILE")
        .bad("Read-only directory", read_only, "SSH_FX_PERMISSION_DENIED: Permission denied")
        .bad("Unreachable", unreachable, "Could not connect to 127.0.0.1:");
    f
}

on_both_backends!(sftp_conformance, sftp_key_logins_are_active, sftp_failures_name_their_step, sftp_host_key_is_pinned);

async fn sftp_conformance(backend: Backend) {
    conformance::ui_cases(&fixture(), backend).await;
}

async fn sftp_key_logins_are_active(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let s = sftp();
    for (name, fields) in [
        ("ed25519", s.key_fields(&s.ed25519_key, "")),
        ("RSA (OpenSSH, passphrase)", s.key_fields(&s.rsa_key, &s.rsa_passphrase)),
        ("RSA (PEM, passphrase)", s.key_fields(&s.rsa_pem_key, &s.rsa_passphrase)),
        ("ECDSA", s.key_fields(&s.ecdsa_key, "")),
    ] {
        let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(app.create_destination(name, "sftp", &form).await.status, 303, "{name}");
        let row = app.destination(name).await;
        assert_eq!(row.status, "active", "{name}: {}", row.message);
    }
}

/// Posts "Test credentials" for SFTP fields and returns the staged result.
async fn test_credentials(app: &TestApp, fields: &Fields) -> Page {
    let mut form: Vec<(String, String)> = vec![("type".into(), "sftp".into())];
    form.extend(fields.iter().map(|(k, v)| (format!("config.{k}"), v.clone())));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    app.htmx_post("/destinations/test-credentials", &pairs).await
}

async fn sftp_failures_name_their_step(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let f = fixture();
    let s = sftp();
    let not_ssh = not_ssh_server().await;
    let cases = [
        (f.good_with(&[("port", &closed_port())]), "✗ connect", "✓ resolve"),
        (f.good_with(&[("port", &not_ssh)]), "✗ handshake", "✓ connect"),
        (f.good_with(&[("password", "wrong")]), "✗ authenticate", "✓ handshake"),
        (s.key_fields(&s.rsa_pem_key, "wrong"), "✗ authenticate", "wrong passphrase"),
        (s.key_fields(&s.rsa_key, ""), "✗ authenticate", "enter its passphrase"),
        (f.good_with(&[("directory", "/no/such/dir")]), "✗ find bucket/folder", "✓ authenticate"),
        (f.good_with(&[("directory", &s.readonly_directory)]), "✗ write probe", "✓ list"),
    ];
    for (fields, failed, also) in cases {
        let page = test_credentials(&app, &fields).await;
        assert!(page.body.contains("Test failed.") && page.body.contains(failed), "{failed}: {}", page.body);
        assert!(page.body.contains(also), "{also}: {}", page.body);
    }
    // A hint for the common ones.
    let page = test_credentials(&app, &f.good_with(&[("directory", &s.readonly_directory)])).await;
    assert!(page.body.contains("Hint: The SSH user needs permission"), "{}", page.body);
    let good = test_credentials(&app, &f.good).await;
    assert!(good.body.contains("Connection OK.") && good.body.contains("✓ write probe"), "{}", good.body);
    assert!(app.destination_rows().await.is_empty(), "test credentials stores nothing");
}

/// A loopback port that answers like a web server, not an SSH server; returns the port.
async fn not_ssh_server() -> String {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
        }
    });
    port.to_string()
}

pub async fn host_key_of(app: &TestApp, name: &str) -> Option<String> {
    let name = name.to_owned();
    app.db()
        .run(move |c| {
            use devpilot::db::schema::destinations::dsl;
            use diesel::prelude::*;
            dsl::destinations.filter(dsl::name.eq(name)).select(dsl::host_key_fingerprint).first(c)
        })
        .await
        .expect("host key column")
}

/// Signs a viewer in on a new client.
pub async fn viewer(app: &TestApp) -> reqwest::Client {
    app.add_member("Vic Viewer", "viewer@example.com", "viewer password 1", "viewer").await;
    let client = new_client();
    let login =
        app.post_with(&client, "/login", &[("email", "viewer@example.com"), ("password", "viewer password 1")]).await;
    assert_eq!(login.location.as_deref(), Some("/overview"));
    client
}

async fn sftp_host_key_is_pinned(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let s = sftp();
    let good = s.password_fields();
    let form: Vec<(&str, &str)> = good.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(app.create_destination("Pinned", "sftp", &form).await.status, 303);
    assert_eq!(app.destination("Pinned").await.status, "active");
    assert_eq!(host_key_of(&app, "Pinned").await.as_deref(), Some(s.host_key_fingerprint.as_str()), "first test pins");
    let id = app.destination("Pinned").await.id;
    assert!(app.get("/destinations").await.body.contains(&s.host_key_fingerprint), "the list shows the key");
    assert!(app.get(&format!("/destinations/{id}/edit")).await.body.contains(&s.host_key_fingerprint));

    // The server now answers with another host key (same user, another sshd): refused.
    let alt = s.alt_port.to_string();
    let edit = [
        ("name", "Pinned"),
        ("type", "sftp"),
        ("config.host", s.host.as_str()),
        ("config.port", alt.as_str()),
        ("config.directory", s.directory.as_str()),
        ("config.username", s.username.as_str()),
    ];
    assert_eq!(app.post(&format!("/destinations/{id}"), &edit).await.status, 303);
    let row = app.destination("Pinned").await;
    assert_eq!(row.status, "failed");
    let expected = format!("host key changed: expected {}, got {}", s.host_key_fingerprint, s.alt_host_key_fingerprint);
    assert!(row.message.contains(&expected), "{}", row.message);
    let list = app.get("/destinations").await;
    assert!(list.body.contains("Accept new host key") && list.body.contains("someone may be intercepting"));
    assert_eq!(host_key_of(&app, "Pinned").await.as_deref(), Some(s.host_key_fingerprint.as_str()), "still pinned");

    // Viewers cannot accept; a request without the CSRF token is refused.
    let viewer = viewer(&app).await;
    assert_eq!(app.get_with(&viewer, &format!("/destinations/{id}/host-key")).await.status, 403);
    let by_viewer = app
        .post_with(&viewer, &format!("/destinations/{id}/host-key"), &[("fingerprint", &s.alt_host_key_fingerprint)])
        .await;
    assert_eq!(by_viewer.status, 403);
    let forged = app
        .client
        .post(app.url(&format!("/destinations/{id}/host-key")))
        .form(&[("fingerprint", &s.alt_host_key_fingerprint)])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status().as_u16(), 403);

    // The confirmation page shows the presented key; a key the server does not present is refused.
    let confirm = app.get(&format!("/destinations/{id}/host-key")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains(&s.alt_host_key_fingerprint) && confirm.body.contains(&s.host_key_fingerprint));
    let wrong = app.post(&format!("/destinations/{id}/host-key"), &[("fingerprint", &s.host_key_fingerprint)]).await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert_eq!(app.destination("Pinned").await.status, "failed");

    let accepted =
        app.post(&format!("/destinations/{id}/host-key"), &[("fingerprint", &s.alt_host_key_fingerprint)]).await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(app.destination("Pinned").await.status, "active");
    assert_eq!(host_key_of(&app, "Pinned").await.as_deref(), Some(s.alt_host_key_fingerprint.as_str()));
}

#[tokio::test]
async fn sftp_round_trip() {
    let f = fixture();
    conformance::round_trip(&f).await;
    // The round trip's keys are under run<uuid>/ (other tests upload elsewhere meanwhile).
    let partials =
        files_under(Path::new(&sftp().directory)).into_iter().filter(|p| p.contains("/run") && p.contains(".partial-"));
    assert_eq!(partials.count(), 0, "no partial uploads are left behind");
}

/// Every file below a folder of the (local) sshd, as paths.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            } else {
                found.push(entry.path().to_string_lossy().into_owned());
            }
        }
    }
    found
}

#[tokio::test]
async fn sftp_failed_upload_leaves_no_partial_file() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("dir");
    let p = conformance::provider(&f, &f.good, dir.path());
    let run = format!("broken{}", uuid::Uuid::new_v4().simple());
    let body = futures::stream::iter(vec![
        Ok(Bytes::from(vec![7u8; 3 * 1024 * 1024])),
        Err(std::io::Error::other("source went away")),
    ])
    .boxed();
    let err = p.put(&format!("{run}/a.bin"), body).await.expect_err("a broken source fails the upload");
    assert!(err.to_string().contains("source went away"), "{err}");
    let left = files_under(&Path::new(&sftp().directory).join(&run));
    assert!(left.is_empty(), "nothing is left on the server: {left:?}");
    assert!(p.list(&run).await.expect("list").is_empty());
}
