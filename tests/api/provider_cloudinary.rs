//! Cloudinary in the conformance suite, against the Cloudinary stand-in (no Cloudinary server
//! runs here): a good key is Active; a wrong secret, an unknown key and an unknown cloud are
//! Failed with Cloudinary's own message; 0 B, 1 B and 64 MiB round trips (the large one in
//! 20 MB chunks) through signed uploads, listing, delivery URLs and signed destroys.

use crate::conformance::{self, Fixture, body, fields};
use crate::helpers::Backend;
use crate::on_both_backends;
use crate::standins::cloudinary::Cloudinary;
use devpilot::providers::ProviderKind;
use futures::StreamExt;

pub const CLOUD: &str = "devpilot-test";
pub const API_KEY: &str = "614337511824295";
pub const API_SECRET: &str = "Xk3-secret_Value9";

pub fn fixture(cloudinary: &Cloudinary) -> Fixture {
    let good = fields(&[
        ("cloud_name", CLOUD),
        ("prefix", "backups/nightly/"),
        ("api_key", API_KEY),
        ("api_secret", API_SECRET),
    ]);
    let mut f = Fixture::new(ProviderKind::Cloudinary, good);
    f.settings.endpoints.cloudinary_api = cloudinary.api();
    let wrong_secret = f.good_with(&[("api_secret", "not-the-secret")]);
    let unknown_key = f.good_with(&[("api_key", "999999999")]);
    let unknown_cloud = f.good_with(&[("cloud_name", "someone-else")]);
    f.bad("Wrong secret", wrong_secret, "api_secret mismatch")
        .bad("Unknown key", unknown_key, "Invalid api_key 999999999")
        .bad("Unknown cloud", unknown_cloud, "Invalid cloud_name someone-else")
}

on_both_backends!(cloudinary_conformance);

async fn cloudinary_conformance(backend: Backend) {
    let cloudinary = Cloudinary::start(CLOUD, API_KEY, API_SECRET);
    conformance::ui_cases(&fixture(&cloudinary), backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudinary_round_trip() {
    let cloudinary = Cloudinary::start(CLOUD, API_KEY, API_SECRET);
    conformance::round_trip(&fixture(&cloudinary)).await;
    // 64 MiB went up in 20 MB chunks: three full ones and the rest.
    assert_eq!(cloudinary.chunk_requests(), 4, "the large artifact was uploaded in chunks");
    assert!(cloudinary.assets().is_empty(), "everything the round trip wrote was destroyed: {:?}", cloudinary.assets());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_chunked_upload_leaves_no_asset() {
    let cloudinary = Cloudinary::start(CLOUD, API_KEY, API_SECRET);
    let f = fixture(&cloudinary);
    let dir = tempfile::tempdir().expect("dir");
    let p = conformance::provider(&f, &f.good, dir.path());
    // Two full chunks reach Cloudinary, then the source fails.
    let (_, good) = body(45_000_000);
    let broken = good.chain(futures::stream::once(async { Err(std::io::Error::other("source went away")) })).boxed();
    assert!(p.put("broken.bin", broken).await.is_err());
    assert_eq!(cloudinary.chunk_requests(), 2);
    assert!(cloudinary.assets().is_empty(), "no asset without its last chunk");
    assert!(p.list("").await.expect("list").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_with_a_wrong_secret_are_refused_with_cloudinarys_message() {
    let cloudinary = Cloudinary::start(CLOUD, API_KEY, API_SECRET);
    let f = fixture(&cloudinary);
    let dir = tempfile::tempdir().expect("dir");
    let p = conformance::provider(&f, &f.good_with(&[("api_secret", "not-the-secret")]), dir.path());
    let error = p.put("a.bin", body(10).1).await.expect_err("refused");
    assert!(error.message.starts_with("Invalid Signature "), "{error}");
    assert!(error.message.contains("String to sign - 'overwrite=true&public_id=backups/nightly/a.bin&timestamp="));
    let error = p.delete("a.bin").await.expect_err("refused");
    assert!(error.message.starts_with("Invalid Signature "), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_checks_signatures_and_timestamps_like_cloudinary() {
    let cloudinary = Cloudinary::start(CLOUD, API_KEY, API_SECRET);
    let http = reqwest::Client::new();
    let upload = |timestamp: i64, signature: Option<String>| {
        let ts = timestamp.to_string();
        let signature = signature
            .unwrap_or_else(|| Cloudinary::signature(&[("public_id", "x.bin"), ("timestamp", &ts)], API_SECRET));
        let form = reqwest::multipart::Form::new()
            .text("api_key", API_KEY)
            .text("timestamp", ts)
            .text("public_id", "x.bin")
            .text("signature", signature)
            .part("file", reqwest::multipart::Part::bytes(b"payload".to_vec()).file_name("x.bin"));
        http.post(format!("{}/{CLOUD}/raw/upload", cloudinary.api())).multipart(form).send()
    };
    let now = chrono::Utc::now().timestamp();
    let ok = upload(now, None).await.expect("upload");
    assert_eq!(ok.status().as_u16(), 200);
    let stale = upload(now - 2 * 3600, None).await.expect("upload");
    assert_eq!(stale.status().as_u16(), 400);
    assert!(stale.text().await.unwrap_or_default().contains("Stale request"));
    let forged = upload(now, Some("0".repeat(40))).await.expect("upload");
    assert_eq!(forged.status().as_u16(), 401);
    assert!(forged.text().await.unwrap_or_default().contains("Invalid Signature"));
    assert_eq!(cloudinary.assets(), vec![("x.bin".to_owned(), 7)]);
}
