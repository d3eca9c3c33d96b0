//! The server's side of a clone's `restore_command`: one archived WAL file, by name, for the
//! clone whose token came with the request and only while it restores. The file is read from
//! the destination, decrypted and decompressed on the way; its recorded SHA-256 travels in a
//! header so `devpilot wal-fetch` checks the bytes before PostgreSQL sees them.

use super::archive_store::{self as archive};
use super::clones::RESTORING;
use super::service::DatabaseService;
use super::store;
use crate::artifacts::ByteStream;
use crate::artifacts::postgres::wal::names::{SegmentSize, WalFile};

/// One file for the restore command.
pub struct Fetched {
    pub body: ByteStream,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No such clone restoring, or the token is not its own.
    #[error("not allowed")]
    Unauthorized,
    /// PostgreSQL asks for files past the end of the archive: a normal answer.
    #[error("not in the archive")]
    NotInArchive,
    #[error("{0}")]
    Failed(String),
}

impl DatabaseService {
    pub async fn fetch_for_clone(&self, clone_id: &str, token: &str, name: &str) -> Result<Fetched, FetchError> {
        let failed = |e: crate::db::DbError| FetchError::Failed(e.to_string());
        let cid = clone_id.to_owned();
        let clone = self.db.run(move |c| archive::clone_by_id(c, &cid)).await.map_err(failed)?;
        let clone = clone.ok_or(FetchError::Unauthorized)?;
        let expected = clone.fetch_token_hash.as_deref().ok_or(FetchError::Unauthorized)?;
        // Hashes compared, as for every token Devpilot keeps: the stored value is never the token.
        if clone.status != RESTORING || expected != crate::crypto::sha256_hex(token) {
            return Err(FetchError::Unauthorized);
        }
        let did = clone.database_id.clone();
        let database = self.db.run(move |c| store::find_any(c, &did)).await.map_err(failed)?;
        let size = SegmentSize::new(u64::try_from(database.seg_size).unwrap_or(0)).map_err(FetchError::Failed)?;
        // Only names PostgreSQL asks for: a segment (served from its .partial when that is all
        // there is: pg_receivewal pads it, so recovery stops at its end) or a history file.
        let candidates = match WalFile::parse(name, size) {
            Some(WalFile::Segment(segment)) => vec![name.to_owned(), WalFile::Partial(segment).file_name(size)],
            Some(WalFile::History(_)) => vec![name.to_owned()],
            _ => return Err(FetchError::NotInArchive),
        };
        let mut record = None;
        for candidate in candidates {
            let did = database.id.clone();
            if let Some(row) = self.db.run(move |c| archive::wal_file(c, &did, &candidate)).await.map_err(failed)? {
                record = Some(row);
                break;
            }
        }
        let record = record.ok_or(FetchError::NotInArchive)?;
        let provider = self.provider_of(&database).await.map_err(FetchError::Failed)?;
        let body = provider.get(&record.object_key).await.map_err(|e| match e.kind {
            // A clone to the end of the archive ends where the archive does: at the first file
            // lost from the destination (the window ends there too). A clone to a time past it
            // is refused before it starts; one before it never asks.
            crate::providers::ErrorKind::NotFound if clone.target_time.is_none() => FetchError::NotInArchive,
            crate::providers::ErrorKind::NotFound => {
                FetchError::Failed(format!("{} is recorded but missing from the destination", record.name))
            }
            _ => FetchError::Failed(format!("reading {}: {e}", record.name)),
        })?;
        let body =
            self.opened(&database, body, record.object_key.ends_with(".dpbe")).await.map_err(FetchError::Failed)?;
        Ok(Fetched { body, sha256: record.sha256, size: u64::try_from(record.size).unwrap_or(0) })
    }
}
