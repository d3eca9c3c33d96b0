//! Amazon S3 and S3-compatible services (R2, Backblaze B2, MinIO, Ceph, Garage, SeaweedFS,
//! Wasabi, DigitalOcean Spaces, any custom endpoint), through object_store. `config` decides
//! where requests go (one [`Addressing`] for the test and the writes alike); `requests` are our
//! own (the connection test's listing, ListMultipartUploads, the probe's); `probe` and
//! `privilege` are the deep test's compatibility probe, and `learned` what it found and what
//! Devpilot therefore uses here.

mod config;
pub(crate) mod learned;
mod object_lock;
mod privilege;
mod probe;
mod requests;
pub mod source;
mod trailer;
mod uploads;

pub use config::{Addressing, FIELDS, S3Config, path_style_default};
pub use learned::{Learned, Uses};
pub use uploads::Upload;

use super::compatibility::Compatibility;
use super::http::CheckedApi;
use super::object_listing::list_under;
use super::object_store_errors::from_object_store;
use super::{
    ByteStream, ErrorKind, Leftovers, Provider, ProviderContext, ProviderError, StoredObject, check_key, join_key,
};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use learned::Checksum;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::signer::Signer;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig, WriteMultipart};
use secrecy::ExposeSecret;
use std::time::Duration;

pub struct S3Provider {
    /// With what Devpilot uses at this destination (checksums, unsigned payloads).
    store: AmazonS3,
    /// Nothing optional: what the probe builds on.
    plain: AmazonS3,
    /// With SHA-256 checksums, which S3 requires of uploads under an Object Lock.
    locked: AmazonS3,
    /// How `plain` was built, for the probe to try options on.
    builder: AmazonS3Builder,
    at: Addressing,
    /// The other addressing style, for the probe and the test's advice.
    other: Option<Addressing>,
    bucket: String,
    prefix: Option<String>,
    region: String,
    https: bool,
    uses: Uses,
    deadline: Duration,
    http: CheckedApi,
}

/// How an object_store upload is cut into parts. Parts of 8 MiB, up to 5 in flight while the
/// next fills: at most 48 MiB of an upload in memory (the benchmark's memory target is 64 MiB
/// above idle for the whole server), and enough parallel parts to outrun a single stream.
pub(super) struct Parts {
    pub size: usize,
    pub in_flight: usize,
    /// The most an upload can hold (a service that caps its part numbers).
    pub most: Option<u64>,
}

pub(super) const PARTS: Parts = Parts { size: learned::PART_SIZE, in_flight: 5, most: None };

impl S3Provider {
    pub fn new(config: &S3Config, ctx: &ProviderContext) -> Result<S3Provider, ProviderError> {
        let bases = &ctx.settings.endpoints;
        let at = config.addressing(bases, config.path_style)?;
        let other = config.addressing(bases, !at.path_style).ok();
        let https = at.bucket_url.starts_with("https://");
        let uses = Uses::from(config.learned.as_ref(), https);
        let region = config.resolved_region();
        let builder = || {
            let b = AmazonS3Builder::new()
                .with_bucket_name(&config.bucket)
                .with_region(&region)
                .with_access_key_id(config.access_key_id.expose_secret())
                .with_secret_access_key(config.secret_access_key.expose_secret())
                .with_retry(retry_config(ctx))
                .with_http_connector(ctx.http.checked_store_connector())
                .with_virtual_hosted_style_request(!at.path_style)
                // One DELETE per object (all Devpilot deletes at a time): DeleteObjects needs a
                // checksum header, which some services refuse.
                .with_disable_bulk_delete(true);
            match &at.store_endpoint {
                Some(e) => b.with_endpoint(e).with_allow_http(e.starts_with("http://")),
                None => b,
            }
        };
        let tuned = tuned(builder(), &uses);
        let invalid =
            |e: object_store::Error| ProviderError::new(ErrorKind::Provider, format!("Invalid S3 settings: {e}"));
        Ok(S3Provider {
            store: tuned.build().map_err(invalid)?,
            plain: builder().build().map_err(invalid)?,
            locked: builder()
                .with_unsigned_payload(uses.unsigned_payload)
                .with_checksum_algorithm(object_store::aws::Checksum::SHA256)
                .build()
                .map_err(invalid)?,
            builder: builder(),
            at,
            other,
            bucket: config.bucket.clone(),
            prefix: config.prefix.clone(),
            region,
            https,
            uses,
            deadline: ctx.settings.test_deadline,
            http: ctx.http.checked_api().clone(),
        })
    }

    fn path(&self, key: &str) -> Result<StorePath, ProviderError> {
        check_key(key)?;
        StorePath::parse(join_key(self.prefix.as_deref(), key))
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid object key: {e}")))
    }

    fn err(&self, e: &object_store::Error) -> ProviderError {
        from_object_store(e, &self.at.service_url)
    }

    /// What uploads here use, from the last deep test.
    pub fn uses(&self) -> &Uses {
        &self.uses
    }

    /// Incomplete multipart uploads under `folder` (relative to the destination's prefix, ending
    /// in `/`): what uploads cut off by a crash left in the bucket.
    pub async fn incomplete_uploads(&self, folder: &str) -> Result<Vec<Upload>, ProviderError> {
        self.bucket().incomplete(&join_key(self.prefix.as_deref(), folder)).await
    }

    fn requests(&self) -> requests::Requests<'_> {
        requests::Requests {
            store: &self.plain,
            region: &self.region,
            http: &self.http,
            endpoint_label: &self.at.service_url,
        }
    }

    fn bucket(&self) -> uploads::Bucket<'_> {
        uploads::Bucket { requests: self.requests(), url: &self.at.bucket_url }
    }

    /// Bucket `name`'s URL in the style this destination uses (None where it cannot be named).
    fn bucket_url_of(&self, name: &str) -> Option<String> {
        let service = self.at.service_url.trim_end_matches('/');
        if self.at.path_style {
            return Some(format!("{service}/{name}"));
        }
        let mut url = url::Url::parse(service).ok()?;
        let host = url.host_str()?.to_owned();
        url.set_host(Some(&format!("{name}.{host}"))).ok()?;
        Some(url.as_str().trim_end_matches('/').to_owned())
    }

    /// A failed listing, with advice when the other addressing style reaches the bucket.
    async fn advise(&self, e: ProviderError) -> ProviderError {
        let Some(other) = &self.other else { return e };
        if !matches!(e.kind, ErrorKind::NotFound | ErrorKind::Unreachable) {
            return e;
        }
        if self.requests().list_first(&other.bucket_url, &self.bucket, self.prefix.as_deref()).await.is_err() {
            return e;
        }
        let advice = match other.path_style {
            true => "Path-style requests reach the bucket: tick “Use path-style requests”.",
            false => "Virtual-hosted requests reach the bucket: untick “Use path-style requests”.",
        };
        ProviderError { message: format!("{} {advice}", e.message), ..e }
    }
}

/// A store that sends what `uses` says: a checksum header, unsigned payloads.
fn tuned(builder: AmazonS3Builder, uses: &Uses) -> AmazonS3Builder {
    let builder = builder.with_unsigned_payload(uses.unsigned_payload);
    match uses.checksum {
        Some(Checksum::Sha256) => builder.with_checksum_algorithm(object_store::aws::Checksum::SHA256),
        Some(Checksum::Crc64Nvme) => builder.with_checksum_algorithm(object_store::aws::Checksum::CRC64NVME),
        None => builder,
    }
}

/// Shared by the object_store providers: a small retry budget that fits inside the test deadline.
pub(super) fn retry_config(ctx: &ProviderContext) -> RetryConfig {
    RetryConfig {
        max_retries: ctx.settings.max_retries,
        retry_timeout: ctx.settings.test_deadline,
        backoff: object_store::BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
    }
}

/// Streams a body into object_store's multipart writer, aborting the upload on any failure so
/// no orphaned parts are left behind. Shared by every object_store-backed provider.
pub(super) async fn put_multipart(
    store: &dyn ObjectStore,
    path: &StorePath,
    mut body: ByteStream,
    parts: &Parts,
    map_err: impl Fn(&object_store::Error) -> ProviderError,
) -> Result<u64, ProviderError> {
    let upload = store.put_multipart(path).await.map_err(|e| map_err(&e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, parts.size);
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(super::chunks::read_error(e));
            }
        };
        if let Some(most) = parts.most.filter(|most| written + chunk.len() as u64 > *most) {
            let _ = writer.abort().await;
            let gib = most as f64 / f64::from(1u32 << 30);
            return Err(ProviderError::new(
                ErrorKind::Provider,
                format!("The artifact is larger than this service can store in the parts it allows ({gib:.1} GiB)."),
            ));
        }
        if let Err(e) = writer.wait_for_capacity(parts.in_flight).await {
            let _ = writer.abort().await;
            return Err(map_err(&e));
        }
        written += chunk.len() as u64;
        writer.put(chunk);
    }
    // `finish` aborts the upload itself when completing fails.
    writer.finish().await.map_err(|e| map_err(&e))?;
    Ok(written)
}

/// The body's first `limit` bytes and more; the rest of the stream, unless it ended within them.
async fn first_part(mut body: ByteStream, limit: usize) -> std::io::Result<(Vec<Bytes>, Option<ByteStream>)> {
    let (mut head, mut len) = (Vec::new(), 0usize);
    while len <= limit {
        match body.next().await {
            Some(chunk) => {
                let chunk = chunk?;
                len += chunk.len();
                head.push(chunk);
            }
            None => return Ok((head, None)),
        }
    }
    Ok((head, Some(body)))
}

#[async_trait]
impl Provider for S3Provider {
    async fn test(&self) -> Result<String, ProviderError> {
        // ListObjectsV2 under the prefix (s3:ListBucket only, unlike ListBuckets), at the URL
        // the writes use; the answer must be this bucket's listing.
        let requests = self.requests();
        let listing = requests.list_first(&self.at.bucket_url, &self.bucket, self.prefix.as_deref());
        match tokio::time::timeout(self.deadline, listing).await {
            Ok(Ok(())) => {
                // Reported, never failed on: a bucket without Object Lock is the usual case.
                let lock = tokio::time::timeout(self.deadline, self.bucket_lock())
                    .await
                    .unwrap_or_else(|_| crate::providers::lock::BucketLock::Unknown("no answer in time".into()));
                Ok(format!("Listed bucket “{}” at {}. {lock}.", self.bucket, self.at.bucket_url))
            }
            Ok(Err(e)) => Err(self.advise(e).await),
            Err(_) => Err(ProviderError::new(
                ErrorKind::Timeout,
                format!("{} did not answer within {} s.", self.at.service_url, self.deadline.as_secs()),
            )),
        }
    }

    /// One PutObject when the body fits a part (with `If-None-Match: *` where the service
    /// honours it), else a multipart upload.
    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError> {
        let path = self.path(key)?;
        let (head, rest) = first_part(body, self.uses.part_size).await.map_err(super::chunks::read_error)?;
        let Some(rest) = rest else {
            let len = head.iter().map(|c| c.len() as u64).sum();
            let mode = if self.uses.conditional_writes { PutMode::Create } else { PutMode::Overwrite };
            let options = PutOptions { mode, ..PutOptions::default() };
            return match self.store.put_opts(&path, PutPayload::from_iter(head.clone()), options).await {
                Ok(_) => Ok(len),
                // A bucket with a default Object Lock retention: again, with a SHA-256 checksum.
                Err(e) if object_lock::wants_checksum(&self.err(&e)) => {
                    self.put_checksummed(key, head.concat().into(), None).await
                }
                Err(e) => Err(self.err(&e)),
            };
        };
        let body = futures::stream::iter(head.into_iter().map(Ok)).chain(rest).boxed();
        let most = (self.uses.max_parts < learned::S3_MAX_PARTS).then(|| self.uses.largest());
        let parts = Parts { size: self.uses.part_size, in_flight: self.uses.parts_in_flight, most };
        put_multipart(&self.store, &path, body, &parts, |e| self.err(e)).await
    }

    async fn put_locked(
        &self,
        key: &str,
        body: ByteStream,
        lock: &crate::providers::lock::ObjectLock,
    ) -> Result<u64, ProviderError> {
        self.put_with_lock(key, body, lock).await
    }

    async fn get(&self, key: &str) -> Result<ByteStream, ProviderError> {
        let path = self.path(key)?;
        let result = self.store.get(&path).await.map_err(|e| self.err(&e))?;
        Ok(result.into_stream().map_err(std::io::Error::other).boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ProviderError> {
        list_under(&self.store, self.prefix.as_deref(), prefix).await.map_err(|e| self.err(&e))
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let path = self.path(key)?;
        self.store.delete(&path).await.map_err(|e| self.err(&e))
    }

    /// Aborts the folder's incomplete multipart uploads: invisible, but kept (and billed).
    /// Not where the service cannot list them (the deep test found that).
    async fn remove_leftovers(&self, folder: &str, ours: Leftovers<'_>) -> Result<usize, ProviderError> {
        if !self.uses.list_uploads {
            return Ok(0);
        }
        self.bucket().abort_incomplete(&join_key(self.prefix.as_deref(), folder), ours).await
    }

    /// None where the deep test found presigned links refused: downloads stream instead.
    async fn presign(&self, key: &str, expires_in: Duration) -> Result<Option<url::Url>, ProviderError> {
        if !self.uses.presign {
            return Ok(None);
        }
        let path = self.path(key)?;
        let url = self.store.signed_url(http::Method::GET, &path, expires_in).await.map_err(|e| self.err(&e))?;
        Ok(Some(url))
    }

    async fn compatibility(&self) -> Option<Compatibility> {
        Some(probe::probe(self).await)
    }
}
