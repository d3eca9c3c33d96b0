//! Storage providers: one file per destination type, each behind the [`Provider`] trait.
//!
//! A provider file owns its type's field list, the typed config parsed from those fields, and the
//! network code; [`ProviderKind`] and [`ProviderConfig`] gather them. Providers never touch the
//! database and know nothing of the features that use them: the destination service decides
//! what a result means for a destination's status.

pub mod azure_blob;
pub mod chunks;
pub mod cloudinary;
pub mod compatibility;
mod config;
pub mod file_writer;
pub mod folders;
pub mod gcs;
pub mod google_auth;
pub mod google_drive;
pub mod http;
mod kind;
pub mod local;
pub mod lock;
pub mod microsoft_auth;
mod object_listing;
mod object_store_errors;
pub mod onedrive;
pub mod outbound;
pub mod rotating_token;
pub mod s3;
pub mod sftp;
mod xml;

use crate::config::ProviderSettings;
use crate::hostfs::{DevpilotFiles, HostAccess};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::path::PathBuf;
use std::time::Duration;

pub use config::ProviderConfig;
pub use kind::ProviderKind;

/// An artifact's bytes as they stream; never the whole artifact in memory.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// What a provider needs from the server beyond a destination's own config.
#[derive(Debug, Clone)]
pub struct ProviderContext {
    pub settings: ProviderSettings,
    /// The folders of this machine the destination's workspace may use (local destinations):
    /// its grants and its own folder. The destination service sets the workspace's.
    pub host: HostAccess,
    pub http: http::HttpClients,
    /// Set for a batch of tests: SFTP destinations with the same login share its connection.
    pub shared_logins: Option<std::sync::Arc<sftp::SharedLogins>>,
    /// Where a saved destination's rotated refresh token goes (OneDrive); none for a config
    /// that is not saved (its token rotates in memory only).
    pub tokens: Option<rotating_token::TokenKeeper>,
}

impl ProviderContext {
    /// A context whose local destinations may use `local_default_dir` only (no grants).
    pub fn new(settings: ProviderSettings, local_default_dir: PathBuf) -> Result<ProviderContext, ProviderError> {
        let http = http::HttpClients::new(&settings)?;
        let host = HostAccess::new(Vec::new(), local_default_dir, std::sync::Arc::new(DevpilotFiles::default()));
        Ok(ProviderContext { settings, host, http, shared_logins: None, tokens: None })
    }

    /// The same context for a workspace with these host folders.
    pub fn with_host(&self, host: HostAccess) -> ProviderContext {
        ProviderContext { host, ..self.clone() }
    }

    /// The same context for one saved destination, whose rotated refresh tokens `keeper` stores.
    pub fn with_tokens(&self, keeper: rotating_token::TokenKeeper) -> ProviderContext {
        ProviderContext { tokens: Some(keeper), ..self.clone() }
    }

    /// For the providers of one batch of tests, which share what they can connect once.
    pub fn for_batch(&self) -> ProviderContext {
        ProviderContext { shared_logins: Some(std::sync::Arc::default()), ..self.clone() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The key relative to the destination's prefix.
    pub key: String,
    pub size: u64,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// The stages of a connection test, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Resolve,
    Connect,
    Handshake,
    Authenticate,
    Find,
    List,
    Write,
    Read,
    Delete,
}

impl Step {
    pub fn label(self) -> &'static str {
        match self {
            Step::Resolve => "resolve",
            Step::Connect => "connect",
            Step::Handshake => "handshake",
            Step::Authenticate => "authenticate",
            Step::Find => "find bucket/folder",
            Step::List => "list",
            Step::Write => "write probe",
            Step::Read => "read back",
            Step::Delete => "delete probe",
        }
    }
}

/// The usual plan of a test against an HTTP object store.
pub const HTTP_STEPS: &[Step] = &[Step::Resolve, Step::Connect, Step::Authenticate, Step::Find, Step::List];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Unreachable,
    Timeout,
    Authentication,
    Permission,
    NotFound,
    Provider,
}

/// A provider failure in the provider's own words: its error code (e.g. `AccessDenied`) when it
/// sent one, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
    /// The test step that failed, when the provider knows it better than its kind tells.
    pub step: Option<Step>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ProviderError {
        ProviderError { kind, code: None, message: message.into(), step: None }
    }

    pub fn with_code(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> ProviderError {
        ProviderError { kind, code: Some(code.into()), message: message.into(), step: None }
    }

    pub fn at(mut self, step: Step) -> ProviderError {
        self.step = Some(step);
        self
    }

    /// The step this error stopped a test at: the one named, else the one its kind implies.
    pub fn failed_step(&self, plan: &[Step]) -> Step {
        let implied = match self.kind {
            ErrorKind::Unreachable if self.message.contains("could not be resolved") => Step::Resolve,
            ErrorKind::Unreachable | ErrorKind::Timeout => Step::Connect,
            ErrorKind::Authentication => Step::Authenticate,
            ErrorKind::NotFound => Step::Find,
            ErrorKind::Permission => Step::List,
            ErrorKind::Provider => plan.last().copied().unwrap_or(Step::Connect),
        };
        let step = self.step.unwrap_or(implied);
        if plan.contains(&step) { step } else { plan.last().copied().unwrap_or(step) }
    }

    /// One line of advice for the common failures.
    pub fn hint(&self) -> Option<&'static str> {
        let message = self.message.to_ascii_lowercase();
        Some(match self.code.as_deref() {
            Some("AuthorizationHeaderMalformed" | "PermanentRedirect" | "IllegalLocationConstraintException") => {
                "The bucket is in another region: enter the region it was created in."
            }
            Some("RequestTimeTooSkewed") => "This server's clock is off: synchronise it (NTP) and test again.",
            Some("SignatureDoesNotMatch") => "Check the secret key, and that the region is the bucket's.",
            Some("InvalidAccessKeyId") => "Check the access key ID; it may have been deleted or mistyped.",
            Some(
                "AuthorizationPermissionMismatch"
                | "AuthorizationResourceTypeMismatch"
                | "AuthorizationServiceMismatch"
                | "AuthenticationFailed"
                | "AuthorizationFailure",
            ) if message.contains("the sas token") || message.contains("the account sas") => {
                "Create a container SAS for this container with the permissions Least privilege shows, and enter it on the destination."
            }
            Some("AccessDenied" | "AuthorizationPermissionMismatch") => {
                "The key lacks permission: it needs to list, read, write and delete in the bucket."
            }
            Some("NoSuchBucket") => {
                "Check the bucket name; self-hosted services usually also need path-style requests."
            }
            // Service-account keys (GCS) first; any other invalid_grant is a refresh token's.
            Some("invalid_grant") if message.contains("timeframe") => {
                "This server's clock is off: synchronise it (NTP) and test again."
            }
            Some("invalid_grant") if message.contains("signature") => {
                "The key file does not match a key of this service account: create a new key and paste the whole file."
            }
            Some("invalid_grant") if message.contains("account not found") => {
                "The service account was deleted or belongs to another project: check the key file."
            }
            Some("invalid_grant") => {
                "Google no longer accepts the refresh token (revoked or expired): click Reconnect to grant access again."
            }
            Some(code) if code.starts_with("AADSTS") => {
                "Microsoft no longer accepts the sign-in (revoked, expired or replaced): click Reconnect to grant access again."
            }
            Some("ExpiredToken") => {
                "The token expired: use a service-account key (GCS) or a refresh token (Google Drive)."
            }
            Some("SSH_FX_PERMISSION_DENIED") => "The SSH user needs permission to list and write in the directory.",
            Some("SSH_FX_NO_SUCH_FILE") => "Create the directory on the server, or correct the path (it is absolute).",
            _ if message.contains("wrong passphrase") => "Enter the passphrase the key was created with.",
            _ if message.starts_with("authentication failed") => {
                "Check the username and the password or key; the server lists the methods it accepts."
            }
            Some("AuthenticationFailed" | "AuthorizationFailure") => {
                "Check the account key (Azure portal, storage account, Access keys); a firewall on the account can also refuse this server."
            }
            Some("ContainerNotFound") => "Check the container name; the container must exist already.",
            Some("ResourceNotFound") => "Check the storage account name and the blob endpoint.",
            _ if message.contains("host key changed") => {
                "If the server was reinstalled, accept its new key; otherwise someone may be intercepting the connection."
            }
            _ if message.contains("expired") => {
                "The token expired: use a service-account key (GCS) or a refresh token (Google Drive)."
            }
            _ if message.contains("could not be resolved") => {
                "Check the host name; an S3-compatible service without bucket DNS needs path-style requests."
            }
            _ => return None,
        })
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ProviderError {}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The steps [`test`](Provider::test) goes through, for the staged result.
    fn steps(&self) -> &'static [Step] {
        HTTP_STEPS
    }

    /// A cheap real round trip that proves the credentials and the target work; returns a short
    /// success message.
    async fn test(&self) -> Result<String, ProviderError>;

    /// Streams `body` to `key`; the object is visible only once complete. Returns bytes written.
    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError>;

    async fn get(&self, key: &str) -> Result<ByteStream, ProviderError>;

    /// Objects whose key starts with `prefix` (relative to the destination's own prefix).
    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ProviderError>;

    async fn delete(&self, key: &str) -> Result<(), ProviderError>;

    /// Removes what uploads into `folder` (a key ending in `/`) left when they were cut off with
    /// the server out of reach, so their own clean-up could not run; returns how many: partial
    /// files (local, SFTP), incomplete multipart uploads where the store can list them (S3),
    /// uncommitted blocks (Azure). Only what `ours` says is ours goes (it is given the file name
    /// of the object the upload was for): another plan's upload in the same folder is left alone.
    /// Providers whose partial uploads are never kept, or cannot be listed, have nothing to do.
    async fn remove_leftovers(&self, _folder: &str, _ours: Leftovers<'_>) -> Result<usize, ProviderError> {
        Ok(0)
    }

    /// Streams `body` to `key` under an Object Lock until `lock.retain_until`: neither a delete
    /// nor an overwrite can remove it before then. Only where the store can lock (S3 buckets
    /// with Object Lock); elsewhere refused.
    async fn put_locked(&self, _key: &str, _body: ByteStream, _lock: &lock::ObjectLock) -> Result<u64, ProviderError> {
        Err(ProviderError::new(ErrorKind::Provider, "This destination type cannot lock backups (Object Lock is S3's)."))
    }

    /// A time-limited download URL, where the provider has them.
    async fn presign(&self, _key: &str, _expires_in: Duration) -> Result<Option<url::Url>, ProviderError> {
        Ok(None)
    }

    /// The deep test's compatibility probe, where the provider has one: which optional features
    /// the service supports and whether the key can do more than it needs. Never fails: each
    /// check's failure is a finding.
    async fn compatibility(&self) -> Option<compatibility::Compatibility> {
        None
    }

    /// Browsing and making folders, for the types whose destination is a folder people pick
    /// in a drive (Google Drive, OneDrive).
    fn folders(&self) -> Option<&dyn folders::FolderBrowser> {
        None
    }

    /// The host key fingerprint the server presented on the last connection, even a refused one
    /// (providers that pin host keys: SFTP). The destination service records it.
    fn presented_host_key(&self) -> Option<String> {
        None
    }
}

/// The name of the file an upload writes before it is renamed into place: hidden, so listings
/// skip it, and marked, so [`Provider::remove_leftovers`] knows it.
pub fn partial_name(name: &str) -> String {
    format!(".{name}{PARTIAL_MARK}{}", uuid::Uuid::new_v4())
}

const PARTIAL_MARK: &str = ".partial-";

pub fn is_partial_name(name: &str) -> bool {
    partial_for(name).is_some()
}

/// The file name of the object a partial file was written for.
pub fn partial_for(name: &str) -> Option<&str> {
    name.strip_prefix('.')?.rsplit_once(PARTIAL_MARK).map(|(object, _)| object)
}

/// Which leftovers of [`Provider::remove_leftovers`] are the caller's, by the file name of the
/// object they were for.
pub type Leftovers<'a> = &'a (dyn Fn(&str) -> bool + Send + Sync);

/// Builds the provider for a parsed config.
pub fn build(config: &ProviderConfig, ctx: &ProviderContext) -> Result<Box<dyn Provider>, ProviderError> {
    match config {
        ProviderConfig::Local(c) => Ok(Box::new(local::LocalProvider::new(c, ctx)?)),
        ProviderConfig::S3(c) => Ok(Box::new(s3::S3Provider::new(c, ctx)?)),
        ProviderConfig::GoogleDrive(c) => Ok(Box::new(google_drive::GoogleDriveProvider::new(c, ctx)?)),
        ProviderConfig::Cloudinary(c) => Ok(Box::new(cloudinary::CloudinaryProvider::new(c, ctx)?)),
        ProviderConfig::Sftp(c) => Ok(Box::new(sftp::SftpProvider::new(c, ctx)?)),
        ProviderConfig::AzureBlob(c) => Ok(Box::new(azure_blob::AzureBlobProvider::new(c, ctx)?)),
        ProviderConfig::Gcs(c) => Ok(Box::new(gcs::GcsProvider::new(c, ctx)?)),
        ProviderConfig::OneDrive(c) => Ok(Box::new(onedrive::OneDriveProvider::new(c, ctx)?)),
    }
}

/// Joins a destination prefix and a key with exactly one `/` between them.
pub fn join_key(prefix: Option<&str>, key: &str) -> String {
    match prefix.map(|p| p.trim_end_matches('/')).filter(|p| !p.is_empty()) {
        Some(p) => format!("{p}/{}", key.trim_start_matches('/')),
        None => key.trim_start_matches('/').to_owned(),
    }
}

/// Object keys come from our own code, but refuse anything that could escape a folder.
pub fn check_key(key: &str) -> Result<(), ProviderError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.split('/').any(|s| s.is_empty() || s == "." || s == "..")
        || key.contains('\\')
        || key.chars().any(char::is_control);
    if bad { Err(ProviderError::new(ErrorKind::Provider, format!("invalid object key {key:?}"))) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_key_normalises_slashes() {
        assert_eq!(join_key(Some("backups/"), "a.tar"), "backups/a.tar");
        assert_eq!(join_key(Some(""), "a.tar"), "a.tar");
        assert_eq!(join_key(None, "x/a.tar"), "x/a.tar");
    }

    #[test]
    fn hints_for_google_and_azure_failures() {
        let skew = ProviderError::with_code(
            ErrorKind::Authentication,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        );
        assert!(skew.hint().is_some_and(|h| h.contains("clock")));
        let wrong_key = ProviderError::with_code(ErrorKind::Authentication, "invalid_grant", "Invalid JWT Signature.");
        assert!(wrong_key.hint().is_some_and(|h| h.contains("key file")), "not the refresh-token advice");
        let azure = ProviderError::with_code(ErrorKind::Authentication, "AuthenticationFailed", "Server failed");
        assert!(azure.hint().is_some_and(|h| h.contains("account key")));
    }

    #[test]
    fn check_key_refuses_escapes() {
        assert!(check_key("plan/2026/a.tar.zst").is_ok());
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
