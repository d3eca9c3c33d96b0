//! OneDrive (personal and business) and SharePoint document libraries, through Microsoft Graph.
//!
//! Keys map to paths under the destination's folder (`plan/2026….tar.zst` is the file
//! `2026….tar.zst` in the sub-folder `plan`, made when missing), so the files are where a person
//! looks for them. Small artifacts go in one PUT; larger ones through an upload session (see
//! `upload`). Tokens come from a refresh token that rotates on every use (see `graph`).
//! Deletes go to the drive's recycle bin, where they still count against the quota until it is
//! emptied (Microsoft keeps them 30 to 93 days).

use super::microsoft_auth::{self, CLOUDS};
use super::{ByteStream, ErrorKind, Provider, ProviderContext, ProviderError, Step, StoredObject, check_key};
use crate::fields::{FieldErrors, FieldReader, FieldSpec, Input, RawFields, rules};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use secrecy::SecretString;
use serde::Deserialize;

mod folders;
mod graph;
mod upload;

pub use graph::MicrosoftToken;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("folder_id", "Folder ID")
        .max_len(200)
        .help("The folder's item ID (Browse fills it in after you connect). Empty: the drive's root folder."),
    FieldSpec::text("drive_id", "Drive ID").max_len(200).help(
        "Empty: the connected account's own OneDrive. A SharePoint document library's or a shared drive's ID: Devpilot then asks for Files.ReadWrite.All.",
    ),
    FieldSpec::text("tenant", "Tenant")
        .max_len(100)
        .placeholder("common")
        .help("“common” for any account, or your directory (tenant) ID or domain to allow only its accounts."),
    FieldSpec::text("cloud", "Cloud").input(Input::Select(CLOUDS)),
    FieldSpec::text("client_id", "Application (client) ID").required().max_len(100),
    FieldSpec::secret("client_secret", "Client secret").required().max_len(255),
    FieldSpec::secret("refresh_token", "Refresh token")
        .max_len(8192)
        .help("Filled in by “Connect OneDrive” after you save; it changes every time it is used."),
];

#[derive(Debug, Clone)]
pub struct OneDriveConfig {
    pub folder_id: Option<String>,
    pub drive_id: Option<String>,
    pub tenant: String,
    pub cloud: &'static str,
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: Option<SecretString>,
}

impl OneDriveConfig {
    /// The app registration alone is valid: it is what "Connect OneDrive" needs; the
    /// destination tests Failed ("not connected yet") until the consent stores a refresh token.
    pub fn parse(raw: &RawFields) -> Result<OneDriveConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let folder_id = r.checked("folder_id", |v| rules::charset("Folder ID", v, "!-_."));
        let drive_id = r.checked("drive_id", |v| rules::charset("Drive ID", v, "!-_."));
        let tenant = r.checked("tenant", microsoft_auth::check_tenant).unwrap_or_else(|| "common".to_owned());
        let cloud = r.choice("cloud", "global");
        let client_id = r.checked("client_id", |v| rules::charset("Application (client) ID", v, "-"));
        let client_secret = r.checked_secret("client_secret", |v| rules::no_whitespace("Client secret", v));
        let refresh_token = r.checked_secret("refresh_token", |v| rules::no_whitespace("Refresh token", v));
        r.finish(|| {
            Some(OneDriveConfig {
                folder_id,
                drive_id,
                tenant,
                cloud,
                client_id: client_id?,
                client_secret: client_secret?,
                refresh_token,
            })
        })
    }

    /// A drive named by ID is a shared one (a SharePoint library, or another person's drive).
    pub fn shared_library(&self) -> bool {
        self.drive_id.is_some()
    }

    pub fn location(&self) -> String {
        let drive = self.drive_id.as_deref().map_or_else(|| "OneDrive".to_owned(), |d| format!("drive {d}"));
        match &self.folder_id {
            Some(folder) => format!("{drive}, folder {folder}"),
            None => format!("{drive}, root folder"),
        }
    }
}

enum Auth {
    NotConnected,
    Token(Box<MicrosoftToken>),
}

pub struct OneDriveProvider {
    /// Graph, an endpoint of the server's settings: no redirects followed (the token rides along).
    api: reqwest::Client,
    /// Upload and download URLs Graph hands out: pre-authenticated, on other hosts, so they get
    /// no token, and every address they lead to passes the outbound policy.
    transfer: super::http::CheckedApi,
    /// `{graph}/v1.0`, whose `@odata.nextLink`s alone are followed with the token.
    graph: String,
    /// `{graph}/v1.0/me/drive` or `{graph}/v1.0/drives/{id}`.
    drive: String,
    /// `root` or `items/{id}`, relative to the drive.
    folder: String,
    auth: Auth,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DriveItem {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub size: u64,
    pub folder: Option<serde_json::Value>,
    pub last_modified_date_time: Option<chrono::DateTime<chrono::Utc>>,
    pub parent_reference: Option<ParentReference>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ParentReference {
    pub id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Children {
    #[serde(default)]
    value: Vec<DriveItem>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Drive {
    #[serde(default)]
    name: String,
    #[serde(default)]
    drive_type: String,
}

impl OneDriveProvider {
    pub fn new(config: &OneDriveConfig, ctx: &ProviderContext) -> Result<OneDriveProvider, ProviderError> {
        let (login, graph) = microsoft_auth::hosts(&ctx.settings.endpoints.microsoft, config.cloud);
        let graph = format!("{}/v1.0", graph.trim_end_matches('/'));
        let auth = match &config.refresh_token {
            Some(refresh) => Auth::Token(Box::new(MicrosoftToken::new(
                config,
                login,
                &ctx.settings.endpoints.microsoft,
                refresh.clone(),
                ctx.tokens.clone(),
            ))),
            None => Auth::NotConnected,
        };
        let drive = match &config.drive_id {
            Some(id) => format!("{graph}/drives/{id}"),
            None => format!("{graph}/me/drive"),
        };
        let folder = config.folder_id.as_ref().map_or_else(|| "root".to_owned(), |id| format!("items/{id}"));
        Ok(OneDriveProvider {
            api: ctx.http.api().clone(),
            transfer: ctx.http.checked_api().clone(),
            graph,
            drive,
            folder,
            auth,
        })
    }

    /// The item at `key` under the destination's folder, path-addressed: `{drive}/{folder}:/a/b:`.
    fn item_url(&self, key: &str) -> String {
        format!("{}/{}:/{}:", self.drive, self.folder, encode_path(key))
    }

    fn folder_url(&self, dir: &str) -> String {
        if dir.is_empty() { format!("{}/{}", self.drive, self.folder) } else { self.item_url(dir) }
    }

    /// Every file under `dir` (a key prefix that is a folder, or empty), sub-folders walked
    /// only where their keys can start with `prefix`.
    async fn files_under(&self, dir: &str, prefix: &str, out: &mut Vec<StoredObject>) -> Result<(), ProviderError> {
        let mut pending = vec![dir.to_owned()];
        while let Some(dir) = pending.pop() {
            let items = match self.children(&self.folder_url(&dir)).await {
                Ok(items) => items,
                Err(e) if e.kind == ErrorKind::NotFound && !dir.is_empty() => continue,
                Err(e) => return Err(e),
            };
            for item in items {
                let key = if dir.is_empty() { item.name.clone() } else { format!("{dir}/{}", item.name) };
                if item.folder.is_some() {
                    let as_dir = format!("{key}/");
                    if as_dir.starts_with(prefix) || prefix.starts_with(&as_dir) {
                        pending.push(key);
                    }
                } else if key.starts_with(prefix) {
                    out.push(StoredObject { key, size: item.size, last_modified: item.last_modified_date_time });
                }
            }
        }
        Ok(())
    }

    /// A folder's children, page by page (`@odata.nextLink`, followed only on Graph's own host).
    pub(crate) async fn children(&self, folder_url: &str) -> Result<Vec<DriveItem>, ProviderError> {
        let mut url = format!("{folder_url}/children?$top=200");
        let mut items = Vec::new();
        loop {
            let page: Children = self.json(reqwest::Method::GET, &url).await?;
            items.extend(page.value);
            match page.next_link {
                Some(next) if next.starts_with(&format!("{}/", self.graph)) => url = next,
                Some(next) => {
                    let message =
                        format!("Graph's next page is on another host ({}); not followed.", super::http::origin(&next));
                    return Err(ProviderError::new(ErrorKind::Provider, message));
                }
                None => return Ok(items),
            }
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<T, ProviderError> {
        let response = self.send(|| self.api.request(method.clone(), url)).await?;
        response.json().await.map_err(|e| {
            ProviderError::new(ErrorKind::Provider, format!("Microsoft Graph answered something unexpected: {e}."))
        })
    }
}

/// Each segment of a key percent-encoded for a Graph path (`/` stays the separator).
fn encode_path(key: &str) -> String {
    key.split('/')
        .map(|segment| url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20"))
        .collect::<Vec<_>>()
        .join("/")
}

#[async_trait]
impl Provider for OneDriveProvider {
    fn steps(&self) -> &'static [Step] {
        &[Step::Resolve, Step::Connect, Step::Authenticate, Step::Find, Step::Write]
    }

    /// Resolves the drive and the folder, checks it is a folder, and proves it writable by
    /// opening an upload session there and cancelling it (nothing is created).
    async fn test(&self) -> Result<String, ProviderError> {
        self.access_token().await?;
        let drive: Drive = self.json(reqwest::Method::GET, &self.drive).await.map_err(|e| e.at(Step::Find))?;
        let folder_url = format!("{}/{}", self.drive, self.folder);
        let folder: DriveItem = self.json(reqwest::Method::GET, &folder_url).await.map_err(|e| e.at(Step::Find))?;
        let shown = if self.folder == "root" {
            "the root folder".to_owned()
        } else {
            format!("the folder “{}”", folder.name)
        };
        if folder.folder.is_none() {
            let message = format!("{} is not a folder (it is a file).", self.folder.trim_start_matches("items/"));
            return Err(ProviderError::new(ErrorKind::NotFound, message).at(Step::Find));
        }
        self.check_writable().await.map_err(|e| e.at(Step::Write))?;
        let kind = if drive.drive_type.is_empty() { String::new() } else { format!(" ({})", drive.drive_type) };
        Ok(format!("Found {shown} in the drive “{}”{kind}; files can be added to it.", drive.name))
    }

    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError> {
        check_key(key)?;
        self.upload(key, body).await
    }

    async fn get(&self, key: &str) -> Result<ByteStream, ProviderError> {
        check_key(key)?;
        let url = format!("{}/content", self.item_url(key));
        let response = self.send(|| self.api.get(&url)).await?;
        let response = if response.status().is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| ProviderError::new(ErrorKind::Provider, "Graph redirected the download nowhere."))?
                .to_owned();
            // A pre-authenticated URL: the token is not sent there.
            let response = self
                .transfer
                .get(&location)?
                .send()
                .await
                .map_err(|e| super::http::transport_error(&e, &super::http::origin(&location)))?;
            if !response.status().is_success() {
                return Err(graph::graph_error(response).await);
            }
            response
        } else {
            response
        };
        Ok(response.bytes_stream().map_err(std::io::Error::other).boxed())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ProviderError> {
        // The deepest folder the prefix names whole: `a/b/c` lists under `a/b`.
        let dir = prefix.rsplit_once('/').map_or("", |(dir, _)| dir);
        let mut objects = Vec::new();
        if !dir.is_empty() {
            check_key(dir)?;
        }
        self.files_under(dir, prefix, &mut objects).await?;
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    async fn delete(&self, key: &str) -> Result<(), ProviderError> {
        check_key(key)?;
        let url = self.item_url(key);
        self.send(|| self.api.delete(&url)).await.map(drop)
    }

    fn folders(&self) -> Option<&dyn super::folders::FolderBrowser> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawFields {
        RawFields::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn the_app_registration_alone_awaits_consent() {
        let c = OneDriveConfig::parse(&raw(&[("client_id", "c-1"), ("client_secret", "s")])).expect("valid");
        assert!(c.refresh_token.is_none() && c.folder_id.is_none());
        assert_eq!((c.tenant.as_str(), c.cloud), ("common", "global"));
        assert!(!c.shared_library());
        let errors = OneDriveConfig::parse(&raw(&[("client_id", "c")])).expect_err("no secret");
        assert!(errors.get("client_secret").is_some());
        let errors = OneDriveConfig::parse(&raw(&[("client_id", "c"), ("client_secret", "s"), ("tenant", "a/b")]))
            .expect_err("a tenant is one path segment");
        assert!(errors.get("tenant").is_some());
        let errors = OneDriveConfig::parse(&raw(&[("client_id", "c"), ("client_secret", "s"), ("folder_id", "../x")]))
            .expect_err("an item ID is not a path");
        assert!(errors.get("folder_id").is_some());
        let errors = OneDriveConfig::parse(&raw(&[("client_id", "c"), ("client_secret", "s"), ("cloud", "mars")]))
            .expect_err("a known cloud");
        assert!(errors.get("cloud").is_some());
    }

    #[test]
    fn paths_are_encoded_per_segment() {
        assert_eq!(encode_path("plan a/2026#1.tar"), "plan%20a/2026%231.tar");
    }
}
