//! Uncommitted blobs in an Azure container: the blocks of an upload cut off before its block list
//! was committed. They are never visible as blobs, and Azure discards them after a week, but
//! they use (and bill) space meanwhile. List Blobs with `include=uncommittedblobs` (our own
//! request, see `requests`) names them; a blob that is listed there but not among the committed
//! ones is only uncommitted blocks. Writing the name anew with Put Blob discards its uncommitted
//! blocks, and deleting that empty blob leaves nothing.

use super::AzureBlobProvider;
use super::privilege::Op;
use crate::providers::xml::{self, field};
use crate::providers::{ErrorKind, ProviderError};
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::collections::HashSet;

/// Listing stops after this many pages (5000 blobs each).
const MAX_PAGES: usize = 100;

impl AzureBlobProvider {
    /// Names (from the container's root) of the blobs under `prefix` that are only uncommitted
    /// blocks.
    pub(super) async fn uncommitted_under(&self, prefix: &str) -> Result<Vec<String>, ProviderError> {
        let mut listed = Vec::new();
        let mut marker = None::<String>;
        for _ in 0..MAX_PAGES {
            let body = self.list_with_uncommitted(prefix, marker.as_deref(), None).await?;
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
            .map_err(|e| self.err(&e, Op::List))?;
        Ok(listed.into_iter().filter(|name| !committed.contains(name)).collect())
    }

    /// Discards the uncommitted blocks of every upload under `prefix`; returns how many.
    pub(super) async fn discard_uncommitted(
        &self,
        prefix: &str,
        ours: crate::providers::Leftovers<'_>,
    ) -> Result<usize, ProviderError> {
        let mut names = self.uncommitted_under(prefix).await?;
        names.retain(|name| ours(name.rsplit('/').next().unwrap_or_default()));
        for name in &names {
            let path = StorePath::parse(name)
                .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid blob name: {e}")))?;
            self.store.put(&path, PutPayload::new()).await.map_err(|e| self.err(&e, Op::Write))?;
            self.delete_blob(name).await?;
        }
        Ok(names.len())
    }

    /// The deep test's check of that listing: one page of one entry.
    pub(super) async fn can_list_uncommitted(&self, prefix: &str) -> Result<(), ProviderError> {
        self.list_with_uncommitted(prefix, None, Some(1)).await.map(|_| ())
    }

    /// One page of List Blobs with `include=uncommittedblobs`.
    async fn list_with_uncommitted(
        &self,
        prefix: &str,
        marker: Option<&str>,
        max: Option<usize>,
    ) -> Result<String, ProviderError> {
        let mut url = self.container_url_parsed()?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("restype", "container").append_pair("comp", "list");
            q.append_pair("include", "uncommittedblobs").append_pair("prefix", prefix);
            if let Some(marker) = marker {
                q.append_pair("marker", marker);
            }
            if let Some(max) = max {
                q.append_pair("maxresults", &max.to_string());
            }
        }
        self.send(http::Method::GET, &url, Op::List).await
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
