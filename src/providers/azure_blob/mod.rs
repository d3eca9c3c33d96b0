//! Azure Blob Storage through object_store, signed with a SAS token (`config`, `sas`) or the
//! account key (Shared Key): uploads as blocks committed by a block list; with the account key,
//! presigned downloads as read-only service SAS URLs for one blob. `requests` are our own
//! (Delete Blob, the listing of uncommitted blobs), signed the same way; `uploads` finds and
//! discards what cut-off uploads left; `privilege` is the deep test's report (what the
//! credential can do beyond what Devpilot needs) and the words for what a SAS did not allow.

mod config;
mod immutability;
mod privilege;
mod requests;
mod sas;
mod uploads;

pub use config::{AzureAuth, AzureBlobConfig, FIELDS};
pub use sas::{NEEDED, SasToken, needed_letters};

use super::compatibility::Compatibility;
use super::http::CheckedApi;
use super::object_listing::{first_page, list_under};
use super::object_store_errors::from_object_store;
use super::s3::{PARTS, put_multipart, retry_config};
use super::{
    ByteStream, ErrorKind, Leftovers, Provider, ProviderContext, ProviderError, StoredObject, check_key, join_key,
};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::azure::{MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::path::Path as StorePath;
use object_store::signer::Signer;
use privilege::Op;
use secrecy::ExposeSecret;
use std::time::Duration;

/// Presigned URLs live at most this long, whatever is asked: they are for downloads now.
const MAX_SAS_EXPIRY: Duration = Duration::from_secs(24 * 3600);

pub struct AzureBlobProvider {
    store: MicrosoftAzure,
    container: String,
    prefix: Option<String>,
    endpoint_label: String,
    deadline: Duration,
    /// For the requests object_store does not make (see `requests`).
    account: String,
    http: CheckedApi,
    /// The SAS signing the requests, if any: its words explain refusals; it signs no links.
    sas: Option<SasToken>,
}

impl AzureBlobProvider {
    pub fn new(config: &AzureBlobConfig, ctx: &ProviderContext) -> Result<AzureBlobProvider, ProviderError> {
        let mut builder = MicrosoftAzureBuilder::new()
            .with_account(&config.account_name)
            .with_container_name(&config.container)
            .with_retry(retry_config(ctx))
            .with_http_connector(ctx.http.checked_store_connector());
        builder = match &config.auth {
            AzureAuth::AccountKey(key) => builder.with_access_key(key.expose_secret()),
            // object_store marks these requests sensitive: their URLs (which carry the
            // signature) stay out of its errors and logs.
            AzureAuth::Sas(sas) => builder.with_sas_authorization(sas.pairs().to_vec()),
        };
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
            sas: config.sas().cloned(),
        })
    }

    /// Names of the blobs under `folder` (relative to the destination's prefix, ending in `/`)
    /// that are only uncommitted blocks: what uploads cut off by a crash left in the container.
    pub async fn uncommitted_uploads(&self, folder: &str) -> Result<Vec<String>, ProviderError> {
        self.uncommitted_under(&join_key(self.prefix.as_deref(), folder)).await
    }

    fn container_url(&self) -> String {
        format!("{}/{}", self.endpoint_label, self.container)
    }

    fn path(&self, key: &str) -> Result<StorePath, ProviderError> {
        check_key(key)?;
        StorePath::parse(join_key(self.prefix.as_deref(), key))
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid blob name: {e}")))
    }

    /// object_store's error in Azure's words, and what a SAS did not allow for `op`.
    fn err(&self, e: &object_store::Error, op: Op) -> ProviderError {
        self.explain(from_object_store(e, &self.endpoint_label), op)
    }

    fn explain(&self, e: ProviderError, op: Op) -> ProviderError {
        match &self.sas {
            Some(sas) => privilege::explain(sas, &self.container, e, op, chrono::Utc::now()),
            None => e,
        }
    }
}

#[async_trait]
impl Provider for AzureBlobProvider {
    async fn test(&self) -> Result<String, ProviderError> {
        // One List Blobs page under the prefix: proves the credential, the container and list access.
        first_page(&self.store, self.prefix.as_deref(), self.deadline, &self.endpoint_label, |e| self.err(e, Op::List))
            .await?;
        let immutability = tokio::time::timeout(self.deadline, self.immutability())
            .await
            .unwrap_or_else(|_| "Immutability: unknown (no answer in time)".into());
        Ok(format!("Listed container {} at {}. {immutability}.", self.container, self.endpoint_label))
    }

    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError> {
        let path = self.path(key)?;
        put_multipart(&self.store, &path, body, &PARTS, |e| self.err(e, Op::Write)).await
    }

    async fn get(&self, key: &str) -> Result<ByteStream, ProviderError> {
        let path = self.path(key)?;
        let result = self.store.get(&path).await.map_err(|e| self.err(&e, Op::Read))?;
        Ok(result.into_stream().map_err(std::io::Error::other).boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ProviderError> {
        list_under(&self.store, self.prefix.as_deref(), prefix).await.map_err(|e| self.err(&e, Op::List))
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let path = self.path(key)?;
        self.delete_blob(path.as_ref()).await
    }

    /// Discards the folder's uncommitted blocks: invisible, but kept (and billed) for a week.
    async fn remove_leftovers(&self, folder: &str, ours: Leftovers<'_>) -> Result<usize, ProviderError> {
        self.discard_uncommitted(&join_key(self.prefix.as_deref(), folder), ours).await
    }

    /// With the account key: a service SAS for this one blob, read permission only (`sp=r`,
    /// `sr=b`), signed locally. A SAS cannot sign another, and handing out the destination's
    /// own would give its every permission: downloads then stream through Devpilot.
    async fn presign(&self, key: &str, expires_in: Duration) -> Result<Option<url::Url>, ProviderError> {
        if self.sas.is_some() {
            return Ok(None);
        }
        let path = self.path(key)?;
        let url = self
            .store
            .signed_url(http::Method::GET, &path, expires_in.min(MAX_SAS_EXPIRY))
            .await
            .map_err(|e| self.err(&e, Op::Read))?;
        Ok(Some(url))
    }

    /// What the credential can do beyond what Devpilot needs, and whether the listing that
    /// finds cut-off uploads works with it.
    async fn compatibility(&self) -> Option<Compatibility> {
        let listing = self.can_list_uncommitted(&join_key(self.prefix.as_deref(), "")).await;
        Some(privilege::report(self.sas.as_ref(), &self.account, &self.container, listing))
    }
}
