//! Artifacts: what a backup run streams to a destination, and how it comes back.
//!
//! A source (a directory as tar + zstd, a PostgreSQL database as `pg_dump` custom format, a
//! SQLite database as a consistent `VACUUM INTO` snapshot) becomes a [`ByteStream`] of bounded memory;
//! optional client-side encryption wraps it; a digest records SHA-256 and size on the way.
//! Restoring reads an artifact back, verifies its checksum before writing anything, and unpacks
//! it into a chosen target.

pub mod bucket;
pub mod channel;
pub mod checksum;
pub mod compression;
pub mod directory;
pub mod encrypt_reader;
pub mod encryption;
pub mod extract;
pub mod inspect;
pub mod manifest;
pub mod mariadb;
pub mod postgres;
pub mod recovery_key;
pub mod restore;
pub mod sqlite;
pub mod unpack;
pub mod volume;
pub mod walk;
pub mod workspace_key;

pub use crate::providers::ByteStream;

/// How many bytes a run has read from its source so far (file content, a dump's or snapshot's
/// bytes), before compression and encryption: what its progress is a share of.
pub type SourceRead = std::sync::Arc<std::sync::atomic::AtomicU64>;

/// `stream`, adding the length of every chunk that passes to `read`.
pub fn counted(stream: ByteStream, read: SourceRead) -> ByteStream {
    use futures::StreamExt;
    stream
        .inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                read.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
        })
        .boxed()
}
