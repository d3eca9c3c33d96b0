//! SSH connections shared by the SFTP destinations of one batch — "Test all" — that log in the
//! same way (one managed server, or the same host, user and key): one handshake and login per
//! login instead of one per destination, while each destination still checks its own directory
//! over it. A batch starts with none open, so every login in it is proven afresh; a single test
//! or a backup run never shares.

use super::config::SshLogin;
use super::connection::{Connection, Dial};
use crate::providers::ProviderError;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Mutex, OnceCell};

#[derive(Debug, Default)]
pub struct SharedLogins {
    logins: Mutex<HashMap<[u8; 32], Arc<OnceCell<Opened>>>>,
}

/// What opening the login gave: the connection or the failure every destination sharing it
/// reports, and the host key the server presented either way.
#[derive(Clone)]
pub struct Opened {
    pub connection: Result<Arc<Connection>, ProviderError>,
    pub presented_host_key: Option<String>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").field("ok", &self.connection.is_ok()).finish_non_exhaustive()
    }
}

impl SharedLogins {
    /// The batch's connection for this login and pinned host key, opened by the first to ask
    /// (again, if the one it opened has closed since).
    pub async fn open(&self, dial: &Dial<'_>) -> Opened {
        let cell = {
            let mut logins = self.logins.lock().await;
            let cell = logins.entry(identity(dial.login, dial.expected_host_key)).or_default();
            let closed = cell.get().is_some_and(|o| o.connection.as_ref().is_ok_and(|c| c.is_closed()));
            if closed {
                *cell = Arc::default();
            }
            Arc::clone(cell)
        };
        cell.get_or_init(|| async {
            let connection = dial.open().await.map(Arc::new);
            Opened { connection, presented_host_key: dial.presented() }
        })
        .await
        .clone()
    }
}

/// A digest of everything that makes two logins the same, so secrets are not kept as map keys.
fn identity(login: &SshLogin, expected_host_key: Option<&str>) -> [u8; 32] {
    let mut hash = Sha256::new();
    let secret = |s: &Option<secrecy::SecretString>| s.as_ref().map(|s| s.expose_secret().to_owned());
    for part in [
        Some(login.host.clone()),
        Some(login.port.to_string()),
        Some(login.username.clone()),
        secret(&login.password),
        secret(&login.private_key),
        secret(&login.passphrase),
        expected_host_key.map(str::to_owned),
    ] {
        // Length-prefixed, and absent distinct from empty.
        match part {
            Some(p) => {
                hash.update([1]);
                hash.update((p.len() as u64).to_le_bytes());
                hash.update(p.as_bytes());
            }
            None => hash.update([0]),
        }
    }
    hash.finalize().into()
}
