//! Optional client-side encryption of artifacts: the DPBE framing ([`super::dpbe`]: AES-256-GCM
//! under a key derived for each artifact, version 1's XChaCha20-Poly1305 still read) in the
//! STREAM construction, as async byte streams.
//!
//! Why our own framing and not age: the per-workspace key lives in the workspace row sealed under
//! the master key, so there is no recipient/identity file to manage, and the framing is a page
//! long (docs/ARTIFACT_FORMAT.md, with a Python decoder on the `cryptography` package). The cost
//! is that artifacts are not readable by the `age` tool.
//!
//! Format: a 24-byte header (`DPBE`, version, 19 random bytes), then segments of 64 KiB
//! plaintext plus a 16-byte tag each. A segment's nonce counts segments and flags the last one,
//! and the header is the associated data of every segment. A reordered, tampered or truncated
//! artifact, or one missing its last segment, fails to decrypt. Memory stays at about one segment
//! in each direction.

use super::ByteStream;
use super::dpbe::{HEADER_LEN, HeaderError, SEALED_LEN, SEGMENT_LEN, Segments, TAG_LEN};
use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};

/// A workspace's 32-byte artifact key.
pub type ArtifactKey = SecretBox<[u8; 32]>;

/// A fresh random artifact key, to be sealed under the master key and stored with the workspace.
pub fn generate_key() -> ArtifactKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretBox::new(Box::new(bytes))
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

/// Encrypts a plaintext stream; the result starts with the header.
pub fn encrypt(input: ByteStream, key: &ArtifactKey) -> ByteStream {
    let segments = Segments::sealing(key);
    let state = Encrypting {
        input,
        buffer: BytesMut::new(),
        header: Some(Bytes::copy_from_slice(segments.header())),
        segments: Some(segments),
        input_done: false,
    };
    futures::stream::unfold(state, Encrypting::next).boxed()
}

struct Encrypting {
    input: ByteStream,
    buffer: BytesMut,
    segments: Option<Segments>,
    header: Option<Bytes>,
    input_done: bool,
}

impl Encrypting {
    async fn next(mut self) -> Option<(std::io::Result<Bytes>, Self)> {
        if let Some(header) = self.header.take() {
            return Some((Ok(header), self));
        }
        loop {
            // A full segment is only "not last" once at least one more byte is known to follow.
            let full = self.buffer.len() > SEGMENT_LEN;
            if full || self.input_done {
                let len = if full { SEGMENT_LEN } else { self.buffer.len() };
                let mut sealed = Vec::with_capacity(len + TAG_LEN);
                sealed.extend_from_slice(&self.buffer[..len]);
                self.buffer.advance(len);
                let mut segments = self.segments.take()?;
                let tag = segments.seal(&mut sealed, !full);
                // Kept for the next segment; none follows the last or a failure.
                if full && tag.is_ok() {
                    self.segments = Some(segments);
                }
                let sealed = tag.map(|tag| {
                    sealed.extend_from_slice(&tag);
                    Bytes::from(sealed)
                });
                return Some((sealed, self));
            }
            match self.input.next().await {
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Err(error)) => {
                    self.segments = None;
                    return Some((Err(error), self));
                }
                None => self.input_done = true,
            }
        }
    }
}

/// Decrypts a stream made by [`encrypt`] (or by version 1 of the format); any tampering,
/// truncation or wrong key ends it in an error before the affected plaintext is yielded.
pub fn decrypt(input: ByteStream, key: &ArtifactKey) -> ByteStream {
    let state = Decrypting {
        input,
        buffer: BytesMut::new(),
        key: Some(SecretBox::new(Box::new(*key.expose_secret()))),
        segments: None,
        input_done: false,
        finished: false,
    };
    futures::stream::unfold(state, Decrypting::next).boxed()
}

struct Decrypting {
    input: ByteStream,
    buffer: BytesMut,
    /// Held until the header is read, then turned into the artifact's cipher.
    key: Option<ArtifactKey>,
    segments: Option<Segments>,
    input_done: bool,
    finished: bool,
}

impl Decrypting {
    fn fail(mut self, error: std::io::Error) -> Option<(std::io::Result<Bytes>, Self)> {
        self.finished = true;
        Some((Err(error), self))
    }

    async fn next(mut self) -> Option<(std::io::Result<Bytes>, Self)> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(key) = self.key.as_ref()
                && self.buffer.len() >= HEADER_LEN
            {
                let header = self.buffer.split_to(HEADER_LEN);
                match Segments::opening(key, &header) {
                    Ok(segments) => self.segments = Some(segments),
                    Err(HeaderError::NotDpbe) => {
                        return self.fail(invalid("not an encrypted Devpilot artifact (bad header)"));
                    }
                    Err(HeaderError::UnknownVersion(_)) => {
                        return self.fail(invalid("unsupported encrypted artifact version"));
                    }
                }
                self.key = None;
            }
            let full = self.buffer.len() > SEALED_LEN;
            if let Some(segments) = self.segments.as_mut()
                && (full || self.input_done)
            {
                let mut sealed = self.buffer.split_to(if full { SEALED_LEN } else { self.buffer.len() });
                self.finished = !full;
                return match segments.open(&mut sealed, !full) {
                    Ok(0) if !full => None,
                    Ok(plain) => {
                        sealed.truncate(plain);
                        Some((Ok(sealed.freeze()), self))
                    }
                    Err(_) if full => self.fail(invalid(
                        "the encrypted artifact is damaged, reordered or was encrypted with another key",
                    )),
                    Err(_) => self.fail(invalid(
                        "the encrypted artifact is damaged, truncated or was encrypted with another key",
                    )),
                };
            }
            if self.input_done {
                return self.fail(invalid("the encrypted artifact is truncated (no complete header)"));
            }
            match self.input.next().await {
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Err(error)) => return self.fail(error),
                None => self.input_done = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    fn stream_of(data: &[u8], chunk: usize) -> ByteStream {
        let chunks: Vec<std::io::Result<Bytes>> =
            data.chunks(chunk.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(chunks).boxed()
    }

    async fn collect(stream: ByteStream) -> std::io::Result<Vec<u8>> {
        let parts: Vec<Bytes> = stream.try_collect().await?;
        Ok(parts.concat())
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    async fn sealed(data: &[u8], key: &ArtifactKey) -> Vec<u8> {
        collect(encrypt(stream_of(data, 10_000), key)).await.expect("encrypt")
    }

    #[tokio::test]
    async fn round_trips_every_boundary_size() {
        let key = generate_key();
        for len in [0, 1, SEGMENT_LEN - 1, SEGMENT_LEN, SEGMENT_LEN + 1, 1024 * 1024 + 3] {
            let data = sample(len);
            let ciphertext = sealed(&data, &key).await;
            let segments = len.div_ceil(SEGMENT_LEN).max(1);
            assert_eq!(ciphertext.len(), HEADER_LEN + len + segments * TAG_LEN, "size for {len}");
            for chunk in [1, 7, 65_536, 1 << 20] {
                if len > 70_000 && chunk == 1 {
                    continue;
                }
                let plain = collect(decrypt(stream_of(&ciphertext, chunk), &key)).await.expect("decrypt");
                assert_eq!(plain, data, "round trip of {len} bytes in {chunk}-byte chunks");
            }
        }
    }

    #[tokio::test]
    async fn any_flipped_byte_is_detected() {
        let key = generate_key();
        let data = sample(SEGMENT_LEN + 100);
        let ciphertext = sealed(&data, &key).await;
        // Every header byte, and a spread of bytes across both segments and their tags.
        let positions: Vec<usize> =
            (0..HEADER_LEN).chain((HEADER_LEN..ciphertext.len()).step_by(997)).chain([ciphertext.len() - 1]).collect();
        for position in positions {
            let mut tampered = ciphertext.clone();
            tampered[position] ^= 0x01;
            let result = collect(decrypt(stream_of(&tampered, 4096), &key)).await;
            assert!(result.is_err(), "tampering with byte {position} went unnoticed");
        }
    }

    #[tokio::test]
    async fn truncation_and_a_dropped_last_segment_are_detected() {
        let key = generate_key();
        let data = sample(2 * SEGMENT_LEN + 10);
        let ciphertext = sealed(&data, &key).await;
        let sealed_segment = SEGMENT_LEN + TAG_LEN;
        for cut in [
            0,
            3,
            HEADER_LEN,
            HEADER_LEN + 1,
            HEADER_LEN + sealed_segment,
            HEADER_LEN + 2 * sealed_segment,
            ciphertext.len() - 1,
        ] {
            let result = collect(decrypt(stream_of(&ciphertext[..cut], 4096), &key)).await;
            assert!(result.is_err(), "truncation to {cut} bytes went unnoticed");
        }
    }

    #[tokio::test]
    async fn reordered_segments_are_detected() {
        let key = generate_key();
        let ciphertext = sealed(&sample(3 * SEGMENT_LEN + 5), &key).await;
        let sealed_segment = SEGMENT_LEN + TAG_LEN;
        let (header, body) = ciphertext.split_at(HEADER_LEN);
        let mut swapped = header.to_vec();
        swapped.extend_from_slice(&body[sealed_segment..2 * sealed_segment]);
        swapped.extend_from_slice(&body[..sealed_segment]);
        swapped.extend_from_slice(&body[2 * sealed_segment..]);
        assert!(collect(decrypt(stream_of(&swapped, 4096), &key)).await.is_err());
    }

    #[tokio::test]
    async fn a_wrong_key_is_an_error() {
        let ciphertext = sealed(b"secret rows", &generate_key()).await;
        let error = collect(decrypt(stream_of(&ciphertext, 4096), &generate_key())).await.expect_err("wrong key");
        assert!(error.to_string().contains("another key"), "{error}");
    }

    #[tokio::test]
    async fn artifacts_of_version_1_still_decrypt() {
        let key = generate_key();
        for len in [0, SEGMENT_LEN, 2 * SEGMENT_LEN + 77] {
            let data = sample(len);
            let sealed = crate::artifacts::dpbe::tests::sealed_by_version_1(&data, &key);
            let plain = collect(decrypt(stream_of(&sealed, 5000), &key)).await.expect("decrypt");
            assert_eq!(plain, data, "{len} bytes");
            let mut damaged = sealed.clone();
            let last = damaged.len() - 1;
            damaged[last] ^= 1;
            assert!(collect(decrypt(stream_of(&damaged, 5000), &key)).await.is_err(), "{len} bytes");
        }
    }

    #[tokio::test]
    async fn same_plaintext_encrypts_differently_each_time() {
        let key = generate_key();
        assert_ne!(sealed(b"same", &key).await, sealed(b"same", &key).await);
    }
}
