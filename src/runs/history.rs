//! Reading runs back: history, one run, the last successful size, and an artifact's download.
//! The pages call these; only here do runs meet the database and the destination's provider.

use super::copies_store::RunCopyRow;
use super::runner::Runner;
use super::store::{self, RunRow};
use crate::artifacts::ByteStream;
use crate::db::DbError;
use crate::error::AppError;
use std::time::Duration;

/// How an artifact reaches the browser.
pub enum Download {
    /// A short-lived presigned URL of the destination's own; `copy` is the copy it reads.
    Redirect { url: url::Url, copy: RunCopyRow },
    /// Streamed through the server from `copy`.
    Stream { body: ByteStream, file_name: String, content_type: &'static str, copy: RunCopyRow },
}

impl Runner {
    pub async fn find(&self, workspace: &str, id: &str) -> Result<RunRow, DbError> {
        let (ws, id) = (workspace.to_owned(), id.to_owned());
        self.db().run(move |c| store::find(c, &ws, &id)).await
    }

    pub async fn history_of_plan(&self, workspace: &str, plan: &str, limit: i64) -> Result<Vec<RunRow>, DbError> {
        let (ws, pid) = (workspace.to_owned(), plan.to_owned());
        self.db().run(move |c| store::for_plan(c, &ws, &pid, limit)).await
    }

    /// The workspace's runs, newest first, each with its plan's name.
    pub async fn history(&self, workspace: &str, limit: i64) -> Result<Vec<(RunRow, String)>, DbError> {
        let ws = workspace.to_owned();
        self.db().run(move |c| store::for_workspace(c, &ws, limit)).await
    }

    /// A page of the workspace's runs (only the plan's, when given), newest first, each with its
    /// plan's name; and how many there are in all.
    pub async fn page(
        &self,
        workspace: &str,
        plan: Option<&str>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<(RunRow, String)>, i64), DbError> {
        let (ws, pid) = (workspace.to_owned(), plan.map(str::to_owned));
        let offset = (page - 1).saturating_mul(per_page);
        self.db()
            .run(move |c| {
                let rows = store::page(c, &ws, pid.as_deref(), per_page, offset)?;
                Ok((rows, store::count(c, &ws, pid.as_deref())?))
            })
            .await
    }

    /// Id → name of the workspace's destinations, for history rows.
    pub async fn destination_names(&self, workspace: &str) -> Result<Vec<(String, String)>, AppError> {
        Ok(self.destinations().names(workspace).await?)
    }

    /// A presigned URL of a succeeded, not pruned run's artifact on the copy that can give it
    /// (see [`Runner::open_artifact`]), and which copy that is; None when that destination has
    /// none (then [`Runner::download`] streams it).
    pub async fn presigned(
        &self,
        workspace: &str,
        id: &str,
        valid_for: Duration,
    ) -> Result<(Option<url::Url>, RunCopyRow), AppError> {
        let run = self.find(workspace, id).await?;
        let (opened, body) = self.open_artifact(&run).await?;
        drop(body);
        let failed = |e: crate::providers::ProviderError| AppError::BadRequest(format!("The download failed: {e}"));
        let url = opened.provider.presign(opened.key(), valid_for).await.map_err(failed)?;
        Ok((url, opened.copy))
    }

    /// A succeeded, not pruned run's artifact from the first copy that can give it: presigned
    /// where that destination can, else streamed.
    pub async fn download(&self, workspace: &str, id: &str, valid_for: Duration) -> Result<Download, AppError> {
        let run = self.find(workspace, id).await?;
        let (opened, body) = self.open_artifact(&run).await?;
        let failed = |e: crate::providers::ProviderError| AppError::BadRequest(format!("The download failed: {e}"));
        let copy = opened.copy.clone();
        if let Some(url) = opened.provider.presign(opened.key(), valid_for).await.map_err(failed)? {
            return Ok(Download::Redirect { url, copy });
        }
        let key = opened.key().to_owned();
        let content_type = if key.ends_with(".dpbe") {
            "application/octet-stream"
        } else if key.ends_with(".tar.zst") {
            "application/zstd"
        } else if key.ends_with(".sqlite3") {
            "application/vnd.sqlite3"
        } else {
            "application/octet-stream"
        };
        let file_name = key.rsplit('/').next().unwrap_or(&key).to_owned();
        Ok(Download::Stream { body, file_name, content_type, copy })
    }
}
