//! Optional client-side encryption of artifacts: XChaCha20-Poly1305 in the STREAM construction.
//!
//! Why this and not age: it adds no new dependency tree (the `chacha20poly1305` crate already
//! seals credentials at rest), it is the same primitive we already trust for those credentials,
//! and the per-workspace key lives in the workspace row sealed under the master key, so there is
//! no recipient/identity file to manage. The cost is that artifacts are not readable by the
//! `age` tool; a restore goes through Devpilot (or this module's documented format).
//!
//! Format: `DPBE` | version `1` | 19-byte random nonce prefix, then segments of 64 KiB plaintext
//! plus a 16-byte tag each. A segment's nonce is the prefix, a 32-bit big-endian counter and a
//! last-segment flag (`aead::stream::EncryptorBE32`), and the header is the associated data of
//! every segment. A reordered, tampered or truncated artifact, or one missing its last segment,
//! fails to decrypt. Memory stays at about one segment in each direction.

use super::ByteStream;
use bytes::{Bytes, BytesMut};
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{KeyInit, Payload};
use futures::StreamExt;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};

pub const MAGIC: &[u8; 4] = b"DPBE";
pub const VERSION: u8 = 1;
pub const NONCE_PREFIX_LEN: usize = 19;
pub const HEADER_LEN: usize = MAGIC.len() + 1 + NONCE_PREFIX_LEN;
/// Plaintext bytes per segment.
pub const SEGMENT_LEN: usize = 64 * 1024;
pub const TAG_LEN: usize = 16;

/// A workspace's 32-byte artifact key.
pub type ArtifactKey = SecretBox<[u8; 32]>;

/// A fresh random artifact key, to be sealed under the master key and stored with the workspace.
pub fn generate_key() -> ArtifactKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretBox::new(Box::new(bytes))
}

pub(crate) fn cipher(key: &ArtifactKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.expose_secret().into())
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

/// Encrypts a plaintext stream; the result starts with the header.
pub fn encrypt(input: ByteStream, key: &ArtifactKey) -> ByteStream {
    let mut header = BytesMut::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&[VERSION]);
    let mut prefix = [0u8; NONCE_PREFIX_LEN];
    rand::rng().fill_bytes(&mut prefix);
    header.extend_from_slice(&prefix);
    let header = header.freeze();
    let state = Encrypting {
        input,
        buffer: BytesMut::new(),
        encryptor: Some(EncryptorBE32::from_aead(cipher(key), prefix.as_slice().into())),
        header: Some(header.clone()),
        aad: header,
        input_done: false,
    };
    futures::stream::unfold(state, Encrypting::next).boxed()
}

struct Encrypting {
    input: ByteStream,
    buffer: BytesMut,
    encryptor: Option<EncryptorBE32<XChaCha20Poly1305>>,
    header: Option<Bytes>,
    aad: Bytes,
    input_done: bool,
}

impl Encrypting {
    async fn next(mut self) -> Option<(std::io::Result<Bytes>, Self)> {
        if let Some(header) = self.header.take() {
            return Some((Ok(header), self));
        }
        loop {
            let encryptor = self.encryptor.as_mut()?;
            // A full segment is only "not last" once at least one more byte is known to follow.
            if self.buffer.len() > SEGMENT_LEN {
                let segment = self.buffer.split_to(SEGMENT_LEN);
                let sealed = encryptor.encrypt_next(Payload { msg: &segment, aad: &self.aad });
                return Some((sealed.map(Bytes::from).map_err(|_| invalid("encryption failed")), self));
            }
            if self.input_done {
                let encryptor = self.encryptor.take()?;
                let sealed = encryptor.encrypt_last(Payload { msg: &self.buffer, aad: &self.aad });
                return Some((sealed.map(Bytes::from).map_err(|_| invalid("encryption failed")), self));
            }
            match self.input.next().await {
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Err(error)) => {
                    self.encryptor = None;
                    return Some((Err(error), self));
                }
                None => self.input_done = true,
            }
        }
    }
}

/// Decrypts a stream made by [`encrypt`]; any tampering, truncation or wrong key ends it in an
/// error before the affected plaintext is yielded.
pub fn decrypt(input: ByteStream, key: &ArtifactKey) -> ByteStream {
    let state = Decrypting {
        input,
        buffer: BytesMut::new(),
        cipher: Some(cipher(key)),
        decryptor: None,
        aad: Bytes::new(),
        input_done: false,
        finished: false,
    };
    futures::stream::unfold(state, Decrypting::next).boxed()
}

struct Decrypting {
    input: ByteStream,
    buffer: BytesMut,
    /// Held until the header is read, then turned into the decryptor.
    cipher: Option<XChaCha20Poly1305>,
    decryptor: Option<DecryptorBE32<XChaCha20Poly1305>>,
    aad: Bytes,
    input_done: bool,
    finished: bool,
}

impl Decrypting {
    fn fail(mut self, error: std::io::Error) -> Option<(std::io::Result<Bytes>, Self)> {
        self.finished = true;
        Some((Err(error), self))
    }

    async fn next(mut self) -> Option<(std::io::Result<Bytes>, Self)> {
        const SEALED_LEN: usize = SEGMENT_LEN + TAG_LEN;
        loop {
            if self.finished {
                return None;
            }
            if let Some(cipher) = self.cipher.as_ref()
                && self.buffer.len() >= HEADER_LEN
            {
                let header = self.buffer.split_to(HEADER_LEN).freeze();
                if &header[..MAGIC.len()] != MAGIC {
                    return self.fail(invalid("not an encrypted Devpilot artifact (bad header)"));
                }
                if header[MAGIC.len()] != VERSION {
                    return self.fail(invalid("unsupported encrypted artifact version"));
                }
                let prefix = &header[MAGIC.len() + 1..];
                self.decryptor = Some(DecryptorBE32::from_aead(cipher.clone(), prefix.into()));
                self.cipher = None;
                self.aad = header;
            }
            if let Some(decryptor) = self.decryptor.as_mut()
                && self.buffer.len() > SEALED_LEN
            {
                let segment = self.buffer.split_to(SEALED_LEN);
                return match decryptor.decrypt_next(Payload { msg: &segment, aad: &self.aad }) {
                    Ok(plain) => Some((Ok(Bytes::from(plain)), self)),
                    Err(_) => self.fail(invalid(
                        "the encrypted artifact is damaged, reordered or was encrypted with another key",
                    )),
                };
            }
            if self.input_done {
                let Some(decryptor) = self.decryptor.take() else {
                    return self.fail(invalid("the encrypted artifact is truncated (no complete header)"));
                };
                self.finished = true;
                return match decryptor.decrypt_last(Payload { msg: &self.buffer, aad: &self.aad }) {
                    Ok(plain) if plain.is_empty() => None,
                    Ok(plain) => Some((Ok(Bytes::from(plain)), self)),
                    Err(_) => self.fail(invalid(
                        "the encrypted artifact is damaged, truncated or was encrypted with another key",
                    )),
                };
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
    async fn same_plaintext_encrypts_differently_each_time() {
        let key = generate_key();
        assert_ne!(sealed(b"same", &key).await, sealed(b"same", &key).await);
    }
}
