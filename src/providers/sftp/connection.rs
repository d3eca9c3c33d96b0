//! One SSH connection with its SFTP session, opened in the steps a test reports: the key is read
//! (a wrong passphrase fails here, before any network), the host resolved, TCP connected, the
//! SSH handshake done with the host key checked against the pinned one, the login
//! authenticated, and the SFTP subsystem opened.

use super::config::SshLogin;
use crate::config::ProviderSettings;
use crate::providers::outbound::ResolveError;
use crate::providers::{ErrorKind, ProviderError, Step};
use russh::client::{self, AuthResult, Handle};
use russh::keys::{Error as KeyError, HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use secrecy::ExposeSecret;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// SFTP requests of up to 255 KiB (OpenSSH's limit): 64 writes in flight keep uploads fast
/// (about 1.4x russh-sftp's defaults here) with at most 16 MiB of an upload buffered; 16 reads
/// ahead bound a download's buffer to 4 MiB. A request unanswered for the stall timeout fails.
fn sftp_config(settings: &ProviderSettings) -> russh_sftp::client::Config {
    russh_sftp::client::Config {
        max_packet_len: 256 * 1024,
        max_concurrent_reads: 16,
        max_concurrent_writes: 64,
        max_write_packet_len: 256 * 1024,
        request_timeout_secs: settings.stall_timeout.as_secs().max(1),
    }
}

/// Keepalives notice a server that died without closing the connection within about the stall
/// timeout, and close the session so the next use reconnects.
fn ssh_config(settings: &ProviderSettings) -> client::Config {
    client::Config {
        // A large channel window so the server never waits for window adjustments mid-stream.
        window_size: 16 * 1024 * 1024,
        maximum_packet_size: 65535,
        nodelay: true,
        keepalive_interval: Some((settings.stall_timeout / 3).max(Duration::from_secs(1))),
        keepalive_max: 3,
        inactivity_timeout: Some(Duration::from_secs(600)),
        preferred: russh::Preferred { cipher: std::borrow::Cow::Borrowed(CIPHERS), ..russh::Preferred::default() },
        ..client::Config::default()
    }
}

/// AES-GCM first: with AES instructions in the CPU (any server of the last decade) it costs both
/// ends less than russh's default, ChaCha20-Poly1305, which is the next choice.
const CIPHERS: &[russh::cipher::Name] = &[
    russh::cipher::AES_128_GCM,
    russh::cipher::AES_256_GCM,
    russh::cipher::CHACHA20_POLY1305,
    russh::cipher::AES_256_CTR,
    russh::cipher::AES_192_CTR,
    russh::cipher::AES_128_CTR,
];

/// The fingerprint of a host key as `ssh-keygen -l` shows it: `SHA256:<base64>`.
pub fn fingerprint(key: &PublicKeyOrCertificate) -> String {
    match key {
        PublicKeyOrCertificate::PublicKey { key, .. } => key.fingerprint(HashAlg::Sha256).to_string(),
        PublicKeyOrCertificate::Certificate(cert) => cert.public_key().fingerprint(HashAlg::Sha256).to_string(),
    }
}

/// Checks the server's host key against the pinned fingerprint and remembers the one presented.
pub struct HostKeyCheck {
    expected: Option<String>,
    presented: Arc<Mutex<Option<String>>>,
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let presented = fingerprint(key);
        let trusted = self.expected.as_deref().is_none_or(|e| e == presented);
        if let Ok(mut slot) = self.presented.lock() {
            *slot = Some(presented);
        }
        Ok(trusted)
    }
}

pub struct Connection {
    /// Kept so the SSH session lives as long as the SFTP session (and streams made from it).
    ssh: Handle<HostKeyCheck>,
    pub sftp: SftpSession,
}

impl Connection {
    pub fn is_closed(&self) -> bool {
        self.ssh.is_closed()
    }
}

/// What connecting needs besides the login.
pub struct Dial<'a> {
    pub login: &'a SshLogin,
    pub settings: &'a ProviderSettings,
    pub expected_host_key: Option<&'a str>,
    /// Receives the fingerprint the server presents, even when it is refused.
    pub presented: Arc<Mutex<Option<String>>>,
}

impl Dial<'_> {
    /// Connects, authenticates and opens SFTP.
    pub async fn open(&self) -> Result<Connection, ProviderError> {
        let key = match &self.login.private_key {
            Some(pem) => Some(Arc::new(decode_key(pem, self.login.passphrase.as_ref()).await?)),
            None => None,
        };
        let mut ssh = self.handshake().await?;
        // A server that completes the handshake and then stops answering fails within the
        // deadline too, at the step it stopped in.
        let deadline = self.settings.test_deadline;
        let silent = |step: Step| {
            let address = self.login.address();
            move |_| {
                ProviderError::new(
                    ErrorKind::Timeout,
                    format!("{address} stopped answering: no reply within {} s.", deadline.as_secs()),
                )
                .at(step)
            }
        };
        tokio::time::timeout(deadline, self.authenticate(&mut ssh, key))
            .await
            .map_err(silent(Step::Authenticate))??;
        let sftp = tokio::time::timeout(deadline, self.subsystem(&ssh)).await.map_err(silent(Step::Authenticate))??;
        Ok(Connection { ssh, sftp })
    }

    /// Connects and completes the handshake only: enough to learn the host key.
    pub async fn host_key(&self) -> Result<String, ProviderError> {
        let ssh = self.handshake().await?;
        let _ = ssh.disconnect(russh::Disconnect::ByApplication, "", "en").await;
        self.presented().ok_or_else(|| {
            ProviderError::new(ErrorKind::Provider, "The server did not present a host key.").at(Step::Handshake)
        })
    }

    pub(super) fn presented(&self) -> Option<String> {
        self.presented.lock().ok().and_then(|slot| slot.clone())
    }

    async fn handshake(&self) -> Result<Handle<HostKeyCheck>, ProviderError> {
        let address = self.login.address();
        // Resolved and checked once; the connection goes to exactly these addresses.
        let addrs = match self.settings.outbound.resolve(&self.login.host, self.login.port).await {
            Ok(addrs) => addrs,
            Err(ResolveError::Refused(refused)) => return Err(refused.provider_error()),
            Err(ResolveError::Lookup(e)) => {
                return Err(ProviderError::new(
                    ErrorKind::Unreachable,
                    format!("The host {} could not be resolved: {e}.", self.login.host),
                )
                .at(Step::Resolve));
            }
        };
        let tcp = tokio::time::timeout(self.settings.connect_timeout, tokio::net::TcpStream::connect(&addrs[..]))
            .await
            .map_err(|_| {
                ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "Could not connect to {address}: no answer within {} s.",
                        self.settings.connect_timeout.as_secs()
                    ),
                )
                .at(Step::Connect)
            })?
            .map_err(|e| {
                ProviderError::new(ErrorKind::Unreachable, format!("Could not connect to {address}: {e}."))
                    .at(Step::Connect)
            })?;
        let _ = tcp.set_nodelay(true);
        let handler = HostKeyCheck {
            expected: self.expected_host_key.map(str::to_owned),
            presented: Arc::clone(&self.presented),
        };
        let handshake = client::connect_stream(Arc::new(ssh_config(self.settings)), tcp, handler);
        let result = tokio::time::timeout(self.settings.test_deadline, handshake).await.map_err(|_| {
            ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "The SSH handshake with {address} did not finish within {} s.",
                    self.settings.test_deadline.as_secs()
                ),
            )
            .at(Step::Handshake)
        })?;
        result.map_err(|e| {
            if let (Some(expected), Some(got)) = (self.expected_host_key, self.presented())
                && expected != got
            {
                return ProviderError::new(
                    ErrorKind::Authentication,
                    format!("host key changed: expected {expected}, got {got}"),
                )
                .at(Step::Handshake);
            }
            let hint = match e {
                russh::Error::Disconnect | russh::Error::HUP | russh::Error::Version => {
                    " Is an SSH server listening on that port?"
                }
                _ => "",
            };
            ProviderError::new(ErrorKind::Provider, format!("The SSH handshake with {address} failed: {e}.{hint}"))
                .at(Step::Handshake)
        })
    }

    async fn authenticate(
        &self,
        ssh: &mut Handle<HostKeyCheck>,
        key: Option<Arc<PrivateKey>>,
    ) -> Result<(), ProviderError> {
        let user = self.login.username.as_str();
        let failed = |e: russh::Error| {
            ProviderError::new(ErrorKind::Provider, format!("The login as {user} failed: {e}.")).at(Step::Authenticate)
        };
        let mut tried = Vec::new();
        let mut remaining = String::new();
        if let Some(key) = key {
            let hash = if key.algorithm().is_rsa() {
                ssh.best_supported_rsa_hash().await.map_err(failed)?.flatten()
            } else {
                None
            };
            let result =
                ssh.authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash)).await.map_err(failed)?;
            match result {
                AuthResult::Success => return Ok(()),
                AuthResult::Failure { remaining_methods, .. } => remaining = methods(&remaining_methods),
            }
            tried.push("private key");
        }
        if let Some(password) = &self.login.password {
            let result = ssh.authenticate_password(user, password.expose_secret()).await.map_err(failed)?;
            match result {
                AuthResult::Success => return Ok(()),
                AuthResult::Failure { remaining_methods, .. } => remaining = methods(&remaining_methods),
            }
            tried.push("password");
        }
        Err(ProviderError::new(
            ErrorKind::Authentication,
            format!(
                "Authentication failed: the server refused the {} for {user} (it accepts: {remaining}).",
                tried.join(" and the ")
            ),
        )
        .at(Step::Authenticate))
    }

    async fn subsystem(&self, ssh: &Handle<HostKeyCheck>) -> Result<SftpSession, ProviderError> {
        let refused = |e: String| {
            ProviderError::new(ErrorKind::Permission, format!("The server refused the SFTP subsystem: {e}."))
                .at(Step::Authenticate)
        };
        let channel = ssh.channel_open_session().await.map_err(|e| refused(e.to_string()))?;
        channel.request_subsystem(true, "sftp").await.map_err(|e| refused(e.to_string()))?;
        SftpSession::new_with_config(channel.into_stream(), sftp_config(self.settings))
            .await
            .map_err(|e| refused(e.to_string()))
    }
}

fn methods(set: &russh::MethodSet) -> String {
    let names: Vec<&'static str> = set.iter().map(<&'static str>::from).collect();
    if names.is_empty() { "nothing more".into() } else { names.join(", ") }
}

/// Reads a private key (OpenSSH or PEM), decrypting it with the passphrase. CPU-bound (bcrypt
/// for OpenSSH keys), so it runs off the async threads.
async fn decode_key(
    pem: &secrecy::SecretString,
    passphrase: Option<&secrecy::SecretString>,
) -> Result<PrivateKey, ProviderError> {
    let pem = pem.clone();
    let passphrase = passphrase.cloned();
    let decoded = tokio::task::spawn_blocking(move || {
        let pem = pem.expose_secret();
        let passphrase = passphrase.as_ref().map(|p| p.expose_secret());
        russh::keys::decode_secret_key(pem, passphrase).map_err(|e| key_error(pem, passphrase.is_some(), e))
    })
    .await
    .map_err(|e| ProviderError::new(ErrorKind::Provider, format!("Reading the private key failed: {e}.")))?;
    decoded.map_err(|message| ProviderError::new(ErrorKind::Authentication, message).at(Step::Authenticate))
}

/// Why a key could not be read, in words that say what to do. (Never the key's contents.)
fn key_error(pem: &str, has_passphrase: bool, e: KeyError) -> String {
    // OpenSSL's legacy PEM encryption (`Proc-Type: 4,ENCRYPTED`) is readable for RSA keys only.
    let legacy_encrypted = pem.contains("Proc-Type: 4,ENCRYPTED");
    if legacy_encrypted && !pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return "Encrypted PEM keys other than RSA cannot be read: convert the key to the OpenSSH format \
                (ssh-keygen -p -f KEY) and paste that."
            .into();
    }
    let encrypted = legacy_encrypted
        || pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || matches!(russh::keys::decode_secret_key(pem, None), Err(KeyError::KeyIsEncrypted));
    match e {
        _ if encrypted && has_passphrase => "The private key could not be decrypted: wrong passphrase.".into(),
        _ if encrypted => "The private key is encrypted: enter its passphrase.".into(),
        KeyError::UnsupportedKeyType { key_type_string, .. } => {
            format!("The private key's type ({key_type_string}) is not supported: use ed25519, RSA or ECDSA.")
        }
        other => format!("The private key could not be read ({other})."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(pem: &str, has_passphrase: bool) -> String {
        key_error(pem, has_passphrase, KeyError::CouldNotReadKey)
    }

    #[test]
    fn key_errors_say_what_to_do() {
        let pkcs8 = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(error(pkcs8, true).contains("wrong passphrase"));
        assert!(error(pkcs8, false).contains("enter its passphrase"));
        let legacy_ec = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAA\n";
        assert!(error(legacy_ec, true).contains("convert the key to the OpenSSH format"));
        let garbage = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64 secretvalue\n-----END OPENSSH PRIVATE KEY-----";
        let message = error(garbage, false);
        assert!(message.starts_with("The private key could not be read") && !message.contains("secretvalue"));
    }
}
