//! Where drills and single-file restores read a run's artifact from: [`Runner::open_artifact`],
//! the copy that can give it (the primary first), with that copy's own size and checksum.

use super::runner::Runner;
use super::store::RunRow;
use crate::artifacts::ByteStream;
use crate::error::AppError;

/// A run's artifact, opened for reading.
pub struct OpenedArtifact {
    /// The run, its `bytes` and `sha256` those of the copy read (a copy retried alone holds a
    /// later snapshot than the others, so each copy is checked against its own record).
    pub run: RunRow,
    pub body: ByteStream,
    /// Which copy it is read from: 0 the primary, 1 and 2 the plan's copies.
    pub copy_position: i64,
}

impl Runner {
    /// Opens a succeeded (or partial), not pruned run's artifact on a copy that holds it.
    pub async fn artifact_of(&self, workspace: &str, run_id: &str) -> Result<OpenedArtifact, AppError> {
        let (ws, id) = (workspace.to_owned(), run_id.to_owned());
        let mut run = self.db().run(move |c| super::store::find(c, &ws, &id)).await?;
        let (opened, body) = self.open_artifact(&run).await?;
        run.bytes = opened.copy.bytes;
        run.sha256 = opened.copy.sha256.clone().or(run.sha256);
        Ok(OpenedArtifact { run, body, copy_position: opened.copy.position })
    }
}
