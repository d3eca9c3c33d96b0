//! An upload to an object store cut off by a crash (the task simply stops: no abort is sent)
//! leaves parts the store keeps but never shows: S3's incomplete multipart upload, Azure's
//! uncommitted blocks. `remove_leftovers` on the plan's folder, which the next run and start-up
//! recovery call, lists and removes those of the plan's own cut-off runs; what is visible, and
//! what other uploads left, stays as it was. Against moto (auth on) and Azurite (with the account
//! key, and with a container SAS).

use crate::helpers::moto;
use bytes::Bytes;
use devpilot::config::ProviderSettings;
use devpilot::fields::RawFields;
use devpilot::providers::azure_blob::{AzureBlobConfig, AzureBlobProvider};
use devpilot::providers::outbound::AddressPolicy;
use devpilot::providers::s3::{S3Config, S3Provider};
use devpilot::providers::{ByteStream, Provider, ProviderContext};
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_incomplete_multipart_uploads_are_aborted() {
    let m = moto();
    let fields = m.fields(&m.access_key_id, &m.secret_access_key, &m.bucket);
    let raw = RawFields::from_pairs(fields.iter().copied());
    let provider = Arc::new(S3Provider::new(&S3Config::parse(&raw).expect("config"), &ctx()).expect("provider"));
    let folder = format!("cut-{}/", uuid::Uuid::new_v4().simple());
    let pending = {
        let provider = Arc::clone(&provider);
        let folder = folder.clone();
        move || {
            let (provider, folder) = (Arc::clone(&provider), folder.clone());
            async move { provider.incomplete_uploads(&folder).await.expect("list uploads").len() }
        }
    };
    cut_off(Arc::clone(&provider) as Arc<dyn Provider>, &folder, pending.clone()).await;
    // Another plan's upload in the same folder is not ours: left alone.
    assert_eq!(provider.remove_leftovers(&folder, &|name| name == "other.tar.zst").await.expect("remove nothing"), 0);
    assert!(pending().await >= 1, "another plan's upload was removed");
    assert!(
        provider.remove_leftovers(&folder, &|name| name == "artifact.tar.zst").await.expect("remove leftovers") >= 1
    );
    assert_eq!(pending().await, 0, "an incomplete upload is left");
    assert!(provider.list(&folder).await.expect("list").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_uncommitted_blocks_are_discarded() {
    uncommitted_blocks_are_discarded(crate::provider_azure::fixture().good).await;
}

/// With a container SAS that has only the permissions the Least privilege panel shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_uncommitted_blocks_are_discarded_with_a_sas() {
    uncommitted_blocks_are_discarded(crate::provider_azure::sas_fixture().good).await;
}

async fn uncommitted_blocks_are_discarded(fields: crate::conformance::Fields) {
    let raw = RawFields::from_pairs(fields.iter().map(|(k, v)| (k.clone(), v.as_str())));
    let config = AzureBlobConfig::parse(&raw).expect("config");
    let provider = Arc::new(AzureBlobProvider::new(&config, &ctx()).expect("provider"));
    let folder = format!("cut-{}/", uuid::Uuid::new_v4().simple());
    // Something committed in the folder, which must stay.
    let kept = format!("{folder}kept.bin");
    let body: ByteStream = futures::stream::once(async { Ok(Bytes::from_static(b"kept")) }).boxed();
    provider.put(&kept, body).await.expect("put");
    let pending = {
        let provider = Arc::clone(&provider);
        let folder = folder.clone();
        move || {
            let (provider, folder) = (Arc::clone(&provider), folder.clone());
            async move { provider.uncommitted_uploads(&folder).await.expect("list uncommitted").len() }
        }
    };
    cut_off(Arc::clone(&provider) as Arc<dyn Provider>, &folder, pending.clone()).await;
    // Another plan's upload in the same folder is not ours: left alone.
    assert_eq!(provider.remove_leftovers(&folder, &|name| name == "other.tar.zst").await.expect("remove nothing"), 0);
    assert!(pending().await >= 1, "another plan's upload was removed");
    assert!(
        provider.remove_leftovers(&folder, &|name| name == "artifact.tar.zst").await.expect("remove leftovers") >= 1
    );
    assert_eq!(pending().await, 0, "uncommitted blocks are left");
    let listed: Vec<String> = provider.list(&folder).await.expect("list").into_iter().map(|o| o.key).collect();
    assert_eq!(listed, vec![kept]);
}

fn ctx() -> ProviderContext {
    let settings =
        ProviderSettings { max_retries: 0, outbound: AddressPolicy::allowing_loopback(), ..Default::default() };
    ProviderContext::new(settings, std::env::temp_dir()).expect("HTTP clients")
}

/// Starts an upload of 12 MiB that then never ends, waits until the store holds some of it
/// (`pending` counts what it holds), and stops the upload dead.
async fn cut_off<F, Fut>(provider: Arc<dyn Provider>, folder: &str, pending: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let key = format!("{folder}artifact.tar.zst");
    let chunks = (0..12).map(|i| Ok(Bytes::from(vec![i as u8; 1 << 20])));
    let body: ByteStream = futures::stream::iter(chunks).chain(futures::stream::pending()).boxed();
    let upload = tokio::spawn(async move { provider.put(&key, body).await });
    let started = Instant::now();
    while pending().await == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the upload left nothing to find");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    upload.abort();
    let _ = upload.await;
}
