//! Writing a byte stream into a file on a blocking thread of its own: chunks go straight to the
//! file instead of each taking a trip through tokio's file buffer and a blocking task of its own.
//! Small ones, as a network download yields them (16 KiB and less), are gathered before they
//! cross to the writer, whose thread each crossing may wake. The local destination's
//! uploads are [`Durability::Synced`]: their writeback is started behind them as they go, by a
//! second thread (`posix_fadvise(DONTNEED)` on each finished stretch starts the kernel writing
//! those pages out, as `sync_file_range` would, and drops them once clean), so the closing `fsync`
//! waits for the last stretches only instead of the whole artifact, and a backup does not fill
//! the page cache with its bytes. The advice runs beside the writes, not between them: the kernel
//! submits the writeback in the caller's thread, and on a fast disk that had halved the writer's
//! pace (0.41× `cp` + `sync`).

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use rustix::fs::{Advice, fadvise};
use std::io::{self, Write};
use std::num::NonZeroU64;

/// Bytes written before their writeback is started.
const STRETCH: u64 = 8 * 1024 * 1024;
/// Chunks on their way to the writer thread.
const IN_FLIGHT: usize = 8;
/// Smaller chunks are gathered up to this before they go to the writer.
const GATHER: usize = 256 * 1024;

/// The thread that starts the writeback of each finished stretch of a file, beside its writer.
struct Writeback {
    stretches: std::sync::mpsc::Sender<(u64, u64)>,
    thread: std::thread::JoinHandle<()>,
}

impl Writeback {
    fn start(file: &std::fs::File) -> io::Result<Writeback> {
        let file = file.try_clone()?;
        let (stretches, pending) = std::sync::mpsc::channel::<(u64, u64)>();
        let thread = std::thread::Builder::new().name("devpilot-writeback".into()).spawn(move || {
            for (offset, len) in pending {
                // Only advice: a kernel that ignores it leaves the work to the writer's fsync.
                let _ = fadvise(&file, offset, NonZeroU64::new(len), Advice::DontNeed);
            }
        })?;
        Ok(Writeback { stretches, thread })
    }

    /// Starts writing out `len` bytes from `offset`, already written to the file.
    fn start_on(&self, offset: u64, len: u64) {
        let _ = self.stretches.send((offset, len));
    }

    /// Waits for the advice given so far (the writer's fsync then waits for the rest).
    fn finish(self) {
        drop(self.stretches);
        let _ = self.thread.join();
    }
}

/// What the file must be once written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk (fsynced) before the write answers; written back as it goes.
    Synced,
    /// In the page cache: a private file read back at once.
    Unsynced,
}

/// Writes `body` into `file`; answers the bytes written. An error of the body or of the file
/// ends the write with that error (the caller removes the file).
pub async fn write(file: std::fs::File, mut body: super::ByteStream, durability: Durability) -> io::Result<u64> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(IN_FLIGHT);
    let writer = tokio::task::spawn_blocking(move || {
        let writeback = match durability {
            Durability::Synced => Some(Writeback::start(&file)?),
            Durability::Unsynced => None,
        };
        let mut out = file;
        let (mut written, mut flushed) = (0u64, 0u64);
        while let Some(chunk) = rx.blocking_recv() {
            out.write_all(&chunk)?;
            written += chunk.len() as u64;
            if let Some(writeback) = &writeback
                && written - flushed >= STRETCH
            {
                writeback.start_on(flushed, written - flushed);
                flushed = written;
            }
        }
        if let Some(writeback) = writeback {
            writeback.finish();
            out.sync_all()?;
        }
        Ok::<u64, io::Error>(written)
    });
    let (mut failed, mut gathered) = (None, BytesMut::new());
    while let Some(chunk) = body.next().await {
        let ready = match chunk {
            Ok(chunk) if gathered.is_empty() && chunk.len() >= GATHER => chunk,
            Ok(chunk) => {
                gathered.extend_from_slice(&chunk);
                if gathered.len() < GATHER {
                    continue;
                }
                std::mem::replace(&mut gathered, BytesMut::with_capacity(GATHER)).freeze()
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        // A writer that stopped has its own error, answered below.
        if tx.send(ready).await.is_err() {
            break;
        }
    }
    if failed.is_none() && !gathered.is_empty() {
        let _ = tx.send(gathered.freeze()).await;
    }
    drop(tx);
    let written = writer.await.map_err(io::Error::other)?;
    match failed {
        Some(e) => Err(e),
        None => written,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(sizes: &[usize]) -> (Vec<io::Result<Bytes>>, Vec<u8>) {
        let mut all = Vec::new();
        let chunks = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let chunk: Vec<u8> = (0..size).map(|j| (i * 31 + j) as u8).collect();
                all.extend_from_slice(&chunk);
                Ok(Bytes::from(chunk))
            })
            .collect();
        (chunks, all)
    }

    #[tokio::test]
    async fn small_and_large_chunks_land_in_order_whatever_is_gathered() {
        // Small chunks around gathering's edge, one larger than it in between, a last short one.
        let mut sizes = vec![16 * 1024; 40];
        sizes.extend([GATHER + 5, 1, GATHER - 1, 3, 0, 7000]);
        for durability in [Durability::Unsynced, Durability::Synced] {
            let (body, want) = chunks(&sizes);
            let file = tempfile::NamedTempFile::new().expect("file");
            let stream = futures::stream::iter(body).boxed();
            let written = write(file.reopen().expect("reopen"), stream, durability).await.expect("written");
            assert_eq!(written, want.len() as u64);
            assert_eq!(std::fs::read(file.path()).expect("read"), want);
        }
    }

    #[tokio::test]
    async fn a_failing_body_is_the_writes_error() {
        let (mut body, _) = chunks(&[1000, 2000]);
        body.push(Err(io::Error::other("the connection broke")));
        let file = tempfile::NamedTempFile::new().expect("file");
        let stream = futures::stream::iter(body).boxed();
        let error = write(file.reopen().expect("reopen"), stream, Durability::Unsynced).await.expect_err("fails");
        assert_eq!(error.to_string(), "the connection broke");
    }
}
