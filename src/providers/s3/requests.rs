//! Requests of our own to an S3 service, for what object_store does not do: a listing that
//! proves the answer is the bucket's (the connection test), ListMultipartUploads, and the
//! compatibility probe's requests with chosen headers. Signed with object_store's SigV4 signer,
//! as its own requests are, and sent with the checked HTTP client.

use crate::providers::http::{CheckedApi, transport_error};
use crate::providers::object_store_errors::{from_answer, from_object_store};
use crate::providers::xml::field;
use crate::providers::{ErrorKind, ProviderError, Step};
use bytes::Bytes;
use object_store::aws::{AmazonS3, AwsAuthorizer, AwsCredential};
use object_store::client::HttpRequestBody;
use std::sync::Arc;

/// Answers are read up to this size (a page of 1,000 incomplete uploads is about 300 KB).
const MAX_ANSWER: usize = 1024 * 1024;

/// Where to send requests, and how to sign them.
pub struct Requests<'a> {
    pub store: &'a AmazonS3,
    pub region: &'a str,
    pub http: &'a CheckedApi,
    pub endpoint_label: &'a str,
}

/// An answer, whatever its status.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The object version a write made, on a versioned bucket (`x-amz-version-id`).
    pub version_id: Option<String>,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The service's error in its own words.
    pub fn error(&self) -> ProviderError {
        let status = reqwest::StatusCode::from_u16(self.status).unwrap_or(reqwest::StatusCode::BAD_GATEWAY);
        from_answer(status, &self.body)
    }

    /// The service's error code, e.g. `NoSuchBucket` (None when it sent none).
    pub fn code(&self) -> Option<String> {
        field(&self.body, "Code")
    }
}

/// How a request's payload is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    Signed,
    Unsigned,
}

impl Requests<'_> {
    pub async fn credential(&self) -> Result<Arc<AwsCredential>, ProviderError> {
        self.store.credentials().get_credential().await.map_err(|e| from_object_store(&e, self.endpoint_label))
    }

    /// Sends a request signed as object_store signs its own; any status is an answer.
    pub async fn send(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, String)],
        body: Bytes,
        payload: Payload,
    ) -> Result<Answer, ProviderError> {
        let credential = self.credential().await?;
        let mut request = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut request = request
            .body(HttpRequestBody::from(body.clone()))
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid request: {e}")))?;
        AwsAuthorizer::new(&credential, "s3", self.region)
            .with_sign_payload(payload == Payload::Signed)
            .try_authorize(&mut request, None)
            .map_err(|e| from_object_store(&e, self.endpoint_label))?;
        self.send_prepared(request.method().clone(), url, request.headers().clone(), body).await
    }

    /// Sends a signed request without a body and hands back the answer unread, whatever its
    /// status: an object read as a stream (a bucket source's).
    pub async fn open(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, String)],
    ) -> Result<reqwest::Response, ProviderError> {
        let credential = self.credential().await?;
        let mut request = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut request = request
            .body(HttpRequestBody::from(Bytes::new()))
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid request: {e}")))?;
        AwsAuthorizer::new(&credential, "s3", self.region)
            .try_authorize(&mut request, None)
            .map_err(|e| from_object_store(&e, self.endpoint_label))?;
        let label = self.endpoint_label;
        self.http.request(request.method().clone(), url)?.headers(request.headers().clone()).send().await.map_err(|e| {
            match crate::providers::outbound::refusal_in(&e) {
                Some(refused) => refused.provider_error(),
                None => transport_error(&e, label),
            }
        })
    }

    /// Sends a request whose headers are final (signed by the caller, or not at all).
    pub async fn send_prepared(
        &self,
        method: http::Method,
        url: &str,
        headers: http::HeaderMap,
        body: Bytes,
    ) -> Result<Answer, ProviderError> {
        let label = self.endpoint_label;
        let response = self.http.request(method, url)?.headers(headers).body(body).send().await.map_err(|e| {
            match crate::providers::outbound::refusal_in(&e) {
                // A redirect to where Devpilot never connects: said as such, not as "unreachable".
                Some(refused) => refused.provider_error(),
                None => transport_error(&e, label),
            }
        })?;
        let status = response.status().as_u16();
        let version_id = response.headers().get("x-amz-version-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Answer { status, body: read_limited(response, label).await?, version_id })
    }

    /// One ListObjectsV2 page of at most one key under `prefix`, at `bucket_url`: the answer must
    /// be that bucket's listing. A service that took the bucket for something else answers with
    /// the account's buckets (the bucket was not in the request) or another bucket's objects.
    pub async fn list_first(&self, bucket_url: &str, bucket: &str, prefix: Option<&str>) -> Result<(), ProviderError> {
        let mut url = url::Url::parse(&format!("{}/", bucket_url.trim_end_matches('/')))
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid bucket URL: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("list-type", "2").append_pair("max-keys", "1");
            if let Some(prefix) = prefix.map(|p| p.trim_end_matches('/')).filter(|p| !p.is_empty()) {
                query.append_pair("prefix", &format!("{prefix}/"));
            }
        }
        let answer = self.send(http::Method::GET, url.as_str(), &[], Bytes::new(), Payload::Signed).await?;
        if !answer.ok() {
            return Err(answer.error());
        }
        check_listing(&answer.body, bucket, bucket_url)
    }
}

/// The listing is bucket `bucket`'s: a `ListBucketResult` that names it (if it names one).
fn check_listing(body: &str, bucket: &str, bucket_url: &str) -> Result<(), ProviderError> {
    let not_the_bucket = |what: String| ProviderError::new(ErrorKind::NotFound, what).at(Step::Find);
    if body.contains("<ListAllMyBucketsResult") {
        return Err(not_the_bucket(format!(
            "{bucket_url} answered with the account's list of buckets, not the objects of bucket “{bucket}”: \
             the request did not name the bucket, and neither would the backups' uploads."
        )));
    }
    // What else it answered is not repeated: the endpoint may be any server the admin named.
    if !body.contains("<ListBucketResult") {
        return Err(not_the_bucket(format!(
            "{bucket_url} did not answer with a bucket listing: it is not an S3 bucket's address."
        )));
    }
    match field(body, "Name") {
        Some(name) if name != bucket => Err(not_the_bucket(format!(
            "{bucket_url} answered with the objects of bucket “{name}”, not “{bucket}”: requests there do not name this bucket."
        ))),
        _ => Ok(()),
    }
}

async fn read_limited(mut response: reqwest::Response, label: &str) -> Result<String, ProviderError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e, label))? {
        let room = MAX_ANSWER.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_must_be_the_buckets() {
        let url = "http://127.0.0.1:9000";
        let buckets = "<?xml version=\"1.0\"?><ListAllMyBucketsResult><Buckets><Bucket><Name>b</Name></Bucket></Buckets></ListAllMyBucketsResult>";
        let e = check_listing(buckets, "b", url).expect_err("the account's buckets");
        assert!(e.message.contains("list of buckets") && e.step == Some(Step::Find), "{e:?}");
        let other = "<ListBucketResult><Name>other</Name><KeyCount>0</KeyCount></ListBucketResult>";
        assert!(check_listing(other, "b", url).expect_err("another bucket").message.contains("“other”"));
        let ours = "<ListBucketResult xmlns=\"x\"><Name>b</Name></ListBucketResult>";
        assert!(check_listing(ours, "b", url).is_ok());
        assert!(check_listing("<html>hello</html>", "b", url).is_err());
    }
}
