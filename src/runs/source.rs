//! A plan's source, read afresh for each attempt of a run. Host paths are checked again against
//! the workspace's grants of the moment (a grant may have been revoked since the plan was saved)
//! and opened without following a link, so a folder swapped for a link meanwhile is refused. Its
//! size is asked before it is read, for the run's progress.

use super::runner::Runner;
use crate::artifacts::postgres::tools;
use crate::artifacts::walk::{self, Skipped};
use crate::artifacts::{ByteStream, SourceRead, counted, directory, sqlite};
use crate::hostfs::Need;
use crate::hostfs::private::PrivateTemp;
use crate::plans::domain::Source;
use crate::plans::store::PlanRow;

/// What a run notes about its source: a directory's skipped entries, a database's warning, a
/// bucket's objects that changed meanwhile. Filled while the source is read.
pub(super) struct SourceNotes {
    heading: &'static str,
    items: Skipped,
}

impl SourceNotes {
    pub(super) fn new(heading: &'static str, items: Skipped) -> SourceNotes {
        SourceNotes { heading, items }
    }

    /// The run's note, None when there is nothing to say.
    pub(super) fn text(&self) -> Option<String> {
        let items = self.items.lock().ok()?;
        (!items.is_empty()).then(|| format!("{}{}.", self.heading, items.join("; ")))
    }
}

impl Runner {
    /// A fresh stream of the source, and for a directory what its walk skipped. What it reads from
    /// the source is added to `read`.
    pub(super) async fn read_source(
        &self,
        plan: &PlanRow,
        source: &Source,
        read: SourceRead,
        run_id: &str,
    ) -> Result<(ByteStream, Option<SourceNotes>), String> {
        match source {
            Source::Directory(path) | Source::Sqlite(path) => {
                let access = self.grants().access(&plan.workspace_id).await.map_err(|e| e.to_string())?;
                let located = access.locate_stored(path, Need::Read).map_err(|e| e.to_string())?;
                if matches!(source, Source::Directory(_)) {
                    // The manifest's lines wait in a private file until the archive has ended.
                    let temp =
                        PrivateTemp::create(self.data_dir()).map_err(|e| format!("a private temporary folder: {e}"))?;
                    let (_, file) = temp.new_file("manifest").map_err(|e| format!("a private temporary file: {e}"))?;
                    let (body, skipped, slot) =
                        directory::stream_with_manifest(located, access.devpilot_files(), read, file);
                    let body = self.saving_manifest(run_id, body, slot, temp);
                    return Ok((body, Some(SourceNotes::new("Not backed up: ", skipped))));
                }
                let body = sqlite::snapshot(&located, access.devpilot_files()).await.map_err(|e| e.to_string())?;
                Ok((counted(body, read), None))
            }
            Source::Postgres(_) => {
                let checked = self.checked_source(plan).await?;
                Ok((counted(tools::dump(&checked).map_err(|e| e.to_string())?, read), None))
            }
            Source::Bucket(_) => {
                let (body, notes) = self.bucket_stream(plan, read, run_id).await?;
                Ok((body, Some(notes)))
            }
            Source::Mariadb(_) => {
                let (body, notes) = self.mariadb_dump(plan, read).await?;
                Ok((body, Some(SourceNotes::new("", notes))))
            }
        }
    }

    /// How many bytes reading the source will take, asked before the run reads it: a folder walked
    /// under the same rules as its backup (no file opened), a SQLite file's size, a PostgreSQL
    /// database's size. None when it cannot be known (the run then shows bytes only; reading
    /// itself reports any real problem).
    pub(super) async fn expected_size(&self, plan: &PlanRow, source: &Source) -> Option<u64> {
        let sized = match source {
            Source::Directory(path) | Source::Sqlite(path) => {
                let access = self.grants().access(&plan.workspace_id).await.ok()?;
                let located = access.locate_stored(path, Need::Read).ok()?;
                let (devpilot, directory) = (access.devpilot_files(), matches!(source, Source::Directory(_)));
                tokio::task::spawn_blocking(move || match directory {
                    true => walk::content_size(&located, &devpilot),
                    false => sqlite::file_size(&located, &devpilot),
                })
                .await
                .ok()?
                .map_err(|e| e.to_string())
            }
            Source::Postgres(_) => match self.checked_source(plan).await {
                Ok(checked) => checked.database_size().await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
            Source::Bucket(_) => self.bucket_size(plan).await,
            Source::Mariadb(_) => match self.checked_mariadb(plan).await {
                Ok(checked) => checked.size().await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
        };
        sized.inspect_err(|e| tracing::info!(plan = %plan.id, error = %e, "the source's size is not known")).ok()
    }
}
