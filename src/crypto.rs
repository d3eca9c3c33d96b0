//! Credentials at rest: XChaCha20-Poly1305 under a master key.
//!
//! A sealed value is `v1 | key id length | key id | 24-byte nonce | ciphertext+tag`. The key id
//! lets a later key rotation find which key sealed a row; the associated data binds the value
//! to the workspace and destination it belongs to, so a ciphertext copied to another row fails
//! to open.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;

/// The 32-byte master key and its id (the first 8 hex digits of its SHA-256).
pub struct MasterKey {
    id: String,
    key: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        let id = hex::encode(&Sha256::digest(bytes)[..4]);
        MasterKey { id, key: SecretBox::new(Box::new(bytes)) }
    }

    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        MasterKey::from_bytes(bytes)
    }

    /// Parses the base64 text form used by `DEVPILOT_MASTER_KEY` and the key file.
    pub fn from_base64(text: &str) -> anyhow::Result<MasterKey> {
        let bytes = BASE64.decode(text.trim()).context("the master key is not valid base64")?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| anyhow::anyhow!("the master key must be 32 bytes, got {}", b.len()))?;
        Ok(MasterKey::from_bytes(bytes))
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.key.expose_secret())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Derives a separate key for another purpose (e.g. the session cookie), so the master key
    /// itself is used only for credentials.
    pub fn derive(&self, purpose: &str) -> [u8; 64] {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"devpilot"), self.key.expose_secret());
        let mut out = [0u8; 64];
        // 64 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        hk.expand(purpose.as_bytes(), &mut out)
            .unwrap_or_else(|_| unreachable!("64 bytes is a valid HKDF output length"));
        out
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.expose_secret().into())
    }
}

/// Writes the key file whole or not at all: a temporary file (mode 0600) renamed over it.
/// A random URL-safe value of 32 bytes: session tokens, invitation links, OAuth states, CSRF.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 of a bearer value, in hex: what the database keeps of tokens and links.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

pub fn write_key_file(path: &Path, ring: &KeyRing) -> anyhow::Result<()> {
    let temporary = path.with_extension("tmp");
    let _ = std::fs::remove_file(&temporary);
    write_private_file(&temporary, ring.to_file_text().as_bytes())?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    Ok(())
}

fn write_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the master key file {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// Seals and opens credentials. Holds every key it can open with; seals with the current one.
/// When it meets a key id it does not hold and its keys came from the key file, it reads the file
/// again: another process (`devpilot rotate-key`) may have added a key meanwhile.
pub struct CredentialCipher {
    keys: RwLock<KeyRing>,
    file: Option<PathBuf>,
}

/// The current key (first) and the previous ones still readable.
pub struct KeyRing {
    pub current: MasterKey,
    pub previous: Vec<MasterKey>,
}

impl KeyRing {
    pub fn ids(&self) -> Vec<String> {
        std::iter::once(&self.current).chain(&self.previous).map(|k| k.id.clone()).collect()
    }

    fn find(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current).chain(&self.previous).find(|k| k.id == id)
    }

    /// The text form of the key file: one base64 key a line, the current one first.
    pub fn to_file_text(&self) -> String {
        let mut text = String::new();
        for key in std::iter::once(&self.current).chain(&self.previous) {
            text.push_str(&key.to_base64());
            text.push('\n');
        }
        text
    }

    pub fn parse(text: &str) -> anyhow::Result<KeyRing> {
        let mut keys = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(MasterKey::from_base64);
        let current = keys.next().context("no key in it")??;
        Ok(KeyRing { current, previous: keys.collect::<anyhow::Result<_>>()? })
    }
}

impl std::fmt::Debug for CredentialCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCipher").field("keys", &self.key_ids()).finish_non_exhaustive()
    }
}

impl CredentialCipher {
    pub fn new(current: MasterKey) -> CredentialCipher {
        CredentialCipher::from_ring(KeyRing { current, previous: Vec::new() }, None)
    }

    /// `file`: where the keys came from, to be read again on an unknown key id.
    pub fn from_ring(ring: KeyRing, file: Option<PathBuf>) -> CredentialCipher {
        CredentialCipher { keys: RwLock::new(ring), file }
    }

    /// The key file's text of every key held (for Devpilot's own backup, sealed at once under
    /// the operator's passphrase; never written anywhere in this form).
    pub fn ring_text(&self) -> secrecy::SecretString {
        secrecy::SecretString::from(self.keys.read().map(|k| k.to_file_text()).unwrap_or_default())
    }

    /// The ids of the keys held, the current one first.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys.read().map(|k| k.ids()).unwrap_or_default()
    }

    /// A key for another purpose (session cookies, API tokens) derived from the current key.
    pub fn derive(&self, purpose: &str) -> [u8; 64] {
        self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner()).current.derive(purpose)
    }

    pub fn current_id(&self) -> String {
        self.key_ids().into_iter().next().unwrap_or_default()
    }

    pub fn seal(&self, plaintext: &[u8], associated_data: &str) -> Vec<u8> {
        let keys = self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = &keys.current;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = current
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: associated_data.as_bytes() })
            .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 encryption does not fail"));
        let id = current.id.as_bytes();
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + ciphertext.len());
        out.push(FORMAT_V1);
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(&self, sealed: &[u8], associated_data: &str) -> anyhow::Result<Vec<u8>> {
        let (key_id, nonce, ciphertext) = split_sealed(sealed)?;
        if !self.key_ids().iter().any(|id| id == key_id) {
            self.reload();
        }
        let keys = self.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = keys
            .find(key_id)
            .with_context(|| format!("credentials were sealed with key {key_id}, which is not loaded"))?;
        key.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: associated_data.as_bytes() })
            .map_err(|_| anyhow::anyhow!("credentials failed to decrypt (wrong key or wrong row)"))
    }

    /// Reads the key file again (after a rotation by another process).
    fn reload(&self) {
        let Some(path) = &self.file else { return };
        match std::fs::read_to_string(path).map_err(anyhow::Error::from).and_then(|t| KeyRing::parse(&t)) {
            Ok(ring) => {
                tracing::info!(keys = ?ring.ids(), "read the master key file again");
                *self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = ring;
            }
            Err(e) => tracing::warn!(error = %e, "reading the master key file again failed"),
        }
    }
}

/// The key id a sealed value names, if it is well-formed.
pub fn sealed_key_id(sealed: &[u8]) -> Option<&str> {
    split_sealed(sealed).ok().map(|(id, _, _)| id)
}

fn split_sealed(sealed: &[u8]) -> anyhow::Result<(&str, &[u8], &[u8])> {
    let [version, id_len, rest @ ..] = sealed else {
        bail!("sealed credentials are truncated");
    };
    if *version != FORMAT_V1 {
        bail!("unknown sealed credential format {version}");
    }
    let id_len = usize::from(*id_len);
    if rest.len() < id_len + NONCE_LEN + 16 {
        bail!("sealed credentials are truncated");
    }
    let (id, rest) = rest.split_at(id_len);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let id = std::str::from_utf8(id).context("sealed credentials have a malformed key id")?;
    Ok((id, nonce, ciphertext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_binds_to_associated_data() {
        let cipher = CredentialCipher::new(MasterKey::generate());
        let sealed = cipher.seal(b"hunter2", "ws1:dest1");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(cipher.open(&sealed, "ws1:dest1").expect("opens"), b"hunter2");
        assert!(cipher.open(&sealed, "ws1:dest2").is_err());
    }

    #[test]
    fn another_key_cannot_open() {
        let sealed = CredentialCipher::new(MasterKey::generate()).seal(b"x", "a");
        assert!(CredentialCipher::new(MasterKey::generate()).open(&sealed, "a").is_err());
    }

    #[test]
    fn rejects_truncated_input() {
        let cipher = CredentialCipher::new(MasterKey::generate());
        let sealed = cipher.seal(b"secret", "a");
        for len in 0..sealed.len() {
            assert!(cipher.open(&sealed[..len], "a").is_err(), "length {len}");
        }
    }

    #[test]
    fn base64_round_trip_keeps_id() {
        let key = MasterKey::generate();
        let again = MasterKey::from_base64(&key.to_base64()).expect("parses");
        assert_eq!(key.id(), again.id());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    }
}
