//! A workspace's artifact key written for people: what an owner exports and `devpilot recover`
//! reads back. `devpilot-recovery-key-v1:` then base64url (no padding) of the 32 key bytes
//! followed by the first 4 bytes of their SHA-256: 48 characters a copy cannot silently change,
//! since a mistyped or cut key fails the checksum instead of decrypting nothing.

use super::encryption::ArtifactKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "devpilot-recovery-key-v1:";
const CHECKSUM_LEN: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryKeyError {
    #[error("this is not a Devpilot recovery key (it must start with {PREFIX})")]
    NotARecoveryKey,
    #[error("the recovery key is damaged: it is not valid base64url")]
    Encoding,
    #[error("the recovery key has the wrong length: a part of it is missing or extra")]
    Length,
    #[error("the recovery key's checksum does not match: a character was mistyped or changed")]
    Checksum,
}

fn checksum(key: &[u8; 32]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::digest(key);
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The key in its exportable text form.
pub fn encode(key: &ArtifactKey) -> SecretString {
    let mut bytes = Vec::with_capacity(32 + CHECKSUM_LEN);
    bytes.extend_from_slice(key.expose_secret());
    bytes.extend_from_slice(&checksum(key.expose_secret()));
    SecretString::from(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes)))
}

/// Reads a key written by [`encode`]; whitespace around or inside it (a wrapped line) is ignored.
pub fn decode(text: &str) -> Result<ArtifactKey, RecoveryKeyError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let body = compact.strip_prefix(PREFIX).ok_or(RecoveryKeyError::NotARecoveryKey)?;
    let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| RecoveryKeyError::Encoding)?;
    if bytes.len() != 32 + CHECKSUM_LEN {
        return Err(RecoveryKeyError::Length);
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&bytes[..32]);
    if bytes[32..] != checksum(&key) {
        return Err(RecoveryKeyError::Checksum);
    }
    Ok(SecretBox::new(Box::new(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::encryption::generate_key;

    #[test]
    fn round_trips_and_ignores_wrapping() {
        let key = generate_key();
        let text = encode(&key);
        let text = text.expose_secret();
        assert!(text.starts_with(PREFIX) && text.len() == PREFIX.len() + 48, "{}", text.len());
        assert_eq!(decode(text).expect("decodes").expose_secret(), key.expose_secret());
        let wrapped = format!("  {}\n{}\n", &text[..30], &text[30..]);
        assert_eq!(decode(&wrapped).expect("wrapped").expose_secret(), key.expose_secret());
    }

    #[test]
    fn any_changed_character_is_caught() {
        let text = encode(&generate_key()).expose_secret().to_owned();
        for position in PREFIX.len()..text.len() - 1 {
            let mut changed = text.clone().into_bytes();
            changed[position] = if changed[position] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(changed).expect("ascii");
            assert!(decode(&changed).is_err(), "a change at {position} went unnoticed");
        }
        assert_eq!(decode(&text[..text.len() - 4]).err(), Some(RecoveryKeyError::Length));
        assert_eq!(decode("hello").err(), Some(RecoveryKeyError::NotARecoveryKey));
    }
}
