//! Reading a run's artifact back from whichever copy holds it: the primary first, then the
//! copies in order, skipping a copy whose destination is gone, disabled or failing, or whose
//! object cannot be opened (deleted behind Devpilot's back, a destination down). Downloads,
//! restores and restore drills all read through [`Runner::open_artifact`].

use super::copies::Unusable;
use super::copies_store::{self, RunCopyRow};
use super::runner::Runner;
use super::store::{self, RunRow};
use crate::artifacts::ByteStream;
use crate::error::AppError;
use crate::providers::Provider;

/// The copy an artifact is read from.
pub struct OpenedCopy {
    pub copy: RunCopyRow,
    pub destination_name: String,
    pub provider: Box<dyn Provider>,
}

impl OpenedCopy {
    /// "copy 1 (“Offsite”)", for the answer that says where the bytes came from.
    pub fn describe(&self) -> String {
        format!("{} (“{}”)", self.copy.label(), self.destination_name)
    }

    pub fn key(&self) -> &str {
        self.copy.object_key.as_deref().unwrap_or_default()
    }
}

impl Runner {
    /// The run's copies that hold its artifact, in the order a reader tries them; none for a
    /// run that did not (partially) succeed or whose artifacts retention removed.
    pub async fn artifact_copies(&self, run: &RunRow) -> Result<Vec<RunCopyRow>, AppError> {
        if ![store::SUCCEEDED, store::PARTIAL].contains(&run.status.as_str()) || run.pruned_at.is_some() {
            return Ok(Vec::new());
        }
        let (ws, id) = (run.workspace_id.clone(), run.id.clone());
        let copies = self.db().run(move |c| copies_store::of_run(c, &ws, &id)).await?;
        Ok(copies.into_iter().filter(RunCopyRow::holds_artifact).collect())
    }

    /// Opens the run's artifact on the first copy that can give it (see the module doc), and
    /// says which. NotFound when no copy holds it any more; BadRequest, naming each copy's
    /// problem, when copies hold it but none could give it.
    pub async fn open_artifact(&self, run: &RunRow) -> Result<(OpenedCopy, ByteStream), AppError> {
        self.open_artifact_skipping(run, &[]).await
    }

    /// [`Runner::open_artifact`] past the copies at `skip` (positions whose bytes a reader
    /// already found damaged).
    pub async fn open_artifact_skipping(
        &self,
        run: &RunRow,
        skip: &[i64],
    ) -> Result<(OpenedCopy, ByteStream), AppError> {
        let copies = self.artifact_copies(run).await?;
        if copies.is_empty() {
            return Err(AppError::NotFound("This backup is no longer available".into()));
        }
        let copies: Vec<RunCopyRow> = copies.into_iter().filter(|c| !skip.contains(&c.position)).collect();
        let names: std::collections::HashMap<String, String> =
            self.destinations().names(&run.workspace_id).await?.into_iter().collect();
        let several = copies.len() > 1;
        let mut problems = Vec::new();
        for copy in copies {
            let (Some(destination), Some(key)) = (copy.destination_id.clone(), copy.object_key.clone()) else {
                continue;
            };
            let Some(name) = names.get(&destination).cloned() else { continue };
            let provider = match self.usable(&run.workspace_id, &destination).await {
                Ok(provider) => provider,
                Err(Unusable::Skipped(why) | Unusable::Failed(why)) => {
                    problems.push(format!("{} (“{name}”): {why}", copy.label()));
                    continue;
                }
            };
            match provider.get(&key).await {
                Ok(body) => return Ok((OpenedCopy { copy, destination_name: name, provider }, body)),
                Err(e) if several => {
                    tracing::info!(run = %run.id, copy = copy.position, error = %e, "a copy cannot give the artifact; trying the next");
                    problems.push(format!("{} (“{name}”): {e}", copy.label()));
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        if problems.is_empty() {
            // Every copy's destination was deleted: so were its artifacts.
            return Err(AppError::NotFound("This backup is no longer available".into()));
        }
        Err(AppError::BadRequest(format!("The download failed: {}", problems.join("; "))))
    }
}

impl Runner {
    /// The copies of these runs of the workspace, by run id, the primary first.
    pub async fn copies_of_runs(
        &self,
        workspace: &str,
        runs: Vec<String>,
    ) -> Result<std::collections::HashMap<String, Vec<RunCopyRow>>, crate::db::DbError> {
        let ws = workspace.to_owned();
        let rows = self.db().run(move |c| copies_store::of_runs(c, &ws, &runs)).await?;
        let mut by_run: std::collections::HashMap<String, Vec<RunCopyRow>> = std::collections::HashMap::new();
        for row in rows {
            by_run.entry(row.run_id.clone()).or_default().push(row);
        }
        Ok(by_run)
    }
}
