//! SHA-256 and size of a stream, computed as the bytes pass to the destination.

use crate::providers::ByteStream;
use futures::StreamExt;
use sha2::{Digest as _, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What has passed so far; shared with the progress display.
#[derive(Clone, Default)]
pub struct Digest {
    hasher: Arc<Mutex<Sha256>>,
    bytes: Arc<AtomicU64>,
    /// The source's own error, if reading it failed: the provider only sees a broken body.
    source_error: Arc<Mutex<Option<String>>>,
}

impl Digest {
    /// Wraps `body` so every chunk is hashed and counted before it goes on.
    pub fn wrap(&self, body: ByteStream) -> ByteStream {
        let this = self.clone();
        body.map(move |chunk| {
            if let Ok(bytes) = &chunk {
                if let Ok(mut h) = this.hasher.lock() {
                    h.update(bytes);
                }
                this.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            if let (Err(e), Ok(mut slot)) = (&chunk, this.source_error.lock()) {
                slot.get_or_insert_with(|| e.to_string());
            }
            chunk
        })
        .boxed()
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Why reading the source failed, if it did.
    pub fn source_error(&self) -> Option<String> {
        self.source_error.lock().ok().and_then(|e| e.clone())
    }

    /// The hex SHA-256 of everything that passed.
    pub fn sha256(&self) -> String {
        self.hasher.lock().map(|h| hex::encode(h.clone().finalize())).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test]
    async fn hashes_and_counts_what_passes() {
        let digest = Digest::default();
        let chunks = vec![Ok(Bytes::from_static(b"hello ")), Ok(Bytes::from_static(b"world"))];
        let mut s = digest.wrap(futures::stream::iter(chunks).boxed());
        while s.next().await.is_some() {}
        assert_eq!(digest.bytes(), 11);
        assert_eq!(digest.sha256(), "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
    }
}
