//! Amazon S3 and S3-compatible services (R2, Backblaze B2, MinIO, Wasabi, DigitalOcean Spaces,
//! any custom endpoint), through object_store.

use super::http::CheckedApi;
use super::object_listing::{first_page, list_under};
use super::object_store_errors::from_object_store;
use super::{
    ByteStream, ErrorKind, Leftovers, Provider, ProviderContext, ProviderError, StoredObject, check_key, join_key,
};
use crate::destinations::fields::{FieldErrors, FieldReader, FieldSpec, Input, RawFields, rules};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::signer::Signer;
use object_store::{ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

const PRESETS: &[(&str, &str)] = &[
    ("aws", "Amazon S3"),
    ("r2", "Cloudflare R2"),
    ("backblaze", "Backblaze B2"),
    ("minio", "MinIO"),
    ("wasabi", "Wasabi"),
    ("digitalocean", "DigitalOcean Spaces"),
    ("custom", "Custom S3-compatible endpoint"),
];

const JURISDICTIONS: &[(&str, &str)] = &[("default", "Default"), ("eu", "EU"), ("fedramp", "FedRAMP")];

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("provider", "Provider").input(Input::Select(PRESETS)),
    FieldSpec::text("bucket", "Bucket").required().max_len(63).placeholder("my-backups"),
    FieldSpec::text("region", "Region")
        .max_len(32)
        .placeholder("us-east-1")
        .help("Required for Amazon S3, Backblaze, Wasabi and DigitalOcean."),
    FieldSpec::text("prefix", "Key prefix")
        .max_len(512)
        .placeholder("backups/prod/")
        .help("Optional folder inside the bucket."),
    FieldSpec::text("endpoint", "Endpoint URL")
        .max_len(255)
        .placeholder("https://s3.example.com")
        .help("Required for MinIO and custom endpoints; overrides the preset's endpoint otherwise."),
    FieldSpec::text("account_id", "R2 account ID").max_len(32).help("Cloudflare R2 only."),
    FieldSpec::text("jurisdiction", "R2 jurisdiction").input(Input::Select(JURISDICTIONS)),
    FieldSpec::text("path_style", "Use path-style requests")
        .input(Input::Checkbox)
        .help("Needed by MinIO and most self-hosted services."),
    FieldSpec::secret("access_key_id", "Access key ID").required().max_len(128),
    FieldSpec::secret("secret_access_key", "Secret access key").required().max_len(256),
];

#[derive(Debug, Clone)]
pub struct S3Config {
    pub preset: &'static str,
    pub bucket: String,
    pub region: Option<String>,
    pub prefix: Option<String>,
    pub endpoint: Option<String>,
    pub account_id: Option<String>,
    pub jurisdiction: &'static str,
    pub path_style: bool,
    pub access_key_id: SecretString,
    pub secret_access_key: SecretString,
}

impl S3Config {
    pub fn parse(raw: &RawFields) -> Result<S3Config, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let preset = r.choice("provider", "aws");
        let bucket = r.checked("bucket", bucket_rule);
        let region = r.checked("region", |v| rules::charset("Region", v, "-"));
        let prefix = r.checked("prefix", rules::prefix);
        let endpoint = r.checked("endpoint", rules::http_url);
        let account_id = r.checked("account_id", |v| {
            if v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit()) {
                Ok(())
            } else {
                Err("R2 account ID is the 32-character hexadecimal ID from the Cloudflare dashboard.".into())
            }
        });
        let jurisdiction = r.choice("jurisdiction", "default");
        let path_style = r.flag("path_style");
        let access_key_id = r.checked_secret("access_key_id", |v| {
            rules::length("Access key ID", v, 3..=128)?;
            rules::charset("Access key ID", v, "")
        });
        let secret_access_key = r.checked_secret("secret_access_key", |v| rules::no_whitespace("Secret access key", v));

        if matches!(preset, "aws" | "backblaze" | "wasabi" | "digitalocean")
            && region.is_none()
            && !r.has_error("region")
        {
            r.error("region", "Region is required for this provider.");
        }
        if matches!(preset, "minio" | "custom") && endpoint.is_none() && !r.has_error("endpoint") {
            r.error("endpoint", "Endpoint URL is required for this provider.");
        }
        if preset == "r2" && account_id.is_none() && endpoint.is_none() && !r.has_error("account_id") {
            r.error("account_id", "R2 account ID is required for Cloudflare R2.");
        }
        r.finish(|| {
            Some(S3Config {
                preset,
                bucket: bucket?,
                region,
                prefix,
                endpoint,
                account_id,
                jurisdiction,
                path_style,
                access_key_id: access_key_id?,
                secret_access_key: secret_access_key?,
            })
        })
    }

    /// The endpoint requests go to: the one given, else the preset's; None means AWS's own.
    pub fn resolved_endpoint(&self) -> Option<String> {
        if let Some(e) = &self.endpoint {
            return Some(e.trim_end_matches('/').to_owned());
        }
        let region = self.region.as_deref().unwrap_or_default();
        match self.preset {
            "r2" => {
                let account = self.account_id.as_deref().unwrap_or_default();
                Some(match self.jurisdiction {
                    "default" => format!("https://{account}.r2.cloudflarestorage.com"),
                    j => format!("https://{account}.{j}.r2.cloudflarestorage.com"),
                })
            }
            "backblaze" => Some(format!("https://s3.{region}.backblazeb2.com")),
            "wasabi" => Some(format!("https://s3.{region}.wasabisys.com")),
            "digitalocean" => Some(format!("https://{region}.digitaloceanspaces.com")),
            _ => None,
        }
    }

    fn resolved_region(&self) -> String {
        match (self.preset, &self.region) {
            ("r2", _) => "auto".into(),
            (_, Some(r)) => r.clone(),
            _ => "us-east-1".into(),
        }
    }

    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix.as_deref().unwrap_or_default())
    }

    /// The service's own name: "Cloudflare R2", "MinIO", … ("Amazon S3" for AWS).
    pub fn service_label(&self) -> &'static str {
        PRESETS.iter().find(|(v, _)| *v == self.preset).map_or("Amazon S3", |(_, label)| label)
    }
}

fn bucket_rule(v: &str) -> Result<(), String> {
    rules::length("Bucket", v, 3..=63)?;
    let ok_chars = v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let ok_ends =
        v.starts_with(|c: char| c.is_ascii_alphanumeric()) && v.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok_chars && ok_ends && !v.contains("..") {
        Ok(())
    } else {
        Err("Bucket names use lowercase letters, digits, dots and hyphens, and start and end with a letter or digit."
            .into())
    }
}

pub struct S3Provider {
    store: AmazonS3,
    prefix: Option<String>,
    endpoint_label: String,
    deadline: Duration,
    /// For the requests object_store does not make (listing incomplete uploads).
    bucket_url: String,
    region: String,
    http: CheckedApi,
}

/// Parts of 8 MiB, up to 5 in flight while the next fills: at most 48 MiB of an upload in
/// memory (the benchmark's memory target is 64 MiB above idle for the whole server), and enough
/// parallel parts to outrun a single stream. Shared by every object_store provider.
const PART_SIZE: usize = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 5;

impl S3Provider {
    pub fn new(config: &S3Config, ctx: &ProviderContext) -> Result<S3Provider, ProviderError> {
        let endpoint = config.resolved_endpoint();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(config.resolved_region())
            .with_access_key_id(config.access_key_id.expose_secret())
            .with_secret_access_key(config.secret_access_key.expose_secret())
            .with_retry(retry_config(ctx))
            .with_http_connector(ctx.http.checked_store_connector());
        let region = config.resolved_region();
        let mut bucket_url = String::new();
        let endpoint_label = match &endpoint {
            Some(e) if config.path_style => {
                builder = builder.with_endpoint(e).with_allow_http(e.starts_with("http://"));
                bucket_url = format!("{e}/{}", config.bucket);
                e.clone()
            }
            Some(e) => {
                // Virtual-hosted style: the bucket is part of the host name.
                let url = virtual_host(e, &config.bucket);
                builder = builder
                    .with_endpoint(&url)
                    .with_virtual_hosted_style_request(true)
                    .with_allow_http(url.starts_with("http://"));
                bucket_url.clone_from(&url);
                url
            }
            None => {
                builder = builder.with_virtual_hosted_style_request(!config.path_style);
                bucket_url = match config.path_style {
                    true => format!("https://s3.{region}.amazonaws.com/{}", config.bucket),
                    false => format!("https://{}.s3.{region}.amazonaws.com", config.bucket),
                };
                format!("https://s3.{region}.amazonaws.com")
            }
        };
        let store = builder
            .build()
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("Invalid S3 settings: {e}")))?;
        Ok(S3Provider {
            store,
            prefix: config.prefix.clone(),
            endpoint_label,
            deadline: ctx.settings.test_deadline,
            bucket_url,
            region,
            http: ctx.http.checked_api().clone(),
        })
    }

    fn path(&self, key: &str) -> Result<StorePath, ProviderError> {
        check_key(key)?;
        StorePath::parse(join_key(self.prefix.as_deref(), key))
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid object key: {e}")))
    }

    fn err(&self, e: &object_store::Error) -> ProviderError {
        from_object_store(e, &self.endpoint_label)
    }

    /// Incomplete multipart uploads under `folder` (relative to the destination's prefix, ending
    /// in `/`): what uploads cut off by a crash left in the bucket.
    pub async fn incomplete_uploads(&self, folder: &str) -> Result<Vec<super::s3_uploads::Upload>, ProviderError> {
        self.bucket().incomplete(&join_key(self.prefix.as_deref(), folder)).await
    }

    fn bucket(&self) -> super::s3_uploads::Bucket<'_> {
        super::s3_uploads::Bucket {
            store: &self.store,
            url: &self.bucket_url,
            region: &self.region,
            http: &self.http,
            endpoint_label: &self.endpoint_label,
        }
    }
}

fn virtual_host(endpoint: &str, bucket: &str) -> String {
    match url::Url::parse(endpoint) {
        Ok(mut url) => {
            let host = url.host_str().unwrap_or_default().to_owned();
            if url.set_host(Some(&format!("{bucket}.{host}"))).is_err() {
                return endpoint.to_owned();
            }
            url.as_str().trim_end_matches('/').to_owned()
        }
        Err(_) => endpoint.to_owned(),
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
    map_err: impl Fn(&object_store::Error) -> ProviderError,
) -> Result<u64, ProviderError> {
    let upload = store.put_multipart(path).await.map_err(|e| map_err(&e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(super::chunks::read_error(e));
            }
        };
        if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
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

#[async_trait]
impl Provider for S3Provider {
    async fn test(&self) -> Result<String, ProviderError> {
        // One ListObjectsV2 page under the prefix: needs only s3:ListBucket, unlike ListBuckets.
        first_page(&self.store, self.prefix.as_deref(), self.deadline, &self.endpoint_label, |e| self.err(e)).await?;
        Ok(format!("Listed the bucket at {}.", self.endpoint_label))
    }

    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError> {
        let path = self.path(key)?;
        put_multipart(&self.store, &path, body, |e| self.err(e)).await
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
    async fn remove_leftovers(&self, folder: &str, ours: Leftovers<'_>) -> Result<usize, ProviderError> {
        self.bucket().abort_incomplete(&join_key(self.prefix.as_deref(), folder), ours).await
    }

    async fn presign(&self, key: &str, expires_in: Duration) -> Result<Option<url::Url>, ProviderError> {
        let path = self.path(key)?;
        let url = self.store.signed_url(http::Method::GET, &path, expires_in).await.map_err(|e| self.err(&e))?;
        Ok(Some(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawFields {
        RawFields::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn r2_endpoint_from_account_and_jurisdiction() {
        let c = S3Config::parse(&raw(&[
            ("provider", "r2"),
            ("bucket", "b-1"),
            ("account_id", "0123456789abcdef0123456789abcdef"),
            ("jurisdiction", "eu"),
            ("access_key_id", "AKIA1234"),
            ("secret_access_key", "s"),
        ]))
        .expect("valid");
        assert_eq!(
            c.resolved_endpoint().as_deref(),
            Some("https://0123456789abcdef0123456789abcdef.eu.r2.cloudflarestorage.com")
        );
        assert_eq!(c.resolved_region(), "auto");
    }

    #[test]
    fn reports_each_bad_field() {
        let errors = S3Config::parse(&raw(&[("provider", "custom"), ("bucket", "Bad_Bucket"), ("prefix", "/x")]))
            .expect_err("invalid");
        for field in ["bucket", "prefix", "endpoint", "access_key_id", "secret_access_key"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
    }

    #[test]
    fn virtual_host_puts_bucket_in_host() {
        assert_eq!(virtual_host("https://s3.example.com", "b"), "https://b.s3.example.com");
    }
}
