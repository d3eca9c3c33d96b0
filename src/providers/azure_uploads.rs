//! Uncommitted blobs in an Azure container: the blocks of an upload cut off before its block list
//! was committed. They are never visible as blobs, and Azure discards them after a week, but
//! they use (and bill) space meanwhile. List Blobs with `include=uncommittedblobs` names them
//! (signed with object_store's Shared Key signer, as its own requests are); a blob that is listed
//! there but not among the committed ones is only uncommitted blocks. Writing the name anew with
//! Put Blob discards its uncommitted blocks, and deleting that empty blob leaves nothing.

use super::object_store_errors::from_object_store;
use super::xml::{self, field};
use super::{ErrorKind, ProviderError};
use futures::TryStreamExt;
use object_store::azure::{AzureAuthorizer, MicrosoftAzure};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::collections::HashSet;

pub struct Container<'a> {
    pub store: &'a MicrosoftAzure,
    /// The container's URL: `{blob endpoint}/{container}`.
    pub url: &'a str,
    pub account: &'a str,
    pub http: &'a super::http::CheckedApi,
    pub endpoint_label: &'a str,
}

/// Listing stops after this many pages (5000 blobs each).
const MAX_PAGES: usize = 100;

impl Container<'_> {
    /// Names (from the container's root) of the blobs under `prefix` that are only uncommitted
    /// blocks.
    pub async fn uncommitted(&self, prefix: &str) -> Result<Vec<String>, ProviderError> {
        let mut listed = Vec::new();
        let mut marker = None::<String>;
        for _ in 0..MAX_PAGES {
            let mut url = url::Url::parse(self.url)
                .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid container URL: {e}")))?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("restype", "container").append_pair("comp", "list");
                q.append_pair("include", "uncommittedblobs").append_pair("prefix", prefix);
                if let Some(marker) = &marker {
                    q.append_pair("marker", marker);
                }
            }
            let body = self.get(url).await?;
            listed.extend(names_in(&body));
            match field(&body, "NextMarker").filter(|m| !m.is_empty()) {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
        if listed.is_empty() {
            return Ok(listed);
        }
        let base = StorePath::parse(prefix.trim_end_matches('/'))
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid prefix: {e}")))?;
        let committed: HashSet<String> = self
            .store
            .list(Some(&base))
            .map_ok(|o| o.location.to_string())
            .try_collect()
            .await
            .map_err(|e| from_object_store(&e, self.endpoint_label))?;
        Ok(listed.into_iter().filter(|name| !committed.contains(name)).collect())
    }

    /// Discards the uncommitted blocks of every upload under `prefix`; returns how many.
    pub async fn discard_uncommitted(&self, prefix: &str, ours: super::Leftovers<'_>) -> Result<usize, ProviderError> {
        let mut names = self.uncommitted(prefix).await?;
        names.retain(|name| ours(name.rsplit('/').next().unwrap_or_default()));
        for name in &names {
            let path = StorePath::parse(name)
                .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid blob name: {e}")))?;
            let err = |e: object_store::Error| from_object_store(&e, self.endpoint_label);
            self.store.put(&path, PutPayload::new()).await.map_err(err)?;
            self.store.delete(&path).await.map_err(err)?;
        }
        Ok(names.len())
    }

    async fn get(&self, url: url::Url) -> Result<String, ProviderError> {
        let credential =
            self.store.credentials().get_credential().await.map_err(|e| from_object_store(&e, self.endpoint_label))?;
        let mut request = super::http::unsigned_get(&url)?;
        AzureAuthorizer::new(&credential, self.account)
            .try_authorize(&mut request)
            .map_err(|e| from_object_store(&e, self.endpoint_label))?;
        super::http::send_signed(self.http, request, self.endpoint_label).await
    }
}

/// The `<Name>`s of the `<Blob>` entries of a List Blobs answer.
fn names_in(body: &str) -> Vec<String> {
    xml::elements(body, "Blob").into_iter().filter_map(|entry| xml::field(entry, "Name")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blob_names() {
        let body = "<EnumerationResults><Blobs><Blob><Name>p/a&amp;b</Name><Properties/></Blob>\
            <Blob><Name>p/c</Name></Blob></Blobs><NextMarker/></EnumerationResults>";
        assert_eq!(names_in(body), vec!["p/a&b".to_owned(), "p/c".to_owned()]);
        assert_eq!(field(body, "NextMarker"), None);
    }
}
