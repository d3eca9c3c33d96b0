//! PostgreSQL sources and restore targets of a workspace: each URL checked with the workspace's
//! grants before anything connects, and again right before each use (grants change, and a name
//! may resolve elsewhere by then). A restore goes into a new database Devpilot creates, or into an
//! existing one only when its name was typed to confirm.

use super::runner::Runner;
use crate::artifacts::ByteStream;
use crate::artifacts::postgres::{Checked, PostgresError, PostgresUrl, Reachable};
use crate::artifacts::restore::{self, RestoreError};
use crate::fields::FieldErrors;
use crate::grants::databases;
use crate::plans::service::open_source_secret;
use crate::plans::store::PlanRow;
use secrecy::ExposeSecret;

/// Into which database a PostgreSQL artifact is restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseInto {
    /// Created by Devpilot for the restore; a name that exists is refused.
    New,
    /// Its backed-up objects are replaced (`pg_restore --clean`).
    Existing,
}

/// A checked PostgreSQL restore target.
#[derive(Debug, Clone)]
pub struct DatabaseTarget {
    reachable: Reachable,
    pub into: DatabaseInto,
}

impl DatabaseTarget {
    pub fn dbname(&self) -> &str {
        &self.reachable.url.dbname
    }
}

impl Runner {
    /// The plan's database, checked for this run.
    pub(super) async fn checked_source(&self, plan: &PlanRow) -> Result<Checked, String> {
        let url = open_source_secret(self.cipher(), plan)?;
        let url = PostgresUrl::parse(url.expose_secret()).map_err(|e| e.to_string())?;
        self.reachable(&plan.workspace_id, &url).await?.check().await.map_err(|e| e.to_string())
    }

    async fn reachable(&self, workspace: &str, url: &PostgresUrl) -> Result<Reachable, String> {
        let access = databases::access(self.db(), workspace).await.map_err(|e| e.to_string())?;
        url.reach(&access).await.map_err(|e| e.to_string())
    }

    /// Checks the restore form's database fields: `target` (the URL), `into` (`new` or
    /// `existing`) and, for an existing database, `confirm` (its name, typed).
    pub async fn database_target(
        &self,
        workspace: &str,
        target: &str,
        into: &str,
        confirm: &str,
    ) -> Result<DatabaseTarget, FieldErrors> {
        let at_target =
            |m: String| FieldErrors::single("target", format!("The database cannot be restored into: {m}."));
        if target.trim().is_empty() {
            return Err(FieldErrors::single("target", "Enter the connection URL of the database to restore into."));
        }
        let url = PostgresUrl::parse(target)
            .map_err(|e| FieldErrors::single("target", format!("The connection URL is not usable: {e}.")))?;
        let into = match into {
            "" | "new" => DatabaseInto::New,
            "existing" => DatabaseInto::Existing,
            other => return Err(FieldErrors::single("into", format!("Unknown choice “{other}”."))),
        };
        if into == DatabaseInto::Existing && confirm.trim() != url.dbname {
            return Err(FieldErrors::single(
                "confirm",
                format!(
                    "Type the database's name, “{}”, to confirm that its backed-up tables are replaced.",
                    url.dbname
                ),
            ));
        }
        let reachable = self.reachable(workspace, &url).await.map_err(at_target)?;
        match into {
            DatabaseInto::New => match reachable.database_exists().await {
                Ok(false) => {}
                Ok(true) => {
                    return Err(at_target(format!(
                        "a database named “{}” already exists on that server: choose a new name, or replace the \
                         existing database (and type its name to confirm)",
                        url.dbname
                    )));
                }
                Err(e) => return Err(at_target(e.to_string())),
            },
            DatabaseInto::Existing => match reachable.check().await {
                Ok(_) => {}
                Err(PostgresError::NoDatabase(name)) => {
                    return Err(at_target(format!(
                        "database “{name}” does not exist; restore into a new database to have it created"
                    )));
                }
                Err(e) => return Err(at_target(e.to_string())),
            },
        }
        Ok(DatabaseTarget { reachable, into })
    }

    /// Restores into the target, checked once more right before it is written, then passes
    /// `gate` (see [`restore::through_tool`]). A new database that the restore could not fill, or
    /// whose artifact failed the gate, is removed again.
    pub(super) async fn restore_database(
        &self,
        body: ByteStream,
        target: &DatabaseTarget,
        gate: restore::Gate,
    ) -> Result<(), RestoreError> {
        target.fill(|checked, replace| async move { restore::into_postgres(body, &checked, replace, gate).await }).await
    }
}

impl DatabaseTarget {
    /// Checks the target once more right before `write` writes it (`replace`: an existing
    /// database whose objects are replaced). A new database is created first, and removed again
    /// when `write` fails.
    pub(super) async fn fill<F, Written>(&self, write: F) -> Result<(), RestoreError>
    where
        F: FnOnce(Checked, bool) -> Written,
        Written: std::future::Future<Output = Result<(), RestoreError>>,
    {
        match self.into {
            DatabaseInto::Existing => {
                let checked = self.reachable.check().await?;
                write(checked, true).await
            }
            DatabaseInto::New => {
                let checked = self.reachable.create_database().await?;
                match write(checked, false).await {
                    Err(e) => Err(removed_after(e, self.reachable.drop_database().await.is_ok())),
                    Ok(()) => Ok(()),
                }
            }
        }
    }
}

/// A failed restore's error once the new database it wrote was dropped again (`removed`), or not.
/// Damaged bytes (a read that broke off, a checksum that did not match) stay what they are, so that
/// the restore can go on to another copy of the artifact.
pub(super) fn removed_after(e: RestoreError, removed: bool) -> RestoreError {
    let note = if removed { "the new database was removed" } else { "the new database remains" };
    match e {
        RestoreError::ChecksumMismatch { .. } if removed => e,
        RestoreError::Read(read) if removed => {
            RestoreError::Read(std::io::Error::new(read.kind(), format!("{read} ({note})")))
        }
        e => RestoreError::Target(format!("{e} ({note})")),
    }
}
