//! Incomplete multipart uploads in an S3 bucket: listed with ListMultipartUploads and aborted.
//! An upload cut off with the server (ours) gone never shows as an object, but the bucket keeps
//! its parts, and bills them, until they are aborted or a lifecycle rule removes them.
//! object_store can abort an upload but not list them, so the listing is a request of our own.

use super::requests::{Payload, Requests};
use crate::providers::object_store_errors::from_object_store;
use crate::providers::xml::{self, field};
use crate::providers::{ErrorKind, ProviderError};
use bytes::Bytes;
use object_store::multipart::MultipartStore;
use object_store::path::Path as StorePath;

/// One incomplete upload: its object key (from the bucket's root) and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub key: String,
    pub id: String,
}

/// The bucket's requests, and its URL: `{endpoint}/{bucket}` path-style, else its own host.
pub struct Bucket<'a> {
    pub requests: Requests<'a>,
    pub url: &'a str,
}

/// Listing stops after this many pages (1000 uploads each).
const MAX_PAGES: usize = 100;

impl Bucket<'_> {
    /// The incomplete uploads whose key starts with `prefix` (ending in `/`).
    pub async fn incomplete(&self, prefix: &str) -> Result<Vec<Upload>, ProviderError> {
        // Some S3-compatible servers (moto with auth on) mis-check signatures of query strings
        // with a `/`: a one-level prefix goes without its trailing slash, and the keys are
        // filtered exactly below.
        let trimmed = prefix.trim_end_matches('/');
        let query_prefix = if trimmed.contains('/') { prefix } else { trimmed };
        let (mut found, mut markers) = (Vec::new(), None::<(String, String)>);
        for _ in 0..MAX_PAGES {
            let mut url = url::Url::parse(&format!("{}/", self.url.trim_end_matches('/')))
                .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid bucket URL: {e}")))?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("uploads", "");
                if !query_prefix.is_empty() {
                    q.append_pair("prefix", query_prefix);
                }
                if let Some((key, id)) = &markers {
                    q.append_pair("key-marker", key);
                    q.append_pair("upload-id-marker", id);
                }
            }
            let body = self.get(url).await?;
            found.extend(uploads_in(&body).into_iter().filter(|u| u.key.starts_with(prefix)));
            if field(&body, "IsTruncated").as_deref() != Some("true") {
                return Ok(found);
            }
            match (field(&body, "NextKeyMarker"), field(&body, "NextUploadIdMarker")) {
                (Some(key), Some(id)) => markers = Some((key, id)),
                _ => return Ok(found),
            }
        }
        Ok(found)
    }

    /// Aborts every incomplete upload under `prefix`; returns how many.
    pub async fn abort_incomplete(
        &self,
        prefix: &str,
        ours: crate::providers::Leftovers<'_>,
    ) -> Result<usize, ProviderError> {
        let mut uploads = self.incomplete(prefix).await?;
        uploads.retain(|u| ours(u.key.rsplit('/').next().unwrap_or_default()));
        for upload in &uploads {
            let path = StorePath::parse(&upload.key)
                .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid object key: {e}")))?;
            self.requests
                .store
                .abort_multipart(&path, &upload.id)
                .await
                .map_err(|e| from_object_store(&e, self.requests.endpoint_label))?;
        }
        Ok(uploads.len())
    }

    async fn get(&self, url: url::Url) -> Result<String, ProviderError> {
        let answer = self.requests.send(http::Method::GET, url.as_str(), &[], Bytes::new(), Payload::Signed).await?;
        if answer.ok() { Ok(answer.body) } else { Err(answer.error()) }
    }
}

/// The `<Upload>` entries of a ListMultipartUploads answer.
fn uploads_in(body: &str) -> Vec<Upload> {
    xml::elements(body, "Upload")
        .into_iter()
        .filter_map(|entry| Some(Upload { key: xml::field(entry, "Key")?, id: xml::field(entry, "UploadId")? }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_uploads_and_paging() {
        let body = "<ListMultipartUploadsResult><Bucket>b</Bucket><IsTruncated>true</IsTruncated>\
            <NextKeyMarker>p/b</NextKeyMarker><NextUploadIdMarker>2</NextUploadIdMarker>\
            <Upload><Key>p/a&amp;b</Key><UploadId>1</UploadId></Upload>\
            <Upload><Key>p/b</Key><UploadId>2</UploadId></Upload></ListMultipartUploadsResult>";
        assert_eq!(
            uploads_in(body),
            vec![Upload { key: "p/a&b".into(), id: "1".into() }, Upload { key: "p/b".into(), id: "2".into() }]
        );
        assert_eq!(field(body, "IsTruncated").as_deref(), Some("true"));
    }
}
