//! Clones: a PostgreSQL cluster Devpilot starts on its own host from the newest base backup that
//! stopped before a target time, replaying the archive to that second. The cluster's
//! `restore_command` is `devpilot wal-fetch`, which asks this server for one file with a token
//! that only this clone has, only while it restores ([`super::fetch`]).

use super::archive_store::{self as archive, CloneRow};
use super::service::{DatabaseError, DatabaseService};
use super::store::DatabaseRow;
use super::window::at;
use crate::artifacts::postgres::PostgresUrl;
use crate::artifacts::postgres::wal::clone::{self as cluster, OsUser, RecoverySettings, Target};
use crate::artifacts::postgres::wal::continuity;
use crate::artifacts::restore;
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::fields::FieldErrors;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use std::path::PathBuf;

pub const RESTORING: &str = "restoring";
pub const RUNNING: &str = "running";
pub const STOPPED: &str = "stopped";
pub const FAILED: &str = "failed";
/// An in-place restore's clone: its data is being copied back into the source…
pub const COPYING: &str = "copying";
/// …and was; the cluster is gone.
pub const COPIED: &str = "copied";

/// Where a clone's recovery stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Aim {
    Time(DateTime<Utc>),
    /// One base backup, as it was when it stopped.
    Backup(String),
    /// The end of the archive.
    End,
}

/// What happens to a clone once it has been restored and promoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRestore {
    /// It runs, listed with the database's clones.
    Keep,
    /// Its database is copied back into the source and the cluster removed (in-place PITR).
    CopyBack,
}

/// Held while a clone's port is chosen and recorded.
static PORT_CHOICE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a clone may take to replay its WAL and promote.
const PROMOTE_WITHIN: std::time::Duration = std::time::Duration::from_secs(3600);

impl DatabaseService {
    pub(super) fn clone_dir(&self, clone_id: &str) -> PathBuf {
        self.settings.clone_dir.join(clone_id)
    }

    /// Starts a clone of the database at `target` (None: the end of the archive) named
    /// `new_name`; the window is checked first, so a target outside it is refused at once.
    pub async fn pitr_clone(
        &self,
        workspace: &str,
        id: &str,
        target: Option<DateTime<Utc>>,
        new_name: &str,
        by: &Actor,
    ) -> Result<CloneRow, DatabaseError> {
        let aim = target.map_or(Aim::End, Aim::Time);
        self.start_clone(workspace, id, aim, new_name, by, AfterRestore::Keep).await
    }

    /// Starts a clone of one base backup as it was when it stopped.
    pub async fn restore_base_backup(
        &self,
        workspace: &str,
        id: &str,
        backup_id: &str,
        new_name: &str,
        by: &Actor,
    ) -> Result<CloneRow, DatabaseError> {
        let aim = Aim::Backup(backup_id.to_owned());
        self.start_clone(workspace, id, aim, new_name, by, AfterRestore::Keep).await
    }

    /// Starts the clone's restore in the background; `after` says what happens once it runs.
    pub(super) async fn start_clone(
        &self,
        workspace: &str,
        id: &str,
        aim: Aim,
        new_name: &str,
        by: &Actor,
        after: AfterRestore,
    ) -> Result<CloneRow, DatabaseError> {
        let database = self.get(workspace, id).await?;
        let name = crate::plans::domain::PlanName::parse(new_name)
            .map_err(|m| DatabaseError::Invalid(FieldErrors::single("new_name", m)))?;
        let archive = self.archive(&database.row).await?;
        let plan = match &aim {
            Aim::Time(target) => continuity::plan_restore(&archive.inputs, *target)
                .map_err(|e| DatabaseError::Invalid(FieldErrors::single("target_time", format!("{e}."))))?,
            Aim::Backup(backup) => {
                let report = continuity::check(&archive.inputs);
                let usable = report.ranges.iter().any(|r| &r.base_id == backup)
                    || archive.inputs.bases.iter().any(|b| &b.id == backup)
                        && !report.unusable.iter().any(|u| &u.base_id == backup);
                if !usable {
                    return Err(DatabaseError::Invalid(FieldErrors::single(
                        "backup_id",
                        "No usable base backup of this database has that id (it must have succeeded, and the WAL up \
                         to its end be archived).",
                    )));
                }
                continuity::RestorePlan { base_id: backup.clone(), timeline: report.newest_timeline }
            }
            Aim::End => {
                let report = continuity::check(&archive.inputs);
                let latest = report.latest.ok_or_else(|| {
                    DatabaseError::Invalid(FieldErrors::single(
                        "target_time",
                        "The archive has no recovery window yet: take a base backup first.",
                    ))
                })?;
                continuity::plan_restore(&archive.inputs, latest)
                    .map_err(|e| DatabaseError::Invalid(FieldErrors::single("target_time", format!("{e}."))))?
            }
        };
        let bases = {
            let id = id.to_owned();
            self.db.run(move |c| archive::base_backups(c, &id)).await?
        };
        let base = bases.into_iter().find(|b| b.id == plan.base_id).ok_or(DatabaseError::NotFound)?;
        let (target, when) = match &aim {
            Aim::Time(t) => (Target::Time(*t), *t),
            Aim::Backup(_) => (Target::Immediate, base.stopped_at.map_or_else(Utc::now, |t| t.and_utc())),
            Aim::End => (Target::End, Utc::now()),
        };
        let owner = self.os_user()?;
        let token = crate::crypto::random_token();
        let mut tries = 0;
        let row = loop {
            // One request of this process at a time picks a port and records it; another instance
            // on this host may record the same port at the same moment: the unique index refuses
            // the second, which picks again.
            let choosing = PORT_CHOICE.lock().await;
            let port = self.free_port().await?;
            let row = CloneRow {
                id: uuid::Uuid::now_v7().to_string(),
                workspace_id: workspace.to_owned(),
                database_id: id.to_owned(),
                name: name.as_str().to_owned(),
                port: i32::from(port),
                target_time: (target != Target::End).then(|| when.naive_utc()),
                timeline: None,
                status: RESTORING.into(),
                error: None,
                instance_id: Some(self.instance.to_string()),
                fetch_token_hash: Some(crate::crypto::sha256_hex(&token)),
                created_at: Utc::now().naive_utc(),
            };
            let detail = format!("From base backup {} to {}, on port {port}.", base.id, at(&when));
            let entry = Entry::new(by, workspace, Subject::clone_of(&row.id, name.as_str()), Action::Created, detail);
            let inserted = row.clone();
            let recorded = self
                .db
                .run(move |c| audit::store::with_entry(c, &entry, |c| archive::insert_clone(c, &inserted)))
                .await;
            drop(choosing);
            match recorded {
                Ok(()) => break row,
                Err(crate::db::DbError::Duplicate(index)) if index.contains("port") && tries < 5 => tries += 1,
                Err(crate::db::DbError::Duplicate(index)) if index.contains("port") => {
                    return Err(DatabaseError::Refused(format!(
                        "Other Devpilot instances took port {port} and the next ones for clones at the same moment; \
                         ask again."
                    )));
                }
                Err(crate::db::DbError::Duplicate(_)) => {
                    return Err(DatabaseError::Invalid(FieldErrors::single(
                        "new_name",
                        format!("A clone named \"{}\" already exists in this workspace.", name.as_str()),
                    )));
                }
                Err(other) => return Err(other.into()),
            }
        };
        let (service, clone, source) = (self.clone(), row.clone(), database.row.clone());
        tokio::spawn(async move {
            let outcome = service.restore_clone(&source, &clone, &base, target, &token, &owner).await;
            let outcome = match (outcome, after) {
                (Ok(timeline), AfterRestore::CopyBack) => {
                    service.copy_back(&source, &clone, &owner).await.map(|()| (COPIED, timeline))
                }
                (outcome, _) => outcome.map(|timeline| (RUNNING, timeline)),
            };
            let (status, error, timeline) = match outcome {
                Ok((status, timeline)) => (status, None, i32::try_from(timeline).ok()),
                Err(e) => {
                    // Without the binaries no cluster was started, so there is none to stop.
                    if let Ok(bins) = service.binaries() {
                        let _ = cluster::stop(&bins, &service.clone_dir(&clone.id).join("data"), &owner).await;
                    }
                    (FAILED, Some(e), None)
                }
            };
            let id = clone.id.clone();
            let recorded = service
                .db
                .run(move |c| {
                    archive::set_clone_state(c, &id, status, error.as_deref(), timeline)?;
                    archive::revoke_fetch_token(c, &id)
                })
                .await;
            if let Err(e) = recorded {
                tracing::error!(clone = %clone.id, error = %e, "recording a clone's state failed");
            }
        });
        Ok(row)
    }

    /// Fetches and checks the base backup, unpacks it, points recovery at the archive and the
    /// target, starts the cluster and waits for it to promote; the timeline it ended on.
    async fn restore_clone(
        &self,
        source: &DatabaseRow,
        clone: &CloneRow,
        base: &archive::BaseBackupRow,
        target: Target,
        token: &str,
        owner: &OsUser,
    ) -> Result<u32, String> {
        let bins = self.binaries().map_err(|e| e.to_string())?;
        let folder = self.clone_dir(&clone.id);
        let data = folder.join("data");
        create_private_folder(&folder, owner)
            .map_err(|e| format!("making the clone's folder {}: {e}", folder.display()))?;
        let key = base.object_key.clone().ok_or("the base backup has no object")?;
        let sha256 = base.sha256.clone().ok_or("the base backup has no recorded checksum")?;
        let provider = self.provider_of(source).await?;
        // Downloaded once into the clone's folder, checked against its SHA-256 before it is read.
        let staged = folder.join("base.download");
        let file = std::fs::File::create(&staged).map_err(|e| e.to_string())?;
        let body = provider.get(&key).await.map_err(|e| format!("reading the base backup: {e}"))?;
        restore::download_verified(body, file, &sha256).await.map_err(|e| format!("the base backup: {e}"))?;
        let file = tokio::fs::File::open(&staged).await.map_err(|e| e.to_string())?;
        let body: crate::artifacts::ByteStream =
            futures::StreamExt::boxed(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024));
        let body = self.opened(source, body, key.ends_with(".dpbe")).await?;
        cluster::extract(&data, body, owner).await.map_err(|e| format!("unpacking the base backup: {e}"))?;
        let _ = tokio::fs::remove_file(&staged).await;
        let token_file = folder.join("fetch-token");
        write_owned(&token_file, token.as_bytes(), owner).map_err(|e| format!("the fetch token: {e}"))?;
        let restore_command = format!(
            "'{}' wal-fetch --server '{}' --clone '{}' --token-file '{}' '%f' '%p'",
            self.fetch_program()?.display(),
            self.local_url,
            clone.id,
            token_file.display()
        );
        let port = u16::try_from(clone.port).map_err(|e| e.to_string())?;
        let url = PostgresUrl::parse(self.open_url(source)?.expose_secret()).map_err(|e| e.to_string())?;
        let url = url.on_loopback(port);
        let settings = RecoverySettings { restore_command, target, port };
        let recovered = recover(&bins, &data, owner, &settings, &url).await;
        let timeline = match recovered {
            // No commit after the target is archived (an idle database): the end of the archive is
            // the state at the target, so recovery runs again without one.
            Err(e) if matches!(target, Target::Time(_)) && e.contains(cluster::TARGET_NOT_REACHED) => {
                recover(&bins, &data, owner, &RecoverySettings { target: Target::End, ..settings }, &url).await?
            }
            other => other?,
        };
        let _ = std::fs::remove_file(&token_file);
        Ok(timeline)
    }

    /// The program of the restore command: the configured one, or this executable.
    fn fetch_program(&self) -> Result<PathBuf, String> {
        match &self.settings.fetch_program {
            Some(program) => Ok(program.clone()),
            None => std::env::current_exe().map_err(|e| format!("this program's path is not known: {e}")),
        }
    }

    /// A loopback port of the configured range that no clone holds and nothing listens on.
    async fn free_port(&self) -> Result<u16, DatabaseError> {
        let used = self.db.run(archive::used_ports).await?;
        for port in self.settings.clone_ports.clone() {
            if used.contains(&i32::from(port)) {
                continue;
            }
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
        Err(DatabaseError::Refused(format!(
            "Every clone port ({}–{}) is taken: delete a clone, or widen DEVPILOT_CLONE_PORTS.",
            self.settings.clone_ports.start(),
            self.settings.clone_ports.end()
        )))
    }

    pub async fn clones(&self, workspace: &str, database: Option<&str>) -> Result<Vec<CloneRow>, DatabaseError> {
        let (ws, db) = (workspace.to_owned(), database.map(str::to_owned));
        Ok(self.db.run(move |c| archive::clones(c, &ws, db.as_deref())).await?)
    }

    /// Stops or starts a clone's cluster (on the instance that made it).
    pub async fn set_clone_running(
        &self,
        workspace: &str,
        id: &str,
        run: bool,
        by: &Actor,
    ) -> Result<CloneRow, DatabaseError> {
        let clone = self.own_clone(workspace, id).await?;
        if clone.status != RUNNING && clone.status != STOPPED {
            return Err(DatabaseError::Refused(format!("The clone is {}; it can only be deleted now.", clone.status)));
        }
        let (bins, owner) = (self.binaries()?, self.os_user()?);
        let data = self.clone_dir(id).join("data");
        let done =
            if run { cluster::start(&bins, &data, &owner).await } else { cluster::stop(&bins, &data, &owner).await };
        done.map_err(|e| {
            DatabaseError::Refused(format!("The clone could not be {}: {e}", if run { "started" } else { "stopped" }))
        })?;
        let status = if run { RUNNING } else { STOPPED };
        let action = if run { Action::Started } else { Action::Stopped };
        let entry = Entry::new(by, workspace, Subject::clone_of(id, &clone.name), action, "");
        let (cid, timeline) = (id.to_owned(), clone.timeline);
        self.db
            .run(move |c| {
                audit::store::with_entry(c, &entry, |c| archive::set_clone_state(c, &cid, status, None, timeline))
            })
            .await?;
        self.own_clone(workspace, id).await
    }

    /// Stops the cluster and removes its folder and record.
    pub async fn delete_clone(&self, workspace: &str, id: &str, by: &Actor) -> Result<(), DatabaseError> {
        let clone = self.own_clone(workspace, id).await?;
        if clone.status == RESTORING || clone.status == COPYING {
            return Err(DatabaseError::Refused(format!(
                "The clone is still {}; delete it once it has finished.",
                clone.status
            )));
        }
        let (bins, owner) = (self.binaries()?, self.os_user()?);
        let folder = self.clone_dir(id);
        let _ = cluster::stop(&bins, &folder.join("data"), &owner).await;
        if let Err(e) = tokio::fs::remove_dir_all(&folder).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(DatabaseError::Refused(format!("The clone's folder could not be removed: {e}")));
        }
        let entry = Entry::new(by, workspace, Subject::clone_of(id, &clone.name), Action::Deleted, "");
        let cid = id.to_owned();
        self.db.run(move |c| audit::store::with_entry(c, &entry, |c| archive::delete_clone(c, &cid))).await?;
        Ok(())
    }

    /// Before a database is deleted: its clones are stopped and removed — unless one of them is
    /// the database's own server (after a switch), which is refused: deleting a record never
    /// stops the database it protects.
    pub(super) async fn remove_clones_of(
        &self,
        database: &super::service::Database,
        by: &Actor,
    ) -> Result<(), DatabaseError> {
        let url = self.open_url(&database.row).ok().and_then(|u| PostgresUrl::parse(u.expose_secret()).ok());
        let clones = self.clones(&database.row.workspace_id, Some(database.id())).await?;
        if let Some(source) = clones
            .iter()
            .find(|c| url.as_ref().is_some_and(|u| u.grantable_server() == format!("127.0.0.1:{}", c.port)))
        {
            return Err(DatabaseError::Refused(format!(
                "This database runs on Devpilot's host as the clone “{}”: delete that clone first (it stops the \
                 database), then this record.",
                source.name
            )));
        }
        if let Some(busy) = clones.iter().find(|c| c.status == RESTORING || c.status == COPYING) {
            return Err(DatabaseError::Refused(format!(
                "The clone “{}” is still {}; delete the database once it has finished.",
                busy.name, busy.status
            )));
        }
        for clone in clones {
            self.delete_clone(&database.row.workspace_id, &clone.id, by).await?;
        }
        Ok(())
    }

    /// A clone of the workspace that runs on this instance's host.
    async fn own_clone(&self, workspace: &str, id: &str) -> Result<CloneRow, DatabaseError> {
        let (ws, cid) = (workspace.to_owned(), id.to_owned());
        let clone = self.db.run(move |c| archive::find_clone(c, &ws, &cid)).await?;
        if clone.instance_id.as_deref() != Some(&self.instance) && !self.clone_dir(id).exists() {
            return Err(DatabaseError::Refused(
                "This clone runs on another Devpilot instance's host; manage it from there.".into(),
            ));
        }
        Ok(clone)
    }
}

/// Writes the recovery settings, starts the cluster and waits for it to promote.
async fn recover(
    bins: &crate::artifacts::postgres::wal::binaries::PgBinaries,
    data: &std::path::Path,
    owner: &OsUser,
    settings: &RecoverySettings,
    url: &PostgresUrl,
) -> Result<u32, String> {
    cluster::configure_recovery(data, settings, owner).map_err(|e| format!("configuring recovery: {e}"))?;
    cluster::start(bins, data, owner).await.map_err(|e| format!("starting the clone: {e}"))?;
    cluster::wait_promoted(data, url, PROMOTE_WITHIN).await
}

/// The clone's folder: Devpilot's, entered by the cluster's user.
fn create_private_folder(folder: &std::path::Path, owner: &OsUser) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if let Some(parent) = folder.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o711).create(parent)?;
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711))?;
    }
    std::fs::DirBuilder::new().mode(0o700).create(folder)?;
    std::os::unix::fs::chown(folder, Some(owner.uid), Some(owner.gid))
}

/// A file only the cluster's user reads.
fn write_owned(path: &std::path::Path, bytes: &[u8], owner: &OsUser) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid))
}
