//! Cloudinary: artifacts as raw assets, through Cloudinary's upload and Admin APIs.
//!
//! Uploads are signed (sorted `key=value` pairs joined by `&`, the API secret appended, SHA-1);
//! the Admin API (ping, listing, resource details) takes the key and secret as basic auth. Large
//! artifacts go up in 20 MB chunks tied together by `X-Unique-Upload-Id`, so memory stays
//! bounded; Cloudinary assembles the asset only when the last chunk arrives, so a failed upload
//! leaves no asset. Cloudinary refuses empty files, so a 0-byte artifact is stored as a one-byte
//! placeholder marked with the context `devpilot_empty=true` and read back as empty.

use super::chunks::fill_past;
use super::http::{kind_of_status, origin, transport_error};
use super::{ByteStream, ErrorKind, Provider, ProviderContext, ProviderError, Step, StoredObject, check_key, join_key};
use crate::fields::{FieldErrors, FieldReader, FieldSpec, RawFields, rules};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use rand::RngCore;
use reqwest::multipart::{Form, Part};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha1::{Digest, Sha1};

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("cloud_name", "Cloud name").required().max_len(64).placeholder("my-cloud"),
    FieldSpec::text("prefix", "Public ID prefix").max_len(255).placeholder("backups/"),
    FieldSpec::secret("api_key", "API key").required().max_len(64),
    FieldSpec::secret("api_secret", "API secret").required().max_len(128),
];

#[derive(Debug, Clone)]
pub struct CloudinaryConfig {
    pub cloud_name: String,
    pub prefix: Option<String>,
    pub api_key: SecretString,
    pub api_secret: SecretString,
}

impl CloudinaryConfig {
    pub fn parse(raw: &RawFields) -> Result<CloudinaryConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let cloud_name = r.checked("cloud_name", |v| rules::charset("Cloud name", v, "-_"));
        let prefix = r.checked("prefix", rules::prefix);
        let api_key = r.checked_secret("api_key", |v| {
            if v.chars().all(|c| c.is_ascii_digit()) {
                Ok(())
            } else {
                Err("API key is the number shown in the Cloudinary console.".into())
            }
        });
        let api_secret = r.checked_secret("api_secret", |v| rules::charset("API secret", v, "-_"));
        r.finish(|| {
            Some(CloudinaryConfig { cloud_name: cloud_name?, prefix, api_key: api_key?, api_secret: api_secret? })
        })
    }

    pub fn location(&self) -> String {
        format!("cloudinary://{}/{}", self.cloud_name, self.prefix.as_deref().unwrap_or_default())
    }
}

/// Cloudinary's documented chunk size for large uploads (chunks must be at least 5 MB).
const CHUNK: usize = 20_000_000;
const EMPTY_MARKER: &str = "devpilot_empty=true";

pub struct CloudinaryProvider {
    http: reqwest::Client,
    cloud: String,
    /// `{api}/{cloud}`
    base: String,
    prefix: Option<String>,
    api_key: SecretString,
    api_secret: SecretString,
}

#[derive(Debug, Deserialize)]
struct Resource {
    public_id: String,
    #[serde(default)]
    bytes: u64,
    #[serde(default)]
    secure_url: String,
    created_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    context: serde_json::Value,
}

impl Resource {
    fn is_empty_marker(&self) -> bool {
        self.context["custom"]["devpilot_empty"].as_str() == Some("true")
    }

    fn size(&self) -> u64 {
        if self.is_empty_marker() { 0 } else { self.bytes }
    }
}

#[derive(Debug, Deserialize)]
struct ResourceList {
    #[serde(default)]
    resources: Vec<Resource>,
    next_cursor: Option<String>,
}

impl CloudinaryProvider {
    pub fn new(config: &CloudinaryConfig, ctx: &ProviderContext) -> Result<CloudinaryProvider, ProviderError> {
        let api = ctx.settings.endpoints.cloudinary_api.trim_end_matches('/');
        Ok(CloudinaryProvider {
            http: ctx.http.api().clone(),
            cloud: config.cloud_name.clone(),
            base: format!("{api}/{}", config.cloud_name),
            prefix: config.prefix.clone(),
            api_key: config.api_key.clone(),
            api_secret: config.api_secret.clone(),
        })
    }

    fn public_id(&self, key: &str) -> Result<String, ProviderError> {
        check_key(key)?;
        Ok(join_key(self.prefix.as_deref(), key))
    }

    /// The signature of the upload API: parameters sorted by name, `&`-joined, secret appended.
    fn sign(&self, params: &[(&'static str, String)]) -> String {
        let mut sorted: Vec<&(&str, String)> = params.iter().collect();
        sorted.sort_by_key(|(k, _)| *k);
        let to_sign: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut hasher = Sha1::new();
        hasher.update(to_sign.join("&").as_bytes());
        hasher.update(self.api_secret.expose_secret().as_bytes());
        hex::encode(hasher.finalize())
    }

    /// Signed parameters with a fresh timestamp, plus `api_key` and `signature`.
    fn signed(&self, mut params: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
        params.push(("timestamp", chrono::Utc::now().timestamp().to_string()));
        let signature = self.sign(&params);
        params.push(("api_key", self.api_key.expose_secret().to_owned()));
        params.push(("signature", signature));
        params
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ProviderError> {
        let response = request.send().await.map_err(|e| transport_error(&e, &origin(&self.base)))?;
        if response.status().is_success() { Ok(response) } else { Err(api_error(response).await) }
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ProviderError> {
        self.send(request).await?.json().await.map_err(|e| {
            ProviderError::new(ErrorKind::Provider, format!("Cloudinary answered something unexpected: {e}."))
        })
    }

    fn admin(&self, url: url::Url) -> reqwest::RequestBuilder {
        self.http.get(url).basic_auth(self.api_key.expose_secret(), Some(self.api_secret.expose_secret()))
    }

    fn admin_url(&self, segments: &[&str]) -> Result<url::Url, ProviderError> {
        let mut url = url::Url::parse(&self.base)
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("invalid Cloudinary URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| ProviderError::new(ErrorKind::Provider, "invalid Cloudinary URL"))?
            .extend(segments);
        Ok(url)
    }

    /// One signed upload request: the whole file, or one chunk of a chunked upload.
    async fn upload(
        &self,
        public_id: &str,
        data: Bytes,
        extra: Vec<(&'static str, String)>,
        chunk: Option<(&str, String)>,
    ) -> Result<serde_json::Value, ProviderError> {
        let mut params = vec![("public_id", public_id.to_owned()), ("overwrite", "true".to_owned())];
        params.extend(extra);
        let mut form = Form::new();
        for (k, v) in self.signed(params) {
            form = form.text(k, v);
        }
        let name = public_id.rsplit('/').next().unwrap_or("artifact").to_owned();
        let len = data.len() as u64;
        let part = Part::stream_with_length(reqwest::Body::from(data), len)
            .file_name(name)
            .mime_str("application/octet-stream")
            .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("building the upload: {e}")))?;
        let mut request = self.http.post(format!("{}/raw/upload", self.base)).multipart(form.part("file", part));
        if let Some((upload_id, range)) = chunk {
            request = request.header("X-Unique-Upload-Id", upload_id).header(reqwest::header::CONTENT_RANGE, range);
        }
        self.json(request).await.map_err(|e| e.at(Step::Write))
    }

    /// Streams the body up: one request when it fits in a chunk, else a chunked upload whose last
    /// chunk carries the total. Returns the final answer and the bytes sent.
    async fn upload_body(
        &self,
        public_id: &str,
        mut body: ByteStream,
    ) -> Result<(serde_json::Value, u64), ProviderError> {
        let upload_id = random_hex();
        let mut buffer = BytesMut::new();
        let mut offset = 0u64;
        loop {
            let ended = fill_past(&mut body, &mut buffer, CHUNK).await?;
            let chunk = if ended { buffer.split().freeze() } else { buffer.split_to(CHUNK).freeze() };
            let len = chunk.len() as u64;
            if ended && offset == 0 {
                if chunk.is_empty() {
                    let marker = vec![("context", EMPTY_MARKER.to_owned())];
                    return Ok((self.upload(public_id, Bytes::from_static(b"\0"), marker, None).await?, 0));
                }
                return Ok((self.upload(public_id, chunk, Vec::new(), None).await?, len));
            }
            let total = if ended { (offset + len).to_string() } else { "-1".to_owned() };
            let range = format!("bytes {offset}-{}/{total}", offset + len - 1);
            let answer = self.upload(public_id, chunk, Vec::new(), Some((&upload_id, range))).await?;
            offset += len;
            if ended {
                return Ok((answer, offset));
            }
        }
    }

    async fn resource(&self, public_id: &str) -> Result<Resource, ProviderError> {
        let mut segments = vec!["resources", "raw", "upload"];
        segments.extend(public_id.split('/'));
        self.json(self.admin(self.admin_url(&segments)?)).await
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Cloudinary's `{"error": {"message": …}}` in its own words.
async fn api_error(response: reqwest::Response) -> ProviderError {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let message = body["error"]["message"].as_str().map_or_else(|| format!("HTTP {status}"), str::to_owned);
    let error = ProviderError::new(kind_of_status(status), message);
    if status == reqwest::StatusCode::UNAUTHORIZED { error.at(Step::Authenticate) } else { error }
}

#[async_trait]
impl Provider for CloudinaryProvider {
    fn steps(&self) -> &'static [Step] {
        &[Step::Resolve, Step::Connect, Step::Authenticate]
    }

    async fn test(&self) -> Result<String, ProviderError> {
        let answer: serde_json::Value = self.json(self.admin(self.admin_url(&["ping"])?)).await?;
        match answer["status"].as_str() {
            Some("ok") => Ok(format!("Cloudinary accepted the API key for the cloud “{}”.", self.cloud)),
            other => Err(ProviderError::new(
                ErrorKind::Provider,
                format!("Cloudinary's ping answered {:?} instead of \"ok\".", other.unwrap_or_default()),
            )),
        }
    }

    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError> {
        let public_id = self.public_id(key)?;
        let (answer, sent) = self.upload_body(&public_id, body).await?;
        let stored = answer["bytes"].as_u64().unwrap_or_default();
        let expected = if sent == 0 { 1 } else { sent };
        if stored != expected {
            let message = format!("Cloudinary stored {stored} bytes of {expected}.");
            return Err(ProviderError::new(ErrorKind::Provider, message).at(Step::Write));
        }
        Ok(sent)
    }

    async fn get(&self, key: &str) -> Result<ByteStream, ProviderError> {
        let resource = self.resource(&self.public_id(key)?).await?;
        if resource.is_empty_marker() {
            return Ok(futures::stream::empty().boxed());
        }
        // Delivery URLs are public: no credentials go with this request.
        let response = self.send(self.http.get(&resource.secure_url)).await?;
        Ok(response.bytes_stream().map_err(std::io::Error::other).boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ProviderError> {
        let base = self.prefix.as_deref().map(|p| p.trim_end_matches('/')).filter(|p| !p.is_empty());
        let strip = base.map(|b| format!("{b}/")).unwrap_or_default();
        let full_prefix = format!("{strip}{prefix}");
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = self.admin_url(&["resources", "raw", "upload"])?;
            url.query_pairs_mut()
                .append_pair("prefix", &full_prefix)
                .append_pair("max_results", "500")
                .append_pair("context", "true");
            if let Some(c) = &cursor {
                url.query_pairs_mut().append_pair("next_cursor", c);
            }
            let page: ResourceList = self.json(self.admin(url)).await?;
            for r in page.resources {
                if let Some(key) = r.public_id.strip_prefix(strip.as_str()) {
                    found.push(StoredObject { key: key.to_owned(), size: r.size(), last_modified: r.created_at });
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let public_id = self.public_id(key)?;
        let params = self.signed(vec![("public_id", public_id.clone()), ("invalidate", "true".to_owned())]);
        let request = self.http.post(format!("{}/raw/destroy", self.base)).form(&params);
        let answer: serde_json::Value = self.json(request).await?;
        match answer["result"].as_str() {
            Some("ok") => Ok(()),
            Some("not found") => {
                Err(ProviderError::new(ErrorKind::NotFound, format!("No raw asset {public_id:?} in Cloudinary.")))
            }
            other => Err(ProviderError::new(
                ErrorKind::Provider,
                format!("Cloudinary's destroy answered {:?}.", other.unwrap_or_default()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_cloudinary_documents() {
        // The example of Cloudinary's "Generating authentication signatures" page.
        let config = CloudinaryConfig {
            cloud_name: "demo".into(),
            prefix: None,
            api_key: SecretString::from("1234"),
            api_secret: SecretString::from("abcd"),
        };
        let ctx = ProviderContext::new(Default::default(), "/tmp".into()).expect("clients");
        let p = CloudinaryProvider::new(&config, &ctx).expect("provider");
        let params = vec![
            ("timestamp", "1315060510".to_owned()),
            ("public_id", "sample_image".to_owned()),
            ("eager", "w_400,h_300,c_pad|w_260,h_200,c_crop".to_owned()),
        ];
        assert_eq!(p.sign(&params), "bfd09f95f331f558cbd1320e67aa8d488770583e");
    }
}
