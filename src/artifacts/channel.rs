//! A blocking writer whose bytes become a [`ByteStream`]: a small bounded channel between a
//! blocking thread (tar, zstd) and the async uploader, so memory stays at a few chunks whatever
//! the size.

use super::ByteStream;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::io::Write;
use tokio::sync::mpsc;

/// Bytes handed to the uploader at a time.
pub const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the writer and the reader.
const IN_FLIGHT: usize = 4;

/// A stream fed by `produce`, which runs on a blocking thread and writes into the writer it is
/// given; an error it returns ends the stream with that error.
pub fn produced_by<F>(produce: F) -> ByteStream
where
    F: FnOnce(ChannelWriter) -> std::io::Result<()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Bytes>>(IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let errors = tx.clone();
        if let Err(e) = produce(ChannelWriter { tx, buf: BytesMut::with_capacity(CHUNK) }) {
            // Nobody listening means the reader already gave up; nothing more to tell.
            let _ = errors.blocking_send(Err(e));
        }
    });
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// The stream, read ahead by a task of its own (up to `depth` chunks): whatever produces it —
/// a download, its checksum, decryption — runs beside its reader instead of inside the reader's
/// thread, so a restore's two halves use two cores.
pub fn read_ahead(mut input: ByteStream, depth: usize) -> ByteStream {
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Bytes>>(depth.max(1));
    tokio::spawn(async move {
        while let Some(chunk) = input.next().await {
            let failed = chunk.is_err();
            // A reader that went away (the restore failed) stops the download too.
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// Collects writes into chunks and sends each full chunk, waiting while the channel is full
/// (the backpressure that bounds memory).
pub struct ChannelWriter {
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
