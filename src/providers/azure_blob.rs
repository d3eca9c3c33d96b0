//! Azure Blob Storage with Shared Key authentication, through object_store: uploads as blocks
//! committed by a block list, presigned downloads as read-only service SAS URLs signed with the
//! account key.

use super::http::CheckedApi;
use super::object_listing::{first_page, list_under};
use super::object_store_errors::from_object_store;
use super::s3::{PARTS, put_multipart, retry_config};
use super::{
    ByteStream, ErrorKind, Leftovers, Provider, ProviderContext, ProviderError, StoredObject, check_key, join_key,
};
use crate::destinations::fields::{FieldErrors, FieldReader, FieldSpec, RawFields, rules};
use async_trait::async_trait;
use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::azure::{MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::path::Path as StorePath;
use object_store::signer::Signer;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("account_name", "Storage account name").required().max_len(24).placeholder("mybackups"),
    FieldSpec::text("container", "Container").required().max_len(63).placeholder("backups"),
    FieldSpec::text("prefix", "Prefix").max_len(512).placeholder("prod/").help("Optional folder inside the container."),
    FieldSpec::text("endpoint", "Blob endpoint")
        .max_len(255)
        .placeholder("https://mybackups.blob.core.windows.net")
        .help("Optional: for Azurite or sovereign clouds."),
    FieldSpec::secret("account_key", "Account access key").required().max_len(128),
];

#[derive(Debug, Clone)]
pub struct AzureBlobConfig {
    pub account_name: String,
    pub container: String,
    pub prefix: Option<String>,
    pub endpoint: Option<String>,
    pub account_key: SecretString,
}

impl AzureBlobConfig {
    pub fn parse(raw: &RawFields) -> Result<AzureBlobConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let account_name = r.checked("account_name", |v| {
            rules::length("Storage account name", v, 3..=24)?;
            if v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
                Ok(())
            } else {
                Err("Storage account name may contain only lowercase letters and digits.".into())
            }
        });
        let container = r.checked("container", |v| {
            rules::length("Container", v, 3..=63)?;
            let chars_ok = v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if chars_ok && !v.starts_with('-') && !v.ends_with('-') && !v.contains("--") {
                Ok(())
            } else {
                Err("Container names use lowercase letters, digits and single hyphens, and start and end with a letter or digit.".into())
            }
        });
        let prefix = r.checked("prefix", rules::prefix);
        let endpoint = r.checked("endpoint", rules::http_url);
        let account_key =
            r.checked_secret("account_key", |v| match base64::engine::general_purpose::STANDARD.decode(v) {
                Ok(_) => Ok(()),
                Err(_) => Err("Account access key must be the base64 key from the Azure portal.".into()),
            });
        r.finish(|| {
            Some(AzureBlobConfig {
                account_name: account_name?,
                container: container?,
                prefix,
                endpoint,
                account_key: account_key?,
            })
        })
    }

    pub fn location(&self) -> String {
        format!("{}/{}/{}", self.account_name, self.container, self.prefix.as_deref().unwrap_or_default())
    }
}

/// Presigned URLs live at most this long, whatever is asked: they are for downloads now.
const MAX_SAS_EXPIRY: Duration = Duration::from_secs(24 * 3600);

pub struct AzureBlobProvider {
    store: MicrosoftAzure,
    container: String,
    prefix: Option<String>,
    endpoint_label: String,
    deadline: Duration,
    /// For the requests object_store does not make (listing uncommitted blobs).
    account: String,
    http: CheckedApi,
}

impl AzureBlobProvider {
    pub fn new(config: &AzureBlobConfig, ctx: &ProviderContext) -> Result<AzureBlobProvider, ProviderError> {
        let mut builder = MicrosoftAzureBuilder::new()
            .with_account(&config.account_name)
            .with_container_name(&config.container)
            .with_access_key(config.account_key.expose_secret())
            .with_retry(retry_config(ctx))
            .with_http_connector(ctx.http.checked_store_connector());
        // Azurite and sovereign clouds: the account's blob endpoint as given
        // (`http://127.0.0.1:10000/<account>` for Azurite, whose path names the account). Not
        // object_store's emulator mode: that takes its URL from a process-wide environment variable.
        let endpoint_label = match &config.endpoint {
            Some(endpoint) => {
                let endpoint = endpoint.trim_end_matches('/').to_owned();
                builder = builder.with_endpoint(endpoint.clone()).with_allow_http(endpoint.starts_with("http://"));
                endpoint
            }
            None => format!("https://{}.blob.core.windows.net", config.account_name),
        };
        let store = builder
            .build()
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("Invalid Azure settings: {e}")))?;
        Ok(AzureBlobProvider {
            store,
            container: config.container.clone(),
            prefix: config.prefix.clone(),
            endpoint_label,
            deadline: ctx.settings.test_deadline,
            account: config.account_name.clone(),
            http: ctx.http.checked_api().clone(),
        })
    }

    /// Names of the blobs under `folder` (relative to the destination's prefix, ending in `/`)
    /// that are only uncommitted blocks: what uploads cut off by a crash left in the container.
    pub async fn uncommitted_uploads(&self, folder: &str) -> Result<Vec<String>, ProviderError> {
        let url = self.container_url();
        self.container(&url).uncommitted(&join_key(self.prefix.as_deref(), folder)).await
    }

    fn container_url(&self) -> String {
        format!("{}/{}", self.endpoint_label, self.container)
    }

    fn container<'a>(&'a self, url: &'a str) -> super::azure_uploads::Container<'a> {
        super::azure_uploads::Container {
            store: &self.store,
            url,
            account: &self.account,
            http: &self.http,
            endpoint_label: &self.endpoint_label,
        }
    }

    fn path(&self, key: &str) -> Result<StorePath, ProviderError> {
        check_key(key)?;
        StorePath::parse(join_key(self.prefix.as_deref(), key))
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid blob name: {e}")))
    }

    fn err(&self, e: &object_store::Error) -> ProviderError {
        from_object_store(e, &self.endpoint_label)
    }
}

#[async_trait]
impl Provider for AzureBlobProvider {
    async fn test(&self) -> Result<String, ProviderError> {
        // One List Blobs page under the prefix: proves the key, the container and read access.
        first_page(&self.store, self.prefix.as_deref(), self.deadline, &self.endpoint_label, |e| self.err(e)).await?;
        Ok(format!("Listed container {} at {}.", self.container, self.endpoint_label))
    }

    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError> {
        let path = self.path(key)?;
        put_multipart(&self.store, &path, body, &PARTS, |e| self.err(e)).await
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

    /// Discards the folder's uncommitted blocks: invisible, but kept (and billed) for a week.
    async fn remove_leftovers(&self, folder: &str, ours: Leftovers<'_>) -> Result<usize, ProviderError> {
        let url = self.container_url();
        self.container(&url).discard_uncommitted(&join_key(self.prefix.as_deref(), folder), ours).await
    }

    /// A service SAS for this one blob, read permission only (`sp=r`, `sr=b`), signed locally
    /// with the account key.
    async fn presign(&self, key: &str, expires_in: Duration) -> Result<Option<url::Url>, ProviderError> {
        let path = self.path(key)?;
        let url = self
            .store
            .signed_url(http::Method::GET, &path, expires_in.min(MAX_SAS_EXPIRY))
            .await
            .map_err(|e| self.err(&e))?;
        Ok(Some(url))
    }
}
