//! OneDrive's folders for the folder picker: an item and its sub-folders, a new folder.

use super::{DriveItem, OneDriveProvider};
use crate::providers::folders::{Folder, FolderBrowser, FolderListing, by_name, check_id};
use crate::providers::{ErrorKind, ProviderError};
use async_trait::async_trait;

#[async_trait]
impl FolderBrowser for OneDriveProvider {
    async fn browse(&self, folder: Option<&str>) -> Result<FolderListing, ProviderError> {
        let place = match folder {
            Some(id) => {
                check_id(id)?;
                format!("items/{id}")
            }
            None => self.folder.clone(),
        };
        let url = format!("{}/{place}", self.drive);
        let item: DriveItem = self.json(reqwest::Method::GET, &url).await?;
        if item.folder.is_none() {
            return Err(ProviderError::new(ErrorKind::NotFound, format!("“{}” is not a folder.", item.name)));
        }
        let children = self
            .children(&url)
            .await?
            .into_iter()
            .filter(|c| c.folder.is_some())
            .map(|c| Folder { id: c.id, name: c.name })
            .collect();
        Ok(FolderListing {
            parent: item.parent_reference.and_then(|p| p.id),
            folder: Folder { id: item.id, name: item.name },
            children: by_name(children),
        })
    }

    async fn create_folder(&self, parent: &str, name: &str) -> Result<Folder, ProviderError> {
        check_id(parent)?;
        let url = format!("{}/items/{parent}/children", self.drive);
        let body = serde_json::json!({"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"});
        let response = self.send(|| self.api.post(&url).json(&body)).await?;
        let item: DriveItem = response.json().await.map_err(|e| {
            ProviderError::new(ErrorKind::Provider, format!("Microsoft Graph answered something unexpected: {e}."))
        })?;
        Ok(Folder { id: item.id, name: item.name })
    }
}
