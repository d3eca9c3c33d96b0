//! "Test all" on the destination list: every destination that is not disabled is tested at once
//! (bounded), each row updates as its own result comes, and the tests really run side by side.

use crate::helpers::{Backend, spawn_app, spawn_with, test_settings};
use crate::on_both_backends;
use crate::provider_sftp::sftp;
use crate::relay::Relay;
use std::time::{Duration, Instant};

on_both_backends!(test_all_tests_every_destination_concurrently, sftp_destinations_of_one_login_share_its_connection);

/// A "server" that accepts connections and never answers: a test against it ends at the deadline.
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    address
}

async fn test_all_tests_every_destination_concurrently(backend: Backend) {
    const DEADLINE: Duration = Duration::from_secs(1);
    let (mut settings, data_dir, pg) = test_settings(backend);
    settings.provider.test_deadline = DEADLINE;
    let app = spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;

    for name in ["Disk 1", "Disk 2", "Disk 3", "Off"] {
        assert_eq!(app.create_destination(name, "local", &[]).await.status, 303);
    }
    let off = app.destination("Off").await;
    assert_eq!(app.post(&format!("/destinations/{}/disable", off.id), &[]).await.status, 303);
    let silent = silent_server().await;
    let hanging = ["Silent 1", "Silent 2", "Silent 3", "Silent 4"];
    for name in hanging {
        let fields = [
            ("provider", "custom"),
            ("endpoint", silent.as_str()),
            ("region", "us-east-1"),
            ("bucket", "silent-bucket"),
            ("path_style", "true"),
            ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
            ("secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ];
        let created = app.create_destination(name, "s3", &fields).await;
        assert_eq!(created.status, 303, "{}", created.body);
    }
    let list = app.get("/destinations").await;
    assert!(list.body.contains("action=\"/destinations/test-all\""), "the list offers Test all");

    // From htmx: answers at once with every tested row Testing and polling for its result.
    let started = Instant::now();
    let page = app.htmx_post("/destinations/test-all", &[("page", "1")]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(started.elapsed() < DEADLINE, "the htmx answer does not wait for the tests");
    assert_eq!(page.body.matches("data-status=\"testing\"").count(), 7, "{}", page.body);
    assert_eq!(page.body.matches("hx-trigger=\"every 1s\"").count(), 7, "only Testing rows poll");
    assert!(page.body.contains("data-status=\"disabled\""), "a disabled destination is left alone");

    // Each row's own URL gives its result once its test ends, and then stops polling.
    for name in ["Disk 1", "Silent 1"] {
        let id = app.destination(name).await.id;
        let row = loop {
            let row = app.get(&format!("/destinations/{id}/row?page=1")).await;
            assert_eq!(row.status, 200);
            if !row.body.contains("data-status=\"testing\"") || started.elapsed() > Duration::from_secs(20) {
                break row;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let want = if name.starts_with("Disk") { "data-status=\"active\"" } else { "data-status=\"failed\"" };
        assert!(row.body.contains(want), "{name}: {}", row.body);
        assert!(!row.body.contains("hx-trigger"), "a finished row stops polling");
    }
    // Four silent servers at one deadline each: side by side they take one deadline, not four.
    assert!(started.elapsed() < DEADLINE * 3, "tests ran concurrently: {:?}", started.elapsed());

    while app.destination_rows().await.iter().any(|r| r.status == "testing") {
        assert!(started.elapsed() < Duration::from_secs(20), "the background tests end");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Without JavaScript: waits for every test, then a summary.
    let started = Instant::now();
    let done = app.post("/destinations/test-all", &[]).await;
    assert_eq!(done.status, 303);
    assert!(started.elapsed() < DEADLINE * 3, "concurrent: {:?}", started.elapsed());
    let list = app.get("/destinations").await;
    let rows: Vec<_> = app.destination_rows().await.into_iter().map(|r| (r.name, r.status, r.message)).collect();
    assert!(list.body.contains("Tested 7 destinations: 3 passed, 4 failed."), "{rows:?}");
    for row in app.destination_rows().await {
        let want = match row.name.as_str() {
            "Off" => "disabled",
            n if n.starts_with("Silent") => "failed",
            _ => "active",
        };
        assert_eq!(row.status, want, "{}: {}", row.name, row.message);
    }
}

/// SFTP destinations that log in the same way share one SSH connection in "Test all" (a login
/// is also the same pinned host key), and each still checks its own directory over it.
async fn sftp_destinations_of_one_login_share_its_connection(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let s = sftp();
    let relay = Relay::start(&format!("{}:{}", s.host, s.port)).await;
    let port = relay.port.to_string();
    let missing = format!("{}/no-such-folder-{}", s.directory, uuid::Uuid::new_v4().simple());
    for (name, directory) in
        [("One", &s.directory), ("Two", &s.directory), ("Three", &s.directory), ("Nowhere", &missing)]
    {
        let fields = [
            ("host", s.host.as_str()),
            ("port", port.as_str()),
            ("directory", directory.as_str()),
            ("username", s.username.as_str()),
            ("password", s.password.as_str()),
        ];
        assert_eq!(app.create_destination(name, "sftp", &fields).await.status, 303);
    }
    let before = relay.connections();
    assert_eq!(app.post("/destinations/test-all", &[]).await.status, 303);
    // The three that passed before pinned the host key: one login. "Nowhere" never passed, so
    // it has no pin yet: a login of its own.
    assert_eq!(relay.connections() - before, 2, "one connection per login, not per destination");
    for row in app.destination_rows().await {
        let want = if row.name == "Nowhere" { "failed" } else { "active" };
        assert_eq!(row.status, want, "{}: {}", row.name, row.message);
    }
}
