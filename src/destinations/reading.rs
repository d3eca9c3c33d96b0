//! Reading destinations: the cached list, one destination, names, the servers the SFTP form
//! offers, the plans that use one.

use super::domain::Status;
use super::service::{Destination, DestinationError, DestinationService, Page, kind_of};
use super::store::{self, DestinationRow};
use crate::fields::RawFields;
use crate::providers::ProviderConfig;
use crate::providers::compatibility::Compatibility;
use crate::servers::store::ServerRow;
use std::sync::Arc;

impl DestinationService {
    /// A page of the workspace's destinations, default first, then by name. Kept in memory
    /// while the database is unchanged: the list is what every visit and script reads first.
    pub async fn list(
        &self,
        workspace: &str,
        page: i64,
        per_page: i64,
    ) -> Result<Arc<Page<Destination>>, DestinationError> {
        let page = page.max(1);
        let key = (workspace.to_owned(), page, per_page);
        self.pages
            .get_or_load(self.db.versions(), key, || async {
                let ws = workspace.to_owned();
                let (rows, total, servers) = self
                    .db
                    .run(move |c| {
                        let rows = store::list(c, &ws, per_page, (page - 1) * per_page)?;
                        Ok((rows, store::count(c, &ws)?, crate::servers::store::list(c, &ws)?))
                    })
                    .await?;
                let items = rows.into_iter().map(|r| self.to_destination(r, &servers)).collect::<Result<_, _>>()?;
                Ok(Page { items, page, per_page, total })
            })
            .await
    }

    /// Where the data stands, for caches of what [`list`](Self::list) returns.
    pub fn data_version(&self) -> &crate::db::version::DataVersion {
        self.db.versions()
    }

    /// Id → name of the workspace's destinations, without loading or decrypting anything else.
    pub async fn names(&self, workspace: &str) -> Result<Vec<(String, String)>, DestinationError> {
        let ws = workspace.to_owned();
        Ok(self.db.run(move |c| store::names(c, &ws)).await?)
    }

    pub async fn get(&self, workspace: &str, id: &str) -> Result<Destination, DestinationError> {
        let row = self.row(workspace, id).await?;
        let ws = workspace.to_owned();
        let servers = self.db.run(move |c| crate::servers::store::list(c, &ws)).await?;
        self.to_destination(row, &servers)
    }

    /// The workspace's managed servers as (id, name), for the SFTP form.
    pub async fn server_choices(&self, workspace: &str) -> Result<Vec<(String, String)>, DestinationError> {
        let ws = workspace.to_owned();
        let rows = self.db.run(move |c| crate::servers::store::list(c, &ws)).await?;
        Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
    }

    /// Names of the plans that back up to the destination.
    pub async fn plans_using(&self, workspace: &str, id: &str) -> Result<Vec<String>, DestinationError> {
        let (ws, rid) = (workspace.to_owned(), id.to_owned());
        Ok(self.db.run(move |c| crate::plans::store::using_destination(c, &ws, &rid)).await?)
    }

    fn to_destination(&self, row: DestinationRow, servers: &[ServerRow]) -> Result<Destination, DestinationError> {
        let server = row.server_id.as_ref().and_then(|id| servers.iter().find(|s| &s.id == id));
        let kind = kind_of(&row)?;
        let mut settings = RawFields::from_json(&row.settings)
            .map_err(|_| DestinationError::Credentials("stored settings are malformed".into()))?;
        if let Some(server) = &row.server_id {
            settings.set("server_id", server);
        }
        // Which secrets are stored is shown ("a key is stored"), never their values.
        let (stored_secrets, config) = match self.stored_fields(&row) {
            Ok(all) => (
                kind.fields().iter().filter(|f| f.secret && all.contains(f.name)).map(|f| f.name).collect(),
                ProviderConfig::parse(kind, &all).ok(),
            ),
            Err(_) => (Vec::new(), None),
        };
        let location = match (server, settings.get("directory")) {
            (Some(s), Some(dir)) => format!("sftp://{}@{}:{}{dir} (server “{}”)", s.username, s.host, s.port, s.name),
            _ => config.as_ref().map(ProviderConfig::location).unwrap_or_default(),
        };
        Ok(Destination {
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            kind,
            settings,
            stored_secrets,
            type_label: config.as_ref().map_or(kind.label(), ProviderConfig::type_label),
            location,
            status: Status::from_db(&row.status),
            last_tested_at: row.last_tested_at,
            last_test_message: row.last_test_message,
            is_default: row.is_default,
            created_at: row.created_at,
            updated_at: row.updated_at,
            host_key: server.map_or(row.host_key_fingerprint, |s| s.host_key_fingerprint.clone()),
            server_name: server.map(|s| s.name.clone()),
            compatibility: row.compatibility.as_deref().and_then(Compatibility::from_json),
        })
    }
}
