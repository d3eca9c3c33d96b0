//! zstd over streams, with bounded memory: compression and decompression each run on a blocking
//! thread between two small channels.
//!
//! Each blocking thread keeps one compression and one decompression context and reuses it. A
//! fresh context per stream is a few MiB allocated on whichever thread runs it, and glibc's
//! per-thread arenas keep much of what is freed: with a WAL segment shipped every few seconds the
//! server's resident size grew by tens of MiB. The contexts' sessions are reset on each use.

use super::ByteStream;
use super::channel::produced_by;
use futures::TryStreamExt;
use std::cell::RefCell;
use std::io::{BufReader, Write};
use tokio_util::io::{StreamReader, SyncIoBridge};
use zstd::zstd_safe::{CCtx, CParameter, DCtx};

pub const ZSTD_LEVEL: i32 = 3;

thread_local! {
    static COMPRESSOR: RefCell<Option<CCtx<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
}

/// The stream, zstd-compressed.
pub fn compress(input: ByteStream) -> ByteStream {
    let reader = SyncIoBridge::new(StreamReader::new(input.map_err(std::io::Error::other)));
    produced_by(move |out| {
        let mut reader = reader;
        COMPRESSOR.with_borrow_mut(|slot| {
            let context = match slot {
                Some(context) => context,
                None => slot.insert(compression_context()?),
            };
            let mut encoder = zstd::stream::write::Encoder::with_context(out, context);
            std::io::copy(&mut reader, &mut encoder)?;
            encoder.finish()?.flush()
        })
    })
}

fn compression_context() -> std::io::Result<CCtx<'static>> {
    let mut context = CCtx::try_create().ok_or_else(|| std::io::Error::other("zstd could not allocate a context"))?;
    context
        .set_parameter(CParameter::CompressionLevel(ZSTD_LEVEL))
        .map_err(|code| std::io::Error::other(zstd::zstd_safe::get_error_name(code)))?;
    Ok(context)
}

/// The stream, zstd-decompressed; damaged input ends it with an error.
pub fn decompress(input: ByteStream) -> ByteStream {
    let reader = SyncIoBridge::new(StreamReader::new(input.map_err(std::io::Error::other)));
    produced_by(move |mut out| {
        DECOMPRESSOR.with_borrow_mut(|slot| {
            let context = match slot {
                Some(context) => context,
                None => slot.insert(
                    DCtx::try_create().ok_or_else(|| std::io::Error::other("zstd could not allocate a context"))?,
                ),
            };
            let mut decoder = zstd::stream::read::Decoder::with_context(BufReader::new(reader), context);
            std::io::copy(&mut decoder, &mut out)?;
            out.flush()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures::StreamExt;

    async fn collect(stream: ByteStream) -> std::io::Result<Vec<u8>> {
        stream
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await
    }

    #[tokio::test]
    async fn round_trips_and_refuses_damage() {
        let original: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let chunks: Vec<std::io::Result<Bytes>> =
            original.chunks(70_000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let packed = collect(compress(futures::stream::iter(chunks).boxed())).await.expect("compress");
        assert!(packed.len() < original.len() / 10);
        let unpacked = collect(decompress(futures::stream::iter([Ok(Bytes::from(packed.clone()))]).boxed())).await;
        assert_eq!(unpacked.expect("decompress"), original);
        let mut damaged = packed;
        damaged.truncate(damaged.len() / 2);
        let cut = collect(decompress(futures::stream::iter([Ok(Bytes::from(damaged))]).boxed())).await;
        assert!(cut.is_err(), "a cut stream is an error");
        // The context the cut stream left behind starts the next stream afresh.
        let again = collect(compress(futures::stream::iter([Ok(Bytes::from_static(b"again"))]).boxed())).await;
        let again =
            collect(decompress(futures::stream::iter([Ok(Bytes::from(again.expect("compress")))]).boxed())).await;
        assert_eq!(again.expect("decompress"), b"again");
    }
}
