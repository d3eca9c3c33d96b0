//! Point-in-time restore of the database itself, as far as a remote server allows: Devpilot
//! cannot rewind another host's cluster, so it clones the archive at the target second on its
//! own host, then copies that database back into the source with `pg_dump` and
//! `pg_restore --clean --if-exists` (objects of the backup are dropped and recreated; objects
//! created after the target that the backup does not know stay), and removes the clone. The
//! database's name must be typed to confirm.

use super::archive_store::{self as archive, CloneRow};
use super::clones::{AfterRestore, Aim, COPYING};
use super::service::{DatabaseError, DatabaseService};
use super::store::DatabaseRow;
use super::window::at;
use crate::artifacts::postgres::wal::clone::{self as cluster, OsUser};
use crate::artifacts::postgres::{DatabaseAccess, DatabaseServer, PostgresUrl, tools};
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::fields::FieldErrors;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

impl DatabaseService {
    /// Starts an in-place restore to `target`; the clone row follows it (`restoring`, `copying`,
    /// then `copied`, or `failed` with the reason).
    pub async fn pitr_in_place(
        &self,
        workspace: &str,
        id: &str,
        target: DateTime<Utc>,
        confirm: &str,
        by: &Actor,
    ) -> Result<CloneRow, DatabaseError> {
        let database = self.get(workspace, id).await?;
        let url = PostgresUrl::parse(self.open_url(&database.row).map_err(DatabaseError::Refused)?.expose_secret())
            .map_err(|e| DatabaseError::Refused(e.to_string()))?;
        if confirm.trim() != url.dbname {
            return Err(DatabaseError::Invalid(FieldErrors::single(
                "confirm",
                format!(
                    "Type the database's name, “{}”, to confirm that its objects are replaced by their state at {}.",
                    url.dbname,
                    at(&target)
                ),
            )));
        }
        let name = format!("{} at {}", database.name(), target.format("%Y-%m-%d %H:%M:%S"));
        let name: String = name.chars().take(100).collect();
        let clone = self.start_clone(workspace, id, Aim::Time(target), &name, by, AfterRestore::CopyBack).await?;
        let detail = format!("In place to {} (through clone {}).", at(&target), clone.name);
        let entry = Entry::new(by, workspace, Subject::database(id, database.name()), Action::Restored, detail);
        self.db.run(move |c| audit::store::record(c, &entry)).await?;
        Ok(clone)
    }

    /// Copies the clone's database back into the source, then removes the clone's cluster.
    pub(super) async fn copy_back(&self, source: &DatabaseRow, clone: &CloneRow, owner: &OsUser) -> Result<(), String> {
        let id = clone.id.clone();
        let timeline = clone.timeline;
        self.db
            .run(move |c| archive::set_clone_state(c, &id, COPYING, None, timeline))
            .await
            .map_err(|e| e.to_string())?;
        let url = PostgresUrl::parse(self.open_url(source)?.expose_secret()).map_err(|e| e.to_string())?;
        let port = u16::try_from(clone.port).map_err(|e| e.to_string())?;
        let local = DatabaseAccess { granted: vec![DatabaseServer::Tcp { host: "127.0.0.1".into(), port }], own: None };
        let from = url.on_loopback(port).reach(&local).await.map_err(|e| e.to_string())?;
        let from = from.check().await.map_err(|e| format!("the clone: {e}"))?;
        let into = self.checked(source).await.map_err(|e| format!("the source: {e}"))?;
        let copied = match tools::dump(&from) {
            Ok(body) => tools::restore(&into, body, true).await.map_err(|e| format!("copying back: {e}")),
            Err(e) => Err(format!("reading the clone: {e}")),
        };
        let folder = self.clone_dir(&clone.id);
        let _ = cluster::stop(&self.binaries().map_err(|e| e.to_string())?, &folder.join("data"), owner).await;
        let _ = tokio::fs::remove_dir_all(&folder).await;
        copied
    }
}
