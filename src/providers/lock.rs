//! Immutability as a provider capability: the Object Lock an upload can carry (S3), and what a
//! bucket or container reports of its own lock. Types only; the S3 provider speaks them.

use chrono::{DateTime, Utc};

/// Object Lock's two modes: governance can be lifted by a key allowed to bypass it, compliance
/// by nobody (not even the account's root) until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Governance,
    Compliance,
}

impl LockMode {
    pub fn parse(value: &str) -> Option<LockMode> {
        match value.trim().to_ascii_lowercase().as_str() {
            "governance" => Some(LockMode::Governance),
            "compliance" => Some(LockMode::Compliance),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "governance",
            LockMode::Compliance => "compliance",
        }
    }

    /// As S3 writes it in headers and XML.
    pub fn s3_name(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }
}

/// The retention an upload is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLock {
    pub mode: LockMode,
    pub retain_until: DateTime<Utc>,
}

/// A bucket's Object Lock configuration as the service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketLock {
    /// Not enabled on the bucket (it can only be enabled when the bucket is created, or later
    /// with versioning on).
    Off,
    /// Enabled; the default retention new objects get, if one is set: (mode, "30 days").
    On(Option<(LockMode, String)>),
    /// The key may not read it (s3:GetBucketObjectLockConfiguration), or the service does not
    /// answer it: the message says which.
    Unknown(String),
}

impl std::fmt::Display for BucketLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BucketLock::Off => f.write_str("Object Lock: off"),
            BucketLock::On(None) => f.write_str("Object Lock: on, no default retention"),
            BucketLock::On(Some((mode, period))) => {
                write!(f, "Object Lock: on, default retention {} {period}", mode.as_str())
            }
            BucketLock::Unknown(why) => write!(f, "Object Lock: unknown ({why})"),
        }
    }
}
