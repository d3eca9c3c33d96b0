//! The local destination's file writer: on a blocking thread of its own, so the upload's chunks
//! reach the file without a trip through tokio's file buffer each, and with its writeback started
//! behind it as it goes (`posix_fadvise(DONTNEED)` on each finished stretch starts the kernel
//! writing those pages out, as `sync_file_range` would, without waiting). The closing `fsync` then
//! waits for the last stretch only, instead of the whole artifact being written out after the
//! last byte; and a backup does not leave the server's page cache full of its own bytes.

use bytes::Bytes;
use futures::StreamExt;
use rustix::fs::{Advice, fadvise};
use std::io::{self, Write};
use std::num::NonZeroU64;

/// Bytes written before their writeback is started.
const STRETCH: u64 = 8 * 1024 * 1024;
/// Chunks on their way to the writer thread.
const IN_FLIGHT: usize = 8;

/// Writes `body` into `file`, then fsyncs it; answers the bytes written. An error of the body
/// or of the file ends the write with that error (the caller removes the file).
pub async fn write_synced(file: std::fs::File, mut body: super::ByteStream) -> io::Result<u64> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(IN_FLIGHT);
    let writer = tokio::task::spawn_blocking(move || {
        let mut file = file;
        let (mut written, mut flushed) = (0u64, 0u64);
        while let Some(chunk) = rx.blocking_recv() {
            file.write_all(&chunk)?;
            written += chunk.len() as u64;
            if written - flushed >= STRETCH {
                // Only advice: a kernel that ignores it leaves the work to the fsync below.
                let _ = fadvise(&file, flushed, NonZeroU64::new(written - flushed), Advice::DontNeed);
                flushed = written;
            }
        }
        file.sync_all()?;
        Ok::<u64, io::Error>(written)
    });
    let mut failed = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            // A writer that stopped has its own error, answered below.
            Ok(chunk) => {
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let written = writer.await.map_err(io::Error::other)?;
    match failed {
        Some(e) => Err(e),
        None => written,
    }
}
