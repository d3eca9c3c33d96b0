//! A bucket read as a backup's source (and written back by its restore): listed a page at a
//! time with ListObjectsV2 (keys asked URL-encoded, so any byte a hostile key holds arrives
//! intact and XML-safe), each object read as a stream. Our own signed requests through the
//! checked client, so the outbound address policy judges every connection as it does a
//! destination's; nothing of an object is held beyond the chunk in flight.

use super::S3Provider;
use super::requests::Payload;
use crate::providers::http::transport_error;
use crate::providers::object_store_errors::from_answer;
use crate::providers::xml::{elements, field};
use crate::providers::{ByteStream, ErrorKind, ProviderError, Step};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Keys asked for per listing page (S3's own maximum).
pub const PAGE_KEYS: u32 = 1000;
/// How often a listing page or an object's read is asked when the service answers 5xx.
const ATTEMPTS: u64 = 3;

/// Every byte but S3's unreserved characters and `/` is escaped in an object's URL.
const KEY_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// An object as the listing gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The whole key, as the bucket holds it (not yet judged: see `artifacts::bucket`).
    pub key: String,
    pub size: u64,
    /// Without its quotes.
    pub etag: String,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// One page of a listing, and where the next one starts.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub objects: Vec<Listed>,
    pub next: Option<String>,
}

/// An object being read: what the GET's headers said, and its bytes.
pub struct Reading {
    pub size: u64,
    pub etag: String,
    pub body: ByteStream,
}

impl S3Provider {
    /// The bucket this provider was built for.
    pub fn bucket_name(&self) -> &str {
        &self.bucket
    }

    /// One page of the keys under `prefix` (a whole key prefix: `photos/` lists that folder),
    /// from `token` (None: the first page). At most `max_keys` objects.
    pub async fn list_page(&self, prefix: &str, token: Option<&str>, max_keys: u32) -> Result<Page, ProviderError> {
        let mut url = self.url_of("")?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("list-type", "2").append_pair("encoding-type", "url");
            query.append_pair("max-keys", &max_keys.to_string());
            if !prefix.is_empty() {
                query.append_pair("prefix", prefix);
            }
            if let Some(token) = token {
                query.append_pair("continuation-token", token);
            }
        }
        let mut attempt = 0;
        let answer = loop {
            let answer =
                self.requests().send(http::Method::GET, url.as_str(), &[], Bytes::new(), Payload::Signed).await?;
            attempt += 1;
            // A service's passing trouble (5xx) is asked again, a few times, before a run fails.
            if answer.status < 500 || attempt >= ATTEMPTS {
                break answer;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250 * attempt)).await;
        };
        if !answer.ok() {
            return Err(answer.error().at(Step::List));
        }
        parse_page(&answer.body).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Provider,
                format!("{} did not answer with a bucket listing.", self.at.bucket_url),
            )
            .at(Step::List)
        })
    }

    /// Reads object `key` (its whole key in the bucket); None when it no longer exists.
    pub async fn read_object(&self, key: &str) -> Result<Option<Reading>, ProviderError> {
        let url = self.url_of(key)?;
        let mut attempt = 0;
        let response = loop {
            let response = self.signed_get(url.as_str(), &[]).await?;
            attempt += 1;
            if !response.status().is_server_error() || attempt >= ATTEMPTS {
                break response;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250 * attempt)).await;
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(from_answer(status, &body).at(Step::Read));
        }
        let size = response.content_length().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Provider,
                format!("{} sent an object without its length.", self.at.service_url),
            )
        })?;
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let etag = etag.trim_matches('"').to_owned();
        let label = self.at.service_url.clone();
        let body = response.bytes_stream().map_err(move |e| std::io::Error::other(transport_error(&e, &label).message));
        Ok(Some(Reading { size, etag, body: body.boxed() }))
    }

    /// Reads the first byte of `key`: whether the keys may read objects, without downloading one.
    pub async fn read_first_byte(&self, key: &str) -> Result<(), ProviderError> {
        let url = self.url_of(key)?;
        let response = self.signed_get(url.as_str(), &[("range", "bytes=0-0".to_owned())]).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(from_answer(status, &body).at(Step::Read))
    }

    /// Writes `body` at `key` (its whole key in the bucket, already judged safe).
    pub async fn write_object(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError> {
        crate::providers::Provider::put(self, key, body).await
    }

    /// The URL of `key` in the bucket, in the addressing style this service uses.
    fn url_of(&self, key: &str) -> Result<url::Url, ProviderError> {
        let encoded = utf8_percent_encode(key, KEY_ESCAPES);
        url::Url::parse(&format!("{}/{encoded}", self.at.bucket_url.trim_end_matches('/')))
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid object URL: {e}")))
    }

    async fn signed_get(&self, url: &str, headers: &[(&str, String)]) -> Result<reqwest::Response, ProviderError> {
        self.requests().open(http::Method::GET, url, headers).await
    }
}

/// A ListObjectsV2 answer's objects and continuation; None when it is not one.
fn parse_page(body: &str) -> Option<Page> {
    if !body.contains("<ListBucketResult") {
        return None;
    }
    let encoded = field(body, "EncodingType").is_some_and(|e| e.eq_ignore_ascii_case("url"));
    let decode = |text: String| match encoded {
        true => percent_decode_str(&text).decode_utf8_lossy().into_owned(),
        false => text,
    };
    let mut objects = Vec::new();
    for item in elements(body, "Contents") {
        let key = decode(field(item, "Key")?);
        let size = field(item, "Size")?.trim().parse().ok()?;
        let etag = field(item, "ETag").unwrap_or_default().trim_matches('"').to_owned();
        let last_modified = field(item, "LastModified")
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
            .map(|t| t.with_timezone(&chrono::Utc));
        objects.push(Listed { key, size, etag, last_modified });
    }
    let truncated = field(body, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next = field(body, "NextContinuationToken").filter(|_| truncated);
    Some(Page { objects, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_decode_their_keys_and_etags() {
        let body = "<ListBucketResult><Name>b</Name><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>\
            <Contents><Key>..%2F..%2Fetc%2Fpasswd</Key><Size>4</Size><ETag>&quot;abc&quot;</ETag>\
            <LastModified>2026-01-02T03:04:05.000Z</LastModified></Contents>\
            <Contents><Key>a%00b</Key><Size>0</Size><ETag>\"d\"</ETag></Contents>\
            <NextContinuationToken>t1</NextContinuationToken></ListBucketResult>";
        let page = parse_page(body).expect("a page");
        assert_eq!(page.objects[0].key, "../../etc/passwd");
        assert_eq!(page.objects[0].etag, "abc");
        assert_eq!(page.objects[0].size, 4);
        assert!(page.objects[0].last_modified.is_some());
        assert_eq!(page.objects[1].key, "a\0b");
        assert_eq!(page.next.as_deref(), Some("t1"));
        assert!(parse_page("<html>no</html>").is_none());
    }

    #[test]
    fn keys_are_escaped_in_urls() {
        let encoded = utf8_percent_encode("a b/ü?x#%", KEY_ESCAPES).to_string();
        assert_eq!(encoded, "a%20b/%C3%BC%3Fx%23%25");
    }
}
