//! Switching to a clone: the clone (a running cluster on Devpilot's host, restored from this
//! database's archive) becomes the protected database. Its WAL is archived under a prefix of its
//! own (it is on a new timeline; the old archive is never mixed with it), a base backup starts at
//! once so its recovery window begins, and the old record stops archiving and stays, renamed,
//! until it is deleted.

use super::clones::RUNNING;
use super::service::{Database, DatabaseError, DatabaseService};
use super::store::{self, DatabaseRow};
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::db::write_transaction;
use crate::fields::FieldErrors;
use chrono::Utc;
use secrecy::ExposeSecret;

impl DatabaseService {
    pub async fn switch(
        &self,
        workspace: &str,
        id: &str,
        clone_id: &str,
        by: &Actor,
    ) -> Result<Database, DatabaseError> {
        let old = self.get(workspace, id).await?;
        if old.row.replaced_by.is_some() {
            return Err(DatabaseError::Refused("This database was already replaced by a switch.".into()));
        }
        let clone =
            self.clones(workspace, Some(id)).await?.into_iter().find(|c| c.id == clone_id).ok_or_else(|| {
                DatabaseError::Invalid(FieldErrors::single("clone_id", "No such clone of this database."))
            })?;
        if clone.status != RUNNING {
            return Err(DatabaseError::Invalid(FieldErrors::single(
                "clone_id",
                format!("The clone is {}; only a running clone can become the database.", clone.status),
            )));
        }
        let url = crate::artifacts::postgres::PostgresUrl::parse(
            self.open_url(&old.row).map_err(DatabaseError::Refused)?.expose_secret(),
        )
        .map_err(|e| DatabaseError::Refused(e.to_string()))?;
        if url.grantable_server() == format!("127.0.0.1:{}", clone.port) {
            return Err(DatabaseError::Refused(format!(
                "The clone “{}” is this database's server already.",
                clone.name
            )));
        }
        let port = u16::try_from(clone.port).map_err(|e| DatabaseError::Refused(e.to_string()))?;
        let clone_url = url.on_loopback(port);
        let now = Utc::now().naive_utc();
        let new_id = uuid::Uuid::now_v7().to_string();
        let sealed = self.cipher.seal(
            clone_url.to_secret().expose_secret().as_bytes(),
            &super::service::url_associated_data(workspace, &new_id),
        );
        let renamed: String =
            format!("{} (before switch {})", old.name(), now.format("%Y-%m-%d %H:%M")).chars().take(100).collect();
        let row = DatabaseRow {
            id: new_id.clone(),
            name: old.row.name.clone(),
            url_secret: sealed,
            archive_prefix: format!("databases/{}/{new_id}", old.row.slug),
            status: "starting".into(),
            status_message: None,
            archiving: true,
            receiver_instance: None,
            receiver_beat_at: None,
            last_received_at: None,
            received_lsn: None,
            lag_bytes: None,
            slot_wal_status: None,
            replaced_by: None,
            created_at: now,
            updated_at: now,
            ..old.row.clone()
        };
        let detail = format!("Now the clone “{}” on port {port}; archived under {}.", clone.name, row.archive_prefix);
        let entry = Entry::new(by, workspace, Subject::database(id, old.name()), Action::Switched, detail);
        let (ws, old_id, clone_id) = (workspace.to_owned(), id.to_owned(), clone.id.clone());
        self.db
            .run(move |c| {
                write_transaction(c, |c| {
                    store::rename(c, &ws, &old_id, &renamed)?;
                    store::replace(c, &ws, &old_id, &row.id)?;
                    store::insert(c, &row)?;
                    // The clone is the new database's server now: it goes with that record.
                    super::archive_store::move_clone(c, &clone_id, &row.id)?;
                    audit::store::record(c, &entry)
                })
            })
            .await?;
        // Its window starts with its first base backup.
        if let Err(e) = self.start_base_backup(workspace, &new_id, Some(by)).await {
            tracing::warn!(database = %new_id, error = %e, "the first base backup after a switch did not start");
        }
        self.get(workspace, &new_id).await
    }
}
