//! zstd over streams, with bounded memory: compression and decompression each run on a blocking
//! thread between two small channels.

use super::ByteStream;
use super::channel::produced_by;
use futures::TryStreamExt;
use std::io::Write;
use tokio_util::io::{StreamReader, SyncIoBridge};

pub const ZSTD_LEVEL: i32 = 3;

/// The stream, zstd-compressed.
pub fn compress(input: ByteStream) -> ByteStream {
    let reader = SyncIoBridge::new(StreamReader::new(input.map_err(std::io::Error::other)));
    produced_by(move |out| {
        let mut reader = reader;
        let mut encoder = zstd::Encoder::new(out, ZSTD_LEVEL)?;
        std::io::copy(&mut reader, &mut encoder)?;
        encoder.finish()?.flush()
    })
}

/// The stream, zstd-decompressed; damaged input ends it with an error.
pub fn decompress(input: ByteStream) -> ByteStream {
    let reader = SyncIoBridge::new(StreamReader::new(input.map_err(std::io::Error::other)));
    produced_by(move |mut out| {
        let mut decoder = zstd::Decoder::new(reader)?;
        std::io::copy(&mut decoder, &mut out)?;
        out.flush()
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
    }
}
