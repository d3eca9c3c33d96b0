//! Trusting an SSH server's host key, one flow for SFTP destinations and managed servers alike:
//! the offer (the pinned key beside the one presented now), the confirmation page and its form,
//! and the pin recorded with its audit entry. Each feature says only where its key is pinned.

pub mod html;
pub mod service;

use crate::config::ProviderSettings;
use crate::providers::sftp::{self, SshLogin};

/// What an admin compares before accepting a new host key.
#[derive(Debug, Clone)]
pub struct HostKeyOffer {
    pub pinned: Option<String>,
    /// The fingerprint the server presents now, or why it could not be fetched.
    pub presented: Result<String, String>,
}

impl HostKeyOffer {
    /// The key pinned for `login`, and the one its server presents now.
    pub async fn fetch(login: &SshLogin, pinned: Option<String>, settings: &ProviderSettings) -> HostKeyOffer {
        let presented = sftp::fetch_host_key(login, settings).await.map_err(|e| e.to_string());
        HostKeyOffer { pinned, presented }
    }

    /// Accepting is allowed only for the key the server still presents: a key swapped between
    /// the confirmation page and the click is refused.
    pub fn confirm(&self, fingerprint: &str) -> Result<(), String> {
        match &self.presented {
            Ok(now) if now == fingerprint => Ok(()),
            Ok(now) => Err(format!("The server now presents {now}, not the key you confirmed. Review it again.")),
            Err(e) => Err(format!("The server's host key could not be fetched: {e}")),
        }
    }
}
