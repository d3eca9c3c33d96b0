//! Google Drive's folders for the folder picker: a folder, its parent, its sub-folders (not in
//! the trash), and a new folder made in it.

use super::{DriveFile, FOLDER_MIME, FileList, GoogleDriveProvider};
use crate::providers::folders::{Folder, FolderBrowser, FolderListing, by_name, check_id};
use crate::providers::{ErrorKind, ProviderError};
use async_trait::async_trait;

#[async_trait]
impl FolderBrowser for GoogleDriveProvider {
    async fn browse(&self, folder: Option<&str>) -> Result<FolderListing, ProviderError> {
        let id = folder.unwrap_or(&self.folder_id);
        check_id(id)?;
        let request = self
            .http
            .get(format!("{}/files/{id}", self.api))
            .query(&[("fields", "id,name,mimeType,trashed,parents"), ("supportsAllDrives", "true")]);
        let file: DriveFile = self.json(request).await?;
        if file.mime_type != FOLDER_MIME {
            return Err(ProviderError::new(ErrorKind::NotFound, format!("“{}” is not a folder.", file.name)));
        }
        let q = format!("'{id}' in parents and trashed = false and mimeType = '{FOLDER_MIME}'");
        let mut children = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let request = self.files_query(&q, "nextPageToken,files(id,name)", "1000", page.as_deref());
            let list: FileList = self.json(request).await?;
            children.extend(list.files.into_iter().map(|f| Folder { id: f.id, name: f.name }));
            match list.next_page_token {
                Some(next) => page = Some(next),
                None => break,
            }
        }
        Ok(FolderListing {
            parent: file.parents.and_then(|p| p.into_iter().next()),
            folder: Folder { id: file.id, name: file.name },
            children: by_name(children),
        })
    }

    async fn create_folder(&self, parent: &str, name: &str) -> Result<Folder, ProviderError> {
        check_id(parent)?;
        let taken = format!(
            "'{parent}' in parents and trashed = false and mimeType = '{FOLDER_MIME}' and name = '{}'",
            super::escape_query(name)
        );
        let existing: FileList = self.json(self.files_query(&taken, "files(id)", "1", None)).await?;
        if !existing.files.is_empty() {
            return Err(ProviderError::new(ErrorKind::Provider, format!("A folder named “{name}” is already there.")));
        }
        let request = self
            .http
            .post(format!("{}/files", self.api))
            .query(&[("supportsAllDrives", "true"), ("fields", "id,name")])
            .json(&serde_json::json!({"name": name, "mimeType": FOLDER_MIME, "parents": [parent]}));
        let file: DriveFile = self.json(request).await?;
        Ok(Folder { id: file.id, name: file.name })
    }
}
