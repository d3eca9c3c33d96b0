//! Refresh tokens that rotate (Microsoft's identity platform): every refresh answers a new one,
//! and the one used may stop working at once. So the new one is stored, sealed, every time, and
//! refreshes of one destination run one at a time with the latest stored token: two providers
//! of one destination (a run and a test) would otherwise both use a token only one may use.
//! The destination service implements the keeping; providers never touch the database.

use super::ProviderError;
use async_trait::async_trait;
use secrecy::SecretString;
use std::sync::Arc;

#[async_trait]
pub trait KeepsRefreshToken: Send + Sync {
    /// Held while one refresh runs (load, refresh, save) for this destination.
    async fn lock(&self) -> tokio::sync::OwnedMutexGuard<()>;
    /// The refresh token stored now (another provider may have rotated it since this one was built).
    async fn load(&self) -> Result<Option<SecretString>, ProviderError>;
    /// Stores the token a refresh answered, sealed with the destination's credentials.
    async fn save(&self, token: &SecretString) -> Result<(), ProviderError>;
}

#[derive(Clone)]
pub struct TokenKeeper(pub Arc<dyn KeepsRefreshToken>);

impl std::fmt::Debug for TokenKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeeper")
    }
}
