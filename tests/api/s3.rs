//! S3 against a real moto server with credentials enforced: each kind of bad credential fails
//! with the provider's own code and message.

use crate::helpers::{Backend, Form, moto, spawn_app};
use crate::on_both_backends;

on_both_backends!(s3_connection_tests_report_the_providers_error);

async fn s3_connection_tests_report_the_providers_error(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let m = moto();
    let cases: Vec<(&str, Form, &str, &str)> = vec![
        ("Good keys", m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket), "active", "Listed the bucket"),
        (
            "Wrong secret",
            m.fields(&m.access_key_id, "wrongsecretwrongsecretwrongsecret", &m.bucket),
            "failed",
            "SignatureDoesNotMatch",
        ),
        (
            "Unknown key",
            m.fields("AKIAUNKNOWNKEY000000", &m.secret_access_key, &m.bucket),
            "failed",
            "InvalidAccessKeyId",
        ),
        (
            "No permission",
            m.fields(&m.noperm_access_key_id, &m.noperm_secret_access_key, &m.bucket),
            "failed",
            "AccessDenied: Access Denied",
        ),
        (
            "Missing bucket",
            m.fields(&m.access_key_id, &m.secret_access_key, "no-such-bucket-here"),
            "failed",
            "NoSuchBucket: The specified bucket does not exist",
        ),
    ];
    for (name, fields, status, message) in &cases {
        let page = app.create_destination(name, "s3", fields).await;
        assert_eq!(page.status, 303, "{name}: {}", page.body);
        let row = app.destination(name).await;
        assert_eq!(&row.status, status, "{name}: {}", row.message);
        assert!(row.message.contains(message), "{name}: expected {message:?} in {:?}", row.message);
    }

    // The failure is shown inline in the list, with the provider's code.
    let list = app.get("/destinations").await;
    assert!(list.body.contains("AccessDenied: Access Denied"));
    assert!(list.body.contains("SignatureDoesNotMatch"));

    // "Test credentials" gives the same answers without storing anything.
    let count = app.destination_rows().await.len();
    let mut form: Vec<(String, String)> = vec![("type".into(), "s3".into())];
    for (k, v) in m.fields(&m.noperm_access_key_id, &m.noperm_secret_access_key, &m.bucket) {
        form.push((format!("config.{k}"), v.to_owned()));
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let tested = app.htmx_post("/destinations/test-credentials", &pairs).await;
    assert!(tested.body.contains("Test failed.") && tested.body.contains("AccessDenied"), "{}", tested.body);
    assert!(tested.body.contains("✓ authenticate") && tested.body.contains("✗ list"), "staged: {}", tested.body);
    assert!(tested.body.contains("Hint: The key lacks permission"), "{}", tested.body);
    assert_eq!(app.destination_rows().await.len(), count);

    // An endpoint nobody listens on: a clear unreachable message naming it, within the deadline.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://127.0.0.1:{}", closed.local_addr().expect("addr").port());
    drop(closed);
    let mut fields = m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket);
    fields[1] = ("endpoint", endpoint.as_str());
    let started = std::time::Instant::now();
    app.create_destination("Nowhere", "s3", &fields).await;
    let row = app.destination("Nowhere").await;
    assert_eq!(row.status, "failed");
    assert!(row.message.contains(&format!("Could not reach {endpoint}")), "{}", row.message);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "ends within the test deadline");
}
