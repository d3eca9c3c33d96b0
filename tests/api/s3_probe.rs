//! The deep test's compatibility probe and least-privilege keys (issue 15):
//! - against stand-ins in front of s3s-fs that refuse checksum headers, refuse conditional
//!   writes, or cap part numbers: each refusal is found, stored, shown on the destination's
//!   page, and backups still succeed without the feature (a backup larger than the cap allows in
//!   8 MiB parts too); against one that lacks nothing, backups then use checksums and
//!   `If-None-Match`;
//! - the S3 policy the form shows, applied to a moto IAM user (moto enforces IAM with auth on),
//!   lets the test, the deep test, runs, retention, download and restore succeed, with no
//!   over-privilege warning; a key allowed `s3:*` gets the warning.

use crate::all_operations::runs_prune_download_restore;
use crate::api_client::admin;
use crate::every_destination::plan_form;
use crate::helpers::{Backend, TestApp, moto, spawn_app};
use crate::on_both_backends;
use crate::provider_s3::s3s;
use crate::runs::fill;
use crate::s3_compatible::app_for;
use crate::standins::s3_proxy::{Lacks, S3Proxy};
use bytes::Bytes;
use object_store::aws::{AwsAuthorizer, AwsCredential};

on_both_backends!(stand_ins_refusals_are_found_and_backups_do_without, the_policy_shown_is_enough_on_moto);

/// Creates an S3 destination through the form, deep-tests it through the API; returns its id
/// and the destination page.
async fn deep_tested(app: &TestApp, name: &str, fields: &[(&str, &str)]) -> (String, String) {
    assert_eq!(app.create_destination(name, "s3", fields).await.status, 303, "{name}");
    let row = app.destination(name).await;
    assert_eq!(row.status, "active", "{name}: {}", row.message);
    let reply = admin(app)
        .await
        .post(&format!("/api/v1/backup-destinations/{}/test?deep=true", row.id), serde_json::json!({}))
        .await;
    assert_eq!(reply.status, 200, "{name}: {reply:?}");
    let checks = reply.json["data"]["compatibility"]["checks"].as_array().map_or(0, Vec::len);
    assert!(checks >= 10, "the API shows what the probe found: {reply:?}");
    let page = app.get(&format!("/destinations/{}", row.id)).await;
    assert_eq!(page.status, 200);
    (row.id, page.body)
}

/// The row of a check on a destination page: "feature … state".
fn check_row<'a>(page: &'a str, feature: &str) -> &'a str {
    let at = page.find(&format!("<td>{feature}</td>")).unwrap_or_else(|| panic!("no check {feature}: {page}"));
    &page[at..at + page[at..].find("</tr>").unwrap_or(0)]
}

async fn stand_ins_refusals_are_found_and_backups_do_without(backend: Backend) {
    let s = s3s();
    let app = app_for(&s, backend).await;
    let cases = [
        (Lacks::Checksums, "x-amz-checksum-sha256 header"),
        (Lacks::Conditional, "conditional writes (If-None-Match)"),
        (Lacks::CapParts(2), "part numbers"),
        (Lacks::Nothing, "x-amz-checksum-sha256 header"),
    ];
    for (i, (lacks, feature)) in cases.into_iter().enumerate() {
        let proxy = S3Proxy::start(&s.endpoint, lacks);
        // A prefix of its own: s3s-fs lists by reading the whole bucket's folder, so a listing of
        // the bucket's root would trip over another test's object deleted meanwhile (a 500).
        let prefix = format!("probe-{}", uuid::Uuid::new_v4().simple());
        let fields = [
            ("provider", "custom"),
            ("endpoint", proxy.url.as_str()),
            ("bucket", s.bucket.as_str()),
            ("prefix", prefix.as_str()),
            ("access_key_id", s.access_key_id.as_str()),
            ("secret_access_key", s.secret_access_key.as_str()),
        ];
        let (id, page) = deep_tested(&app, &format!("{lacks:?}"), &fields).await;
        let row = check_row(&page, feature);
        if lacks == Lacks::Nothing {
            assert!(row.contains("works"), "{row}");
            assert!(page.contains("x-amz-checksum-"), "{page}");
        } else {
            assert!(row.contains("not supported"), "{lacks:?}: {row}");
            assert!(proxy.refused() > 0, "{lacks:?}: the probe asked");
        }
        if let Lacks::CapParts(_) = lacks {
            assert!(row.contains("at most 2 parts"), "{row}");
            assert!(page.contains("parts of 64 MiB"), "{page}");
        }
        let stored = app.destination(&format!("{lacks:?}")).await;
        assert!(stored.message.contains("Warning: "), "s3s-fs has one key for everything: {}", stored.message);

        proxy.reset_counts();
        let source = tempfile::tempdir().expect("source");
        fill(source.path());
        if let Lacks::CapParts(_) = lacks {
            // More than two parts of 8 MiB, incompressible.
            let mut noise = vec![0u8; 20 * 1024 * 1024];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut noise);
            std::fs::write(source.path().join("noise.bin"), noise).expect("noise");
        }
        let name = format!("Plan {lacks:?}");
        let path = source.path().to_string_lossy().into_owned();
        app.grant_folder(source.path(), "read").await;
        let form = plan_form(&name, &id, &[("source_kind", "directory"), ("source_path", &path)]);
        assert_eq!(app.post("/plans", &form).await.status, 303);
        let run = crate::every_destination::run_and_wait(&app, &name, i + 1).await;
        assert_eq!(proxy.refused(), 0, "{lacks:?}: the backup used what the service refuses");
        match lacks {
            Lacks::CapParts(cap) => {
                assert!(run.bytes > 16 * 1024 * 1024, "{run:?}");
                // In 8 MiB parts it needs three, which the service refuses; in the 64 MiB parts
                // used here it goes in one request.
                assert!(proxy.highest_part() <= cap, "part {}", proxy.highest_part());
            }
            Lacks::Nothing => assert!(proxy.checksummed() > 0 && proxy.conditional() > 0, "what works is used"),
            _ => {}
        }
    }
}

/// moto's IAM API, signed by the user allowed iam:*: form-encoded actions, XML answers.
pub async fn iam(action: &[(&str, &str)]) -> String {
    let m = moto();
    let credential =
        AwsCredential { key_id: m.iam_access_key_id.clone(), secret_key: m.iam_secret_access_key.clone(), token: None };
    let mut form: Vec<(&str, &str)> = vec![("Version", "2010-05-08")];
    form.extend_from_slice(action);
    let body = serde_urlencoded::to_string(&form).expect("form");
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(format!("{}/", m.endpoint))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(object_store::client::HttpRequestBody::from(Bytes::from(body.clone())))
        .expect("request");
    AwsAuthorizer::new(&credential, "iam", &m.region).try_authorize(&mut request, None).expect("signed");
    let reply = reqwest::Client::new()
        .post(format!("{}/", m.endpoint))
        .headers(request.headers().clone())
        .body(body)
        .send()
        .await
        .expect("IAM");
    let (status, text) = (reply.status(), reply.text().await.expect("body"));
    assert!(status.is_success(), "{action:?}: {status} {text}");
    text
}

pub fn xml_field(text: &str, name: &str) -> String {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let from = text.find(&open).map(|i| i + open.len()).unwrap_or_else(|| panic!("no {name}: {text}"));
    text[from..from + text[from..].find(&close).expect("closed")].to_owned()
}

/// moto checks IAM against the API operation's name where AWS checks the IAM action each
/// operation requires (ListObjectsV2 needs s3:ListBucket; CreateMultipartUpload, UploadPart and
/// CompleteMultipartUpload need s3:PutObject; HeadObject needs s3:GetObject — AWS's "actions,
/// resources and condition keys for Amazon S3"). Each statement of the policy shown keeps its
/// resources and gains the operation names its actions stand for, so moto reads it as AWS would.
fn in_motos_words(mut policy: serde_json::Value) -> String {
    let operations = |action: &str| -> &'static [&'static str] {
        match action {
            "s3:ListBucket" => &["s3:ListObjectsV2", "s3:ListObjects"],
            "s3:ListBucketMultipartUploads" => &["s3:ListMultipartUploads"],
            "s3:PutObject" => &["s3:CreateMultipartUpload", "s3:UploadPart", "s3:CompleteMultipartUpload"],
            "s3:GetObject" => &["s3:HeadObject"],
            _ => &[],
        }
    };
    for statement in policy["Statement"].as_array_mut().expect("statements") {
        let actions: Vec<String> = match &statement["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            serde_json::Value::Array(list) => list.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
            other => panic!("an action list: {other}"),
        };
        let mut all = actions.clone();
        all.extend(actions.iter().flat_map(|a| operations(a)).map(|o| (*o).to_owned()));
        statement["Action"] = serde_json::json!(all);
    }
    policy.to_string()
}

/// The policy text of the form's least-privilege panel, as shown (HTML entities decoded).
async fn policy_shown(app: &TestApp, bucket: &str) -> String {
    let panel = app
        .htmx_post("/destinations/policy", &[("type", "s3"), ("config.provider", "custom"), ("config.bucket", bucket)])
        .await;
    assert_eq!(panel.status, 200, "{}", panel.body);
    let start = panel.body.find("class=\"policy-text\"").expect("policy text");
    let text = &panel.body[start..];
    let text = &text[text.find('>').expect("tag") + 1..text.find("</pre>").expect("end")];
    text.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn the_policy_shown_is_enough_on_moto(backend: Backend) {
    let m = moto();
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let shown = policy_shown(&app, &m.bucket).await;
    let policy = in_motos_words(serde_json::from_str(&shown).unwrap_or_else(|e| panic!("{e}: {shown}")));

    let user = format!("least-{}", uuid::Uuid::new_v4().simple());
    iam(&[("Action", "CreateUser"), ("UserName", &user)]).await;
    iam(&[("Action", "PutUserPolicy"), ("UserName", &user), ("PolicyName", "devpilot"), ("PolicyDocument", &policy)])
        .await;
    let key = iam(&[("Action", "CreateAccessKey"), ("UserName", &user)]).await;
    let (key_id, secret) = (xml_field(&key, "AccessKeyId"), xml_field(&key, "SecretAccessKey"));

    // Test, deep test (probe included): passes, and no warning.
    let (id, page) = deep_tested(&app, "Least privilege", &m.fields(&key_id, &secret, &m.bucket)).await;
    let row = app.destination("Least privilege").await;
    assert_eq!(row.status, "active", "{}", row.message);
    assert!(!row.message.contains("Warning"), "{}", row.message);
    assert!(!page.contains("class=\"warning\""), "{page}");

    // Runs with retention 1 (DeleteObject; leftovers listed), download (a presigned link where
    // the probe found them working, else streamed) and restore.
    runs_prune_download_restore(&app, &id, "Least").await;

    // The key allowed s3:* is told it can do more.
    let (_, page) = deep_tested(&app, "Everything", &m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket)).await;
    assert!(page.contains("can list every bucket"), "{page}");
    let row = app.destination("Everything").await;
    assert!(row.message.contains("Warning: The key can list every bucket"), "{}", row.message);
}

/// What the probe found, used: uploads of every size (one request, and multipart with checksums
/// on every part where the service verifies them) come back byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_with_what_the_probe_found_round_trip() {
    use devpilot::fields::RawFields;
    use devpilot::providers::ProviderConfig;
    use devpilot::providers::{self, ProviderContext};
    for fixture in
        [crate::provider_s3::s3s_fixture(false), crate::provider_s3::s3s_fixture(true), crate::provider_s3::fixture()]
    {
        let ctx = ProviderContext::new(fixture.settings.clone(), std::env::temp_dir()).expect("clients");
        let raw = RawFields::from_pairs(fixture.good.iter().map(|(k, v)| (k.clone(), v.as_str())));
        let config = ProviderConfig::parse(fixture.kind, &raw).expect("valid");
        let found = providers::build(&config, &ctx).expect("provider").compatibility().await.expect("a probe");
        let learned = found.s3.clone().expect("S3 findings");
        // s3s-fs verifies checksums, in multipart uploads too; moto accepts wrong ones.
        let s3s = fixture.good.iter().any(|(_, v)| v.contains("devpilot-s3s"));
        assert_eq!(learned.sha256_verified && learned.multipart_checksums, s3s, "{learned:?}");
        let tuned = providers::build(&config.with_compatibility(Some(found)), &ctx).expect("provider");
        let run = format!("probed{}", uuid::Uuid::new_v4().simple());
        for len in [0usize, 1, 20 * 1024 * 1024] {
            let key = format!("{run}/artifact-{len}.bin");
            let (data, body) = crate::conformance::body(len);
            assert_eq!(tuned.put(&key, body).await.expect("put"), len as u64, "{learned:?}");
            assert!(crate::conformance::read_all(tuned.as_ref(), &key).await == data, "{key}: bytes differ");
            tuned.delete(&key).await.expect("delete");
        }
    }
}
