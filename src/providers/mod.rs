//! Storage providers: one file per destination type, each behind the [`Provider`] trait.
//!
//! A provider file owns its type's field list, the typed config parsed from those fields, and the
//! network code. Providers never touch the database; the destination service decides what a
//! result means for a destination's status.

pub mod azure_blob;
pub mod cloudinary;
pub mod gcs;
pub mod google_drive;
pub mod local;
mod object_store_errors;
pub mod s3;
pub mod sftp;
mod unsupported;

use crate::config::ProviderSettings;
use crate::destinations::domain::DestinationConfig;
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::path::PathBuf;
use std::time::Duration;

/// An artifact's bytes as they stream; never the whole artifact in memory.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// What a provider needs from the server beyond a destination's own config.
#[derive(Debug, Clone)]
pub struct ProviderContext {
    pub settings: ProviderSettings,
    /// The folder a local destination without a path of its own writes to.
    pub local_default_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The key relative to the destination's prefix.
    pub key: String,
    pub size: u64,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Unreachable,
    Timeout,
    Authentication,
    Permission,
    NotFound,
    Unsupported,
    Provider,
}

/// A provider failure in the provider's own words: its error code (e.g. `AccessDenied`) when it
/// sent one, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ProviderError {
        ProviderError { kind, code: None, message: message.into() }
    }

    pub fn with_code(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> ProviderError {
        ProviderError { kind, code: Some(code.into()), message: message.into() }
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
    /// A cheap real round trip that proves the credentials and the target work; returns a short
    /// success message.
    async fn test(&self) -> Result<String, ProviderError>;

    /// Streams `body` to `key`; the object is visible only once complete. Returns bytes written.
    async fn put(&self, key: &str, body: ByteStream) -> Result<u64, ProviderError>;

    async fn get(&self, key: &str) -> Result<ByteStream, ProviderError>;

    /// Objects whose key starts with `prefix` (relative to the destination's own prefix).
    async fn list(&self, prefix: &str) -> Result<Vec<StoredObject>, ProviderError>;

    async fn delete(&self, key: &str) -> Result<(), ProviderError>;

    /// A time-limited download URL, where the provider has them.
    async fn presign(&self, _key: &str, _expires_in: Duration) -> Result<Option<url::Url>, ProviderError> {
        Ok(None)
    }
}

/// Builds the provider for a parsed config.
pub fn build(config: &DestinationConfig, ctx: &ProviderContext) -> Result<Box<dyn Provider>, ProviderError> {
    match config {
        DestinationConfig::Local(c) => Ok(Box::new(local::LocalProvider::new(c, ctx))),
        DestinationConfig::S3(c) => Ok(Box::new(s3::S3Provider::new(c, ctx)?)),
        other => Ok(Box::new(unsupported::Unsupported::new(other.kind()))),
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
    fn check_key_refuses_escapes() {
        assert!(check_key("plan/2026/a.tar.zst").is_ok());
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
