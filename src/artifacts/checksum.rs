//! SHA-256 and byte count of an artifact, computed as its bytes pass through. Where the checksum
//! is taken elsewhere, count with [`super::counted`] instead: SHA-256 is the costliest step of a
//! run after compression, and a second pass over the same bytes is measurable in every run.

use super::ByteStream;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// Wraps a stream so that every byte it yields is hashed and counted on the way.
pub struct Digesting;

/// Reads the digest of a [`Digesting`] stream once that stream has ended.
#[derive(Clone)]
pub struct DigestHandle {
    state: Arc<Mutex<(Sha256, u64)>>,
}

impl Digesting {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(stream: ByteStream) -> (ByteStream, DigestHandle) {
        let handle = DigestHandle { state: Arc::new(Mutex::new((Sha256::new(), 0))) };
        let state = handle.state.clone();
        let stream = stream
            .inspect(move |chunk| {
                if let Ok(bytes) = chunk {
                    let mut state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    state.0.update(bytes);
                    state.1 += bytes.len() as u64;
                }
            })
            .boxed();
        (stream, handle)
    }
}

impl DigestHandle {
    /// Bytes that have passed so far, for a live progress display while the stream runs.
    pub fn bytes(&self) -> u64 {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).1
    }

    /// The lowercase hex SHA-256 and the size in bytes of everything the stream yielded so far.
    pub fn finish(&self) -> (String, u64) {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (hex::encode(state.0.clone().finalize()), state.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures::TryStreamExt;

    #[tokio::test]
    async fn digest_matches_a_one_shot_hash_and_counts_bytes() {
        let chunks: Vec<std::io::Result<Bytes>> =
            vec![Ok(Bytes::from_static(b"hello ")), Ok(Bytes::new()), Ok(Bytes::from_static(b"world"))];
        let (stream, handle) = Digesting::new(futures::stream::iter(chunks).boxed());
        let mut stream = stream;
        let first = stream.next().await.expect("first").expect("ok");
        assert_eq!(handle.bytes(), first.len() as u64, "progress counts as bytes pass");
        let mut body: Vec<Bytes> = vec![first];
        body.extend(stream.try_collect::<Vec<Bytes>>().await.expect("stream"));
        assert_eq!(body.concat(), b"hello world");
        let (hex, size) = handle.finish();
        assert_eq!(hex, hex::encode(Sha256::digest(b"hello world")));
        assert_eq!(size, 11);
    }

    #[tokio::test]
    async fn empty_stream_has_the_empty_digest() {
        let (stream, handle) = Digesting::new(futures::stream::empty().boxed());
        assert_eq!(stream.count().await, 0);
        assert_eq!(handle.finish(), (hex::encode(Sha256::digest(b"")), 0));
    }
}
