//! An S3 destination's service and keys lent to a bucket source (a plan that backs up a bucket
//! with a destination's credentials): only a destination of the same workspace, only an S3 one.

use super::service::{DestinationError, DestinationService};
use crate::providers::s3::{S3Config, S3Provider};
use crate::providers::{ProviderConfig, ProviderContext};

impl DestinationService {
    /// The S3 config of the workspace's destination `id`, to read another bucket or prefix with
    /// its keys; the message for the field otherwise (another workspace's id reads as unknown).
    pub async fn s3_config_for_source(
        &self,
        workspace: &str,
        id: &str,
    ) -> Result<Result<S3Config, String>, DestinationError> {
        match self.config(workspace, id).await {
            Ok(ProviderConfig::S3(config)) => Ok(Ok(config)),
            Ok(_) => Ok(Err("That destination is not an S3-compatible one; choose an S3 destination.".into())),
            Err(DestinationError::NotFound) => Ok(Err("That destination does not exist in this workspace.".into())),
            Err(DestinationError::Credentials(m)) => Ok(Err(format!("That destination's keys cannot be read: {m}."))),
            Err(e) => Err(e),
        }
    }

    /// An S3 provider for a bucket source's config, under the same outbound address policy and
    /// HTTP clients as the workspace's destinations.
    pub async fn bucket_provider(
        &self,
        workspace: &str,
        config: &S3Config,
    ) -> Result<Result<S3Provider, String>, DestinationError> {
        let context: ProviderContext = self.context(workspace).await?;
        Ok(S3Provider::new(config, &context).map_err(|e| e.message))
    }
}
