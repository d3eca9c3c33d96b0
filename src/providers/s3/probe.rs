//! The compatibility probe of a deep test: each optional S3 feature tried with a real request
//! under the destination's prefix (`.devpilot-probe/`), and everything it wrote removed again.
//! What works is stored and used (see `learned`); what was refused is not. A check that fails
//! is a finding, never the test's failure.

use super::learned::{Learned, S3_MAX_PARTS, Uses};
use super::requests::{Answer, Payload};
use super::{S3Provider, privilege, trailer};
use crate::providers::compatibility::{CheckState, Compatibility};
use crate::providers::{ProviderError, join_key};
use base64::Engine;
use bytes::Bytes;
use object_store::multipart::MultipartStore;
use object_store::path::Path as StorePath;
use object_store::signer::Signer;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Probe objects are this small: only the multipart checks send more.
const SMALL: usize = 1024;
const KIB_64: usize = 64 * 1024;
const MIB_5: usize = 5 * 1024 * 1024;

struct Run<'a> {
    p: &'a S3Provider,
    folder: String,
    written: Vec<String>,
    report: Compatibility,
    learned: Learned,
}

pub async fn probe(p: &S3Provider) -> Compatibility {
    let folder = join_key(p.prefix.as_deref(), &format!(".devpilot-probe/{}", uuid::Uuid::new_v4().simple()));
    let mut run = Run { p, folder, written: Vec::new(), report: Compatibility::default(), learned: Learned::default() };
    run.addressing().await;
    if run.payloads().await {
        run.checksums().await;
        run.trailer().await;
        run.conditional().await;
        run.multipart().await;
        run.presign().await;
    }
    run.list_uploads().await;
    run.object_lock().await;
    run.clean_up().await;
    run.report.warnings = privilege::excess(p).await;
    let uses = Uses::from(Some(&run.learned), p.https);
    run.report.uses = uses.describe();
    run.report.s3 = Some(run.learned);
    run.report.probed_at = Some(chrono::Utc::now().naive_utc());
    run.report
}

impl Run<'_> {
    fn key(&mut self, name: &str) -> (String, String) {
        let key = format!("{}/{name}", self.folder);
        self.written.push(key.clone());
        (key.clone(), object_url(&self.p.at.bucket_url, &key))
    }

    async fn put(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &[u8],
        payload: Payload,
    ) -> Result<Answer, ProviderError> {
        let requests = self.p.requests();
        requests.send(http::Method::PUT, url, headers, Bytes::copy_from_slice(body), payload).await
    }

    /// Reads an object back whole, through object_store.
    async fn read(&self, key: &str) -> Option<Vec<u8>> {
        let got = object_store::ObjectStoreExt::get(&self.p.plain, &StorePath::from(key)).await.ok()?;
        got.bytes().await.ok().map(|b| b.to_vec())
    }

    async fn addressing(&mut self) {
        for style in std::iter::once(self.p.at.clone()).chain(self.p.other.clone()) {
            let name = if style.path_style { "path-style requests" } else { "virtual-hosted requests" };
            let listed =
                self.p.requests().list_first(&style.bucket_url, &self.p.bucket, self.p.prefix.as_deref()).await;
            match listed {
                Ok(()) => self.report.check(name, CheckState::Works, style.bucket_url.clone()),
                Err(e) => self.report.check(name, CheckState::Refused, format!("{}: {e}", style.bucket_url)),
            }
        }
    }

    /// A signed and an `UNSIGNED-PAYLOAD` upload; false when even the signed one fails.
    async fn payloads(&mut self) -> bool {
        let (_, url) = self.key("signed");
        match self.put(&url, &[], &[1u8; SMALL], Payload::Signed).await {
            Ok(a) if a.ok() => self.report.check("signed payload", CheckState::Works, ""),
            Ok(a) => return self.gave_up("signed payload", &a.error().to_string()),
            Err(e) => return self.gave_up("signed payload", &e.to_string()),
        }
        let (_, url) = self.key("unsigned");
        let state = self.answer_state(self.put(&url, &[], &[2u8; SMALL], Payload::Unsigned).await);
        self.learned.unsigned_payload = state.0 == CheckState::Works;
        self.report.check("UNSIGNED-PAYLOAD", state.0, state.1);
        true
    }

    fn gave_up(&mut self, feature: &str, why: &str) -> bool {
        self.report.check(feature, CheckState::Refused, format!("{why} (the other upload checks were skipped)"));
        false
    }

    fn answer_state(&self, answer: Result<Answer, ProviderError>) -> (CheckState, String) {
        match answer {
            Ok(a) if a.ok() => (CheckState::Works, String::new()),
            Ok(a) => (CheckState::Refused, a.error().to_string()),
            Err(e) => (CheckState::Refused, e.to_string()),
        }
    }

    /// Each checksum header with the right value, then with a wrong one: a service that
    /// verifies refuses the second.
    async fn checksums(&mut self) {
        let data = [3u8; SMALL];
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let crc32 = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, &data) as u32;
        let crc64 = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, &data);
        let algorithms = [
            ("crc32", b64(&crc32.to_be_bytes()), b64(&(crc32 ^ 1).to_be_bytes())),
            ("crc64nvme", b64(&crc64.to_be_bytes()), b64(&(crc64 ^ 1).to_be_bytes())),
            ("sha256", b64(&Sha256::digest(data)), b64(&Sha256::digest(b"not the body"))),
        ];
        for (name, right, wrong) in algorithms {
            let header = format!("x-amz-checksum-{name}");
            let (_, url) = self.key(&format!("checksum-{name}"));
            let (state, detail) = match self
                .answer_state(self.put(&url, &[(&header, right)], &data, Payload::Signed).await)
            {
                (CheckState::Works, _) => {
                    let (_, url) = self.key(&format!("checksum-{name}-wrong"));
                    match self.put(&url, &[(&header, wrong)], &data, Payload::Signed).await {
                        Ok(a) if a.ok() => (CheckState::Ignored, "a wrong checksum was accepted too".to_owned()),
                        Ok(a) => {
                            (CheckState::Works, format!("a wrong one is refused ({})", a.code().unwrap_or_default()))
                        }
                        Err(e) => (CheckState::Ignored, format!("a wrong one got no answer: {e}")),
                    }
                }
                refused => refused,
            };
            match name {
                "sha256" => self.learned.sha256_verified = state == CheckState::Works,
                "crc64nvme" => self.learned.crc64nvme_verified = state == CheckState::Works,
                _ => {}
            }
            self.report.check(&format!("{header} header"), state, detail);
        }
    }

    async fn trailer(&mut self) {
        let data = [4u8; SMALL];
        let (key, url) = self.key("trailer");
        let feature = "trailing checksum (aws-chunked)";
        let sent = match (self.p.requests().credential().await, url::Url::parse(&url)) {
            (Ok(credential), Ok(parsed)) => {
                let (headers, body) = trailer::put(&credential, &self.p.region, &parsed, &data, chrono::Utc::now());
                self.p.requests().send_prepared(http::Method::PUT, &url, headers, body).await
            }
            (Err(e), _) => Err(e),
            (_, Err(e)) => return self.report.check(feature, CheckState::Refused, e.to_string()),
        };
        let (state, detail) = match self.answer_state(sent) {
            (CheckState::Works, _) => match self.read(&key).await {
                Some(stored) if stored == data => (CheckState::Works, String::new()),
                Some(stored) => (
                    CheckState::Refused,
                    format!("accepted, but stored {} bytes of {} (the chunk framing kept)", stored.len(), data.len()),
                ),
                None => (CheckState::Refused, "accepted, but the object cannot be read back".into()),
            },
            refused => refused,
        };
        self.report.check(feature, state, detail);
    }

    /// `If-None-Match: *` on a new key, then on the same key again (which must be refused).
    async fn conditional(&mut self) {
        let (_, url) = self.key("conditional");
        let condition = [("if-none-match", "*".to_owned())];
        let (state, detail) = match self.answer_state(self.put(&url, &condition, &[5u8; SMALL], Payload::Signed).await)
        {
            (CheckState::Works, _) => match self.put(&url, &condition, &[6u8; SMALL], Payload::Signed).await {
                Ok(a) if a.status == 412 => (CheckState::Works, "an existing key is refused (412)".into()),
                Ok(a) if a.ok() => (CheckState::Ignored, "an existing key was overwritten".into()),
                Ok(a) => (CheckState::Refused, a.error().to_string()),
                Err(e) => (CheckState::Refused, e.to_string()),
            },
            refused => refused,
        };
        self.learned.conditional_writes = state == CheckState::Works;
        self.report.check("conditional writes (If-None-Match)", state, detail);
    }

    async fn multipart(&mut self) {
        let plain = self.p.plain.clone();
        let (smallest, first) = match self.parts(&plain, &[KIB_64, 1]).await {
            Ok(()) => ("no minimum enforced: 64 KiB parts are taken", KIB_64),
            Err(_) => match self.parts(&plain, &[MIB_5, 1]).await {
                Ok(()) => ("minimum part size 5 MiB, as S3", MIB_5),
                Err(e) => return self.report.check("multipart upload", CheckState::Refused, e.to_string()),
            },
        };
        self.report.check("multipart upload", CheckState::Works, smallest);
        self.multipart_checksums(first).await;
        match self.highest_part().await {
            Ok(S3_MAX_PARTS) => self.report.check("part numbers", CheckState::Works, "up to 10,000, as S3"),
            Ok(n) => {
                self.learned.max_parts = Some(n);
                self.report.check("part numbers", CheckState::Refused, format!("at most {n} parts"));
            }
            Err(e) => self.report.check("part numbers", CheckState::Refused, e.to_string()),
        }
    }

    /// The checksum uploads would send, in a multipart upload too (object_store sends it in
    /// both kinds, and some services take it in one only).
    async fn multipart_checksums(&mut self, first: usize) {
        let unsigned = self.learned.unsigned_payload && self.p.https;
        let Some(checksum) = Uses::checksum_for(&self.learned, unsigned) else { return };
        let learned = Learned { multipart_checksums: true, ..self.learned.clone() };
        let uses = Uses::from(Some(&learned), self.p.https);
        let store = match super::tuned(self.p.builder.clone(), &uses).build() {
            Ok(store) => store,
            Err(e) => return self.report.check("checksums in multipart uploads", CheckState::Refused, e.to_string()),
        };
        let (state, detail) = match self.parts(&store, &[first, 1]).await {
            Ok(()) => (CheckState::Works, format!("{checksum:?} on every part")),
            Err(e) => (CheckState::Refused, e.to_string()),
        };
        self.learned.multipart_checksums = state == CheckState::Works;
        self.report.check("checksums in multipart uploads", state, detail);
    }

    /// A multipart upload of parts of these sizes, completed.
    async fn parts(&mut self, store: &object_store::aws::AmazonS3, sizes: &[usize]) -> Result<(), ProviderError> {
        let (key, _) = self.key(&format!("multipart-{}-{}", sizes[0], self.written.len()));
        let path = StorePath::from(key.as_str());
        let err = |e: object_store::Error| self.p.err(&e);
        let id = store.create_multipart(&path).await.map_err(err)?;
        let mut parts = Vec::new();
        for (i, size) in sizes.iter().enumerate() {
            match store.put_part(&path, &id, i, vec![7u8; *size].into()).await {
                Ok(part) => parts.push(part),
                Err(e) => {
                    let _ = store.abort_multipart(&path, &id).await;
                    return Err(err(e));
                }
            }
        }
        if let Err(e) = store.complete_multipart(&path, &id, parts).await {
            let _ = store.abort_multipart(&path, &id).await;
            return Err(err(e));
        }
        Ok(())
    }

    /// The highest part number the service takes (parts of one byte, never completed).
    async fn highest_part(&mut self) -> Result<u32, ProviderError> {
        let (key, _) = self.key("part-numbers");
        let path = StorePath::from(key.as_str());
        let store = &self.p.plain;
        let id = store.create_multipart(&path).await.map_err(|e| self.p.err(&e))?;
        let takes = |n: u32| {
            let (path, id) = (&path, &id);
            async move { store.put_part(path, id, n as usize - 1, vec![8u8].into()).await.is_ok() }
        };
        let found = if takes(S3_MAX_PARTS).await {
            S3_MAX_PARTS
        } else {
            let (mut ok, mut refused) = (1u32, S3_MAX_PARTS);
            while refused - ok > 1 {
                let mid = ok + (refused - ok) / 2;
                if takes(mid).await { ok = mid } else { refused = mid }
            }
            ok
        };
        let _ = store.abort_multipart(&path, &id).await;
        Ok(found)
    }

    async fn presign(&mut self) {
        let key = format!("{}/signed", self.folder);
        let path = StorePath::from(key.as_str());
        let signed = self.p.plain.signed_url(http::Method::GET, &path, Duration::from_secs(300)).await;
        let (state, detail) = match signed {
            Ok(url) => match self.p.http.get(url.as_str()) {
                Ok(request) => match request.send().await {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(b) if b.as_ref() == [1u8; SMALL] => (CheckState::Works, String::new()),
                        _ => (CheckState::Refused, "the link answered other bytes".into()),
                    },
                    Ok(r) => (CheckState::Refused, format!("the link answered HTTP {}", r.status().as_u16())),
                    Err(e) => (CheckState::Refused, e.to_string()),
                },
                Err(e) => (CheckState::Refused, e.to_string()),
            },
            Err(e) => (CheckState::Refused, self.p.err(&e).to_string()),
        };
        self.learned.presigned_get = state == CheckState::Works;
        self.report.check("presigned GET", state, detail);
    }

    async fn list_uploads(&mut self) {
        let folder = format!("{}/", self.folder);
        let (state, detail) = match self.p.bucket().incomplete(&folder).await {
            Ok(_) => (CheckState::Works, String::new()),
            Err(e) => (CheckState::Refused, e.to_string()),
        };
        self.learned.list_uploads = state == CheckState::Works;
        self.report.check("listing incomplete uploads", state, detail);
    }

    /// On a bucket with Object Lock: an early delete of a locked version must be refused.
    async fn object_lock(&mut self) {
        use crate::providers::lock::BucketLock;
        let lock = self.p.bucket_lock().await;
        match &lock {
            BucketLock::On(_) => match self.p.prove_lock(&self.folder).await {
                Ok(proof) => self.report.check("Object Lock", CheckState::Works, format!("{lock}; {proof}")),
                Err(finding) => self.report.check("Object Lock", CheckState::Refused, format!("{lock}; {finding}")),
            },
            BucketLock::Off => self.report.check("Object Lock", CheckState::Refused, lock.to_string()),
            BucketLock::Unknown(_) => self.report.check("Object Lock", CheckState::Refused, lock.to_string()),
        }
    }

    async fn clean_up(&mut self) {
        for key in std::mem::take(&mut self.written) {
            let _ = object_store::ObjectStoreExt::delete(&self.p.plain, &StorePath::from(key.as_str())).await;
        }
    }
}

/// The URL of `key` in the bucket: each segment percent-encoded as a path segment.
pub(super) fn object_url(bucket_url: &str, key: &str) -> String {
    match url::Url::parse(bucket_url) {
        Ok(mut url) => {
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty().extend(key.split('/'));
            }
            url.to_string()
        }
        Err(_) => format!("{bucket_url}/{key}"),
    }
}
