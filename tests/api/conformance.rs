//! One conformance suite for every provider, each against its real local server (rclone's
//! `fstests` idea): through the UI, a good destination tests Active and each bad credential
//! Failed with its specific message; through the provider code a backup run uses, 0 bytes,
//! 1 byte and a large object round-trip byte for byte, list and delete work, a broken upload
//! leaves nothing behind, and presigned URLs (where the provider has them) download the bytes.
//!
//! A passing test means the backups will work: each provider's test addresses what its writes
//! address, and each fixture has a case whose settings address something else, which must fail
//! its test: S3 a virtual-hosted request that names no bucket (s3s-fs), Azure an endpoint of
//! another account, GCS a missing bucket, SFTP a directory it cannot write (the test writes a
//! probe there), Google Drive a file instead of a folder, Cloudinary another cloud, local a file
//! instead of a folder.

use crate::helpers::Backend;
use bytes::Bytes;
use devpilot::config::ProviderSettings;
use devpilot::fields::RawFields;
use devpilot::grants::FolderAccess;
use devpilot::hostfs::HostAccess;
use devpilot::providers::{self, ByteStream, Provider, ProviderContext};
use devpilot::providers::{ProviderConfig, ProviderKind};
use futures::{StreamExt, TryStreamExt};
use std::time::Duration;

/// Fields as the form names them, without the `config.` prefix.
pub type Fields = Vec<(String, String)>;

pub fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A destination that must fail its test, and words its message must contain.
pub struct BadCase {
    pub label: &'static str,
    pub fields: Fields,
    pub expect: &'static str,
}

pub struct Fixture {
    pub kind: ProviderKind,
    /// A destination that works.
    pub good: Fields,
    pub bad: Vec<BadCase>,
    /// Fields for the round trips when they need another instance (moto without auth, …).
    pub round_trip: Option<Fields>,
    /// Size of the large round trip (64 MiB unless the local server is too slow for it).
    pub large: usize,
    pub presign: bool,
    /// Server settings the provider needs (e.g. Google endpoints pointed at local servers).
    pub settings: ProviderSettings,
    /// A folder of this machine the destination needs granted (read and write): local disk.
    pub grant: Option<std::path::PathBuf>,
}

impl Fixture {
    pub fn new(kind: ProviderKind, good: Fields) -> Fixture {
        Fixture {
            kind,
            good,
            bad: Vec::new(),
            round_trip: None,
            large: 64 * 1024 * 1024,
            presign: false,
            settings: ProviderSettings {
                max_retries: 0,
                test_deadline: Duration::from_secs(10),
                outbound: devpilot::providers::outbound::AddressPolicy::allowing_loopback(),
                ..Default::default()
            },
            grant: None,
        }
    }

    pub fn bad(mut self, label: &'static str, fields: Fields, expect: &'static str) -> Fixture {
        self.bad.push(BadCase { label, fields, expect });
        self
    }

    /// The good fields with some replaced (or, with an empty value, removed).
    pub fn good_with(&self, changes: &[(&str, &str)]) -> Fields {
        let mut out: Fields = self.good.iter().filter(|(k, _)| !changes.iter().any(|(c, _)| c == k)).cloned().collect();
        out.extend(changes.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        out
    }
}

/// Through the UI on a real app: the good destination is Active, each bad one Failed with its
/// message.
pub async fn ui_cases(fixture: &Fixture, backend: Backend) {
    let (mut settings, data_dir, pg) = crate::helpers::test_settings(backend);
    settings.provider = fixture.settings.clone();
    let app = crate::helpers::spawn_with(settings, data_dir, pg).await;
    app.setup_admin().await;
    if let Some(folder) = &fixture.grant {
        app.grant_folder(folder, "read_write").await;
    }
    let kind = fixture.kind.as_str();
    let good: Vec<(&str, &str)> = fixture.good.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let created = app.create_destination("Good", kind, &good).await;
    assert_eq!(created.status, 303, "{kind}: {}", created.body);
    let row = app.destination("Good").await;
    assert_eq!(row.status, "active", "{kind}: the good destination failed: {}", row.message);
    assert!(row.tested);
    for case in &fixture.bad {
        let form: Vec<(&str, &str)> = case.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let created = app.create_destination(case.label, kind, &form).await;
        assert_eq!(created.status, 303, "{kind}/{}: {}", case.label, created.body);
        let row = app.destination(case.label).await;
        assert_eq!(row.status, "failed", "{kind}/{}: {}", case.label, row.message);
        assert!(
            row.message.contains(case.expect),
            "{kind}/{}: expected {:?} in {:?}",
            case.label,
            case.expect,
            row.message
        );
    }
}

pub fn provider(fixture: &Fixture, fields: &Fields, dir: &std::path::Path) -> Box<dyn Provider> {
    let mut ctx = ProviderContext::new(fixture.settings.clone(), dir.to_path_buf()).expect("HTTP clients");
    if let Some(folder) = &fixture.grant {
        let granted = vec![(std::fs::canonicalize(folder).expect("resolved"), FolderAccess::ReadWrite)];
        ctx = ctx.with_host(HostAccess::new(granted, dir.to_path_buf(), Default::default()));
    }
    let raw = RawFields::from_pairs(fields.iter().map(|(k, v)| (k.clone(), v.as_str())));
    let config = ProviderConfig::parse(fixture.kind, &raw).expect("valid config");
    providers::build(&config, &ctx).expect("provider")
}

/// Deterministic bytes in odd-sized chunks, as a stream.
pub fn body(len: usize) -> (Vec<u8>, ByteStream) {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let chunks: Vec<std::io::Result<Bytes>> = data.chunks(777_777).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    (data, futures::stream::iter(chunks).boxed())
}

fn failing_body() -> ByteStream {
    futures::stream::iter(vec![Ok(Bytes::from(vec![7u8; 1024 * 1024])), Err(std::io::Error::other("source went away"))])
        .boxed()
}

pub async fn read_all(p: &dyn Provider, key: &str) -> Vec<u8> {
    let chunks: Vec<Bytes> = p.get(key).await.expect("get").try_collect().await.expect("read");
    chunks.concat()
}

/// Round trips through the provider code: put, get, list, delete, a broken upload, presign.
pub async fn round_trip(fixture: &Fixture) {
    let dir = tempfile::tempdir().expect("dir");
    let fields = fixture.round_trip.as_ref().unwrap_or(&fixture.good);
    let p = provider(fixture, fields, dir.path());
    p.test().await.expect("the round-trip destination passes its test");
    // Slash-free run names: moto with auth on rejects slashes in query strings (moto issue 5948).
    let run = format!("run{}", uuid::Uuid::new_v4().simple());
    let sizes = [0usize, 1, fixture.large];
    for (i, len) in sizes.iter().enumerate() {
        let key = format!("{run}/artifact-{i}.bin");
        let (data, stream) = body(*len);
        assert_eq!(p.put(&key, stream).await.expect("put"), *len as u64, "{key}");
        assert!(read_all(p.as_ref(), &key).await == data, "{key}: bytes differ after the round trip");
    }
    let mut listed: Vec<(String, u64)> =
        p.list(&run).await.expect("list").into_iter().map(|o| (o.key, o.size)).collect();
    listed.sort();
    let expected: Vec<(String, u64)> =
        sizes.iter().enumerate().map(|(i, len)| (format!("{run}/artifact-{i}.bin"), *len as u64)).collect();
    assert_eq!(listed, expected);

    if fixture.presign {
        let key = format!("{run}/artifact-1.bin");
        let url = p.presign(&key, Duration::from_secs(300)).await.expect("presign").expect("a presigned URL");
        let got = localhost_client().get(url.clone()).send().await.expect("GET presigned");
        assert!(got.status().is_success(), "{url}: {}", got.status());
        assert_eq!(got.bytes().await.expect("body").as_ref(), &body(1).0[..]);
    } else {
        assert!(
            p.presign(&format!("{run}/artifact-1.bin"), Duration::from_secs(300)).await.expect("presign").is_none()
        );
    }

    p.delete(&format!("{run}/artifact-1.bin")).await.expect("delete");
    assert_eq!(p.list(&run).await.expect("list").len(), 2);
    assert!(p.get(&format!("{run}/artifact-1.bin")).await.is_err(), "deleted objects are gone");

    let failed_key = format!("{run}/failed.bin");
    assert!(p.put(&failed_key, failing_body()).await.is_err(), "a broken source fails the upload");
    assert!(p.list(&run).await.expect("list").iter().all(|o| o.key != failed_key), "nothing half-written is visible");
    for (i, _) in sizes.iter().enumerate().filter(|(i, _)| *i != 1) {
        p.delete(&format!("{run}/artifact-{i}.bin")).await.expect("clean up");
    }
}

/// A client that takes `*.localhost` for loopback (the system resolver here does not).
pub fn localhost_client() -> reqwest::Client {
    struct Loopback;
    impl reqwest::dns::Resolve for Loopback {
        fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
            let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(std::net::SocketAddr::from(([127, 0, 0, 1], 0))));
            Box::pin(futures::future::ready(Ok(addrs)))
        }
    }
    reqwest::Client::builder().dns_resolver(std::sync::Arc::new(Loopback)).build().expect("client")
}
