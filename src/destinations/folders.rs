//! The folder picker's rules: a drive is browsed through its destination, so only members of
//! the destination's workspace who may change it reach it (the handler checks the role), with
//! the destination's own token, under the test deadline; folder IDs and names typed or sent by
//! a browser are checked before they reach Google or Microsoft.

use super::service::{DestinationError, DestinationService};
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::connection_test::within_deadline;
use crate::fields::FieldErrors;
use crate::providers::folders::{FolderListing, check_id, check_name};
use crate::providers::{Provider, ProviderError};

/// What the picker shows: the folder, or the drive's refusal in its words.
pub type Browsed = Result<FolderListing, ProviderError>;

impl DestinationService {
    async fn browsable(
        &self,
        workspace: &str,
        id: &str,
    ) -> Result<Result<Box<dyn Provider>, ProviderError>, DestinationError> {
        let (destination, provider) = self.provider(workspace, id).await?;
        if !destination.kind.connects_through_consent() {
            return Err(DestinationError::Invalid(FieldErrors::single(
                "type",
                "Only Google Drive and OneDrive destinations have folders to pick.",
            )));
        }
        Ok(provider)
    }

    /// `folder` (the destination's own when none) and its sub-folders.
    pub async fn browse_folders(
        &self,
        workspace: &str,
        id: &str,
        folder: Option<&str>,
    ) -> Result<Browsed, DestinationError> {
        let provider = match self.browsable(workspace, id).await? {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let Some(browser) = provider.folders() else { return Ok(Err(not_browsable())) };
        if let Some(folder) = folder
            && let Err(e) = check_id(folder)
        {
            return Ok(Err(e));
        }
        Ok(within_deadline(self.providers.settings.test_deadline, browser.browse(folder)).await)
    }

    /// Makes `name` in `parent`; the parent again, with it. The audit log keeps who made it.
    pub async fn create_folder(
        &self,
        workspace: &str,
        id: &str,
        parent: &str,
        name: &str,
        by: &Actor,
    ) -> Result<Browsed, DestinationError> {
        // The destination first: another workspace's is not found, whatever the name.
        let provider = self.browsable(workspace, id).await?;
        check_name(name).map_err(|m| DestinationError::Invalid(FieldErrors::single("folder_name", m)))?;
        let name = name.trim();
        let provider = match provider {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let Some(browser) = provider.folders() else { return Ok(Err(not_browsable())) };
        if let Err(e) = check_id(parent) {
            return Ok(Err(e));
        }
        let deadline = self.providers.settings.test_deadline;
        if let Err(e) = within_deadline(deadline, browser.create_folder(parent, name)).await {
            return Ok(Err(e));
        }
        let destination = self.get(workspace, id).await?;
        let detail = format!("Made the folder “{name}” in the drive through the folder picker.");
        let entry = Entry::new(by, workspace, Subject::destination(id, &destination.name), Action::Updated, detail);
        self.db.write(move |c| audit::store::record(c, &entry)).await?;
        Ok(within_deadline(deadline, browser.browse(Some(parent))).await)
    }
}

fn not_browsable() -> ProviderError {
    ProviderError::new(crate::providers::ErrorKind::Provider, "This destination has no folders to browse.")
}
