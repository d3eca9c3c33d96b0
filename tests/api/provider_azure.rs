//! Azure Blob in the conformance suite, against Azurite with Shared Key and SAS signatures
//! checked (`DEVPILOT_TEST_AZURITE`: a JSON file, or the JSON itself, with endpoint, account,
//! key, container), twice: signed with the account key, and with a container SAS carrying
//! exactly the permissions the form's Least privilege panel shows. Azurite answers a wrong key
//! with `AuthorizationFailure` where real Azure says `AuthenticationFailed`; both are
//! authentication failures to us.

use crate::conformance::{self, Fixture, fields};
use crate::helpers::{Backend, spawn_app};
use crate::on_both_backends;
use base64::Engine;
use devpilot::providers::ProviderKind;
use std::time::Duration;

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Azurite {
    pub endpoint: String,
    pub account: String,
    pub key: String,
    pub container: String,
}

pub fn azurite() -> Azurite {
    let value = std::env::var("DEVPILOT_TEST_AZURITE").expect("DEVPILOT_TEST_AZURITE: run the tests with scripts/test");
    let text = if value.trim_start().starts_with('{') {
        value
    } else {
        std::fs::read_to_string(&value).unwrap_or_else(|e| panic!("{value}: {e}"))
    };
    serde_json::from_str(&text).expect("Azurite settings")
}

pub fn fixture() -> Fixture {
    let a = azurite();
    let good = fields(&[
        ("account_name", &a.account),
        ("container", &a.container),
        ("endpoint", &a.endpoint),
        ("account_key", &a.key),
    ]);
    let mut f = Fixture::new(ProviderKind::AzureBlob, good);
    f.presign = true;
    f.round_trip = Some(f.good_with(&[("prefix", "team-a/nightly/")]));
    let wrong_key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let service = a.endpoint.trim_end_matches('/').rsplit_once('/').map_or(a.endpoint.as_str(), |(s, _)| s);
    let unknown_account_endpoint = format!("{service}/nosuchaccount");
    let nowhere = format!("http://127.0.0.1:{}/{}", crate::helpers::refused_port(), a.account);
    let bad_key = f.good_with(&[("account_key", &wrong_key)]);
    let no_container = f.good_with(&[("container", "no-such-container")]);
    let unknown_account = f.good_with(&[("account_name", "nosuchaccount"), ("endpoint", &unknown_account_endpoint)]);
    let unreachable = f.good_with(&[("endpoint", &nowhere)]);
    f.bad("Wrong key", bad_key, "AuthorizationFailure: Server failed to authenticate the request.")
        .bad("Missing container", no_container, "ContainerNotFound: The specified container does not exist.")
        .bad("Unknown account", unknown_account, "ResourceNotFound: The specified resource does not exist.")
        .bad("Nowhere", unreachable, "Could not reach http://127.0.0.1:")
}

/// The same container through a container SAS with the permissions Devpilot needs: no
/// presigned links (a SAS signs none); a SAS made for another container, one with a forged
/// signature and one for another account fail the test.
pub fn sas_fixture() -> Fixture {
    use crate::azure_sas::{Signed, sas, tomorrow};
    let a = azurite();
    let needed = devpilot::providers::azure_blob::needed_letters();
    let signed = |container| Signed::Container { container, permissions: &needed, expiry: tomorrow() };
    let token = sas(&a, &signed(&a.container));
    let good = fields(&[
        ("account_name", &a.account),
        ("container", &a.container),
        ("endpoint", &a.endpoint),
        ("sas_token", &token),
    ]);
    let mut f = Fixture::new(ProviderKind::AzureBlob, good);
    f.round_trip = Some(f.good_with(&[("prefix", "team-b/nightly/")]));
    let elsewhere = f.good_with(&[("sas_token", &sas(&a, &signed("another-container")))]);
    let sig = crate::azure_sas::signature_of(&token);
    let forged_sig = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let forged = f.good_with(&[("sas_token", &token.replace(&urlencode(&sig), &urlencode(&forged_sig)))]);
    f.bad("SAS for another container", elsewhere, "The SAS token was not accepted for container").bad(
        "Forged SAS",
        forged,
        "AuthorizationFailure: Server failed to authenticate the request.",
    )
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

on_both_backends!(azure_conformance, azure_sas_conformance, azure_failures_are_staged_with_hints);

async fn azure_conformance(backend: Backend) {
    conformance::ui_cases(&fixture(), backend).await;
}

async fn azure_sas_conformance(backend: Backend) {
    conformance::ui_cases(&sas_fixture(), backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_round_trip() {
    conformance::round_trip(&fixture()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_sas_round_trip() {
    conformance::round_trip(&sas_fixture()).await;
}

async fn azure_failures_are_staged_with_hints(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let f = fixture();
    let case = f.bad.iter().find(|c| c.label == "Wrong key").expect("case");
    let mut form: Vec<(String, String)> = vec![("type".into(), "azure_blob".into())];
    form.extend(case.fields.iter().map(|(k, v)| (format!("config.{k}"), v.clone())));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let tested = app.htmx_post("/destinations/test-credentials", &pairs).await;
    assert!(tested.body.contains("AuthorizationFailure"), "{}", tested.body);
    assert!(tested.body.contains("✓ connect") && tested.body.contains("✗ authenticate"), "staged: {}", tested.body);
    assert!(tested.body.contains("Hint: Check the account key"), "{}", tested.body);

    let case = f.bad.iter().find(|c| c.label == "Missing container").expect("case");
    let mut form: Vec<(String, String)> = vec![("type".into(), "azure_blob".into())];
    form.extend(case.fields.iter().map(|(k, v)| (format!("config.{k}"), v.clone())));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let tested = app.htmx_post("/destinations/test-credentials", &pairs).await;
    assert!(tested.body.contains("✓ authenticate") && tested.body.contains("✗ find bucket/folder"), "{}", tested.body);
    assert!(tested.body.contains("Hint: Check the container name"), "{}", tested.body);
}

/// The presigned URL is a read-only SAS for one blob with a short expiry: it downloads, but
/// Azurite refuses a write through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sas_urls_are_read_only_and_short_lived() {
    let f = fixture();
    let dir = tempfile::tempdir().expect("dir");
    let p = conformance::provider(&f, &f.good, dir.path());
    let key = format!("sas-{}/a.bin", uuid::Uuid::new_v4().simple());
    let (data, stream) = conformance::body(1000);
    p.put(&key, stream).await.expect("put");
    let url = p.presign(&key, Duration::from_secs(30 * 24 * 3600)).await.expect("presign").expect("a URL");
    let pairs: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs.get("sp").map(String::as_str), Some("r"), "read permission only: {url}");
    assert_eq!(pairs.get("sr").map(String::as_str), Some("b"), "one blob: {url}");
    let expiry = chrono::DateTime::parse_from_rfc3339(&pairs["se"]).expect("se");
    assert!(expiry <= chrono::Utc::now() + chrono::Duration::hours(24) + chrono::Duration::minutes(1), "capped: {url}");

    let got = reqwest::get(url.clone()).await.expect("GET");
    assert_eq!(got.status(), 200);
    assert!(got.bytes().await.expect("body").as_ref() == data.as_slice());
    let put = reqwest::Client::new()
        .put(url)
        .header("x-ms-blob-type", "BlockBlob")
        .body("overwritten")
        .send()
        .await
        .expect("PUT");
    assert_eq!(put.status(), 403, "a read SAS cannot write");
    assert!(conformance::read_all(p.as_ref(), &key).await == data, "the blob is unchanged");
    p.delete(&key).await.expect("delete");
}
