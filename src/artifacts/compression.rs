//! zstd over streams, with bounded memory: compression and decompression each run on a blocking
//! thread between two small channels.
//!
//! Contexts are kept in a pool shared by every thread and reused, their sessions reset on each
//! use. A fresh context per stream is a few MiB allocated on whichever thread runs it, and
//! glibc's per-thread arenas keep much of what is freed: with a WAL segment shipped every few
//! seconds the server's resident size grew by tens of MiB. A context per thread (kept in a
//! thread-local) was not enough: a PITR clone's restore serves a WAL file at a time, each on
//! whichever of a dozen blocking threads was free, and every one of them came to hold a context of
//! each kind — 40–70 MiB more while a clone restored. The pool holds as many as were in use at
//! once (up to [`POOLED`]; a burst beyond gives its extras back).

use super::ByteStream;
use super::channel::produced_by;
use futures::TryStreamExt;
use std::io::{BufReader, Write};
use std::sync::Mutex;
use tokio_util::io::{StreamReader, SyncIoBridge};
use zstd::zstd_safe::{CCtx, CParameter, DCtx};

pub const ZSTD_LEVEL: i32 = 3;

/// The first bytes of every zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Contexts of each kind kept between streams.
const POOLED: usize = 4;

static COMPRESSORS: Mutex<Vec<CCtx<'static>>> = Mutex::new(Vec::new());
static DECOMPRESSORS: Mutex<Vec<DCtx<'static>>> = Mutex::new(Vec::new());

/// Runs `work` with a context from `pool` (a new one from `make` when none is free), then gives
/// the context back.
fn pooled<T, R>(
    pool: &Mutex<Vec<T>>,
    make: impl FnOnce() -> std::io::Result<T>,
    work: impl FnOnce(&mut T) -> std::io::Result<R>,
) -> std::io::Result<R> {
    let free = pool.lock().ok().and_then(|mut free| free.pop());
    let mut context = match free {
        Some(context) => context,
        None => make()?,
    };
    let done = work(&mut context);
    if let Ok(mut free) = pool.lock()
        && free.len() < POOLED
    {
        free.push(context);
    }
    done
}

fn no_context() -> std::io::Error {
    std::io::Error::other("zstd could not allocate a context")
}

/// The stream, zstd-compressed.
pub fn compress(input: ByteStream) -> ByteStream {
    let reader = SyncIoBridge::new(StreamReader::new(input.map_err(std::io::Error::other)));
    produced_by(move |out| {
        let mut reader = reader;
        pooled(&COMPRESSORS, compression_context, |context| {
            let mut encoder = zstd::stream::write::Encoder::with_context(out, context);
            std::io::copy(&mut reader, &mut encoder)?;
            encoder.finish()?.flush()
        })
    })
}

fn compression_context() -> std::io::Result<CCtx<'static>> {
    let mut context = CCtx::try_create().ok_or_else(no_context)?;
    context
        .set_parameter(CParameter::CompressionLevel(ZSTD_LEVEL))
        .map_err(|code| std::io::Error::other(zstd::zstd_safe::get_error_name(code)))?;
    Ok(context)
}

/// The stream, zstd-decompressed; damaged input ends it with an error.
pub fn decompress(input: ByteStream) -> ByteStream {
    let reader = SyncIoBridge::new(StreamReader::new(input.map_err(std::io::Error::other)));
    produced_by(move |mut out| {
        pooled(
            &DECOMPRESSORS,
            || DCtx::try_create().ok_or_else(no_context),
            |context| {
                let mut decoder = zstd::stream::read::Decoder::with_context(BufReader::new(reader), context);
                std::io::copy(&mut decoder, &mut out)?;
                out.flush()
            },
        )
    })
}

/// The stream decompressed when its first bytes are a zstd frame's, as it is otherwise.
pub async fn decompress_if_zstd(input: ByteStream) -> std::io::Result<ByteStream> {
    let (head, input) = super::peek(input, ZSTD_MAGIC.len()).await?;
    Ok(if head.starts_with(&ZSTD_MAGIC) { decompress(input) } else { input })
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

    #[test]
    fn one_context_serves_thread_after_thread_and_a_burst_gives_its_extras_back() {
        let pool = Mutex::new(Vec::new());
        let made = std::sync::atomic::AtomicUsize::new(0);
        let make = || {
            made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(vec![0u8; 16])
        };
        for _ in 0..5 {
            std::thread::scope(|s| {
                s.spawn(|| pooled(&pool, make, |_| Ok(())).expect("work"));
            });
        }
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1, "each thread took the same context");
        // Nested uses (contexts in use at once) make more; only POOLED of them are kept.
        fn nest(pool: &Mutex<Vec<Vec<u8>>>, depth: usize) -> std::io::Result<()> {
            pooled(pool, || Ok(Vec::new()), |_| if depth == 0 { Ok(()) } else { nest(pool, depth - 1) })
        }
        nest(&pool, POOLED + 2).expect("nested");
        assert_eq!(pool.lock().expect("pool").len(), POOLED);
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

    #[tokio::test]
    async fn only_a_zstd_stream_is_decompressed_whatever_its_first_chunks() {
        let stream = |chunks: Vec<&[u8]>| {
            futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::copy_from_slice(c))).collect::<Vec<_>>()).boxed()
        };
        let packed = collect(compress(stream(vec![b"PGDMP and the rest"]))).await.expect("compress");
        // The magic split over chunks of one, two and the rest of the bytes.
        let split = stream(vec![&packed[..1], &packed[1..3], &packed[3..]]);
        let unpacked = collect(decompress_if_zstd(split).await.expect("peek")).await;
        assert_eq!(unpacked.expect("decompress"), b"PGDMP and the rest");
        let plain = collect(decompress_if_zstd(stream(vec![b"PG", b"DMP plain"])).await.expect("peek")).await;
        assert_eq!(plain.expect("as it was"), b"PGDMP plain");
        let short = collect(decompress_if_zstd(stream(vec![&ZSTD_MAGIC[..2]])).await.expect("peek")).await;
        assert_eq!(short.expect("too short to be zstd"), &ZSTD_MAGIC[..2]);
        let empty = collect(decompress_if_zstd(stream(vec![])).await.expect("peek")).await;
        assert!(empty.expect("empty").is_empty());
    }
}
