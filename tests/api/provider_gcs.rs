//! GCS in the conformance suite, against fake-gcs-server (`DEVPILOT_TEST_GCS`, bucket
//! `devpilot-gcs`) behind two stand-ins of ours: Google's token endpoint (the JWT bearer grant,
//! signature checked with the test account's public key) and a gate that checks bearer tokens and
//! V4 signed URLs the way GCS does, which fake-gcs-server itself never does. Keys are generated
//! at run time.

use crate::conformance::{self, Fixture, fields};
use crate::helpers::{Backend, spawn_with, test_settings};
use crate::on_both_backends;
use crate::standins::gcs_gate::GcsGate;
use crate::standins::google_token::{GoogleTokenStandIn, TestAccount, test_key};
use devpilot::providers::ProviderKind;
use std::time::Duration;

pub const BUCKET: &str = "devpilot-gcs";
const STORAGE_SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";

pub fn fake_gcs() -> String {
    std::env::var("DEVPILOT_TEST_GCS").expect("DEVPILOT_TEST_GCS: run the tests with scripts/test")
}

/// The stand-ins in front of fake-gcs-server, and the account they trust.
pub struct Google {
    tokens: GoogleTokenStandIn,
    gate: GcsGate,
    account: TestAccount,
}

pub async fn google() -> Google {
    // object_store speaks the XML API path-style, which fake-gcs-server serves only for the host
    // named by its -public-host flag.
    let probe = reqwest::get(format!("{}/{BUCKET}?list-type=2&max-keys=1", fake_gcs())).await.expect("fake-gcs-server");
    assert_eq!(
        probe.status(),
        200,
        "fake-gcs-server must run with -public-host 127.0.0.1:PORT (scripts/test-servers.sh)"
    );
    let tokens = GoogleTokenStandIn::start();
    let gate = GcsGate::start(&fake_gcs(), tokens.clone());
    let account = TestAccount::new("backups@devpilot-test.iam.gserviceaccount.com", test_key(0));
    tokens.trust(&account.email, &account.public_key);
    Google { tokens, gate, account }
}

pub fn fixture(g: &Google) -> Fixture {
    let good = fields(&[("bucket", BUCKET), ("service_account_key", &g.account.key_json)]);
    let mut f = Fixture::new(ProviderKind::Gcs, good);
    f.settings.endpoints.gcs_api = g.gate.url.clone();
    f.settings.endpoints.google_oauth_token = g.tokens.url.clone();
    // One streamed request, of a size fake-gcs-server takes whole.
    f.large = 20 * 1024 * 1024;
    f.presign = true;
    f.round_trip = Some(f.good_with(&[("prefix", "team-a/nightly/")]));
    // Same account, but its key file holds another private key than the one Google trusts.
    let impostor = TestAccount::new(&g.account.email, test_key(1));
    let unknown = TestAccount::new("deleted@devpilot-test.iam.gserviceaccount.com", test_key(0));
    let expired = g.tokens.issue(&[STORAGE_SCOPE], Duration::ZERO);
    let wrong_signature = f.good_with(&[("service_account_key", &impostor.key_json)]);
    let unknown_account = f.good_with(&[("service_account_key", &unknown.key_json)]);
    let no_bucket = f.good_with(&[("bucket", "no-such-bucket-here")]);
    let expired_token = fields(&[("bucket", BUCKET), ("access_token", &expired)]);
    f.bad("Wrong key", wrong_signature, "invalid_grant: Invalid JWT Signature.")
        .bad("Unknown account", unknown_account, "invalid_grant: Invalid grant: account not found")
        // What fake-gcs-server answers to an XML-API listing of a missing bucket (real GCS: 404
        // NoSuchBucket).
        .bad("Missing bucket", no_bucket, "no such file or directory")
        .bad("Expired token", expired_token, "The access token has expired or was revoked")
}

on_both_backends!(gcs_conformance, gcs_failures_are_staged_with_hints);

async fn gcs_conformance(backend: Backend) {
    conformance::ui_cases(&fixture(&google().await), backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_round_trip() {
    let g = google().await;
    let f = fixture(&g);
    conformance::round_trip(&f).await;
    assert_eq!(g.gate.signed_gets(), 1, "the presigned GET passed the gate's V4 signature check");
    assert_eq!(g.gate.media_uploads(), 4, "every upload, the broken one too, was one streamed request");
    assert_eq!(g.tokens.grants(), 1, "one token exchange, then the cached token");
}

async fn gcs_failures_are_staged_with_hints(backend: Backend) {
    let g = google().await;
    let f = fixture(&g);
    let (mut settings, dir, pg) = test_settings(backend);
    settings.provider = f.settings.clone();
    let app = spawn_with(settings, dir, pg).await;
    app.setup_admin().await;
    let expired = g.tokens.issue(&[STORAGE_SCOPE], Duration::ZERO);
    let form = [("type", "gcs"), ("config.bucket", BUCKET), ("config.access_token", expired.as_str())];
    let tested = app.htmx_post("/destinations/test-credentials", &form).await;
    assert!(tested.body.contains("AuthenticationRequired"), "GCS's own code: {}", tested.body);
    assert!(tested.body.contains("supply a service-account key instead"), "{}", tested.body);
    assert!(tested.body.contains("✗ authenticate"), "staged: {}", tested.body);
    assert!(tested.body.contains("Hint: The token expired"), "{}", tested.body);
    assert!(!tested.body.contains(&expired), "the token is never shown");

    let impostor = TestAccount::new(&g.account.email, test_key(1));
    let form = [("type", "gcs"), ("config.bucket", BUCKET), ("config.service_account_key", impostor.key_json.as_str())];
    let tested = app.htmx_post("/destinations/test-credentials", &form).await;
    assert!(tested.body.contains("invalid_grant: Invalid JWT Signature."), "{}", tested.body);
    assert!(tested.body.contains("✗ authenticate"), "staged: {}", tested.body);
    assert!(tested.body.contains("Hint: The key file does not match"), "not the refresh-token advice: {}", tested.body);
}

/// With only an access token there is no key to sign with: no presigned URL (not a signBlob call).
/// Uploads with a live token work, and an expired one fails the upload with the same advice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_token_uploads_but_cannot_presign() {
    let g = google().await;
    let f = fixture(&g);
    let dir = tempfile::tempdir().expect("dir");
    let live = g.tokens.issue(&[STORAGE_SCOPE], Duration::from_secs(600));
    let p = conformance::provider(&f, &fields(&[("bucket", BUCKET), ("access_token", &live)]), dir.path());
    p.test().await.expect("a live token lists");
    let key = format!("token-{}/a.bin", uuid::Uuid::new_v4().simple());
    let (data, stream) = conformance::body(300_000);
    assert_eq!(p.put(&key, stream).await.expect("put"), data.len() as u64);
    assert!(conformance::read_all(p.as_ref(), &key).await == data);
    assert!(p.presign(&key, Duration::from_secs(60)).await.expect("presign").is_none());
    p.delete(&key).await.expect("delete");

    let expired = g.tokens.issue(&[STORAGE_SCOPE], Duration::ZERO);
    let p = conformance::provider(&f, &fields(&[("bucket", BUCKET), ("access_token", &expired)]), dir.path());
    let e = p.put(&key, conformance::body(10).1).await.expect_err("an expired token cannot upload");
    assert_eq!(e.code.as_deref(), Some("authError"), "GCS's JSON API code: {e}");
    assert!(e.message.contains("expired") && e.message.contains("service-account key"), "{e}");
}

/// A signed URL is bound to its object and expiry: the gate, checking like GCS, refuses a URL
/// pointed at another object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_urls_cannot_be_redirected_to_another_object() {
    let g = google().await;
    let f = fixture(&g);
    let dir = tempfile::tempdir().expect("dir");
    let p = conformance::provider(&f, &f.good, dir.path());
    let url = p.presign("some/object.bin", Duration::from_secs(60)).await.expect("presign").expect("a URL");
    assert!(url.query().unwrap_or_default().contains("X-Goog-Algorithm=GOOG4-RSA-SHA256"), "{url}");
    assert!(url.query().unwrap_or_default().contains("X-Goog-Expires=60"), "{url}");
    let mut other = url.clone();
    other.set_path(&format!("/{BUCKET}/some/other.bin"));
    let refused = reqwest::get(other).await.expect("GET");
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.expect("body").contains("<Code>SignatureDoesNotMatch</Code>"));
    // The genuine URL passes the signature check (the object does not exist: fake-gcs's 404).
    assert_eq!(reqwest::get(url).await.expect("GET").status(), 404);
    assert_eq!(g.gate.signed_gets(), 1);
}

/// The token stand-in is only worth its "Active" if it is as strict as Google: a signed assertion
/// with the wrong grant type, audience, lifetime or scope is refused with Google's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_stand_in_refuses_what_google_refuses() {
    use base64::Engine;
    use rsa::signature::{SignatureEncoding, Signer};
    let g = google().await;
    let sign = |claims: serde_json::Value| {
        let enc = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", enc(serde_json::json!({ "alg": "RS256", "typ": "JWT" })), enc(claims));
        let signature = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(test_key(0).clone()).sign(input.as_bytes());
        format!("{input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature.to_vec()))
    };
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, scope: &str, iat: i64, exp: i64| serde_json::json!({ "iss": g.account.email, "scope": scope, "aud": aud, "iat": iat, "exp": exp });
    let good = claims(&g.tokens.url, STORAGE_SCOPE, now, now + 3600);
    let jwt_bearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    let cases = [
        ("client_credentials", sign(good.clone()), "unsupported_grant_type", "Invalid grant_type"),
        (
            jwt_bearer,
            sign(claims("https://oauth2.googleapis.com/token", STORAGE_SCOPE, now, now + 3600)),
            "invalid_grant",
            "audience",
        ),
        (
            jwt_bearer,
            sign(claims(&g.tokens.url, STORAGE_SCOPE, now + 3600, now + 7000)),
            "invalid_grant",
            "reasonable timeframe",
        ),
        (jwt_bearer, sign(claims(&g.tokens.url, STORAGE_SCOPE, now, now + 7200)), "invalid_grant", "short-lived"),
        (jwt_bearer, sign(claims(&g.tokens.url, STORAGE_SCOPE, now - 7200, now - 3600)), "invalid_grant", "timeframe"),
        (jwt_bearer, sign(claims(&g.tokens.url, "", now, now + 3600)), "invalid_scope", "scope"),
    ];
    let http = reqwest::Client::new();
    for (grant_type, assertion, error, words) in cases {
        let answer = http
            .post(&g.tokens.url)
            .form(&[("grant_type", grant_type), ("assertion", &assertion)])
            .send()
            .await
            .expect("POST");
        assert_eq!(answer.status(), 400, "{error}");
        let body: serde_json::Value = answer.json().await.expect("json");
        assert_eq!(body["error"], error, "{body}");
        assert!(body["error_description"].as_str().unwrap_or_default().contains(words), "{body}");
    }
    let answer = http
        .post(&g.tokens.url)
        .form(&[("grant_type", jwt_bearer), ("assertion", &sign(good))])
        .send()
        .await
        .expect("POST");
    let body: serde_json::Value = answer.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 3000), "{body}");
    let token = body["access_token"].as_str().expect("token");
    assert!(g.tokens.check(Some(&format!("Bearer {token}")), "https://www.googleapis.com/auth/devstorage.").is_ok());
}

/// A server that stops reading an upload (hung, or its disk stalled): the upload fails once the
/// body has not moved for the stall timeout, instead of holding the run for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_the_server_stops_reading_fails_at_the_stall_timeout() {
    let g = google().await;
    let mut f = fixture(&g);
    f.settings.stall_timeout = Duration::from_secs(1);
    g.gate.stall_uploads();
    let dir = tempfile::tempdir().expect("dir");
    let p = conformance::provider(&f, &f.good, dir.path());
    let key = format!("stalled-{}/a.bin", uuid::Uuid::new_v4().simple());
    let (_, stream) = conformance::body(32 * 1024 * 1024);
    let started = std::time::Instant::now();
    let failed = tokio::time::timeout(Duration::from_secs(30), p.put(&key, stream)).await.expect("it ends");
    let e = failed.expect_err("a stalled upload fails");
    assert_eq!(e.kind, devpilot::providers::ErrorKind::Timeout, "{e}");
    assert!(e.message.contains("stopped taking the upload for 1 s"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(20), "it failed at the stall timeout, not later");
    assert!(p.list("stalled-").await.expect("list").is_empty(), "nothing is visible");
}
