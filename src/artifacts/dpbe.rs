//! The DPBE framing's header and per-segment cipher, shared by every reader and writer of it
//! (the async streams of [`super::encryption`], the blocking [`super::encrypt_reader`] and
//! `devpilot recover`'s reader). docs/ARTIFACT_FORMAT.md writes the format down.
//!
//! Version 2 (written since 2026-12-07): AES-256-GCM under a key derived for each artifact —
//! HKDF-SHA256 of the workspace key with the header's 19 random bytes as salt — and nonces that
//! count segments from zero. Why it replaced version 1: with AES-NI and carry-less multiply,
//! sealing costs a fifth of XChaCha20-Poly1305's CPU (0.16 against 0.75 s/GiB measured here),
//! the largest part of a backup's work after compression; and the per-artifact key gives
//! AES-GCM's 96-bit nonces what XChaCha's 192 gave: no two artifacts ever share a key and nonce.
//! Version 1 (XChaCha20-Poly1305, the random bytes as nonce prefix) is still read.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::ExposeSecret;

use super::encryption::ArtifactKey;

pub const MAGIC: &[u8; 4] = b"DPBE";
/// The version new artifacts are written in.
pub const VERSION: u8 = 2;
/// Random bytes after magic and version: version 2's HKDF salt, version 1's nonce prefix.
pub const RANDOM_LEN: usize = 19;
pub const HEADER_LEN: usize = MAGIC.len() + 1 + RANDOM_LEN;
/// Plaintext bytes per segment.
pub const SEGMENT_LEN: usize = 64 * 1024;
pub const TAG_LEN: usize = 16;
/// A full segment as stored: its ciphertext and tag.
pub const SEALED_LEN: usize = SEGMENT_LEN + TAG_LEN;

/// HKDF's `info` for version 2's artifact key: names what the derived key is for.
const V2_INFO: &[u8] = b"devpilot DPBE v2 AES-256-GCM artifact key";

pub type Header = [u8; HEADER_LEN];

/// Why a header does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    NotDpbe,
    UnknownVersion(u8),
}

/// A segment's tag did not check out: another key, or changed, reordered or missing bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unopened;

/// One artifact's cipher: its header (the associated data of every segment) and the number of
/// the next segment, which goes into that segment's nonce with a flag for the last one. Sealing
/// or opening past the last segment, or past 2³² segments, is refused.
pub struct Segments {
    cipher: Cipher,
    header: Header,
    next: u32,
    ended: bool,
}

enum Cipher {
    V1(Box<XChaCha20Poly1305>),
    V2(LessSafeKey),
}

impl Segments {
    /// A new artifact's cipher, with a fresh random header of the current version.
    pub fn sealing(key: &ArtifactKey) -> Segments {
        let mut header = [0u8; HEADER_LEN];
        header[..MAGIC.len()].copy_from_slice(MAGIC);
        header[MAGIC.len()] = VERSION;
        rand::rng().fill_bytes(&mut header[MAGIC.len() + 1..]);
        Segments::opening(key, &header).expect("a header of the current version opens")
    }

    /// The cipher of the artifact that starts with `header`.
    pub fn opening(key: &ArtifactKey, header: &[u8]) -> Result<Segments, HeaderError> {
        let header: Header = header.try_into().map_err(|_| HeaderError::NotDpbe)?;
        if &header[..MAGIC.len()] != MAGIC {
            return Err(HeaderError::NotDpbe);
        }
        let random = &header[MAGIC.len() + 1..];
        let cipher = match header[MAGIC.len()] {
            1 => Cipher::V1(Box::new(XChaCha20Poly1305::new(key.expose_secret().into()))),
            2 => {
                let derived = hkdf::Salt::new(hkdf::HKDF_SHA256, random).extract(key.expose_secret());
                let okm = derived.expand(&[V2_INFO], &AES_256_GCM).expect("32 bytes are within HKDF's limit");
                Cipher::V2(LessSafeKey::new(UnboundKey::from(okm)))
            }
            other => return Err(HeaderError::UnknownVersion(other)),
        };
        Ok(Segments { cipher, header, next: 0, ended: false })
    }

    /// The bytes an artifact starts with.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Encrypts `segment` in place and returns its tag, which follows it in the artifact.
    pub fn seal(&mut self, segment: &mut [u8], last: bool) -> std::io::Result<[u8; TAG_LEN]> {
        let (counter, flag) = self.advance(last).map_err(|_| std::io::Error::other("the artifact is too long"))?;
        let mut tag = [0u8; TAG_LEN];
        let sealed = match &self.cipher {
            Cipher::V1(cipher) => cipher
                .encrypt_in_place_detached(&v1_nonce(&self.header, counter, flag), &self.header, segment)
                .map(|t| tag.copy_from_slice(&t))
                .is_ok(),
            Cipher::V2(key) => key
                .seal_in_place_separate_tag(v2_nonce(counter, flag), Aad::from(&self.header), segment)
                .map(|t| tag.copy_from_slice(t.as_ref()))
                .is_ok(),
        };
        if sealed { Ok(tag) } else { Err(std::io::Error::other("encryption failed")) }
    }

    /// Decrypts a sealed segment (its ciphertext, then its tag) in place; its plaintext is then
    /// the first `len - TAG_LEN` bytes. Nothing of it may be used when this fails.
    pub fn open(&mut self, sealed: &mut [u8], last: bool) -> Result<usize, Unopened> {
        let plain = sealed.len().checked_sub(TAG_LEN).ok_or(Unopened)?;
        let (counter, flag) = self.advance(last)?;
        let opened = match &self.cipher {
            Cipher::V1(cipher) => {
                let (text, tag) = sealed.split_at_mut(plain);
                let nonce = v1_nonce(&self.header, counter, flag);
                cipher.decrypt_in_place_detached(&nonce, &self.header, text, (&*tag).into()).is_ok()
            }
            Cipher::V2(key) => key.open_in_place(v2_nonce(counter, flag), Aad::from(&self.header), sealed).is_ok(),
        };
        if opened { Ok(plain) } else { Err(Unopened) }
    }

    /// The next segment's number and flag; the last one ends the artifact.
    fn advance(&mut self, last: bool) -> Result<(u32, u8), Unopened> {
        if self.ended {
            return Err(Unopened);
        }
        let counter = self.next;
        match counter.checked_add(1) {
            Some(next) => self.next = next,
            // The counter's last value may only seal the last segment.
            None if last => {}
            None => return Err(Unopened),
        }
        self.ended = last;
        Ok((counter, u8::from(last)))
    }
}

/// Version 1: the 19 random bytes, the counter (32-bit big-endian) and the last-segment flag —
/// `aead::stream::EncryptorBE32`'s layout.
fn v1_nonce(header: &Header, counter: u32, flag: u8) -> XNonce {
    let mut nonce = XNonce::default();
    nonce[..RANDOM_LEN].copy_from_slice(&header[MAGIC.len() + 1..]);
    nonce[RANDOM_LEN..RANDOM_LEN + 4].copy_from_slice(&counter.to_be_bytes());
    nonce[RANDOM_LEN + 4] = flag;
    nonce
}

/// Version 2: seven zero bytes, the counter (32-bit big-endian) and the last-segment flag; the
/// key is the artifact's own, so counting from zero never repeats a nonce under one key.
fn v2_nonce(counter: u32, flag: u8) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[7..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = flag;
    Nonce::assume_unique_for_key(nonce)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::artifacts::encryption::generate_key;
    use chacha20poly1305::aead::Payload;
    use chacha20poly1305::aead::stream::EncryptorBE32;

    /// `data` as version 1 wrote it (`aead::stream` over XChaCha20-Poly1305): the artifacts
    /// made before version 2, which must still open.
    pub(crate) fn sealed_by_version_1(data: &[u8], key: &ArtifactKey) -> Vec<u8> {
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(MAGIC);
        header[4] = 1;
        rand::rng().fill_bytes(&mut header[5..]);
        let cipher = XChaCha20Poly1305::new(key.expose_secret().into());
        let mut encryptor = EncryptorBE32::from_aead(cipher, header[5..].into());
        let mut out = header.to_vec();
        let mut rest = data;
        while rest.len() > SEGMENT_LEN {
            let (segment, after) = rest.split_at(SEGMENT_LEN);
            out.extend(encryptor.encrypt_next(Payload { msg: segment, aad: &header }).expect("seal"));
            rest = after;
        }
        out.extend(encryptor.encrypt_last(Payload { msg: rest, aad: &header }).expect("seal"));
        out
    }

    #[test]
    fn version_1_opens_what_the_stream_construction_sealed() {
        let key = generate_key();
        let data: Vec<u8> = (0..SEGMENT_LEN + 10).map(|i| (i % 251) as u8).collect();
        let sealed = sealed_by_version_1(&data, &key);
        let mut segments = Segments::opening(&key, &sealed[..HEADER_LEN]).expect("version 1");
        let (mut first, mut last) =
            (sealed[HEADER_LEN..HEADER_LEN + SEALED_LEN].to_vec(), sealed[HEADER_LEN + SEALED_LEN..].to_vec());
        assert_eq!(segments.open(&mut first, false), Ok(SEGMENT_LEN));
        assert_eq!(segments.open(&mut last, true), Ok(10));
        assert_eq!([&first[..SEGMENT_LEN], &last[..10]].concat(), data);
    }

    #[test]
    fn each_artifact_has_its_own_key_and_the_flag_and_order_are_bound() {
        let key = generate_key();
        let (mut a, mut b) = (Segments::sealing(&key), Segments::sealing(&key));
        assert_eq!(a.header()[4], VERSION);
        let (mut one, mut two) = ([5u8; 64], [5u8; 64]);
        let (tag_one, tag_two) = (a.seal(&mut one, false).expect("seal"), b.seal(&mut two, false).expect("seal"));
        assert_ne!(one, two, "the same plaintext, segment and key give other bytes in another artifact");
        assert_ne!(tag_one, tag_two);
        let sealed = |body: [u8; 64], tag: [u8; TAG_LEN]| [body.as_slice(), tag.as_slice()].concat();
        let header = *a.header();
        // The right segment opens only as what it was: first, not last, under its own header.
        let mut opener = Segments::opening(&key, &header).expect("opens");
        assert_eq!(opener.open(&mut sealed(one, tag_one), true), Err(Unopened), "sealed as not last");
        let mut opener = Segments::opening(&key, &header).expect("opens");
        assert_eq!(opener.open(&mut sealed(two, tag_two), false), Err(Unopened), "another artifact's segment");
        let mut opener = Segments::opening(&key, &header).expect("opens");
        assert_eq!(opener.open(&mut sealed(one, tag_one), false), Ok(64));
        assert_eq!(opener.open(&mut sealed(one, tag_one), false), Err(Unopened), "replayed as the second");
        let mut opener = Segments::opening(&generate_key(), &header).expect("opens");
        assert_eq!(opener.open(&mut sealed(one, tag_one), false), Err(Unopened), "another key");
    }

    #[test]
    fn headers_that_are_not_dpbe_or_of_an_unknown_version_are_refused() {
        let key = generate_key();
        let mut header = *Segments::sealing(&key).header();
        header[4] = 3;
        assert_eq!(Segments::opening(&key, &header).err(), Some(HeaderError::UnknownVersion(3)));
        // A version 2 header turned into version 1's is opened as version 1, whose first tag fails.
        let mut sealer = Segments::sealing(&key);
        let mut segment = [9u8; 32];
        let tag = sealer.seal(&mut segment, true).expect("seal");
        let mut downgraded = *sealer.header();
        downgraded[4] = 1;
        let mut sealed = [segment.as_slice(), tag.as_slice()].concat();
        let mut opener = Segments::opening(&key, &downgraded).expect("version 1 opens");
        assert_eq!(opener.open(&mut sealed, true), Err(Unopened));
        header[0] = b'X';
        assert_eq!(Segments::opening(&key, &header).err(), Some(HeaderError::NotDpbe));
        assert_eq!(Segments::opening(&key, &header[..10]).err(), Some(HeaderError::NotDpbe));
    }

    #[test]
    fn nothing_is_sealed_or_opened_after_the_last_segment() {
        let key = generate_key();
        let mut segments = Segments::sealing(&key);
        segments.seal(&mut [0u8; 4], true).expect("the last");
        assert!(segments.seal(&mut [0u8; 4], true).is_err());
    }
}
