//! Azure requests of our own, signed as object_store signs its own (Shared Key, or the SAS's
//! query pairs): the listing that finds cut-off uploads, and Delete Blob. object_store deletes
//! through a Blob Batch request, which some services refuse for a SAS (Azurite, for an account
//! SAS); one Delete Blob per blob needs only the `d` permission everywhere.

use super::AzureBlobProvider;
use super::privilege::Op;
use crate::providers::http::{send_signed, unsigned};
use crate::providers::object_store_errors::from_object_store;
use crate::providers::{ErrorKind, ProviderError};
use object_store::azure::AzureAuthorizer;

impl AzureBlobProvider {
    /// The container's URL with `name`'s segments (from the container's root) appended.
    pub(super) fn blob_url(&self, name: &str) -> Result<url::Url, ProviderError> {
        let mut url = self.container_url_parsed()?;
        url.path_segments_mut()
            .map_err(|()| ProviderError::new(ErrorKind::Provider, "invalid container URL"))?
            .extend(name.split('/'));
        Ok(url)
    }

    pub(super) fn container_url_parsed(&self) -> Result<url::Url, ProviderError> {
        url::Url::parse(&self.container_url())
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid container URL: {e}")))
    }

    /// Deletes one blob; one that is gone already counts as deleted.
    pub(super) async fn delete_blob(&self, name: &str) -> Result<(), ProviderError> {
        let url = self.blob_url(name)?;
        match self.send(http::Method::DELETE, &url, Op::Delete).await {
            Err(e) if e.code.as_deref() == Some("BlobNotFound") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Sends a request without a body, signed with the destination's credential; returns the
    /// answer's body, or Azure's error with what a SAS did not allow for `op`.
    pub(super) async fn send(&self, method: http::Method, url: &url::Url, op: Op) -> Result<String, ProviderError> {
        let credential = self.store.credentials().get_credential().await.map_err(|e| self.err(&e, op))?;
        let mut request = unsigned(method, url)?;
        AzureAuthorizer::new(&credential, &self.account)
            .try_authorize(&mut request)
            .map_err(|e| from_object_store(&e, &self.endpoint_label))?;
        send_signed(&self.http, request, &self.endpoint_label).await.map_err(|e| self.explain(e, op))
    }
}
