//! S3 in the conformance suite: credentials against moto with auth on (wrong secret, unknown
//! key, key without permission, missing bucket, unreachable endpoint), round trips with a
//! slashed prefix and presigned URLs against moto with auth off (moto breaks both with auth on).
//! The same against s3s-fs, a second S3 implementation (SigV4 checked), path-style and
//! virtual-hosted (`*.localhost` names). Each has a case whose settings address something
//! other than where writes go: its test must fail.

use crate::conformance::{self, Fixture, fields};
use crate::helpers::{Backend, moto, spawn_app};
use crate::on_both_backends;
use devpilot::providers::ProviderKind;

pub fn moto_open() -> String {
    std::env::var("DEVPILOT_TEST_MOTO_OPEN").expect("DEVPILOT_TEST_MOTO_OPEN: run the tests with scripts/test")
}

/// s3s-fs as `scripts/test` started it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct S3s {
    pub endpoint: String,
    pub vhost_endpoint: String,
    pub r2_base: String,
    pub r2_account: String,
    pub backblaze_base: String,
    pub backblaze_region: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

pub fn s3s() -> S3s {
    let path = std::env::var("DEVPILOT_TEST_S3S").expect("DEVPILOT_TEST_S3S: run the tests with scripts/test");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("s3s.json")).expect("s3s.json")
}

/// s3s-fs, path-style at 127.0.0.1 or virtual-hosted at `s3.localhost`.
pub fn s3s_fixture(virtual_hosted: bool) -> Fixture {
    let s = s3s();
    let (endpoint, path_style) = if virtual_hosted { (&s.vhost_endpoint, "false") } else { (&s.endpoint, "true") };
    // A prefix of its own: s3s-fs lists by reading the whole bucket's folder, so a listing of
    // the bucket's root would trip over another test's object deleted meanwhile (a 500).
    let prefix = format!("conformance-{}", uuid::Uuid::new_v4().simple());
    let good = fields(&[
        ("provider", "custom"),
        ("endpoint", endpoint),
        ("region", &s.region),
        ("bucket", &s.bucket),
        ("prefix", &prefix),
        ("path_style", path_style),
        ("access_key_id", &s.access_key_id),
        ("secret_access_key", &s.secret_access_key),
    ]);
    let mut f = Fixture::new(ProviderKind::S3, good);
    f.presign = true;
    f.settings.endpoints.r2_base = s.r2_base.clone();
    f.settings.endpoints.backblaze_base = s.backblaze_base.clone();
    // The plain server at a name under localhost, asked virtual-hosted: it takes the host for the
    // service's root and answers with the account's buckets (the bug of issue 15).
    let plain_port = s.endpoint.rsplit(':').next().unwrap_or_default().to_owned();
    let misaddressed = f.good_with(&[("endpoint", &format!("http://localhost:{plain_port}")), ("path_style", "false")]);
    let wrong_secret = f.good_with(&[("secret_access_key", "wrongsecretwrongsecret")]);
    let no_bucket = f.good_with(&[("bucket", "no-such-bucket-here")]);
    f.bad("Wrong secret", wrong_secret, "SignatureDoesNotMatch").bad("Missing bucket", no_bucket, "NoSuchBucket").bad(
        "Misaddressed",
        misaddressed,
        "answered with the account's list of buckets",
    )
}

pub fn fixture() -> Fixture {
    let m = moto();
    let good = m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket);
    let good = fields(&good);
    let nowhere = format!("http://127.0.0.1:{}", crate::helpers::refused_port());
    let mut f = Fixture::new(ProviderKind::S3, good);
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

on_both_backends!(s3_conformance, s3s_conformance, s3s_vhost_conformance, s3_failures_are_staged_with_hints);

async fn s3_conformance(backend: Backend) {
    conformance::ui_cases(&fixture(), backend).await;
}

async fn s3s_conformance(backend: Backend) {
    conformance::ui_cases(&s3s_fixture(false), backend).await;
}

async fn s3s_vhost_conformance(backend: Backend) {
    conformance::ui_cases(&s3s_fixture(true), backend).await;
}

#[tokio::test]
async fn s3_round_trip() {
    conformance::round_trip(&fixture()).await;
}

#[tokio::test]
async fn s3s_round_trip() {
    conformance::round_trip(&s3s_fixture(false)).await;
}

#[tokio::test]
async fn s3s_vhost_round_trip() {
    conformance::round_trip(&s3s_fixture(true)).await;
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
