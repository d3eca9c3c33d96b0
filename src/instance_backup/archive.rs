//! One instance backup as a file: a zstd-compressed tar of four entries, in this order,
//!
//! - `devpilot-instance.json`: the format, the database's kind, when, the master key ids;
//! - `master-keys.sealed`: the key file's text sealed under the operator's passphrase
//!   ([`super::passphrase`]);
//! - `archive-key.sealed`: a random key made for this archive, sealed under the master key
//!   ([`ARCHIVE_KEY_AAD`]), so a scheduled backup encrypts without anyone typing the passphrase
//!   and a restore opens it with the keys the passphrase opened;
//! - `database.sqlite3.dpbe` (a `VACUUM INTO` snapshot) or `database.pgdump.dpbe`
//!   (`pg_dump --format=custom`), encrypted under that key in the artifact format
//!   (docs/ARTIFACT_FORMAT.md): the database's accounts, password hashes, audit log and workspace
//!   names are never in the clear on the destination.
//!
//! Written on a blocking thread into a bounded channel (the snapshot is read from its private
//! temporary file, never held in memory), read back entry by entry by `restore-instance`.

use crate::artifacts::ByteStream;
use crate::artifacts::channel::produced_by;
use crate::artifacts::encrypt_reader::{EncryptReader, sealed_len};
use crate::artifacts::encryption::ArtifactKey;
use crate::db::Backend;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::PathBuf;

pub const INFO: &str = "devpilot-instance.json";
pub const KEYS: &str = "master-keys.sealed";
pub const ARCHIVE_KEY: &str = "archive-key.sealed";
/// What the archive's own key is sealed to under the master key.
pub const ARCHIVE_KEY_AAD: &str = "devpilot:instance-archive-key";
/// 2: the database entry is encrypted (1 had it in the clear).
pub const FORMAT: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Info {
    pub format: u32,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub created_at: String,
    pub key_ids: Vec<String>,
    pub version: String,
}

impl Info {
    pub fn new(backend: Backend, key_ids: Vec<String>) -> Info {
        Info {
            format: FORMAT,
            backend: backend_name(backend).into(),
            created_at: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            key_ids,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

pub fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// The database entry's name for a backend (encrypted).
pub fn database_entry(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "database.sqlite3.dpbe",
        Backend::Postgres => "database.pgdump.dpbe",
    }
}

/// The keys an archive carries: the master keys under the passphrase, and the archive's own key
/// (in the clear, to encrypt with, and sealed under the master key, to be stored).
pub struct ArchiveKeys {
    pub sealed_master_keys: Vec<u8>,
    pub archive_key: ArtifactKey,
    pub sealed_archive_key: Vec<u8>,
}

/// Streams the archive of `info`, the keys and the database snapshot at `snapshot`, encrypted.
/// `keep` is held until the stream ends (the snapshot's private folder).
pub fn stream<K: Send + 'static>(info: Info, keys: ArchiveKeys, snapshot: PathBuf, keep: K) -> ByteStream {
    produced_by(move |out| {
        let _keep = keep;
        let encoder = zstd::Encoder::new(out, 3)?;
        let mut tar = tar::Builder::new(encoder);
        let backend = if info.backend == "postgres" { Backend::Postgres } else { Backend::Sqlite };
        let json = serde_json::to_vec_pretty(&info).map_err(std::io::Error::other)?;
        append(&mut tar, INFO, &json)?;
        append(&mut tar, KEYS, &keys.sealed_master_keys)?;
        append(&mut tar, ARCHIVE_KEY, &keys.sealed_archive_key)?;
        let file = std::fs::File::open(&snapshot)?;
        let mut header = header(sealed_len(file.metadata()?.len()));
        tar.append_data(&mut header, database_entry(backend), EncryptReader::new(file, &keys.archive_key))?;
        tar.into_inner()?.finish()?.flush()
    })
}

fn header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

fn append<W: Write>(tar: &mut tar::Builder<W>, name: &str, body: &[u8]) -> std::io::Result<()> {
    tar.append_data(&mut header(body.len() as u64), name, body)
}

/// Reads a small entry whole (the info and the sealed keys are a few hundred bytes).
pub fn small(entry: &mut impl Read, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    entry.take(limit + 1).read_to_end(&mut body)?;
    if body.len() as u64 > limit {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "an entry is far larger than it can be"));
    }
    Ok(body)
}
