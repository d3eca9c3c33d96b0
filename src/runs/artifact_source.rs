//! Where drills and single-file restores read a run's artifact from: one function, so that the
//! copies of a run (issue 19, part 1) plug in here. Until they do, the artifact is the run's
//! primary destination's, read the way restores and downloads read it (copy position 0).

use super::runner::Runner;
use super::store::RunRow;
use crate::artifacts::ByteStream;
use crate::error::AppError;

/// A run's artifact, opened for reading.
pub struct OpenedArtifact {
    pub run: RunRow,
    pub body: ByteStream,
    /// Which copy it is read from: 0, the primary destination.
    pub copy_position: i64,
}

impl Runner {
    /// Opens a succeeded, not pruned run's artifact on a destination that holds it.
    pub async fn artifact_of(&self, workspace: &str, run_id: &str) -> Result<OpenedArtifact, AppError> {
        let (run, key, provider) = self.available_artifact(workspace, run_id).await?;
        let body =
            provider.get(&key).await.map_err(|e| AppError::BadRequest(format!("Reading the backup failed: {e}")))?;
        Ok(OpenedArtifact { run, body, copy_position: 0 })
    }
}
