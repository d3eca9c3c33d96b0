//! The rules of destinations: validation, sealing credentials, the default, host keys. Handlers
//! (HTML and JSON) call this; it calls the store and providers. Tests live in `super::testing`.

use super::audited::{self, TestedBy};
use super::domain::{DestinationConfig, DestinationKind, DestinationName, Status};
use super::fields::{FieldErrors, RawFields};
use super::store::{self, ConfigChange, DestinationRow};
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::crypto::CredentialCipher;
use crate::db::memo::Memo;
use crate::db::{Db, DbError, write_transaction};
use crate::grants::GrantService;
use crate::providers::compatibility::Compatibility;
use crate::providers::sftp::{self, SftpTarget};
use crate::providers::{self, Provider, ProviderContext, ProviderError};
use crate::servers::service::{self as servers, HostKeyOffer, ServerError};
use chrono::{NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

/// A destination as the rest of the app sees it: settings in the clear, credentials only as the
/// names of the secret fields that are stored.
#[derive(Debug, Clone)]
pub struct Destination {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub kind: DestinationKind,
    pub settings: RawFields,
    pub stored_secrets: Vec<&'static str>,
    /// The type as shown: the kind's label, or an S3-compatible service's own name.
    pub type_label: &'static str,
    pub location: String,
    pub status: Status,
    pub last_tested_at: Option<NaiveDateTime>,
    pub last_test_message: Option<String>,
    pub is_default: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// SFTP: the pinned host key fingerprint (the managed server's, when it uses one).
    pub host_key: Option<String>,
    /// SFTP: the name of the managed server it uses.
    pub server_name: Option<String>,
    /// What the last deep test's compatibility probe found (S3).
    pub compatibility: Option<Compatibility>,
}

/// What the admin submitted: a name, a type and the type's fields.
#[derive(Debug, Clone)]
pub struct DestinationInput {
    pub name: String,
    pub kind: String,
    pub fields: RawFields,
}

#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("Backup destination not found")]
    NotFound,
    #[error("the destination is invalid")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Db(DbError),
    #[error("stored credentials cannot be read: {0}")]
    Credentials(String),
    /// The destination's state does not allow the change (e.g. a disabled one as the default).
    #[error("{0}")]
    Conflict(String),
}

impl From<DbError> for DestinationError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => DestinationError::NotFound,
            other => DestinationError::Db(other),
        }
    }
}

pub use crate::db::page::Page;

pub use super::testing::{StepResult, StepState, TEST_ALL_CONCURRENCY, TestAllSummary, TestOutcome};

#[derive(Clone)]
pub struct DestinationService {
    pub(super) db: Db,
    cipher: Arc<CredentialCipher>,
    pub(super) providers: ProviderContext,
    /// What of this machine each workspace may use (local destinations).
    pub(super) grants: GrantService,
    /// This process's instance id: the owner of the tests it runs.
    pub(super) instance: Arc<str>,
    /// Pages of the list by (workspace, page, per page).
    pages: Arc<Memo<(String, i64, i64), Page<Destination>>>,
}

/// Pages of destination lists kept in memory (a page of 100 is about 100 KB).
const CACHED_PAGES: usize = 256;

/// Binds sealed credentials to their workspace and destination.
pub fn associated_data(workspace: &str, id: &str) -> String {
    format!("devpilot:destination:{workspace}:{id}")
}

impl DestinationService {
    pub fn new(
        db: Db,
        cipher: Arc<CredentialCipher>,
        providers: ProviderContext,
        grants: GrantService,
        instance: Arc<str>,
    ) -> DestinationService {
        DestinationService { db, cipher, providers, grants, instance, pages: Arc::new(Memo::new(CACHED_PAGES)) }
    }

    /// Puts back destinations left Testing by instances not among the `live` ones (they crashed
    /// mid-test); returns how many. (Not a [`Db::write`]: it runs with every heartbeat and
    /// usually changes nothing; what it does change the caches see from the database itself.)
    pub async fn reset_orphaned_tests(&self, live: Vec<String>) -> Result<usize, DbError> {
        self.db.run(move |c| store::reset_interrupted_tests(c, &live)).await
    }

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

    pub(super) async fn row(&self, workspace: &str, id: &str) -> Result<DestinationRow, DestinationError> {
        let (ws, id) = (workspace.to_owned(), id.to_owned());
        Ok(self.db.run(move |c| store::find(c, &ws, &id)).await?)
    }

    /// Validates, seals and stores a new destination, then tests it.
    pub async fn create(
        &self,
        workspace: &str,
        input: DestinationInput,
        by: &Actor,
    ) -> Result<(Destination, TestOutcome), DestinationError> {
        let (name, mut config_fields) = parse_input(&input, None)?;
        self.check_host_folder(workspace, &mut config_fields).await?;
        self.check_server(workspace, &config_fields.config).await?;
        self.check_addresses(&config_fields.config).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = Utc::now().naive_utc();
        let (settings, secrets, server_id) = config_fields.for_storage();
        let row = DestinationRow {
            credentials: self.cipher.seal(secrets.to_json().as_bytes(), &associated_data(workspace, &id)),
            id: id.clone(),
            workspace_id: workspace.to_owned(),
            name: name.as_str().to_owned(),
            kind: config_fields.kind.as_str().to_owned(),
            settings: settings.to_json(),
            status: Status::Testing.as_str().to_owned(),
            status_before_test: Some(Status::Failed.as_str().to_owned()),
            last_tested_at: None,
            last_test_message: None,
            is_default: false,
            created_at: now,
            updated_at: now,
            host_key_fingerprint: None,
            server_id,
            test_owner: Some(self.instance.to_string()),
            compatibility: None,
        };
        let given = audited::all_fields(&settings, &secrets, row.server_id.as_deref());
        let detail = audited::created(config_fields.config.type_label(), &given);
        let entry = Entry::new(by, workspace, Subject::destination(&id, name.as_str()), Action::Created, detail);
        self.db
            .write(move |c| audit::store::with_entry(c, &entry, |c| store::insert(c, row)))
            .await
            .map_err(duplicate_name(&name))?;
        let after_save = TestedBy::new(by, "After saving");
        let outcome = self.run_test(workspace, &id, Ok(config_fields.config), false, &after_save).await?;
        Ok((self.get(workspace, &id).await?, outcome))
    }

    /// Replaces name, type and config; secret fields left blank keep their stored values (when
    /// the type is unchanged). Then tests again.
    pub async fn update(
        &self,
        workspace: &str,
        id: &str,
        input: DestinationInput,
        by: &Actor,
    ) -> Result<(Destination, TestOutcome), DestinationError> {
        let row = self.row(workspace, id).await?;
        // Unreadable stored credentials are not kept: the edit must supply them again.
        let stored = self.stored_fields(&row).unwrap_or_default();
        let (name, mut parsed) = parse_input(&input, Some((kind_of(&row)?, &stored)))?;
        self.check_host_folder(workspace, &mut parsed).await?;
        self.check_server(workspace, &parsed.config).await?;
        self.check_addresses(&parsed.config).await?;
        let (settings, secrets, server_id) = parsed.for_storage();
        let after = audited::all_fields(&settings, &secrets, server_id.as_deref());
        let detail = audited::updated(row.name != name.as_str(), (&row.kind, parsed.kind.as_str()), &stored, &after);
        let entry = Entry::new(by, workspace, Subject::destination(id, name.as_str()), Action::Updated, detail);
        let change = ConfigChange {
            name: name.as_str().to_owned(),
            kind: parsed.kind.as_str().to_owned(),
            settings: settings.to_json(),
            credentials: self.cipher.seal(secrets.to_json().as_bytes(), &associated_data(workspace, id)),
            server_id,
            updated_at: Utc::now().naive_utc(),
        };
        let (ws, rid) = (workspace.to_owned(), id.to_owned());
        self.db
            .write(move |c| audit::store::with_entry(c, &entry, |c| store::update_config(c, &ws, &rid, change)))
            .await
            .map_err(duplicate_name(&name))?;
        let outcome = self.test_saved(workspace, id, false, &TestedBy::new(by, "After saving")).await?;
        Ok((self.get(workspace, id).await?, outcome))
    }

    /// Stores a refresh token from Google's consent flow in a Google Drive destination's sealed
    /// credentials, keeping every other setting and secret. The caller tests it afterwards.
    pub async fn store_oauth_tokens(
        &self,
        workspace: &str,
        id: &str,
        refresh_token: &SecretString,
        by: &Actor,
    ) -> Result<(), DestinationError> {
        let row = self.row(workspace, id).await?;
        let kind = kind_of(&row)?;
        if kind != DestinationKind::GoogleDrive {
            return Err(DestinationError::Invalid(FieldErrors::single(
                "type",
                "Only Google Drive takes OAuth tokens.",
            )));
        }
        let mut fields = self.stored_fields(&row)?;
        fields.set("refresh_token", refresh_token.expose_secret());
        let (settings, secrets) = fields.split(kind.fields());
        let detail = "Connected through Google's consent page: refresh_token stored.";
        let entry = Entry::new(by, workspace, Subject::destination(id, &row.name), Action::Updated, detail);
        let change = ConfigChange {
            name: row.name,
            kind: row.kind,
            settings: settings.to_json(),
            credentials: self.cipher.seal(secrets.to_json().as_bytes(), &associated_data(workspace, id)),
            server_id: None,
            updated_at: Utc::now().naive_utc(),
        };
        let (ws, rid) = (workspace.to_owned(), id.to_owned());
        Ok(self
            .db
            .write(move |c| audit::store::with_entry(c, &entry, |c| store::update_config(c, &ws, &rid, change)))
            .await?)
    }

    /// Makes a parsed config ready to connect: an SFTP destination that uses a managed server
    /// gets the server's login (read now, so a server edit applies at once), and the host key
    /// pinned for it.
    pub(super) async fn prepare(
        &self,
        workspace: &str,
        id: Option<&str>,
        mut config: DestinationConfig,
    ) -> Result<(DestinationConfig, HostKeyPin), DestinationError> {
        let DestinationConfig::Sftp(sftp) = &mut config else {
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

    /// A managed server chosen on the form must be one of this workspace's.
    async fn check_server(&self, workspace: &str, config: &DestinationConfig) -> Result<(), DestinationError> {
        let DestinationConfig::Sftp(sftp) = config else { return Ok(()) };
        let Some(server) = sftp.server_id().map(str::to_owned) else { return Ok(()) };
        let ws = workspace.to_owned();
        match self.db.run(move |c| crate::servers::store::find(c, &ws, &server)).await {
            Ok(_) => Ok(()),
            Err(e) => Err(server_error(e.into())),
        }
    }

    /// The endpoints and hosts typed must not lead where the outbound policy refuses to go; the
    /// refusal is shown next to the field. (Every connection checks again, after its own lookup.)
    pub(super) async fn check_addresses(&self, config: &DestinationConfig) -> Result<(), DestinationError> {
        let policy = self.providers.settings.outbound;
        let mut errors = FieldErrors::new();
        for (field, host) in config.typed_hosts() {
            if let Err(refused) = policy.check_host(&host).await {
                errors.add(field, refused.to_string());
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(DestinationError::Invalid(errors)) }
    }

    /// The pinned host key and the one an SFTP destination's server presents now.
    pub async fn host_key_offer(&self, workspace: &str, id: &str) -> Result<HostKeyOffer, DestinationError> {
        let row = self.row(workspace, id).await?;
        let (config, _) = self.prepare(workspace, Some(id), self.config_of(&row)?).await?;
        let DestinationConfig::Sftp(sftp) = &config else {
            return Err(DestinationError::Invalid(FieldErrors::single(
                "type",
                "Only SFTP destinations have a host key.",
            )));
        };
        let SftpTarget::Login(login) = &sftp.target else {
            return Err(DestinationError::Credentials("the managed server's login is missing".into()));
        };
        let presented = sftp::fetch_host_key(login, &self.providers.settings).await.map_err(|e| e.to_string());
        Ok(HostKeyOffer { pinned: sftp.host_key.clone(), presented })
    }

    /// "Accept new host key": pins the key the admin confirmed (on the managed server, if the
    /// destination uses one), if the server still presents it, then tests again.
    pub async fn accept_host_key(
        &self,
        workspace: &str,
        id: &str,
        fingerprint: &str,
        by: &Actor,
    ) -> Result<TestOutcome, DestinationError> {
        let offer = self.host_key_offer(workspace, id).await?;
        offer.confirm(fingerprint).map_err(|m| DestinationError::Invalid(FieldErrors::single("fingerprint", m)))?;
        let row = self.row(workspace, id).await?;
        let (_, pin) = self.prepare(workspace, Some(id), self.config_of(&row)?).await?;
        let detail = match pin {
            HostKeyPin::Server(_) => format!("Pinned {fingerprint} (on its managed server)."),
            _ => format!("Pinned {fingerprint}."),
        };
        let entry = Entry::new(by, workspace, Subject::destination(id, &row.name), Action::HostKeyAccepted, detail);
        let (ws, fp) = (workspace.to_owned(), fingerprint.to_owned());
        self.db.write(move |c| audit::store::with_entry(c, &entry, |c| pin.pin(c, &ws, &fp))).await?;
        self.test_saved(workspace, id, false, &TestedBy::new(by, "After accepting the host key")).await
    }

    pub async fn make_default(&self, workspace: &str, id: &str, by: &Actor) -> Result<(), DestinationError> {
        if Status::from_db(&self.row(workspace, id).await?.status) == Status::Disabled {
            return Err(DestinationError::Conflict(
                "A disabled destination cannot be the default; enable it first.".into(),
            ));
        }
        self.audited(workspace, id, by, Action::MadeDefault, |c, ws, id| {
            Ok((store::make_default(c, ws, id)?, Some(String::new())))
        })
        .await
    }

    pub async fn disable(&self, workspace: &str, id: &str, by: &Actor) -> Result<(), DestinationError> {
        let now = Utc::now().naive_utc();
        self.audited(workspace, id, by, Action::Disabled, move |c, ws, id| {
            Ok((store::set_disabled(c, ws, id, now)?, Some(String::new())))
        })
        .await
    }

    /// Re-enables a Disabled destination and tests it, so its status is earned, not assumed.
    pub async fn enable(&self, workspace: &str, id: &str, by: &Actor) -> Result<TestOutcome, DestinationError> {
        let (now, owner) = (Utc::now().naive_utc(), self.instance.to_string());
        self.audited(workspace, id, by, Action::Enabled, move |c, ws, id| {
            Ok((store::enable_for_test(c, ws, id, &owner, now)?, Some(String::new())))
        })
        .await?;
        let config = self.row(workspace, id).await.and_then(|row| self.config_of(&row));
        self.run_test(workspace, id, config, false, &TestedBy::new(by, "After enabling")).await
    }

    /// Deletes the destination and disables the plans that used it; returns their names.
    pub async fn delete(&self, workspace: &str, id: &str, by: &Actor) -> Result<Vec<String>, DestinationError> {
        self.audited(workspace, id, by, Action::Deleted, |c, ws, id| {
            let plans = store::delete(c, ws, id)?;
            let detail = disabled_plans(&plans);
            Ok((plans, Some(detail)))
        })
        .await
    }

    /// Deletes the destination only if no plan uses it, in one transaction; returns the names of
    /// the plans that use it (empty: it was deleted).
    pub async fn delete_if_unused(
        &self,
        workspace: &str,
        id: &str,
        by: &Actor,
    ) -> Result<Vec<String>, DestinationError> {
        self.audited(workspace, id, by, Action::Deleted, |c, ws, id| {
            let plans = store::delete_if_unused(c, ws, id)?;
            // Nothing was deleted while plans use it: nothing to record.
            let detail = plans.is_empty().then(String::new);
            Ok((plans, detail))
        })
        .await
    }

    /// Makes a change and records it in the audit log in one transaction; `change` returns its
    /// result and the entry's detail (None: it changed nothing, so no entry). The destination's
    /// name is read first, in the transaction.
    async fn audited<T, F>(
        &self,
        workspace: &str,
        id: &str,
        by: &Actor,
        action: Action,
        change: F,
    ) -> Result<T, DestinationError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &str, &str) -> diesel::QueryResult<(T, Option<String>)> + Send + 'static,
    {
        let (ws, rid, by) = (workspace.to_owned(), id.to_owned(), by.clone());
        Ok(self
            .db
            .write(move |c| {
                write_transaction(c, |c| {
                    let name = store::find(c, &ws, &rid)?.name;
                    let (done, detail) = change(c, &ws, &rid)?;
                    if let Some(detail) = detail {
                        let entry = Entry::new(&by, &ws, Subject::destination(&rid, &name), action, detail);
                        audit::store::record(c, &entry)?;
                    }
                    Ok(done)
                })
            })
            .await?)
    }

    /// Names of the plans that back up to the destination.
    pub async fn plans_using(&self, workspace: &str, id: &str) -> Result<Vec<String>, DestinationError> {
        let (ws, rid) = (workspace.to_owned(), id.to_owned());
        Ok(self.db.run(move |c| crate::plans::store::using_destination(c, &ws, &rid)).await?)
    }

    /// The full config of a saved destination, credentials decrypted, ready for a provider (a
    /// managed server's login filled in, the pinned host key set).
    pub async fn config(&self, workspace: &str, id: &str) -> Result<DestinationConfig, DestinationError> {
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
        Ok((destination, providers::build(&config, &self.context(workspace).await?)))
    }

    /// A row's config, with what its last deep test learned (which the provider uses).
    pub(super) fn config_of(&self, row: &DestinationRow) -> Result<DestinationConfig, DestinationError> {
        let config = DestinationConfig::parse(kind_of(row)?, &self.stored_fields(row)?).map_err(|errors| {
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

    fn to_destination(
        &self,
        row: DestinationRow,
        servers: &[crate::servers::store::ServerRow],
    ) -> Result<Destination, DestinationError> {
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
                DestinationConfig::parse(kind, &all).ok(),
            ),
            Err(_) => (Vec::new(), None),
        };
        let location = match (server, settings.get("directory")) {
            (Some(s), Some(dir)) => format!("sftp://{}@{}:{}{dir} (server “{}”)", s.username, s.host, s.port, s.name),
            _ => config.as_ref().map(DestinationConfig::location).unwrap_or_default(),
        };
        Ok(Destination {
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            kind,
            settings,
            stored_secrets,
            type_label: config.as_ref().map_or(kind.label(), DestinationConfig::type_label),
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

pub(super) fn pinned_host_key(config: &DestinationConfig) -> Option<&str> {
    match config {
        DestinationConfig::Sftp(c) => c.host_key.as_deref(),
        _ => None,
    }
}

fn disabled_plans(names: &[String]) -> String {
    if names.is_empty() { String::new() } else { format!("Plans disabled: {}.", names.join(", ")) }
}

fn server_error(e: ServerError) -> DestinationError {
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

pub(super) struct Parsed {
    kind: DestinationKind,
    pub(super) fields: RawFields,
    pub(super) config: DestinationConfig,
}

impl Parsed {
    /// (settings, secrets, managed server) to store. The server is a column of its own (so a
    /// server in use cannot be deleted), and a destination that uses one keeps no login.
    fn for_storage(&self) -> (RawFields, RawFields, Option<String>) {
        let mut fields = self.fields.clone();
        let server = match &self.config {
            DestinationConfig::Sftp(c) => c.server_id().map(str::to_owned),
            _ => None,
        };
        if server.is_some() {
            for name in sftp::LOGIN_FIELD_NAMES {
                fields.set(*name, "");
            }
        }
        fields.set("server_id", "");
        let (settings, secrets) = fields.split(self.kind.fields());
        (settings, secrets, server)
    }
}

/// Parses name, type and config together so every field error is reported at once. `stored`
/// fills blank secret fields on an edit of the same type.
fn parse_input(
    input: &DestinationInput,
    stored: Option<(DestinationKind, &RawFields)>,
) -> Result<(DestinationName, Parsed), DestinationError> {
    let mut errors = FieldErrors::new();
    let name = DestinationName::parse(&input.name).map_err(|m| errors.add("name", m)).ok();
    let parsed = parse_config(input, stored).map_err(|e| errors.merge(e)).ok();
    match (name, parsed) {
        (Some(name), Some(parsed)) if errors.is_empty() => Ok((name, parsed)),
        _ => Err(DestinationError::Invalid(errors)),
    }
}

pub(super) fn parse_config(
    input: &DestinationInput,
    stored: Option<(DestinationKind, &RawFields)>,
) -> Result<Parsed, FieldErrors> {
    let kind = DestinationKind::parse(input.kind.trim()).map_err(|m| FieldErrors::single("type", m))?;
    let mut fields = input.fields.clone();
    if let Some((_, stored)) = stored.filter(|(k, _)| *k == kind) {
        // A credential given replaces the one it stands instead of (an Azure SAS, the key).
        let given = &input.fields;
        let replaced = |name: &str| kind.fields().iter().any(|f| f.instead_of == Some(name) && given.contains(f.name));
        for spec in kind.fields().iter().filter(|f| f.secret && !replaced(f.name)) {
            if let Some(v) = stored.get(spec.name).filter(|_| !fields.contains(spec.name)) {
                fields.set(spec.name, v);
            }
        }
    }
    let config = DestinationConfig::parse(kind, &fields)?;
    config.check_now(chrono::Utc::now())?;
    // Stored as decided (a box not given took the service's default), so pages and the API
    // show the style in use.
    if let DestinationConfig::S3(c) = &config {
        fields.set("path_style", if c.path_style { "true" } else { "false" });
    }
    Ok(Parsed { kind, fields, config })
}

fn duplicate_name(name: &DestinationName) -> impl FnOnce(DbError) -> DestinationError + '_ {
    move |e| match e {
        DbError::Duplicate(_) => DestinationError::Invalid(FieldErrors::single(
            "name",
            format!("A destination named \"{}\" already exists in this workspace.", name.as_str()),
        )),
        other => other.into(),
    }
}

pub(super) fn kind_of(row: &DestinationRow) -> Result<DestinationKind, DestinationError> {
    DestinationKind::parse(&row.kind).map_err(DestinationError::Credentials)
}
