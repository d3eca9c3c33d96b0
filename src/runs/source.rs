//! A plan's source, read afresh for each attempt of a run. Host paths are checked again against
//! the workspace's grants of the moment (a grant may have been revoked since the plan was saved)
//! and opened without following a link, so a folder swapped for a link meanwhile is refused. Its
//! size is asked beside the read, for the run's progress.

use super::runner::Runner;
use crate::artifacts::postgres::tools;
use crate::artifacts::walk::{self, Skipped};
use crate::artifacts::{ByteStream, SourceRead, compression, counted, directory, sqlite};
use crate::hostfs::Need;
use crate::hostfs::private::PrivateTemp;
use crate::plans::domain::Source;
use crate::plans::store::PlanRow;
use futures::FutureExt;
use futures::future::BoxFuture;

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

/// A source as one attempt reads it: the stream, what the read notes, and how many bytes reading
/// it will take — asked beside the read, from the same check (a database is checked once, not
/// once for the dump and again for its size), for the run's progress.
pub(super) struct SourceStream<'a> {
    pub(super) body: ByteStream,
    pub(super) notes: Option<SourceNotes>,
    pub(super) size: BoxFuture<'a, Result<u64, String>>,
}

impl Runner {
    /// A fresh stream of the source, what its read notes (a directory's skipped entries…) and its
    /// size, asked beside it. What it reads from the source is added to `read`.
    pub(super) async fn read_source<'a>(
        &'a self,
        plan: &'a PlanRow,
        source: &Source,
        read: SourceRead,
        run_id: &str,
    ) -> Result<SourceStream<'a>, String> {
        match source {
            Source::Directory(path) | Source::Sqlite(path) => {
                let access = self.grants().access(&plan.workspace_id).await.map_err(|e| e.to_string())?;
                let located = access.locate_stored(path, Need::Read).map_err(|e| e.to_string())?;
                let directory = matches!(source, Source::Directory(_));
                // Walked under the same rules as the backup, no file opened.
                let (sized, devpilot) = (located.clone(), access.devpilot_files());
                let size = async move {
                    let sized = tokio::task::spawn_blocking(move || match directory {
                        true => walk::content_size(&sized, &devpilot),
                        false => sqlite::file_size(&sized, &devpilot),
                    });
                    sized.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())
                }
                .boxed();
                if directory {
                    // The manifest's lines wait in a private file until the archive has ended.
                    let temp =
                        PrivateTemp::create(self.data_dir()).map_err(|e| format!("a private temporary folder: {e}"))?;
                    let (_, file) = temp.new_file("manifest").map_err(|e| format!("a private temporary file: {e}"))?;
                    let (body, skipped, slot) =
                        directory::stream_with_manifest(located, access.devpilot_files(), read, file);
                    let body = self.saving_manifest(run_id, body, slot, temp);
                    return Ok(SourceStream { body, notes: Some(SourceNotes::new("Not backed up: ", skipped)), size });
                }
                let body = sqlite::snapshot(&located, access.devpilot_files()).await.map_err(|e| e.to_string())?;
                Ok(SourceStream { body: counted(body, read), notes: None, size })
            }
            Source::Postgres(_) => {
                let checked = self.checked_source(plan).await?;
                let dump = counted(tools::dump(&checked).map_err(|e| e.to_string())?, read);
                let body = compression::compress(dump);
                let size = async move { checked.database_size().await.map_err(|e| e.to_string()) }.boxed();
                Ok(SourceStream { body, notes: None, size })
            }
            Source::Bucket(_) => {
                let (body, notes) = self.bucket_stream(plan, read, run_id).await?;
                Ok(SourceStream { body, notes: Some(notes), size: self.bucket_size(plan).boxed() })
            }
            Source::Mariadb(_) => {
                let (body, notes, size) = self.mariadb_dump(self.checked_mariadb(plan).await?, read).await?;
                Ok(SourceStream { body, notes: Some(SourceNotes::new("", notes)), size })
            }
        }
    }
}
