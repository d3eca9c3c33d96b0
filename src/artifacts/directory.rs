//! A directory as an artifact: a tar archive compressed with zstd (level 3), produced on a
//! blocking thread into a small bounded channel, so memory stays at a few chunks whatever the
//! directory's size and nothing is written to disk.

use super::ByteStream;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::io::Write;
use std::path::PathBuf;
use tokio::sync::mpsc;

/// Bytes handed to the uploader at a time.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the archiver and the uploader.
const IN_FLIGHT: usize = 4;
const ZSTD_LEVEL: i32 = 3;

/// Streams `dir` as `.tar.zst`. An error while reading the directory ends the stream with that
/// error (so the upload fails and is cleaned up, never recorded as a success).
pub fn stream(dir: PathBuf) -> ByteStream {
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let errors = tx.clone();
        if let Err(e) = archive(&dir, ChannelWriter { tx, buf: BytesMut::with_capacity(CHUNK) }) {
            // Nobody listening means the upload already gave up; nothing more to tell.
            let _ = errors.blocking_send(Err(e));
        }
    });
    tokio_stream(rx).boxed()
}

fn archive(dir: &std::path::Path, out: ChannelWriter) -> std::io::Result<()> {
    let encoder = zstd::Encoder::new(out, ZSTD_LEVEL)?;
    let mut tar = tar::Builder::new(encoder);
    // Links are stored as links: following them could leave the chosen directory.
    tar.follow_symlinks(false);
    tar.append_dir_all(".", dir)?;
    let mut out = tar.into_inner()?.finish()?;
    out.flush()
}

fn tokio_stream(
    mut rx: mpsc::Receiver<std::io::Result<Bytes>>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Collects writes into chunks and sends each full chunk, waiting while the channel is full
/// (the backpressure that bounds memory).
struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buf: BytesMut,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.buf.reserve(CHUNK);
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped reading"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trips_through_tar_and_zstd() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        std::fs::write(dir.path().join("sub/big.bin"), &big).expect("write");
        std::fs::write(dir.path().join("a.txt"), b"hello").expect("write");
        let mut body = Vec::new();
        let mut s = stream(dir.path().to_path_buf());
        while let Some(chunk) = s.next().await {
            let chunk = chunk.expect("chunk");
            assert!(chunk.len() <= CHUNK);
            body.extend_from_slice(&chunk);
        }
        let out = tempfile::tempdir().expect("out");
        tar::Archive::new(zstd::Decoder::new(&body[..]).expect("zstd")).unpack(out.path()).expect("unpack");
        assert_eq!(std::fs::read(out.path().join("sub/big.bin")).expect("big"), big);
        assert_eq!(std::fs::read(out.path().join("a.txt")).expect("a"), b"hello");
    }

    #[tokio::test]
    async fn a_missing_directory_ends_the_stream_with_an_error() {
        let mut s = stream(PathBuf::from("/no/such/dir"));
        let mut failed = false;
        while let Some(chunk) = s.next().await {
            failed |= chunk.is_err();
        }
        assert!(failed);
    }
}
