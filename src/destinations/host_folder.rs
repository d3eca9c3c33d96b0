//! Local destinations and the host's folders: the provider context of a workspace carries its
//! grants and its own folder, and a folder typed on the form must be granted for writing.

use super::saving::Parsed;
use super::service::{DestinationError, DestinationService};
use crate::fields::FieldErrors;
use crate::hostfs::{Need, Refusal};
use crate::providers::ProviderConfig;
use crate::providers::ProviderContext;
use crate::providers::local::LocalConfig;

impl DestinationService {
    /// The provider context for a workspace: its host folders (grants and own folder) set.
    pub(super) async fn context(&self, workspace: &str) -> Result<ProviderContext, DestinationError> {
        Ok(self.providers.with_host(self.grants.access(workspace).await?))
    }

    /// A local destination's folder must be granted to the workspace for writing (refused next to
    /// the field, before the folder is looked at) and is kept resolved. One that does not exist
    /// yet is saved as typed: its test says so.
    pub(super) async fn check_host_folder(&self, workspace: &str, parsed: &mut Parsed) -> Result<(), DestinationError> {
        let ProviderConfig::Local(LocalConfig { path: Some(path) }) = &parsed.config else { return Ok(()) };
        let access = self.grants.access(workspace).await?;
        let typed = path.display().to_string();
        let located = tokio::task::spawn_blocking(move || access.locate(&typed, Need::Write))
            .await
            .map_err(|e| DestinationError::Credentials(format!("the folder check stopped: {e}")))?;
        match located {
            Ok(located) => {
                let resolved = located.path();
                parsed.fields.set("path", &resolved.display().to_string());
                parsed.config = ProviderConfig::Local(LocalConfig { path: Some(resolved) });
                Ok(())
            }
            Err(Refusal::Missing(_) | Refusal::Unreadable(..)) => Ok(()),
            Err(refusal) => Err(DestinationError::Invalid(FieldErrors::single("path", refusal.to_string()))),
        }
    }
}
