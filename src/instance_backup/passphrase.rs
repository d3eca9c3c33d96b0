//! The master keys sealed under a passphrase the operator types: argon2id stretches the
//! passphrase into a 32-byte key, XChaCha20-Poly1305 seals the key file's text under it. Only this
//! blob is stored, so scheduled backups carry the keys without anyone typing the passphrase again,
//! and neither the blob nor an archive opens without it.
//!
//! Blob: `DPIK` | version 1 | argon2 m (KiB), t, p as 32-bit big-endian | 16-byte salt | 24-byte
//! nonce | ciphertext and tag. Everything before the ciphertext is the associated data.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

const MAGIC: &[u8; 4] = b"DPIK";
const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = MAGIC.len() + 1 + 12 + SALT_LEN + NONCE_LEN;
/// OWASP's argon2id minimum (19 MiB, 2 passes): a stretched guess costs what a sign-in's does.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;
pub const MIN_PASSPHRASE_CHARS: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PassphraseError {
    #[error("the passphrase does not open this backup's master keys (a wrong passphrase, or a damaged archive)")]
    Wrong,
    #[error("the sealed master keys are damaged or not Devpilot's")]
    Malformed,
}

/// Refuses a passphrase too short to stand up to guessing.
pub fn check_new(passphrase: &str) -> Result<(), String> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(format!("Use at least {MIN_PASSPHRASE_CHARS} characters: this passphrase alone guards the keys."));
    }
    Ok(())
}

fn stretch(passphrase: &SecretString, salt: &[u8], m: u32, t: u32, p: u32) -> Result<[u8; 32], PassphraseError> {
    let params = Params::new(m, t, p, Some(32)).map_err(|_| PassphraseError::Malformed)?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.expose_secret().as_bytes(), salt, &mut key)
        .map_err(|_| PassphraseError::Malformed)?;
    Ok(key)
}

/// `plaintext` sealed under `passphrase`.
pub fn seal(plaintext: &[u8], passphrase: &SecretString) -> Vec<u8> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut nonce);
    let mut blob = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
    blob.extend_from_slice(MAGIC);
    blob.push(VERSION);
    for n in [MEMORY_KIB, PASSES, LANES] {
        blob.extend_from_slice(&n.to_be_bytes());
    }
    blob.extend_from_slice(&salt);
    blob.extend_from_slice(&nonce);
    // The fixed parameters above are valid, so stretching cannot fail.
    let key = stretch(passphrase, &salt, MEMORY_KIB, PASSES, LANES).unwrap_or([0u8; 32]);
    let sealed = XChaCha20Poly1305::new((&key).into())
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: &blob })
        .unwrap_or_default();
    blob.extend_from_slice(&sealed);
    blob
}

/// Opens a blob made by [`seal`].
pub fn open(blob: &[u8], passphrase: &SecretString) -> Result<Vec<u8>, PassphraseError> {
    if blob.len() < HEADER_LEN + 16 || &blob[..4] != MAGIC || blob[4] != VERSION {
        return Err(PassphraseError::Malformed);
    }
    let number = |at: usize| u32::from_be_bytes([blob[at], blob[at + 1], blob[at + 2], blob[at + 3]]);
    let (m, t, p) = (number(5), number(9), number(13));
    // A forged header must not make us allocate gigabytes.
    if m > 1024 * 1024 || t > 16 || p > 16 {
        return Err(PassphraseError::Malformed);
    }
    let salt = &blob[17..17 + SALT_LEN];
    let nonce = &blob[17 + SALT_LEN..HEADER_LEN];
    let key = stretch(passphrase, salt, m, t, p)?;
    XChaCha20Poly1305::new((&key).into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: &blob[HEADER_LEN..], aad: &blob[..HEADER_LEN] })
        .map_err(|_| PassphraseError::Wrong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_with_the_passphrase_only() {
        let right = SecretString::from("correct horse battery staple");
        let blob = seal(b"key file text\n", &right);
        assert_eq!(open(&blob, &right).expect("opens"), b"key file text\n");
        assert_eq!(open(&blob, &SecretString::from("wrong horse battery staple")), Err(PassphraseError::Wrong));
        let mut damaged = blob.clone();
        damaged[20] ^= 1;
        assert_eq!(open(&damaged, &right), Err(PassphraseError::Wrong));
        assert_eq!(open(b"nonsense", &right), Err(PassphraseError::Malformed));
        assert!(check_new("short").is_err() && check_new("long enough passphrase").is_ok());
    }
}
