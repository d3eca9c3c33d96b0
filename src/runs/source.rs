//! A plan's source, read afresh for each attempt of a run. Host paths are checked again against
//! the workspace's grants of the moment (a grant may have been revoked since the plan was saved)
//! and opened without following a link, so a folder swapped for a link meanwhile is refused.

use super::runner::Runner;
use crate::artifacts::postgres::tools;
use crate::artifacts::walk::Skipped;
use crate::artifacts::{ByteStream, directory, sqlite};
use crate::hostfs::Need;
use crate::plans::domain::Source;
use crate::plans::store::PlanRow;

impl Runner {
    /// A fresh stream of the source, and for a directory what its walk skipped.
    pub(super) async fn read_source(
        &self,
        plan: &PlanRow,
        source: &Source,
    ) -> Result<(ByteStream, Option<Skipped>), String> {
        match source {
            Source::Directory(path) | Source::Sqlite(path) => {
                let access = self.grants().access(&plan.workspace_id).await.map_err(|e| e.to_string())?;
                let located = access.locate_stored(path, Need::Read).map_err(|e| e.to_string())?;
                if matches!(source, Source::Directory(_)) {
                    let (body, skipped) = directory::stream(located, access.devpilot_files());
                    return Ok((body, Some(skipped)));
                }
                let body = sqlite::snapshot(&located, access.devpilot_files()).await.map_err(|e| e.to_string())?;
                Ok((body, None))
            }
            Source::Postgres(_) => {
                let checked = self.checked_source(plan).await?;
                Ok((tools::dump(&checked).map_err(|e| e.to_string())?, None))
            }
        }
    }
}
