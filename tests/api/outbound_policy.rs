//! The outbound address policy: link-local and cloud metadata addresses are refused whatever
//! form they take (a literal, an IPv4-mapped IPv6 address, a number the url crate or the
//! resolver reads as one, a name that resolves there, a redirect hop), loopback unless the
//! server allows it. A refusal is a message next to the field (a field error in the JSON API),
//! or the test's result for what only shows when connecting; never a 500, never stored.

use crate::api_client::admin;
use crate::helpers::{Backend, Page, moto, spawn_app, spawn_with, test_settings};
use crate::on_both_backends;
use crate::provider_azure::azurite;
use crate::provider_s3::moto_open;
use crate::provider_sftp::sftp;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(
    metadata_addresses_are_refused_next_to_the_field,
    loopback_is_refused_unless_the_server_allows_it,
    every_redirect_hop_is_checked
);

const METADATA: &str = "169.254.169.254 is a link-local (cloud metadata) address; Devpilot never connects there.";
const NEVER: &str = "Devpilot never connects there.";
const LOOPBACK_RULE: &str =
    "this server allows destinations there only with DEVPILOT_ALLOW_LOOPBACK_DESTINATIONS=true.";

/// The message shown next to `field` on a form page.
fn field_error(page: &Page, field: &str) -> String {
    let marker = format!("id=\"f-{field}-error\">");
    let at = page.body.find(&marker).unwrap_or_else(|| panic!("no error next to {field}: {}", page.body));
    let rest = &page.body[at + marker.len()..];
    rest[..rest.find("</div>").unwrap_or(rest.len())].to_owned()
}

fn s3(endpoint: &str) -> Vec<(&str, &str)> {
    vec![
        ("provider", "custom"),
        ("endpoint", endpoint),
        ("bucket", "backups"),
        ("path_style", "true"),
        ("access_key_id", "AKIA1234"),
        ("secret_access_key", "secret"),
    ]
}

fn sftp_login(host: &str) -> Vec<(&str, &str)> {
    vec![("host", host), ("directory", "/srv/backups"), ("username", "deploy"), ("password", "pw")]
}

/// Refused on create, on "Test credentials" and in the JSON API, whatever the spelling.
async fn metadata_addresses_are_refused_next_to_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;

    let page = app.create_destination("Metadata", "s3", &s3("http://169.254.169.254")).await;
    assert_eq!(page.status, 422);
    assert_eq!(field_error(&page, "endpoint"), METADATA);
    for endpoint in [
        "http://[::ffff:169.254.169.254]:9000",
        "http://[::ffff:a9fe:a9fe]",
        "http://0xa9fea9fe",
        "http://2852039166/",
        "http://169.254.1.1:8080",
        "http://[fe80::1]",
        "http://[fd00:ec2::254]",
    ] {
        let page = app.create_destination("Metadata", "s3", &s3(endpoint)).await;
        assert_eq!(page.status, 422, "{endpoint}");
        assert!(field_error(&page, "endpoint").ends_with(NEVER), "{endpoint}: {}", field_error(&page, "endpoint"));
    }
    let azure = [("account_name", "acct1"), ("container", "backups"), ("account_key", "c2VjcmV0")];
    let mut config = azure.to_vec();
    config.push(("endpoint", "http://169.254.169.254/acct1"));
    let page = app.create_destination("Metadata", "azure_blob", &config).await;
    assert_eq!((page.status, field_error(&page, "endpoint")), (422, METADATA.to_owned()));

    // SFTP hosts are judged after the lookup: glibc reads "2852039166" as 169.254.169.254.
    let page = app.create_destination("Metadata", "sftp", &sftp_login("169.254.169.254")).await;
    assert_eq!((page.status, field_error(&page, "host")), (422, METADATA.to_owned()));
    let page = app.create_destination("Metadata", "sftp", &sftp_login("2852039166")).await;
    assert_eq!(page.status, 422);
    assert_eq!(
        field_error(&page, "host"),
        "2852039166 resolves to 169.254.169.254, a link-local (cloud metadata) address; Devpilot never connects there."
    );
    let server = [
        ("name", "Metadata box"),
        ("config.host", "169.254.169.254"),
        ("config.username", "u"),
        ("config.password", "pw"),
    ];
    let page = app.post("/servers", &server).await;
    assert_eq!((page.status, field_error(&page, "host")), (422, METADATA.to_owned()));

    // "Test credentials" shows it next to the field too (the form body comes back with it).
    let mut form = vec![("type", "s3")];
    let keys: Vec<(String, &str)> =
        s3("http://169.254.169.254").into_iter().map(|(k, v)| (format!("config.{k}"), v)).collect();
    form.extend(keys.iter().map(|(k, v)| (k.as_str(), *v)));
    let tested = app.htmx_post("/destinations/test-credentials", &form).await;
    assert_eq!((tested.status, field_error(&tested, "endpoint")), (422, METADATA.to_owned()));

    // The JSON API: a field error under the body's name for it.
    let api = admin(&app).await;
    let body = json!({"name": "Metadata", "destinationType": "s3", "config": {"provider": "custom",
        "endpoint": "http://169.254.169.254", "bucket": "backups", "access_key_id": "AKIA1234",
        "secret_access_key": "secret"}});
    for path in ["/api/v1/backup-destinations", "/api/v1/backup-destinations/test"] {
        let reply = api.post(path, body.clone()).await;
        assert_eq!(reply.status, 422, "{path}: {reply:?}");
        assert_eq!(reply.json["fields"]["config.endpoint"], METADATA, "{path}: {reply:?}");
    }

    assert!(app.destination_rows().await.is_empty(), "nothing was stored");
    assert!(!app.get("/servers").await.body.contains("Metadata box"), "no server was stored");
}

/// With loopback refused: typed addresses and names that resolve there are refused on save, and
/// a destination saved where loopback was allowed fails its test here (the connection checks).
async fn loopback_is_refused_unless_the_server_allows_it(backend: Backend) {
    let (allowing, data_dir, pg) = test_settings(backend);
    let mut refusing = allowing.clone();
    refusing.provider.outbound.allow_loopback = false;
    let refusing_dir = tempfile::tempdir().expect("dir");
    refusing.data_dir = refusing_dir.path().to_path_buf();
    let first = spawn_with(allowing, data_dir, pg).await;
    first.setup_admin().await;
    let m = moto();
    let s = sftp();
    let s3_fields = m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket);
    assert_eq!(first.create_destination("Moto", "s3", &s3_fields).await.status, 303);
    let port = s.port();
    let sftp_fields = [
        ("host", s.host.as_str()),
        ("port", port.as_str()),
        ("directory", s.directory.as_str()),
        ("username", s.username.as_str()),
        ("password", s.password.as_str()),
    ];
    assert_eq!(first.create_destination("Box", "sftp", &sftp_fields).await.status, 303);
    for name in ["Moto", "Box"] {
        assert_eq!(first.destination(name).await.status, "active", "{name} works where loopback is allowed");
    }

    let app = spawn_with(refusing, refusing_dir, None).await;
    app.sign_in_admin().await;
    let loopback = format!("127.0.0.1 is a loopback address (this server itself); {LOOPBACK_RULE}");
    let page = app.create_destination("Local moto", "s3", &s3_fields).await;
    assert_eq!((page.status, field_error(&page, "endpoint")), (422, loopback.clone()));
    let by_name = m.endpoint.replace("127.0.0.1", "localhost");
    let page = app.create_destination("Local moto", "s3", &s3(&by_name)).await;
    let message = field_error(&page, "endpoint");
    assert!(message.starts_with("localhost resolves to ") && message.ends_with(LOOPBACK_RULE), "{message}");
    // Names under localhost are loopback whatever DNS says (RFC 6761): refused here too.
    let under = m.endpoint.replace("127.0.0.1", "bucket.s3.localhost");
    let page = app.create_destination("Local moto", "s3", &s3(&under)).await;
    let message = field_error(&page, "endpoint");
    assert!(
        message.starts_with("bucket.s3.localhost resolves to 127.0.0.1") && message.ends_with(LOOPBACK_RULE),
        "{message}"
    );
    let page = app.create_destination("Local box", "sftp", &sftp_login("localhost")).await;
    assert!(field_error(&page, "host").starts_with("localhost resolves to "), "{}", page.body);
    let page = app.create_destination("Local box", "sftp", &sftp_login("0.0.0.0")).await;
    assert_eq!(
        field_error(&page, "host"),
        format!("0.0.0.0 is an address that means this server itself; {LOOPBACK_RULE}")
    );

    for name in ["Moto", "Box"] {
        let id = app.destination(name).await.id;
        assert_eq!(app.post(&format!("/destinations/{id}/test"), &[]).await.status, 303);
        let row = app.destination(name).await;
        assert_eq!(row.status, "failed", "{name}");
        assert!(row.message.contains(&loopback), "{name}: {}", row.message);
    }
    drop(first);
}

/// A tiny HTTP server on loopback that answers every request with a 307: first to itself
/// (`/hop…`, a hop the policy allows), then to `target` with the same path and query.
struct Redirector {
    url: String,
    requests: Arc<AtomicUsize>,
}

async fn redirector(target: &str) -> Redirector {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
    let requests = Arc::new(AtomicUsize::new(0));
    let (own, target, count) = (url.clone(), target.trim_end_matches('/').to_owned(), requests.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (own, target, count) = (own.clone(), target.clone(), count.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let text = String::from_utf8_lossy(&head);
                let path = text.split(' ').nth(1).unwrap_or("/").to_owned();
                let location = match path.strip_prefix("/hop") {
                    Some(rest) => format!("{target}{rest}"),
                    None => format!("{own}/hop{path}"),
                };
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    Redirector { url, requests }
}

/// "Test connection" follows redirects only where it may connect: a chain that ends at the
/// metadata service (in any spelling) is refused at that hop; one that ends at a real server
/// still works.
async fn every_redirect_hop_is_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let targets = [
        ("http://169.254.169.254/latest/meta-data", METADATA),
        ("http://[::ffff:169.254.169.254]", "::ffff:169.254.169.254 is a link-local (cloud metadata) address"),
        ("http://0xa9fea9fe", METADATA),
        ("http://[fd00:ec2::254]", "fd00:ec2::254 is a cloud metadata address; Devpilot never connects there."),
    ];
    for (i, (target, expected)) in targets.iter().enumerate() {
        let relay = redirector(target).await;
        let name = format!("Redirected {i}");
        let started = std::time::Instant::now();
        assert_eq!(app.create_destination(&name, "s3", &s3(&relay.url)).await.status, 303, "{target}");
        let row = app.destination(&name).await;
        assert_eq!(row.status, "failed", "{target}");
        assert!(row.message.contains(expected), "{target}: {}", row.message);
        assert!(relay.requests.load(Ordering::SeqCst) >= 2, "{target}: both hops were asked");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{target}: refused, not timed out");
    }

    let a = azurite();
    let relay = redirector("http://169.254.169.254").await;
    let endpoint = format!("{}/{}", relay.url, a.account);
    let config = [
        ("account_name", a.account.as_str()),
        ("container", "backups"),
        ("account_key", a.key.as_str()),
        ("endpoint", &endpoint),
    ];
    assert_eq!(app.create_destination("Redirected Azure", "azure_blob", &config).await.status, 303);
    let row = app.destination("Redirected Azure").await;
    assert!(row.status == "failed" && row.message.contains(METADATA), "{}", row.message);

    // Allowed hops are still followed: the chain ends at moto (auth off), which lists.
    let relay = redirector(&moto_open()).await;
    let mut config = s3(&relay.url);
    config.retain(|(k, _)| *k != "bucket");
    config.push(("bucket", "devpilot-open"));
    assert_eq!(app.create_destination("Redirected to moto", "s3", &config).await.status, 303);
    let row = app.destination("Redirected to moto").await;
    assert_eq!(row.status, "active", "{}", row.message);
}
