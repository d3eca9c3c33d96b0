//! The rules of protected databases: the form, the prerequisite check on save, the sealed
//! connection URL, deletion (the replication slot goes with it).

use super::domain::{DatabaseInput, NewDatabase, slot_name};
use super::store::{self, DatabaseChange, DatabaseRow};
use crate::artifacts::encryption::ArtifactKey;
use crate::artifacts::postgres::wal::binaries::PgBinaries;
use crate::artifacts::postgres::wal::clone::OsUser;
use crate::artifacts::postgres::wal::prereq::{self, Facts, Outcome, Step};
use crate::artifacts::postgres::{Checked, DatabaseAccess, DatabaseServer, PostgresUrl, Reachable};
use crate::artifacts::workspace_key;
use crate::audit::domain::describe_changes;
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::config::PitrSettings;
use crate::crypto::CredentialCipher;
use crate::db::{Db, DbError};
use crate::destinations::service::DestinationService;
use crate::fields::FieldErrors;
use crate::plans::schedule::Schedule;
use crate::providers::Provider;
use chrono::{NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, OnceLock};

/// A protected database as pages and the API show it (never its password).
#[derive(Debug, Clone)]
pub struct Database {
    pub row: DatabaseRow,
    /// The connection URL without its password.
    pub url: String,
    pub destination_name: Option<String>,
    pub schedule_preview: String,
    dbname: String,
}

impl Database {
    pub fn id(&self) -> &str {
        &self.row.id
    }

    pub fn name(&self) -> &str {
        &self.row.name
    }

    /// The name of the database on its server.
    pub fn dbname(&self) -> String {
        self.dbname.clone()
    }

    /// The form's values for an edit (the URL left blank: it is kept unless retyped).
    pub fn input(&self) -> DatabaseInput {
        DatabaseInput {
            name: self.row.name.clone(),
            url: String::new(),
            destination_id: self.row.destination_id.clone().unwrap_or_default(),
            base_schedule: self.row.base_schedule.clone(),
            window_days: self.row.window_days.to_string(),
            min_base_backups: self.row.min_base_backups.to_string(),
            encrypt: self.row.encrypt,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("Database not found")]
    NotFound,
    #[error("the database is invalid")]
    Invalid(FieldErrors),
    /// The source is missing what PITR needs; each step says what, in PostgreSQL's terms.
    #[error("the database does not meet what point-in-time recovery needs")]
    Prerequisites(Vec<Step>),
    /// Refused or failed for a reason the person can act on.
    #[error("{0}")]
    Refused(String),
    /// Well-formed but not what can be done (a file that is not a dump, a failed import).
    #[error("{0}")]
    Unprocessable(String),
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for DatabaseError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => DatabaseError::NotFound,
            other => DatabaseError::Db(other),
        }
    }
}

impl DatabaseError {
    /// Failed prerequisite steps as one message for the URL field (the API's error body).
    pub fn field_errors(&self) -> Option<FieldErrors> {
        match self {
            DatabaseError::Invalid(errors) => Some(errors.clone()),
            DatabaseError::Prerequisites(steps) => {
                let failed: Vec<String> = steps
                    .iter()
                    .filter(|s| s.outcome == Outcome::Fail)
                    .map(|s| format!("{}: {}", s.name, s.message))
                    .collect();
                Some(FieldErrors::single("url", failed.join(" ")))
            }
            _ => None,
        }
    }
}

/// A database's sealed connection URL is bound to its workspace and id.
pub fn url_associated_data(workspace: &str, id: &str) -> String {
    format!("devpilot:database-url:{workspace}:{id}")
}

#[derive(Clone)]
pub struct DatabaseService {
    pub(super) db: Db,
    pub(super) cipher: Arc<CredentialCipher>,
    pub(super) destinations: DestinationService,
    pub(super) settings: Arc<PitrSettings>,
    pub(super) data_dir: std::path::PathBuf,
    pub(super) instance: Arc<str>,
    /// How a clone's restore command reaches this server (`http://127.0.0.1:<port>`).
    pub(super) local_url: String,
    /// Imports of dumps follow the runs feature's rules.
    pub(super) runner: crate::runs::runner::Runner,
    /// PostgreSQL's binaries, found once (finding them may run `pg_config`).
    binaries: Arc<OnceLock<PgBinaries>>,
    /// The OS user clusters run as, looked up once (with `id`).
    cluster_user: Arc<OnceLock<OsUser>>,
}

impl DatabaseService {
    /// The data folder and this instance's id are the runner's (clones and spools live under
    /// that folder; leases name that instance).
    pub fn new(
        db: Db,
        cipher: Arc<CredentialCipher>,
        destinations: DestinationService,
        runner: crate::runs::runner::Runner,
        settings: PitrSettings,
        local_url: String,
    ) -> DatabaseService {
        DatabaseService {
            db,
            cipher,
            destinations,
            settings: Arc::new(settings),
            data_dir: runner.data_dir().to_path_buf(),
            instance: Arc::from(runner.instance()),
            local_url,
            runner,
            binaries: Arc::default(),
            cluster_user: Arc::default(),
        }
    }

    /// The database's base backups, newest first.
    pub async fn base_backups(
        &self,
        workspace: &str,
        id: &str,
    ) -> Result<Vec<super::archive_store::BaseBackupRow>, DatabaseError> {
        let database = self.get(workspace, id).await?;
        let did = database.row.id.clone();
        Ok(self.db.run(move |c| super::archive_store::base_backups(c, &did)).await?)
    }

    /// A clone's address on this host: the source's role and database (no password).
    pub async fn clone_url(&self, clone: &super::archive_store::CloneRow) -> String {
        let did = clone.database_id.clone();
        let source = self.db.run(move |c| store::find_any(c, &did)).await.ok();
        loopback_url(source.and_then(|row| self.source_url(&row)).as_ref(), clone)
    }

    /// A database's clones with their addresses (its URL opened once for all of them).
    pub async fn clones_with_urls(
        &self,
        workspace: &str,
        database: &Database,
    ) -> Result<Vec<(super::archive_store::CloneRow, String)>, DatabaseError> {
        let source = self.source_url(&database.row);
        let clones = self.clones(workspace, Some(database.id())).await?;
        Ok(clones
            .into_iter()
            .map(|clone| {
                let url = loopback_url(source.as_ref(), &clone);
                (clone, url)
            })
            .collect())
    }

    fn source_url(&self, row: &DatabaseRow) -> Option<PostgresUrl> {
        self.open_url(row).ok().and_then(|u| PostgresUrl::parse(u.expose_secret()).ok())
    }

    /// Found on first use and kept; not found is asked again next time (the package may be
    /// installed meanwhile).
    pub(super) fn binaries(&self) -> Result<PgBinaries, DatabaseError> {
        if let Some(found) = self.binaries.get() {
            return Ok(found.clone());
        }
        let found =
            PgBinaries::locate(self.settings.bin_dir.as_deref()).map_err(|e| DatabaseError::Refused(e.to_string()))?;
        Ok(self.binaries.get_or_init(|| found).clone())
    }

    /// The OS user clusters run as; an unknown one is looked up again next time.
    pub(super) fn os_user(&self) -> Result<OsUser, DatabaseError> {
        if let Some(user) = self.cluster_user.get() {
            return Ok(user.clone());
        }
        let user = OsUser::for_clusters(self.settings.clone_user.as_deref()).map_err(DatabaseError::Refused)?;
        Ok(self.cluster_user.get_or_init(|| user).clone())
    }

    /// The provider of the database's destination.
    pub(super) async fn provider_of(&self, row: &DatabaseRow) -> Result<Box<dyn Provider>, String> {
        let destination =
            row.destination_id.as_deref().ok_or("the database has no destination (it was deleted); choose one")?;
        let (_, provider) =
            self.destinations.provider(&row.workspace_id, destination).await.map_err(|e| e.to_string())?;
        provider.map_err(|e| e.to_string())
    }

    /// The workspace's artifact key when the database's archive is encrypted.
    pub(super) async fn artifact_key(&self, row: &DatabaseRow) -> Result<Option<ArtifactKey>, String> {
        if !row.encrypt {
            return Ok(None);
        }
        workspace_key::for_workspace(&self.db, &self.cipher, &row.workspace_id)
            .await
            .map(Some)
            .map_err(|e| format!("encryption is not possible: {e}"))
    }

    pub async fn list(&self, workspace: &str) -> Result<Vec<Database>, DatabaseError> {
        let ws = workspace.to_owned();
        let rows = self.db.run(move |c| store::list(c, &ws)).await?;
        Ok(rows.into_iter().map(|(row, dest)| self.view(row, dest)).collect())
    }

    pub async fn get(&self, workspace: &str, id: &str) -> Result<Database, DatabaseError> {
        let (ws, did) = (workspace.to_owned(), id.to_owned());
        let (row, destination) = self.db.run(move |c| store::find_with_destination(c, &ws, &did)).await?;
        Ok(self.view(row, destination))
    }

    fn view(&self, row: DatabaseRow, destination_name: Option<String>) -> Database {
        let url = self.open_url(&row).ok().and_then(|u| PostgresUrl::parse(u.expose_secret()).ok());
        let preview = Schedule::parse(&row.base_schedule).map_or_else(|e| format!("invalid: {e}"), |s| s.preview());
        Database {
            dbname: url.as_ref().map(|u| u.dbname.clone()).unwrap_or_default(),
            url: url.map_or_else(|| "(cannot be opened)".into(), |u| u.display_url()),
            destination_name,
            schedule_preview: preview,
            row,
        }
    }

    /// What a `pg_dump` plan of the database needs: its name and full connection URL.
    pub async fn dump_source(&self, workspace: &str, id: &str) -> Result<(String, SecretString), DatabaseError> {
        let database = self.get(workspace, id).await?;
        let url = self.open_url(&database.row).map_err(DatabaseError::Refused)?;
        Ok((database.row.name, url))
    }

    /// The full connection URL.
    pub(super) fn open_url(&self, row: &DatabaseRow) -> Result<SecretString, String> {
        let plain = self
            .cipher
            .open(&row.url_secret, &url_associated_data(&row.workspace_id, &row.id))
            .map_err(|e| format!("the connection URL cannot be opened ({e}); enter it again"))?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| "the connection URL is damaged".into())
    }

    /// The database's server, checked against the workspace's grants now.
    pub(super) async fn reachable(&self, row: &DatabaseRow) -> Result<Reachable, String> {
        let url = PostgresUrl::parse(self.open_url(row)?.expose_secret()).map_err(|e| e.to_string())?;
        let access = self.access(&row.workspace_id).await.map_err(|e| e.to_string())?;
        url.reach(&access).await.map_err(|e| e.to_string())
    }

    /// What the workspace's database URLs may reach: its granted servers, and the clones Devpilot
    /// runs for it on this host (a switch makes one the protected database).
    pub(super) async fn access(&self, workspace: &str) -> Result<DatabaseAccess, DbError> {
        let mut access = crate::grants::databases::access(&self.db, workspace).await?;
        let ws = workspace.to_owned();
        let clones = self.db.run(move |c| super::archive_store::clones(c, &ws, None)).await?;
        access.granted.extend(
            clones
                .into_iter()
                .filter(|c| c.status == super::clones::RUNNING || c.status == super::clones::STOPPED)
                .filter_map(|c| u16::try_from(c.port).ok())
                .map(|port| DatabaseServer::Tcp { host: "127.0.0.1".into(), port }),
        );
        Ok(access)
    }

    /// Connected and checked (not Devpilot's own database) for this use.
    pub(super) async fn checked(&self, row: &DatabaseRow) -> Result<Checked, String> {
        self.reachable(row).await?.check().await.map_err(|e| e.to_string())
    }

    /// The steps of the prerequisite check, for a form's "Check" button or a saved database.
    pub async fn check(
        &self,
        workspace: &str,
        input: &DatabaseInput,
        id: Option<&str>,
    ) -> Result<Vec<Step>, DatabaseError> {
        let (steps, _) = self.validate(workspace, input, id).await.map(|(_, steps, facts)| (steps, facts))?;
        Ok(steps)
    }

    /// Parses the form and runs every prerequisite step; a failed step refuses the save.
    async fn validate(
        &self,
        workspace: &str,
        input: &DatabaseInput,
        id: Option<&str>,
    ) -> Result<(NewDatabase, Vec<Step>, Facts), DatabaseError> {
        let mut input = input.clone();
        if let Some(id) = id
            && input.url.trim().is_empty()
        {
            let (ws, did) = (workspace.to_owned(), id.to_owned());
            let row = self.db.run(move |c| store::find(c, &ws, &did)).await?;
            let stored = self.open_url(&row).map_err(|m| DatabaseError::Invalid(FieldErrors::single("url", m)))?;
            input.url = stored.expose_secret().to_owned();
        }
        let parsed = NewDatabase::parse(&input).map_err(DatabaseError::Invalid)?;
        if let Some(chosen) = parsed.destination_id.clone() {
            let ws = workspace.to_owned();
            if !self.db.run(move |c| store::destination_exists(c, &ws, &chosen)).await? {
                return Err(DatabaseError::Invalid(FieldErrors::single(
                    "destination_id",
                    "That destination does not exist in this workspace.",
                )));
            }
        } else {
            return Err(DatabaseError::Invalid(FieldErrors::single(
                "destination_id",
                "Choose the destination the WAL archive and base backups go to.",
            )));
        }
        let access = self.access(workspace).await?;
        let reachable = parsed
            .url
            .reach(&access)
            .await
            .map_err(|e| DatabaseError::Invalid(FieldErrors::single("url", format!("{e}."))))?;
        let own = |m: String| DatabaseError::Invalid(FieldErrors::single("url", m));
        super::own_server::refuse_address(&access, &reachable).await.map_err(own)?;
        let slot = slot_name(id.unwrap_or("new"));
        let (steps, facts) = prereq::check(&self.binaries()?, &reachable, &slot).await;
        if let Some(facts) = &facts {
            super::own_server::refuse_identity(&self.db, &facts.system_identifier).await.map_err(own)?;
        }
        match facts {
            Some(facts) if steps.iter().all(|s| s.outcome != Outcome::Fail) => Ok((parsed, steps, facts)),
            _ => Err(DatabaseError::Prerequisites(steps)),
        }
    }

    pub async fn create(
        &self,
        workspace: &str,
        input: &DatabaseInput,
        by: &Actor,
    ) -> Result<(Database, Vec<Step>), DatabaseError> {
        let (parsed, steps, facts) = self.validate(workspace, input, None).await?;
        let now = Utc::now().naive_utc();
        let id = uuid::Uuid::now_v7().to_string();
        let change = self.change(workspace, &id, &parsed, &facts, now);
        let row = DatabaseRow {
            id: id.clone(),
            workspace_id: workspace.to_owned(),
            name: change.name,
            slug: change.slug,
            url_secret: change.url_secret,
            destination_id: change.destination_id,
            base_schedule: change.base_schedule,
            next_base_at: change.next_base_at,
            window_days: change.window_days,
            min_base_backups: change.min_base_backups,
            encrypt: input.encrypt,
            archiving: true,
            archive_prefix: format!("databases/{}/{id}", parsed.name.slug()),
            seg_size: change.seg_size,
            server_version: change.server_version,
            system_identifier: change.system_identifier,
            status: "starting".into(),
            status_message: None,
            receiver_instance: None,
            receiver_beat_at: None,
            last_received_at: None,
            received_lsn: None,
            lag_bytes: None,
            slot_wal_status: None,
            replaced_by: None,
            created_at: now,
            updated_at: now,
        };
        let detail = format!(
            "PostgreSQL {} with WAL archiving, {}.",
            version(facts.server_version_num),
            parsed.base_schedule.preview()
        );
        let entry = Entry::new(by, workspace, Subject::database(&id, parsed.name.as_str()), Action::Created, detail);
        let name = parsed.name.as_str().to_owned();
        self.db
            .run(move |c| audit::store::with_entry(c, &entry, |c| store::insert(c, &row)))
            .await
            .map_err(duplicate_name(&name))?;
        Ok((self.get(workspace, &id).await?, steps))
    }

    pub async fn update(
        &self,
        workspace: &str,
        id: &str,
        input: &DatabaseInput,
        by: &Actor,
    ) -> Result<(Database, Vec<Step>), DatabaseError> {
        let before = self.get(workspace, id).await?;
        let (parsed, steps, facts) = self.validate(workspace, input, Some(id)).await?;
        if facts.system_identifier != before.row.system_identifier {
            return Err(DatabaseError::Invalid(FieldErrors::single(
                "url",
                format!(
                    "That is another PostgreSQL cluster (system identifier {} instead of {}): its WAL cannot \
                     continue this archive. Add it as a new database.",
                    facts.system_identifier, before.row.system_identifier
                ),
            )));
        }
        let now = Utc::now().naive_utc();
        let mut change = self.change(workspace, id, &parsed, &facts, now);
        change.encrypt = input.encrypt;
        let url_changed =
            self.open_url(&before.row).map(|u| u.expose_secret() != parsed.url_secret.expose_secret()).unwrap_or(true);
        let fields = [
            ("name", before.row.name != change.name),
            ("url", url_changed),
            ("destination_id", before.row.destination_id != change.destination_id),
            ("base_schedule", before.row.base_schedule != change.base_schedule),
            ("window_days", before.row.window_days != change.window_days),
            ("min_base_backups", before.row.min_base_backups != change.min_base_backups),
            ("encrypt", before.row.encrypt != change.encrypt),
        ];
        let changed: Vec<String> = fields.iter().filter(|(_, d)| *d).map(|(n, _)| (*n).to_owned()).collect();
        let entry =
            Entry::new(by, workspace, Subject::database(id, &change.name), Action::Updated, describe_changes(&changed));
        let (ws, did, name) = (workspace.to_owned(), id.to_owned(), change.name.clone());
        self.db
            .run(move |c| audit::store::with_entry(c, &entry, |c| store::update(c, &ws, &did, change)))
            .await
            .map_err(duplicate_name(&name))?;
        Ok((self.get(workspace, id).await?, steps))
    }

    fn change(
        &self,
        workspace: &str,
        id: &str,
        parsed: &NewDatabase,
        facts: &Facts,
        now: NaiveDateTime,
    ) -> DatabaseChange {
        let sealed =
            self.cipher.seal(parsed.url_secret.expose_secret().as_bytes(), &url_associated_data(workspace, id));
        DatabaseChange {
            name: parsed.name.as_str().to_owned(),
            slug: parsed.name.slug(),
            url_secret: sealed,
            destination_id: parsed.destination_id.clone(),
            base_schedule: parsed.base_schedule.as_str().to_owned(),
            next_base_at: parsed.base_schedule.next_after(now),
            window_days: i64::from(parsed.window_days),
            min_base_backups: i64::from(parsed.min_base_backups),
            encrypt: false,
            seg_size: i64::try_from(facts.seg_size.bytes()).unwrap_or(i64::MAX),
            server_version: i32::try_from(facts.server_version_num).unwrap_or(i32::MAX),
            system_identifier: facts.system_identifier.clone(),
            updated_at: now,
        }
    }

    /// Pauses or resumes archiving (the lease holder stops or starts its receiver next tick).
    pub async fn set_archiving(
        &self,
        workspace: &str,
        id: &str,
        on: bool,
        by: &Actor,
    ) -> Result<Database, DatabaseError> {
        let database = self.get(workspace, id).await?;
        if on && database.row.replaced_by.is_some() {
            return Err(DatabaseError::Refused(
                "This database was replaced by a switch; its successor is the one archived now.".into(),
            ));
        }
        let action = if on { Action::Enabled } else { Action::Disabled };
        let entry = Entry::new(by, workspace, Subject::database(id, database.name()), action, "WAL archiving");
        let (ws, did) = (workspace.to_owned(), id.to_owned());
        let status = if on { "starting" } else { "stopped" };
        self.db
            .run(move |c| audit::store::with_entry(c, &entry, |c| store::set_archiving(c, &ws, &did, on, status)))
            .await?;
        self.get(workspace, id).await
    }

    /// Stops archiving, waits for the receiver to let go, drops the replication slot (so the
    /// source keeps no WAL for Devpilot), then removes the record. The archive in the
    /// destination is kept: it may still be restored by hand (see the README).
    pub async fn delete(&self, workspace: &str, id: &str, by: &Actor) -> Result<Option<String>, DatabaseError> {
        let database = self.get(workspace, id).await?;
        self.remove_clones_of(&database, by).await?;
        let (ws, did) = (workspace.to_owned(), id.to_owned());
        self.db.run(move |c| store::set_archiving(c, &ws, &did, false, "stopped")).await?;
        self.wait_for_receiver_to_stop(id).await;
        let slot_problem = match self.checked(&database.row).await {
            Ok(checked) => drop_slot_once_released(&checked, &slot_name(id)).await.err(),
            Err(e) => Some(e),
        };
        let detail = match &slot_problem {
            None => format!("Replication slot {} dropped.", slot_name(id)),
            Some(problem) => format!("Replication slot {} not dropped: {problem}", slot_name(id)),
        };
        let entry = Entry::new(by, workspace, Subject::database(id, database.name()), Action::Deleted, detail);
        let (ws, did) = (workspace.to_owned(), id.to_owned());
        self.db.run(move |c| audit::store::with_entry(c, &entry, |c| store::delete(c, &ws, &did))).await?;
        Ok(slot_problem)
    }

    /// The lease holder notices within a tick or two; give up after a while (the slot then
    /// stays active and the drop says so).
    async fn wait_for_receiver_to_stop(&self, id: &str) {
        let deadline = std::time::Instant::now() + self.settings.tick * 10 + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            let did = id.to_owned();
            let held = self.db.run(move |c| store::lease_holder(c, &did)).await;
            if !matches!(held, Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}

/// The address of a clone on this host, as the source's role and database would reach it.
fn loopback_url(source: Option<&PostgresUrl>, clone: &super::archive_store::CloneRow) -> String {
    let port = u16::try_from(clone.port).unwrap_or(0);
    match source {
        Some(url) => url.on_loopback(port).display_url(),
        None => format!("postgres://127.0.0.1:{port}/postgres"),
    }
}

/// Ends whatever still streams for the database (a receiver of another instance, or one a killed
/// process left), then drops the slot.
async fn drop_slot_once_released(checked: &Checked, slot: &str) -> Result<(), String> {
    use crate::artifacts::postgres::wal::receiver;
    receiver::end_receivers(checked, slot, std::time::Duration::from_secs(15)).await.map_err(|e| e.to_string())?;
    receiver::drop_slot(checked, slot).await.map_err(|e| e.to_string())
}

/// 150004 → "15.4".
pub fn version(num: u32) -> String {
    format!("{}.{}", num / 10_000, num % 10_000)
}

fn duplicate_name(name: &str) -> impl FnOnce(DbError) -> DatabaseError + '_ {
    move |e| match e {
        DbError::Duplicate(_) => DatabaseError::Invalid(FieldErrors::single(
            "name",
            format!("A database named \"{name}\" already exists in this workspace."),
        )),
        other => other.into(),
    }
}
