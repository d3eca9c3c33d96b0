//! S3 in the conformance suite: credentials against moto with auth on (wrong secret, unknown
//! key, key without permission, missing bucket, unreachable endpoint), round trips with a
//! slashed prefix and presigned URLs against moto with auth off (moto breaks both with auth on).

use crate::conformance::{self, Fixture, fields};
use crate::helpers::{Backend, moto, spawn_app};
use crate::on_both_backends;
use devpilot::destinations::domain::DestinationKind;

pub fn moto_open() -> String {
    std::env::var("DEVPILOT_TEST_MOTO_OPEN").expect("DEVPILOT_TEST_MOTO_OPEN: run the tests with scripts/test")
}

pub fn fixture() -> Fixture {
    let m = moto();
    let good = m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket);
    let good = fields(&good);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let nowhere = format!("http://127.0.0.1:{}", closed.local_addr().expect("addr").port());
    drop(closed);
    let mut f = Fixture::new(DestinationKind::S3, good);
    let open = moto_open();
    f.round_trip = Some(fields(&[
        ("provider", "custom"),
        ("endpoint", &open),
        ("bucket", "devpilot-open"),
        ("prefix", "team-a/nightly/"),
        ("path_style", "true"),
        ("access_key_id", "test"),
        ("secret_access_key", "test"),
    ]));
    f.presign = true;
    let wrong_secret = f.good_with(&[("secret_access_key", "wrongsecretwrongsecret")]);
    let unknown_key = f.good_with(&[("access_key_id", "AKIAUNKNOWNKEY000000")]);
    let no_perms =
        f.good_with(&[("access_key_id", &m.noperm_access_key_id), ("secret_access_key", &m.noperm_secret_access_key)]);
    let no_bucket = f.good_with(&[("bucket", "no-such-bucket-here")]);
    let unreachable = f.good_with(&[("endpoint", &nowhere)]);
    f.bad("Wrong secret", wrong_secret, "SignatureDoesNotMatch")
        .bad("Unknown key", unknown_key, "InvalidAccessKeyId")
        .bad("No permission", no_perms, "AccessDenied: Access Denied")
        .bad("Missing bucket", no_bucket, "NoSuchBucket: The specified bucket does not exist")
        .bad("Nowhere", unreachable, "Could not reach http://127.0.0.1:")
}

on_both_backends!(s3_conformance, s3_failures_are_staged_with_hints);

async fn s3_conformance(backend: Backend) {
    conformance::ui_cases(&fixture(), backend).await;
}

#[tokio::test]
async fn s3_round_trip() {
    conformance::round_trip(&fixture()).await;
}

async fn s3_failures_are_staged_with_hints(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let m = moto();
    let mut form: Vec<(String, String)> = vec![("type".into(), "s3".into())];
    for (k, v) in m.fields(&m.noperm_access_key_id, &m.noperm_secret_access_key, &m.bucket) {
        form.push((format!("config.{k}"), v.to_owned()));
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let tested = app.htmx_post("/destinations/test-credentials", &pairs).await;
    assert!(tested.body.contains("Test failed.") && tested.body.contains("AccessDenied"), "{}", tested.body);
    assert!(tested.body.contains("✓ authenticate") && tested.body.contains("✗ list"), "staged: {}", tested.body);
    assert!(tested.body.contains("Hint: The key lacks permission"), "{}", tested.body);
    assert!(app.destination_rows().await.is_empty(), "test credentials stores nothing");

    // The failure is shown inline in the list, with the provider's code.
    let fields = m.fields(&m.noperm_access_key_id, &m.noperm_secret_access_key, &m.bucket);
    app.create_destination("No permission", "s3", &fields).await;
    let list = app.get("/destinations").await;
    assert!(list.body.contains("AccessDenied: Access Denied"));
}
