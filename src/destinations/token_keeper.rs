//! A saved destination's rotating refresh token (OneDrive): each refresh's new token is sealed
//! into the destination's credentials at once, and one refresh of a destination runs at a time
//! in this process, with the token stored last (see `crate::providers::rotating_token`).

use super::service::{DestinationError, DestinationService, associated_data};
use super::store;
use crate::providers::rotating_token::{KeepsRefreshToken, TokenKeeper};
use crate::providers::{ErrorKind, ProviderContext, ProviderError};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// One lock per destination (by ID, which no two destinations share).
static REFRESHING: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = LazyLock::new(Default::default);

fn lock_of(id: &str) -> Arc<tokio::sync::Mutex<()>> {
    let mut locks = REFRESHING.lock().unwrap_or_else(|e| e.into_inner());
    // Locks nobody holds or waits for go, so the map stays as small as the refreshes running.
    locks.retain(|_, lock| Arc::strong_count(lock) > 1);
    locks.entry(id.to_owned()).or_default().clone()
}

struct Keeper {
    service: DestinationService,
    workspace: String,
    id: String,
}

fn failed(e: DestinationError) -> ProviderError {
    ProviderError::new(ErrorKind::Provider, format!("storing the rotated refresh token failed: {e}"))
}

#[async_trait::async_trait]
impl KeepsRefreshToken for Keeper {
    async fn lock(&self) -> tokio::sync::OwnedMutexGuard<()> {
        lock_of(&self.id).lock_owned().await
    }

    async fn load(&self) -> Result<Option<SecretString>, ProviderError> {
        let row = self.service.row(&self.workspace, &self.id).await.map_err(failed)?;
        let fields = self.service.stored_fields(&row).map_err(failed)?;
        Ok(fields.get("refresh_token").filter(|t| !t.is_empty()).map(|t| SecretString::from(t.to_owned())))
    }

    async fn save(&self, token: &SecretString) -> Result<(), ProviderError> {
        let row = self.service.row(&self.workspace, &self.id).await.map_err(failed)?;
        let kind = super::service::kind_of(&row).map_err(failed)?;
        let mut fields = self.service.stored_fields(&row).map_err(failed)?;
        fields.set("refresh_token", token.expose_secret());
        let (_, secrets) = fields.split(kind.fields());
        let sealed =
            self.service.cipher.seal(secrets.to_json().as_bytes(), &associated_data(&self.workspace, &self.id));
        let (ws, id) = (self.workspace.clone(), self.id.clone());
        self.service
            .db
            .write(move |c| store::set_credentials(c, &ws, &id, sealed))
            .await
            .map_err(|e| failed(e.into()))?;
        tracing::debug!(destination = %self.id, "stored a rotated refresh token");
        Ok(())
    }
}

impl DestinationService {
    /// `ctx` for the saved destination `id`: its rotated refresh tokens are stored.
    pub(super) fn keeping_tokens(&self, ctx: ProviderContext, workspace: &str, id: &str) -> ProviderContext {
        let keeper = Keeper { service: self.clone(), workspace: workspace.to_owned(), id: id.to_owned() };
        ctx.with_tokens(TokenKeeper(Arc::new(keeper)))
    }
}
