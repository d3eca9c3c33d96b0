//! Spec 002's volumes are Devpilot's directory plans: a run of one is cloned into a new folder, or
//! restored in place into the very folder it was made of — only after that folder's path is typed
//! to confirm, staged beside it and swapped in whole (`artifacts::volume`). Both only inside
//! folders granted to the workspace for reading and writing.

use super::restore::RestoreTarget;
use super::runner::Runner;
use super::store::RunRow;
use crate::fields::FieldErrors;
use crate::hostfs::Need;
use crate::plans::domain::Source;

impl Runner {
    /// A clone's target: a folder that does not exist yet, in a folder granted for writing.
    pub async fn clone_target(&self, workspace: &str, target: &str) -> Result<RestoreTarget, FieldErrors> {
        let access = self.grants().access(workspace).await.map_err(|e| FieldErrors::single("target", e.to_string()))?;
        // Told before "not empty": a clone never goes into a folder that is there.
        if let Ok(place) = access.locate_new(target, Need::Write)
            && std::fs::symlink_metadata(place.path()).is_ok()
        {
            let shown = place.path().display().to_string();
            return Err(FieldErrors::single(
                "target",
                format!("“{shown}” already exists; a clone goes into a new folder."),
            ));
        }
        let place = match RestoreTarget::parse("directory", target, &access)? {
            RestoreTarget::Directory(place) => place,
            _ => return Err(FieldErrors::single("target", "Choose a folder to clone into.")),
        };
        Ok(RestoreTarget::Directory(place))
    }

    /// A restore's target: a new or empty folder, or the run's own folder (its plan's source)
    /// when `confirm` repeats its path: then its contents are replaced.
    pub async fn volume_target(
        &self,
        workspace: &str,
        run: &RunRow,
        target: &str,
        confirm: &str,
    ) -> Result<RestoreTarget, FieldErrors> {
        let access = self.grants().access(workspace).await.map_err(|e| FieldErrors::single("target", e.to_string()))?;
        let own_folder = self.source_folder(workspace, run).await;
        let typed = target.trim();
        let is_own = own_folder.as_ref().is_some_and(|own| {
            let located = access.locate(typed, Need::Write).map(|l| l.path());
            located.is_ok_and(|path| &path == own)
        });
        if !is_own {
            return RestoreTarget::parse("directory", target, &access);
        }
        let own = own_folder.unwrap_or_default().display().to_string();
        if confirm.trim() != own {
            return Err(FieldErrors::single(
                "confirm",
                format!(
                    "“{own}” is the backed-up folder itself: type its path to confirm that its contents are replaced."
                ),
            ));
        }
        let place = access.locate_new(typed, Need::Write).map_err(|e| FieldErrors::single("target", e.to_string()))?;
        Ok(RestoreTarget::Replace(place))
    }

    /// The folder the run's plan backs up now, when it is a directory plan.
    async fn source_folder(&self, workspace: &str, run: &RunRow) -> Option<std::path::PathBuf> {
        let (ws, plan) = (workspace.to_owned(), run.plan_id.clone());
        let row = self.db().run(move |c| crate::plans::store::find(c, &ws, &plan)).await.ok()?;
        match Source::from_db(&row.source_kind, &row.source_path) {
            Source::Directory(path) => Some(path),
            _ => None,
        }
    }
}
