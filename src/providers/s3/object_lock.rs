//! S3 Object Lock: what a bucket reports (GetObjectLockConfiguration), uploads that carry a
//! retention (`x-amz-object-lock-mode` and `-retain-until-date`), and the deep test's proof that
//! an early delete is refused.
//!
//! S3 requires an integrity header on any upload with a retention: Content-MD5 or a checksum
//! (`x-amz-sdk-checksum-algorithm` with `x-amz-checksum-*`), on PutObject and on each UploadPart
//! (CreateMultipartUpload names the algorithm). Locked uploads therefore always send SHA-256
//! checksums, whatever the deep test learned. object_store cannot add the lock headers (headers
//! it does not sign would be refused), so PutObject and CreateMultipartUpload are requests of our
//! own; the parts and the completion are object_store's, with its SHA-256 checksums.

use super::probe::object_url;
use super::requests::Payload;
use super::{S3Provider, first_part};
use crate::providers::lock::{BucketLock, LockMode, ObjectLock};
use crate::providers::xml::field;
use crate::providers::{ByteStream, ErrorKind, ProviderError, join_key};
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use object_store::PutPayload;
use object_store::multipart::MultipartStore;
use sha2::{Digest, Sha256};

impl S3Provider {
    /// The bucket's Object Lock configuration; never an error (what could not be read is said).
    pub async fn bucket_lock(&self) -> BucketLock {
        let Ok(mut url) = url::Url::parse(&format!("{}/", self.at.bucket_url.trim_end_matches('/'))) else {
            return BucketLock::Unknown("invalid bucket URL".into());
        };
        url.query_pairs_mut().append_pair("object-lock", "");
        let answer =
            match self.requests().send(http::Method::GET, url.as_str(), &[], Bytes::new(), Payload::Signed).await {
                Ok(answer) => answer,
                Err(e) => return BucketLock::Unknown(e.to_string()),
            };
        if !answer.ok() {
            return match answer.code().as_deref() {
                Some("ObjectLockConfigurationNotFoundError") => BucketLock::Off,
                Some("AccessDenied") => {
                    BucketLock::Unknown("the key may not read it: s3:GetBucketObjectLockConfiguration is needed".into())
                }
                _ => BucketLock::Unknown(answer.error().to_string()),
            };
        }
        lock_in(&answer.body)
    }

    /// [`Provider::put_locked`](crate::providers::Provider::put_locked) for S3: one PutObject
    /// when the body fits a part, else a multipart upload; both with the retention and SHA-256
    /// checksums.
    pub(super) async fn put_with_lock(
        &self,
        key: &str,
        body: ByteStream,
        lock: &ObjectLock,
    ) -> Result<u64, ProviderError> {
        let path = self.path(key)?;
        let url = object_url(&self.at.bucket_url, &join_key(self.prefix.as_deref(), key));
        let (head, rest) = first_part(body, self.uses.part_size).await.map_err(crate::providers::chunks::read_error)?;
        let Some(rest) = rest else {
            return self.put_checksummed(key, head.concat().into(), Some(lock)).await;
        };
        let mut create = url::Url::parse(&url)
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid object URL: {e}")))?;
        create.query_pairs_mut().append_pair("uploads", "");
        let mut headers = lock_headers(lock);
        headers.push(("x-amz-checksum-algorithm", "SHA256".into()));
        let answer =
            self.requests().send(http::Method::POST, create.as_str(), &headers, Bytes::new(), Payload::Signed).await?;
        if !answer.ok() {
            return Err(refused(answer.error()));
        }
        let id = field(&answer.body, "UploadId").ok_or_else(|| {
            ProviderError::new(ErrorKind::Provider, "CreateMultipartUpload answered without an UploadId")
        })?;
        let body = futures::stream::iter(head.into_iter().map(Ok)).chain(rest).boxed();
        match self.parts(&path, &id, body).await {
            Ok(written) => Ok(written),
            Err(e) => {
                let _ = self.locked.abort_multipart(&path, &id).await;
                Err(e)
            }
        }
    }

    /// One PutObject with a SHA-256 checksum (and the retention, when given): what a bucket
    /// with Object Lock requires of every upload once it has a default retention.
    pub(super) async fn put_checksummed(
        &self,
        key: &str,
        body: Bytes,
        lock: Option<&ObjectLock>,
    ) -> Result<u64, ProviderError> {
        let url = object_url(&self.at.bucket_url, &join_key(self.prefix.as_deref(), key));
        let len = body.len() as u64;
        let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&body));
        let mut headers = lock.map(lock_headers).unwrap_or_default();
        headers.push(("x-amz-sdk-checksum-algorithm", "SHA256".into()));
        headers.push(("x-amz-checksum-sha256", sha));
        let answer = self.requests().send(http::Method::PUT, &url, &headers, body, Payload::Signed).await?;
        if answer.ok() { Ok(len) } else { Err(refused(answer.error())) }
    }

    /// Uploads the body as parts of upload `id` one after another (one part in memory), then
    /// completes it.
    async fn parts(
        &self,
        path: &object_store::path::Path,
        id: &str,
        mut body: ByteStream,
    ) -> Result<u64, ProviderError> {
        let size = self.uses.part_size;
        let (mut parts, mut buffer, mut written) = (Vec::new(), Vec::<Bytes>::new(), 0u64);
        let mut buffered = 0usize;
        loop {
            let chunk = body.next().await.transpose().map_err(crate::providers::chunks::read_error)?;
            let done = chunk.is_none();
            if let Some(chunk) = chunk {
                buffered += chunk.len();
                written += chunk.len() as u64;
                buffer.push(chunk);
            }
            if buffered >= size || (done && buffered > 0) {
                let payload = PutPayload::from_iter(std::mem::take(&mut buffer));
                buffered = 0;
                let part = self.locked.put_part(path, &id.to_owned(), parts.len(), payload).await;
                parts.push(part.map_err(|e| self.err(&e))?);
            }
            if done {
                break;
            }
        }
        self.locked.complete_multipart(path, &id.to_owned(), parts).await.map_err(|e| self.err(&e))?;
        Ok(written)
    }

    /// The deep test's proof on a bucket with Object Lock: a small object written with a short
    /// governance retention, deleted by its version without bypass (must be refused), then
    /// removed with bypass-governance where the key may. Ok: what was proven; Err: the finding.
    pub async fn prove_lock(&self, folder: &str) -> Result<String, String> {
        let key = format!("{folder}/object-lock");
        let url = object_url(&self.at.bucket_url, &key);
        let until = chrono::Utc::now() + chrono::Duration::minutes(10);
        let lock = ObjectLock { mode: LockMode::Governance, retain_until: until };
        let body = Bytes::from_static(b"devpilot object lock probe");
        let mut headers = lock_headers(&lock);
        headers.push(("x-amz-sdk-checksum-algorithm", "SHA256".into()));
        headers
            .push(("x-amz-checksum-sha256", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&body))));
        let requests = self.requests();
        let put = requests.send(http::Method::PUT, &url, &headers, body, Payload::Signed).await;
        let put = put.map_err(|e| format!("writing a locked object failed: {e}"))?;
        if !put.ok() {
            return Err(format!("writing a locked object was refused: {}", put.error()));
        }
        let Some(version) = put.version_id.clone() else {
            return Err("the service did not name the locked object's version: Object Lock is not in effect".into());
        };
        let mut at_version = url::Url::parse(&url).map_err(|e| e.to_string())?;
        at_version.query_pairs_mut().append_pair("versionId", &version);
        let delete = requests.send(http::Method::DELETE, at_version.as_str(), &[], Bytes::new(), Payload::Signed).await;
        let delete = delete.map_err(|e| format!("the early delete could not be sent: {e}"))?;
        if delete.ok() {
            return Err("an early delete of a locked version succeeded: Object Lock is not enforced here".into());
        }
        let refused =
            format!("an early delete was refused ({}): immutability works", delete.code().unwrap_or_default());
        let bypass = [("x-amz-bypass-governance-retention", "true".to_owned())];
        let cleaned =
            requests.send(http::Method::DELETE, at_version.as_str(), &bypass, Bytes::new(), Payload::Signed).await;
        Ok(match cleaned {
            Ok(answer) if answer.ok() => format!("{refused}; the probe object was removed with bypass-governance."),
            _ => format!(
                "{refused}; the key may not bypass governance, so the probe object ({key}) expires at {} UTC.",
                until.format("%Y-%m-%d %H:%M")
            ),
        })
    }
}

/// Whether a plain upload was refused for want of the integrity header a bucket with a default
/// Object Lock retention requires.
pub(super) fn wants_checksum(e: &ProviderError) -> bool {
    e.code.as_deref() == Some("MissingUploadObjectWithObjectLockHeaders")
        || (e.code.as_deref() == Some("InvalidRequest") && e.message.contains("Content-MD5"))
}

/// The retention headers of an upload.
fn lock_headers(lock: &ObjectLock) -> Vec<(&'static str, String)> {
    vec![
        ("x-amz-object-lock-mode", lock.mode.s3_name().to_owned()),
        ("x-amz-object-lock-retain-until-date", lock.retain_until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    ]
}

/// An upload the bucket refused, with what to do when it is the lock itself.
fn refused(e: ProviderError) -> ProviderError {
    if e.message.contains("Object Lock") || e.code.as_deref() == Some("InvalidRequest") {
        let message = format!(
            "{} (the plan locks its backups: the bucket must have been created with Object Lock enabled)",
            e.message
        );
        return ProviderError { message, ..e };
    }
    e
}

/// A GetObjectLockConfiguration answer read.
fn lock_in(body: &str) -> BucketLock {
    if field(body, "ObjectLockEnabled").as_deref() != Some("Enabled") {
        return BucketLock::Off;
    }
    let mode = field(body, "Mode").and_then(|m| LockMode::parse(&m));
    let period = match (field(body, "Days"), field(body, "Years")) {
        (Some(days), _) => Some(format!("{days} days")),
        (None, Some(years)) => Some(format!("{years} years")),
        _ => None,
    };
    BucketLock::On(mode.zip(period))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_configurations_read() {
        let on = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>\
                  <Mode>GOVERNANCE</Mode><Days>3</Days></DefaultRetention></Rule></ObjectLockConfiguration>";
        assert_eq!(lock_in(on).to_string(), "Object Lock: on, default retention governance 3 days");
        let years = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>\
                     <Mode>COMPLIANCE</Mode><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>";
        assert_eq!(lock_in(years).to_string(), "Object Lock: on, default retention compliance 1 years");
        let bare = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";
        assert_eq!(lock_in(bare).to_string(), "Object Lock: on, no default retention");
        assert_eq!(lock_in("<ObjectLockConfiguration/>"), BucketLock::Off);
    }

    #[test]
    fn retain_until_is_iso_8601_utc() {
        let until = chrono::DateTime::parse_from_rfc3339("2026-12-20T10:00:00Z").expect("time").to_utc();
        let headers = lock_headers(&ObjectLock { mode: LockMode::Compliance, retain_until: until });
        assert_eq!(headers[0], ("x-amz-object-lock-mode", "COMPLIANCE".to_owned()));
        assert_eq!(headers[1], ("x-amz-object-lock-retain-until-date", "2026-12-20T10:00:00Z".to_owned()));
    }
}
