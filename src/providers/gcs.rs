//! Google Cloud Storage: object_store (XML API) for listing, reading and deleting; uploads through
//! one streamed request of the JSON API (`gcs/upload.rs`); V4 signed URLs made locally from the
//! service-account key (`gcs/signed_url.rs`). A service-account key is exchanged for tokens with
//! the JWT bearer grant (`google_auth.rs`); a bare access token is used as given until it expires.

mod signed_url;
mod upload;

use super::google_auth::{self, ServiceAccountKey};
use super::object_listing::list_under;
use super::object_store_errors::from_object_store;
use super::s3::retry_config;
use super::{ByteStream, ErrorKind, Provider, ProviderContext, ProviderError, Step, StoredObject, check_key, join_key};
use crate::fields::{FieldErrors, FieldReader, FieldSpec, Input, RawFields, rules};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use object_store::gcp::{GcpCredential, GoogleCloudStorage, GoogleCloudStorageBuilder};
use object_store::path::Path as StorePath;
use object_store::{ClientOptions, CredentialProvider, ObjectStore, ObjectStoreExt};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("bucket", "Bucket").required().max_len(222).placeholder("my-backups"),
    FieldSpec::text("prefix", "Object prefix").max_len(512).placeholder("backups/"),
    FieldSpec::secret("access_token", "OAuth2 access token")
        .max_len(4096)
        .help("Short-lived: it expires within an hour. Prefer a service-account key."),
    FieldSpec::secret("service_account_key", "Service-account JSON key")
        .input(Input::TextArea)
        .max_len(MAX_SERVICE_ACCOUNT_KEY_BYTES)
        .help("Paste the JSON key file of a service account (recommended)."),
];

#[derive(Debug, Clone)]
pub struct GcsConfig {
    pub bucket: String,
    pub prefix: Option<String>,
    pub access_token: Option<SecretString>,
    pub service_account_key: Option<SecretString>,
}

impl GcsConfig {
    pub fn parse(raw: &RawFields) -> Result<GcsConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let bucket = r.checked("bucket", |v| {
            rules::length("Bucket", v, 3..=222)?;
            let ok = v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
                && v.starts_with(|c: char| c.is_ascii_alphanumeric())
                && v.ends_with(|c: char| c.is_ascii_alphanumeric());
            if ok {
                Ok(())
            } else {
                Err("Bucket names use lowercase letters, digits, \"-\", \"_\" and \".\", and start and end with a letter or digit.".into())
            }
        });
        let prefix = r.checked("prefix", rules::prefix);
        let access_token = r.checked_secret("access_token", |v| rules::no_whitespace("Access token", v));
        if let Some(oversized) = raw.get("service_account_key").and_then(oversized_key) {
            r.error("service_account_key", oversized);
        }
        let service_account_key = r.checked_secret("service_account_key", service_account_rule);
        if access_token.is_none() && service_account_key.is_none() && !r.has_error("service_account_key") {
            r.error("service_account_key", "Enter a service-account key or an access token.");
        }
        r.finish(|| Some(GcsConfig { bucket: bucket?, prefix, access_token, service_account_key }))
    }

    pub fn location(&self) -> String {
        format!("gs://{}/{}", self.bucket, self.prefix.as_deref().unwrap_or_default())
    }
}

/// A real key file is about 2.3 KB; anything near this is not one (and is not stored).
pub const MAX_SERVICE_ACCOUNT_KEY_BYTES: usize = 16 * 1024;

/// Why a pasted key is too large to be a key, in bytes a person can compare.
fn oversized_key(v: &str) -> Option<String> {
    (v.len() > MAX_SERVICE_ACCOUNT_KEY_BYTES).then(|| {
        format!(
            "The pasted key is {:.1} KB; a service-account JSON key file is about 2.3 KB, and at most {} KB is accepted. \
             Paste only the key file's contents.",
            v.len() as f64 / 1024.0,
            MAX_SERVICE_ACCOUNT_KEY_BYTES / 1024
        )
    })
}

/// A service-account key is JSON with `type: service_account`, a `client_email` and a PEM
/// `private_key`.
fn service_account_rule(v: &str) -> Result<(), String> {
    let json: serde_json::Value = serde_json::from_str(v)
        .map_err(|_| "Service-account key must be the JSON key file, pasted whole.".to_owned())?;
    let field = |name: &str| json.get(name).and_then(|x| x.as_str()).unwrap_or_default();
    if field("type") != "service_account" {
        return Err("Service-account key must have \"type\": \"service_account\".".into());
    }
    if !field("client_email").contains('@') {
        return Err("Service-account key is missing its \"client_email\".".into());
    }
    if !field("private_key").contains("PRIVATE KEY") {
        return Err("Service-account key is missing its \"private_key\".".into());
    }
    Ok(())
}

/// Objects only: list, read, write, delete.
const SCOPES: &[&str] = &["https://www.googleapis.com/auth/devstorage.read_write"];

#[derive(Debug)]
enum Credentials {
    AccessToken(SecretString),
    ServiceAccount(Box<ServiceAccountKey>),
}

/// Bearer tokens for both our own requests and object_store's.
#[derive(Debug)]
struct Tokens {
    http: reqwest::Client,
    credentials: Credentials,
    token_url: String,
}

impl Tokens {
    async fn bearer(&self) -> Result<SecretString, ProviderError> {
        match &self.credentials {
            Credentials::AccessToken(token) => Ok(token.clone()),
            Credentials::ServiceAccount(key) => {
                google_auth::access_token(&self.http, key, SCOPES, &self.token_url).await
            }
        }
    }
}

#[async_trait]
impl CredentialProvider for Tokens {
    type Credential = GcpCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<GcpCredential>> {
        let token =
            self.bearer().await.map_err(|e| object_store::Error::Generic { store: "GCS", source: Box::new(e) })?;
        Ok(Arc::new(GcpCredential { bearer: token.expose_secret().to_owned() }))
    }
}

pub struct GcsProvider {
    store: GoogleCloudStorage,
    tokens: Arc<Tokens>,
    bucket: String,
    prefix: Option<String>,
    /// The JSON and XML API base URL (a server setting: `https://storage.googleapis.com`).
    api: url::Url,
    deadline: Duration,
    /// Uploads go out on a client without a read timeout, watched for stalls instead.
    streaming: reqwest::Client,
    /// An upload whose body stops moving this long fails.
    stall_timeout: Duration,
}

impl GcsProvider {
    pub fn new(config: &GcsConfig, ctx: &ProviderContext) -> Result<GcsProvider, ProviderError> {
        let endpoints = &ctx.settings.endpoints;
        let api = url::Url::parse(endpoints.gcs_api.trim_end_matches('/'))
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("Invalid GCS API URL setting: {e}")))?;
        let http = ctx.http.api().clone();
        // A key is preferred when both are given: it does not expire.
        let credentials = match (&config.service_account_key, &config.access_token) {
            (Some(key), _) => Credentials::ServiceAccount(Box::new(ServiceAccountKey::from_json(key.expose_secret())?)),
            (None, Some(token)) => Credentials::AccessToken(token.clone()),
            (None, None) => {
                return Err(ProviderError::new(ErrorKind::Authentication, "No GCS credentials were given."));
            }
        };
        let tokens = Arc::new(Tokens { http, credentials, token_url: endpoints.google_oauth_token.clone() });
        let store = GoogleCloudStorageBuilder::new()
            .with_bucket_name(&config.bucket)
            .with_base_url(api.as_str().trim_end_matches('/'))
            .with_credentials(tokens.clone())
            .with_retry(retry_config(ctx))
            .with_client_options(ClientOptions::new().with_allow_http(api.scheme() == "http"))
            .with_http_connector(ctx.http.store_connector())
            .build()
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("Invalid GCS settings: {e}")))?;
        Ok(GcsProvider {
            store,
            tokens,
            bucket: config.bucket.clone(),
            prefix: config.prefix.clone(),
            api,
            deadline: ctx.settings.test_deadline,
            stall_timeout: ctx.settings.stall_timeout,
            streaming: ctx.http.streaming().clone(),
        })
    }

    fn path(&self, key: &str) -> Result<StorePath, ProviderError> {
        check_key(key)?;
        StorePath::parse(join_key(self.prefix.as_deref(), key))
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid object key: {e}")))
    }

    fn endpoint(&self) -> &str {
        self.api.as_str().trim_end_matches('/')
    }

    fn err(&self, e: &object_store::Error) -> ProviderError {
        match own_error(e) {
            Some(own) => own,
            None => self.explain(from_object_store(e, self.endpoint())),
        }
    }

    /// GCS answers an expired access token like any bad one (401 `AuthenticationRequired` or
    /// `authError`); with a bare token, expiry is by far the likeliest cause.
    fn explain(&self, e: ProviderError) -> ProviderError {
        if !matches!(self.tokens.credentials, Credentials::AccessToken(_)) || e.kind != ErrorKind::Authentication {
            return e;
        }
        let message = format!(
            "The access token has expired or was revoked (GCS says: {}). Access tokens last about an hour: \
             supply a service-account key instead.",
            e.message
        );
        ProviderError { message, ..e }.at(Step::Authenticate)
    }
}

/// Our own error (a failed token exchange) when object_store carries one as its cause.
fn own_error(e: &(dyn std::error::Error + 'static)) -> Option<ProviderError> {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if let Some(own) = err.downcast_ref::<ProviderError>() {
            return Some(own.clone());
        }
        cause = err.source();
    }
    None
}

#[async_trait]
impl Provider for GcsProvider {
    async fn test(&self) -> Result<String, ProviderError> {
        let run = async {
            // The token first, so a refused key fails at "authenticate" in Google's own words.
            self.tokens.bearer().await?;
            let prefix = self.prefix.as_deref().map(|p| StorePath::from(p.trim_end_matches('/')));
            match self.store.list(prefix.as_ref()).next().await {
                Some(Err(e)) => Err(self.err(&e)),
                _ => Ok(format!("Listed gs://{} at {}.", self.bucket, self.endpoint())),
            }
        };
        tokio::time::timeout(self.deadline, run).await.unwrap_or_else(|_| {
            Err(ProviderError::new(
                ErrorKind::Timeout,
                format!("{} did not answer within {} s.", self.endpoint(), self.deadline.as_secs()),
            ))
        })
    }

    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError> {
        let path = self.path(key)?;
        let token = self.tokens.bearer().await?;
        let target = upload::Target {
            http: &self.streaming,
            api: self.endpoint(),
            bucket: &self.bucket,
            name: path.as_ref(),
            stall_timeout: self.stall_timeout,
        };
        upload::upload(&target, &token, body).await.map_err(|e| self.explain(e))
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

    /// A V4 signed URL from the service-account key. With only an access token there is no key
    /// to sign with (and we never ask `signBlob` or a metadata server to sign), so no URL.
    async fn presign(&self, key: &str, expires_in: Duration) -> Result<Option<url::Url>, ProviderError> {
        let path = self.path(key)?;
        Ok(match &self.tokens.credentials {
            Credentials::ServiceAccount(sa) => {
                Some(signed_url::signed_url(sa, &self.api, &self.bucket, path.as_ref(), expires_in, chrono::Utc::now()))
            }
            Credentials::AccessToken(_) => None,
        })
    }
}
