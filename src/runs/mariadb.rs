//! MariaDB and MySQL sources and restore targets of a workspace: each URL checked with the
//! workspace's grants before anything connects, and again right before each use. A restore goes
//! into a new database Devpilot creates, or into an existing one only when its name was typed to
//! confirm; a dump of every database of a server writes each back under its own name, only after
//! "all databases" was typed.

use super::databases::{DatabaseInto, removed_after};
use super::runner::Runner;
use crate::artifacts::mariadb::url::{SYSTEM_SCHEMAS, database_name};
use crate::artifacts::mariadb::{Checked, MariaDbError, MariaDbUrl, Reachable, tools};
use crate::artifacts::restore::{self, RestoreError};
use crate::artifacts::walk::Skipped;
use crate::artifacts::{ByteStream, SourceRead, compression, counted, then_at_end};
use crate::fields::FieldErrors;
use crate::grants::databases;
use crate::plans::service::open_source_secret;
use crate::plans::store::PlanRow;
use futures::FutureExt;
use futures::future::BoxFuture;
use secrecy::ExposeSecret;

/// What a restore of a whole server's dump is confirmed with.
pub const ALL_DATABASES: &str = "all databases";

/// A checked MariaDB restore target.
#[derive(Debug, Clone)]
pub struct MariaDbTarget {
    reachable: Reachable,
    pub into: DatabaseInto,
}

impl MariaDbTarget {
    /// The database restored into; None for a dump of every database.
    pub fn database(&self) -> Option<&str> {
        self.reachable.url.database.as_deref()
    }
}

impl Runner {
    /// The plan's MariaDB source, checked for this run.
    pub(super) async fn checked_mariadb(&self, plan: &PlanRow) -> Result<Checked, String> {
        let url = open_source_secret(self.cipher(), plan)?;
        let url = MariaDbUrl::parse(url.expose_secret()).map_err(|e| e.to_string())?;
        let reachable = self.mariadb_reachable(&plan.workspace_id, &url).await.map_err(|e| e.to_string())?;
        reachable.check_source().await.map_err(|e| e.to_string())
    }

    async fn mariadb_reachable(&self, workspace: &str, url: &MariaDbUrl) -> Result<Reachable, MariaDbError> {
        let access = databases::access(self.db(), workspace).await.map_err(|e| MariaDbError::Other(e.to_string()))?;
        url.reach(&access).await
    }

    /// The dump of the checked source, zstd-compressed; the note naming its non-transactional
    /// tables (filled before the stream ends); and about how many bytes the dump reads.
    pub(super) async fn mariadb_dump(
        &self,
        checked: Checked,
        read: SourceRead,
    ) -> Result<(ByteStream, Skipped, BoxFuture<'static, Result<u64, String>>), String> {
        let databases = checked.databases().await.map_err(|e| e.to_string())?;
        if databases.is_empty() {
            return Err("the server has no databases besides its own system schemas".into());
        }
        let dump = tools::dump(&checked, &databases).map_err(|e| e.to_string())?;
        // The size and the tables the warning names are asked while the dump streams (one client
        // process and a login: not a wait before the first byte); the stream ends once they are
        // known, and fails with the run if they cannot be.
        let tables = tokio::spawn(async move { checked.tables(&databases).await })
            .map(|joined| match joined {
                Ok(tables) => tables.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            })
            .shared();
        let size = tables.clone().map(|tables| tables.map(|t| t.size)).boxed();
        let notes = Skipped::default();
        let noted = std::sync::Arc::clone(&notes);
        let body = then_at_end(counted(dump, read), async move {
            let tables = match tables.await {
                Ok(tables) => tables,
                Err(e) => return Some(std::io::Error::other(e)),
            };
            if let (Some(warning), Ok(mut notes)) = (Checked::warning(&tables.non_transactional), noted.lock()) {
                notes.push(warning);
            }
            None
        });
        Ok((compression::compress(body), notes, size))
    }

    /// Checks the restore form's fields for a MariaDB dump: `target` (the URL; for a dump of
    /// every database, one without a database), `into` and `confirm`. `all`: the artifact holds
    /// every database of its server.
    pub async fn mariadb_target(
        &self,
        workspace: &str,
        target: &str,
        into: &str,
        confirm: &str,
        all: bool,
    ) -> Result<MariaDbTarget, FieldErrors> {
        let at_target =
            |m: String| FieldErrors::single("target", format!("The database cannot be restored into: {m}."));
        if target.trim().is_empty() {
            return Err(FieldErrors::single("target", "Enter the connection URL of the database to restore into."));
        }
        let url = MariaDbUrl::parse(target).map_err(|e| FieldErrors::single("target", format!("{e}.")))?;
        let into = match (into, all) {
            (_, true) => DatabaseInto::Existing,
            ("" | "new", _) => DatabaseInto::New,
            ("existing", _) => DatabaseInto::Existing,
            (other, _) => return Err(FieldErrors::single("into", format!("Unknown choice “{other}”."))),
        };
        match (&url.database, all) {
            (Some(_), true) => {
                return Err(at_target(
                    "this backup holds every database of its server, each restored under its own name: give the \
                     server's URL without a database"
                        .into(),
                ));
            }
            (None, false) => return Err(at_target("name the database to restore into in the URL".into())),
            (Some(name), false) if SYSTEM_SCHEMAS.contains(&name.to_ascii_lowercase().as_str()) => {
                return Err(at_target(format!("“{name}” is the server's own schema")));
            }
            _ => {}
        }
        let expected = url.database.clone().unwrap_or_else(|| ALL_DATABASES.into());
        if into == DatabaseInto::Existing && confirm.trim() != expected {
            let what = match all {
                true => {
                    "that every backed-up database is written back under its own name, its backed-up tables replaced"
                        .to_owned()
                }
                false => "that its backed-up tables are replaced".to_owned(),
            };
            return Err(FieldErrors::single("confirm", format!("Type “{expected}” to confirm {what}.")));
        }
        let reachable = self.mariadb_reachable(workspace, &url).await.map_err(|e| at_target(e.to_string()))?;
        // Logged in without a database: the new one does not exist yet.
        let server = Reachable { url: url.with_database(None), endpoint: reachable.endpoint.clone() };
        let checked = server.login().await.map_err(|e| at_target(e.to_string()))?;
        if let Some(name) = &url.database {
            match (checked.database_exists(name).await, into) {
                (Ok(false), DatabaseInto::New) | (Ok(true), DatabaseInto::Existing) => {}
                (Ok(true), DatabaseInto::New) => {
                    return Err(at_target(format!(
                        "a database named “{name}” already exists on that server: choose a new name, or replace the \
                         existing database (and type its name to confirm)"
                    )));
                }
                (Ok(false), DatabaseInto::Existing) => {
                    return Err(at_target(format!(
                        "database “{name}” does not exist; restore into a new database to have it created"
                    )));
                }
                (Err(e), _) => return Err(at_target(e.to_string())),
            }
        }
        Ok(MariaDbTarget { reachable, into })
    }

    /// Restores a MariaDB dump, the target checked once more right before it is written, then
    /// passes `gate` (see [`restore::through_tool`]). A new database that the restore could not
    /// fill, or whose artifact failed the gate, is removed again.
    pub(super) async fn restore_mariadb(
        &self,
        body: ByteStream,
        target: &MariaDbTarget,
        gate: restore::Gate,
    ) -> Result<(), RestoreError> {
        let server =
            Reachable { url: target.reachable.url.with_database(None), endpoint: target.reachable.endpoint.clone() };
        let checked = server.login().await?;
        let into = |name: Option<String>| {
            let checked = &checked;
            // Decompressed on the tool's side: bytes that do not decompress are the tool's failure,
            // which the checksum then explains (see `restore::through_tool`).
            move |body| async move { Ok(tools::restore(checked, name.as_deref(), compression::decompress(body)).await?) }
        };
        let Some(name) = target.database() else {
            return restore::through_tool(body, gate, into(None)).await;
        };
        let name = database_name(name).map_err(RestoreError::Target)?;
        if target.into == DatabaseInto::Existing {
            return restore::through_tool(body, gate, into(Some(name))).await;
        }
        checked.create_database(&name).await?;
        match restore::through_tool(body, gate, into(Some(name.clone()))).await {
            Err(e) => Err(removed_after(e, checked.drop_database(&name).await.is_ok())),
            Ok(()) => Ok(()),
        }
    }
}
