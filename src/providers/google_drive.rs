//! Google Drive: artifacts as files in one folder, through the Drive v3 REST API.
//!
//! Keys are flat: an artifact's key, `/` included, is its file name in the folder (Drive names may
//! contain `/`), so no sub-folders are made and a listing is the folder's files filtered by
//! prefix. Uploads use Drive's resumable protocol in 8 MiB chunks, so memory stays bounded; a
//! failed upload cancels its session, which leaves no file (or, on a replace, the old content).

use super::google_auth::oauth::RefreshingToken;
use super::http::{kind_of_status, origin, transport_error};
use super::object_store_errors::kind_of_code;
use super::{ByteStream, ErrorKind, Provider, ProviderContext, ProviderError, Step, StoredObject, check_key};
use crate::fields::{FieldErrors, FieldReader, FieldSpec, RawFields, rules};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

mod folders;
mod resumable;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("folder_id", "Folder ID")
        .required()
        .max_len(128)
        .help("The last part of the folder's URL in Google Drive."),
    FieldSpec::secret("access_token", "OAuth2 access token")
        .max_len(4096)
        .help("Short-lived. For lasting access use a refresh token with the OAuth client below."),
    FieldSpec::secret("refresh_token", "Refresh token")
        .max_len(4096)
        .help("Filled in by “Connect Google Drive” after you save; or paste one."),
    FieldSpec::text("client_id", "OAuth client ID").max_len(255),
    FieldSpec::secret("client_secret", "OAuth client secret").max_len(255),
];

#[derive(Debug, Clone)]
pub struct GoogleDriveConfig {
    pub folder_id: String,
    pub access_token: Option<SecretString>,
    pub refresh_token: Option<SecretString>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
}

impl GoogleDriveConfig {
    /// An OAuth client without any token is valid: it is what "Connect Google Drive" needs, and
    /// the destination tests Failed ("not connected yet") until the consent flow stores a token.
    pub fn parse(raw: &RawFields) -> Result<GoogleDriveConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let folder_id = r.checked("folder_id", |v| rules::charset("Folder ID", v, "-_"));
        let access_token = r.checked_secret("access_token", |v| rules::no_whitespace("Access token", v));
        let refresh_token = r.checked_secret("refresh_token", |v| rules::no_whitespace("Refresh token", v));
        let client_id = r.checked("client_id", |v| rules::no_whitespace("OAuth client ID", v));
        let client_secret = r.checked_secret("client_secret", |v| rules::no_whitespace("OAuth client secret", v));
        let client_given =
            client_id.is_some() || client_secret.is_some() || r.has_error("client_id") || r.has_error("client_secret");
        if refresh_token.is_some() || (access_token.is_none() && client_given) {
            if client_id.is_none() && !r.has_error("client_id") {
                r.error("client_id", "Enter the OAuth client ID.");
            }
            if client_secret.is_none() && !r.has_error("client_secret") {
                r.error("client_secret", "Enter the OAuth client secret.");
            }
        } else if access_token.is_none() && !r.has_error("access_token") && !r.has_error("refresh_token") {
            r.error(
                "access_token",
                "Enter an access token, or a refresh token with its OAuth client; or only the OAuth client, then use “Connect Google Drive”.",
            );
        }
        r.finish(|| {
            Some(GoogleDriveConfig { folder_id: folder_id?, access_token, refresh_token, client_id, client_secret })
        })
    }

    pub fn location(&self) -> String {
        format!("Drive folder {}", self.folder_id)
    }
}

const FOLDER_MIME: &str = "application/vnd.google-apps.folder";

enum Auth {
    AccessToken(SecretString),
    Refresh(RefreshingToken),
    NotConnected,
}

pub struct GoogleDriveProvider {
    http: reqwest::Client,
    folder_id: String,
    auth: Auth,
    api: String,
    upload: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DriveFile {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    mime_type: String,
    #[serde(default)]
    trashed: bool,
    /// Drive sends int64 values as strings.
    size: Option<serde_json::Value>,
    modified_time: Option<chrono::DateTime<chrono::Utc>>,
    capabilities: Option<Capabilities>,
    parents: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Capabilities {
    can_add_children: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileList {
    #[serde(default)]
    files: Vec<DriveFile>,
    next_page_token: Option<String>,
}

impl DriveFile {
    fn size(&self) -> u64 {
        match &self.size {
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
            _ => 0,
        }
    }
}

impl GoogleDriveProvider {
    pub fn new(config: &GoogleDriveConfig, ctx: &ProviderContext) -> Result<GoogleDriveProvider, ProviderError> {
        let endpoints = &ctx.settings.endpoints;
        let auth = match (&config.refresh_token, &config.client_id, &config.client_secret, &config.access_token) {
            (Some(refresh), Some(id), Some(secret), _) => Auth::Refresh(RefreshingToken::new(
                id.clone(),
                secret.clone(),
                refresh.clone(),
                endpoints.google_oauth_authorize.clone(),
                endpoints.google_oauth_token.clone(),
            )),
            (_, _, _, Some(token)) => Auth::AccessToken(token.clone()),
            _ => Auth::NotConnected,
        };
        Ok(GoogleDriveProvider {
            http: ctx.http.api().clone(),
            folder_id: config.folder_id.clone(),
            auth,
            api: endpoints.google_drive_api.trim_end_matches('/').to_owned(),
            upload: endpoints.google_drive_upload.trim_end_matches('/').to_owned(),
        })
    }

    async fn access_token(&self) -> Result<SecretString, ProviderError> {
        match &self.auth {
            Auth::AccessToken(token) => Ok(token.clone()),
            Auth::NotConnected => Err(ProviderError::new(
                ErrorKind::Authentication,
                "Not connected to Google yet: use “Connect Google Drive” on the destination to grant access.",
            )
            .at(Step::Authenticate)),
            Auth::Refresh(token) => token.access_token(&self.http).await,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder, url_base: &str) -> Result<reqwest::Response, ProviderError> {
        let token = self.access_token().await?;
        let response = request
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|e| transport_error(&e, &origin(url_base)))?;
        if response.status().is_success() { Ok(response) } else { Err(api_error(response).await) }
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ProviderError> {
        let response = self.send(request, &self.api).await?;
        response.json().await.map_err(|e| {
            ProviderError::new(ErrorKind::Provider, format!("Google Drive answered something unexpected: {e}."))
        })
    }

    fn files_query(&self, q: &str, fields: &str, page_size: &str, page_token: Option<&str>) -> reqwest::RequestBuilder {
        let mut query = vec![
            ("q", q),
            ("fields", fields),
            ("pageSize", page_size),
            ("supportsAllDrives", "true"),
            ("includeItemsFromAllDrives", "true"),
        ];
        if let Some(token) = page_token {
            query.push(("pageToken", token));
        }
        self.http.get(format!("{}/files", self.api)).query(&query)
    }

    /// Every file of the folder (not sub-folders), page by page.
    async fn folder_files(&self, name: Option<&str>) -> Result<Vec<DriveFile>, ProviderError> {
        let mut q = format!("'{}' in parents and trashed = false and mimeType != '{FOLDER_MIME}'", self.folder_id);
        if let Some(name) = name {
            q = format!("name = '{}' and {q}", escape_query(name));
        }
        let mut files = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let fields = "nextPageToken,files(id,name,size,modifiedTime)";
            let request = self.files_query(&q, fields, "1000", page.as_deref());
            let list: FileList = self.json(request).await?;
            files.extend(list.files);
            match list.next_page_token {
                Some(next) => page = Some(next),
                None => return Ok(files),
            }
        }
    }

    async fn files_named(&self, key: &str) -> Result<Vec<DriveFile>, ProviderError> {
        check_key(key)?;
        let mut files = self.folder_files(Some(key)).await?;
        // Drive allows several files of one name; the newest is the artifact.
        files.sort_by_key(|f| std::cmp::Reverse(f.modified_time));
        Ok(files)
    }

    async fn file_named(&self, key: &str) -> Result<DriveFile, ProviderError> {
        self.files_named(key).await?.into_iter().next().ok_or_else(|| {
            ProviderError::new(ErrorKind::NotFound, format!("No file named {key:?} in the Drive folder."))
        })
    }
}

/// Drive's query language quotes with `'` and escapes with `\`.
fn escape_query(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}

/// Drive's JSON error in its own words: the first error's `reason` (or the status name) and
/// message. A 401 says why it usually happens: the access token expired.
async fn api_error(response: reqwest::Response) -> ProviderError {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let error = &body["error"];
    let first = &error["errors"][0];
    let message = first["message"]
        .as_str()
        .or_else(|| error["message"].as_str())
        .map_or_else(|| status.canonical_reason().unwrap_or("error").to_owned(), str::to_owned);
    let code = first["reason"]
        .as_str()
        .or_else(|| error["status"].as_str())
        .map_or_else(|| status.as_u16().to_string(), str::to_owned);
    let kind = match kind_of_code(&code) {
        ErrorKind::Provider => kind_of_status(status),
        kind => kind,
    };
    if status == StatusCode::UNAUTHORIZED {
        let message = format!("{message} (HTTP 401): the access token has expired or is not valid.");
        return ProviderError::with_code(ErrorKind::Authentication, code, message).at(Step::Authenticate);
    }
    ProviderError::with_code(kind, code, message)
}

#[async_trait]
impl Provider for GoogleDriveProvider {
    async fn test(&self) -> Result<String, ProviderError> {
        self.access_token().await?;
        let request = self.http.get(format!("{}/files/{}", self.api, self.folder_id)).query(&[
            ("fields", "id,name,mimeType,trashed,capabilities(canAddChildren)"),
            ("supportsAllDrives", "true"),
        ]);
        let folder: DriveFile = self.json(request).await.map_err(|e| match e.kind {
            ErrorKind::NotFound | ErrorKind::Permission => e.at(Step::Find),
            _ => e,
        })?;
        let name = &folder.name;
        if folder.mime_type != FOLDER_MIME {
            let message = format!("{} is not a folder (it is a file of type {}).", self.folder_id, folder.mime_type);
            return Err(ProviderError::new(ErrorKind::NotFound, message).at(Step::Find));
        }
        if folder.trashed {
            let message = format!("The folder “{name}” is in the trash: restore it or choose another.");
            return Err(ProviderError::new(ErrorKind::NotFound, message).at(Step::Find));
        }
        // Google always answers `capabilities` when asked; a stand-in that omits it is not refused.
        if folder.capabilities.and_then(|c| c.can_add_children) == Some(false) {
            let message = format!("This Google account cannot add files to the folder “{name}”: it needs edit access.");
            return Err(ProviderError::new(ErrorKind::Permission, message).at(Step::Find));
        }
        let q = format!("'{}' in parents and trashed = false", self.folder_id);
        let request = self.files_query(&q, "files(id)", "1", None);
        self.json::<FileList>(request).await.map_err(|e| e.at(Step::List))?;
        Ok(format!("Found the Drive folder “{name}”; files can be added to it."))
    }

    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError> {
        let existing = self.files_named(key).await?;
        let session = self.start_upload(key, existing.first()).await?;
        let (file, sent) = match self.upload_body(&session, body).await {
            Ok(done) => done,
            Err(e) => {
                // Cancelling the session discards what was sent (Drive answers 499).
                let _ = self.http.delete(&session).send().await;
                return Err(e);
            }
        };
        for duplicate in existing.iter().skip(1) {
            self.delete_file(&duplicate.id).await?;
        }
        if file.size.is_some() && file.size() != sent {
            let message = format!("Google Drive stored {} bytes of {sent}.", file.size());
            return Err(ProviderError::new(ErrorKind::Provider, message));
        }
        Ok(sent)
    }

    async fn get(&self, key: &str) -> Result<ByteStream, ProviderError> {
        let file = self.file_named(key).await?;
        let request = self
            .http
            .get(format!("{}/files/{}", self.api, file.id))
            .query(&[("alt", "media"), ("supportsAllDrives", "true")]);
        let response = self.send(request, &self.api).await?;
        Ok(response.bytes_stream().map_err(std::io::Error::other).boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ProviderError> {
        let mut objects: Vec<StoredObject> = self
            .folder_files(None)
            .await?
            .into_iter()
            .filter(|f| f.name.starts_with(prefix))
            .map(|f| StoredObject { size: f.size(), last_modified: f.modified_time, key: f.name })
            .collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        let files = self.files_named(key).await?;
        if files.is_empty() {
            return Err(ProviderError::new(ErrorKind::NotFound, format!("No file named {key:?} in the Drive folder.")));
        }
        for file in &files {
            self.delete_file(&file.id).await?;
        }
        Ok(())
    }

    fn folders(&self) -> Option<&dyn super::folders::FolderBrowser> {
        Some(self)
    }
}

impl GoogleDriveProvider {
    async fn delete_file(&self, id: &str) -> Result<(), ProviderError> {
        let request = self.http.delete(format!("{}/files/{id}", self.api)).query(&[("supportsAllDrives", "true")]);
        self.send(request, &self.api).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawFields {
        RawFields::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn an_oauth_client_alone_awaits_consent() {
        let c = GoogleDriveConfig::parse(&raw(&[("folder_id", "f1"), ("client_id", "c"), ("client_secret", "s")]))
            .expect("valid");
        assert!(c.refresh_token.is_none() && c.access_token.is_none());
        let errors = GoogleDriveConfig::parse(&raw(&[("folder_id", "f1")])).expect_err("no credentials");
        assert!(errors.get("access_token").is_some());
        let errors = GoogleDriveConfig::parse(&raw(&[("folder_id", "f1"), ("client_id", "c")])).expect_err("no secret");
        assert!(errors.get("client_secret").is_some());
        let errors =
            GoogleDriveConfig::parse(&raw(&[("folder_id", "f1"), ("refresh_token", "r")])).expect_err("no client");
        assert!(errors.get("client_secret").is_some());
        assert!(GoogleDriveConfig::parse(&raw(&[("folder_id", "f1"), ("access_token", "t")])).is_ok());
    }

    #[test]
    fn queries_escape_quotes() {
        assert_eq!(escape_query(r"it's a\b"), r"it\'s a\\b");
    }
}
