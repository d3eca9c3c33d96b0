//! Connecting to a destination: its stored config opened and completed (a managed server's
//! login, the pinned host key), its provider built, and a new host key trusted.

use super::audited::TestedBy;
use super::health::Trigger;
use super::service::{Destination, DestinationError, DestinationService, associated_data, kind_of};
use super::store::{self, DestinationRow};
use crate::audit::{Actor, Subject};
use crate::connection_test::TestOutcome;
use crate::db::Db;
use crate::fields::{FieldErrors, RawFields};
use crate::host_keys::HostKeyOffer;
use crate::host_keys::service::{AcceptError, Pin, PinsHostKeys};
use crate::providers::compatibility::Compatibility;
use crate::providers::sftp::SftpTarget;
use crate::providers::{self, Provider, ProviderConfig, ProviderError};
use crate::servers::service::{self as servers, ServerError};

impl DestinationService {
    /// Makes a parsed config ready to connect: an SFTP destination that uses a managed server
    /// gets the server's login (read now, so a server edit applies at once), and the host key
    /// pinned for it.
    pub(super) async fn prepare(
        &self,
        workspace: &str,
        id: Option<&str>,
        mut config: ProviderConfig,
    ) -> Result<(ProviderConfig, HostKeyPin), DestinationError> {
        let ProviderConfig::Sftp(sftp) = &mut config else {
            return Ok((config, HostKeyPin::Nowhere));
        };
        let pin = match (sftp.server_id().map(str::to_owned), id) {
            (Some(server), _) => {
                let (login, pinned) =
                    servers::login_for(&self.db, &self.cipher, workspace, &server).await.map_err(server_error)?;
                sftp.target = SftpTarget::Login(login);
                sftp.host_key = pinned;
                HostKeyPin::Server(server)
            }
            (None, Some(id)) => {
                let (ws, rid) = (workspace.to_owned(), id.to_owned());
                sftp.host_key = self.db.run(move |c| store::host_key(c, &ws, &rid)).await?;
                HostKeyPin::Destination(id.to_owned())
            }
            (None, None) => HostKeyPin::Nowhere,
        };
        Ok((config, pin))
    }

    /// The full config of a saved destination, credentials decrypted, ready for a provider (a
    /// managed server's login filled in, the pinned host key set).
    pub async fn config(&self, workspace: &str, id: &str) -> Result<ProviderConfig, DestinationError> {
        let config = self.config_of(&self.row(workspace, id).await?)?;
        Ok(self.prepare(workspace, Some(id), config).await?.0)
    }

    /// A saved destination's provider, ready to put and get artifacts, and its row (for the
    /// status a run checks first).
    pub async fn provider(
        &self,
        workspace: &str,
        id: &str,
    ) -> Result<(Destination, Result<Box<dyn Provider>, ProviderError>), DestinationError> {
        let destination = self.get(workspace, id).await?;
        let config = self.config(workspace, id).await?;
        let ctx = self.keeping_tokens(self.context(workspace).await?, workspace, id);
        Ok((destination, providers::build(&config, &ctx)))
    }

    /// A row's config, with what its last deep test learned (which the provider uses).
    pub(super) fn config_of(&self, row: &DestinationRow) -> Result<ProviderConfig, DestinationError> {
        let config = ProviderConfig::parse(kind_of(row)?, &self.stored_fields(row)?).map_err(|errors| {
            let detail: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
            DestinationError::Credentials(format!("stored configuration is invalid ({})", detail.join("; ")))
        })?;
        Ok(config.with_compatibility(row.compatibility.as_deref().and_then(Compatibility::from_json)))
    }

    /// Settings and decrypted secrets of a row, as fields.
    pub(super) fn stored_fields(&self, row: &DestinationRow) -> Result<RawFields, DestinationError> {
        let plain = self
            .cipher
            .open(&row.credentials, &associated_data(&row.workspace_id, &row.id))
            .map_err(|e| DestinationError::Credentials(e.to_string()))?;
        let secrets = std::str::from_utf8(&plain)
            .ok()
            .and_then(|t| RawFields::from_json(t).ok())
            .ok_or_else(|| DestinationError::Credentials("stored credentials are malformed".into()))?;
        let mut fields = RawFields::from_json(&row.settings)
            .map_err(|_| DestinationError::Credentials("stored settings are malformed".into()))?;
        fields.fill_from(&secrets);
        if let Some(server) = &row.server_id {
            fields.set("server_id", server);
        }
        Ok(fields)
    }
}

/// An SFTP destination's host key: pinned with its own login, or on the managed server it uses.
#[async_trait::async_trait(?Send)]
impl PinsHostKeys for DestinationService {
    type Error = DestinationError;

    fn db(&self) -> &Db {
        &self.db
    }

    async fn name_of(&self, workspace: &str, id: &str) -> Result<String, DestinationError> {
        Ok(self.row(workspace, id).await?.name)
    }

    async fn host_key_offer(&self, workspace: &str, id: &str) -> Result<HostKeyOffer, DestinationError> {
        let row = self.row(workspace, id).await?;
        let (config, _) = self.prepare(workspace, Some(id), self.config_of(&row)?).await?;
        let ProviderConfig::Sftp(sftp) = &config else {
            return Err(DestinationError::Invalid(FieldErrors::single(
                "type",
                "Only SFTP destinations have a host key.",
            )));
        };
        let SftpTarget::Login(login) = &sftp.target else {
            return Err(DestinationError::Credentials("the managed server's login is missing".into()));
        };
        Ok(HostKeyOffer::fetch(login, sftp.host_key.clone(), &self.providers.settings).await)
    }

    /// A destination that uses a managed server pins the key on the server.
    async fn pin_for(&self, workspace: &str, id: &str) -> Result<Pin, DestinationError> {
        let row = self.row(workspace, id).await?;
        let (_, pin) = self.prepare(workspace, Some(id), self.config_of(&row)?).await?;
        let (rid, name) = (id.to_owned(), row.name);
        Ok(Box::new(move |c, ws, fp| {
            pin.pin(c, ws, fp)?;
            let place = if matches!(pin, HostKeyPin::Server(_)) { " (on its managed server)" } else { "" };
            Ok((Subject::destination(&rid, &name), place))
        }))
    }

    async fn test_accepted(&self, workspace: &str, id: &str, by: &Actor) -> Result<TestOutcome, DestinationError> {
        self.test_saved(workspace, id, false, &TestedBy::new(by, Trigger::HostKey)).await
    }
}

/// Where an SFTP destination's host key is pinned: with its own login, or on the managed server
/// whose login it uses.
pub(super) enum HostKeyPin {
    Destination(String),
    Server(String),
    Nowhere,
}

impl HostKeyPin {
    /// Pins `fingerprint` there, in the caller's transaction.
    pub(super) fn pin(
        &self,
        conn: &mut crate::db::DbConn,
        workspace: &str,
        fingerprint: &str,
    ) -> diesel::QueryResult<()> {
        match self {
            HostKeyPin::Destination(id) => store::set_host_key(conn, workspace, id, fingerprint),
            HostKeyPin::Server(id) => crate::servers::store::set_host_key(conn, workspace, id, fingerprint),
            HostKeyPin::Nowhere => Ok(()),
        }
    }
}

impl From<AcceptError> for DestinationError {
    fn from(e: AcceptError) -> Self {
        match e {
            AcceptError::Refused(errors) => DestinationError::Invalid(errors),
            AcceptError::Db(e) => e.into(),
        }
    }
}

pub(super) fn pinned_host_key(config: &ProviderConfig) -> Option<&str> {
    match config {
        ProviderConfig::Sftp(c) => c.host_key.as_deref(),
        _ => None,
    }
}

pub(super) fn server_error(e: ServerError) -> DestinationError {
    match e {
        ServerError::NotFound => DestinationError::Invalid(FieldErrors::single(
            "server_id",
            "That server is not one of this workspace's; choose one from the list.",
        )),
        ServerError::Credentials(reason) => DestinationError::Credentials(format!("the managed server's {reason}")),
        ServerError::Db(e) => DestinationError::Db(e),
        other => DestinationError::Credentials(other.to_string()),
    }
}
