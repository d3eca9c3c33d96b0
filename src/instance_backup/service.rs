//! Devpilot's own backup, the operator's alone: where it goes (a destination of the operator's,
//! its fields parsed by the same `ProviderConfig` readers as a workspace's and sealed under the
//! master key in a table of its own, so no workspace admin can edit, disable or delete it), the
//! master keys sealed under a passphrase the operator typed, a schedule; and the backups made.
//!
//! Why not a workspace's destination: any admin of that workspace could change or delete it, and
//! its credentials would be a workspace's to read; Devpilot's own backup must outlive a workspace.

use super::archive::{self, ArchiveKeys, Info};
use super::passphrase;
use super::snapshot;
use super::store::{self, BackupRow, CONFIG_ID, ConfigRow};
use crate::artifacts::checksum::Digesting;
use crate::auth::Account;
use crate::crypto::CredentialCipher;
use crate::db::{Db, DbError};
use crate::fields::{FieldErrors, RawFields};
use crate::hostfs::{DevpilotFiles, FolderAccess, HostAccess};
use crate::plans::schedule::Schedule;
use crate::providers::{self, Provider, ProviderConfig, ProviderContext, ProviderKind};
use chrono::{NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the operator's destination fields are sealed to.
pub const DESTINATION_AAD: &str = "devpilot:instance-backup-destination";

/// The sealed fields' entry for an SFTP destination's pinned host key.
const HOST_KEY: &str = "host_key";

#[derive(Debug, thiserror::Error)]
pub enum InstanceBackupError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    #[error("Devpilot's own backup is not set up yet: choose a destination and a passphrase first.")]
    NotConfigured,
    #[error("The backup failed: {0}")]
    Failed(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The settings form, as typed.
pub struct ConfigInput {
    pub kind: String,
    pub fields: RawFields,
    pub passphrase: SecretString,
    pub confirm: SecretString,
    pub schedule: String,
    /// How many backups to keep on the destination (blank: [`DEFAULT_KEEP`]).
    pub keep: String,
}

/// Backups kept when the operator does not say: two weeks of daily ones.
pub const DEFAULT_KEEP: i64 = 14;

/// What the page shows of the settings (never a credential or the keys).
pub struct ConfigView {
    pub kind: String,
    pub schedule: Option<String>,
    pub next_due_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
    /// The master keys changed since the passphrase was typed: backups fail until it is again.
    pub keys_outdated: bool,
    pub keep: i64,
    /// An SFTP destination's host key, pinned when the operator saved it.
    pub host_key: Option<String>,
}

#[derive(Clone)]
pub struct InstanceBackupService {
    db: Db,
    cipher: Arc<CredentialCipher>,
    providers: ProviderContext,
    data_dir: PathBuf,
}

impl InstanceBackupService {
    pub fn new(db: Db, cipher: Arc<CredentialCipher>, providers: ProviderContext, data_dir: PathBuf) -> Self {
        InstanceBackupService { db, cipher, providers, data_dir }
    }

    pub async fn view(&self) -> Result<Option<ConfigView>, InstanceBackupError> {
        let ids = self.cipher.key_ids().join(",");
        let Some(row) = self.db.run(store::config).await? else { return Ok(None) };
        let host_key = match self.cipher.open(&row.destination_sealed, DESTINATION_AAD) {
            Ok(fields) => RawFields::from_json(&String::from_utf8_lossy(&fields))
                .ok()
                .and_then(|f| f.get(HOST_KEY).map(str::to_owned)),
            Err(_) => None,
        };
        Ok(Some(row).map(|row| ConfigView {
            keep: row.keep_count,
            host_key,
            keys_outdated: row.key_ids != ids,
            kind: row.destination_kind,
            schedule: row.schedule,
            next_due_at: row.next_due_at,
            updated_at: row.updated_at,
            updated_by: row.updated_by,
        }))
    }

    pub async fn history(&self) -> Result<Vec<BackupRow>, InstanceBackupError> {
        Ok(self.db.run(|c| store::newest(c, 20)).await?)
    }

    /// Saves the destination, passphrase and schedule, after a connection test of the destination.
    pub async fn configure(&self, by: &Account, input: ConfigInput) -> Result<(), InstanceBackupError> {
        let mut errors = FieldErrors::new();
        let kind = ProviderKind::parse(&input.kind);
        if let Err(m) = &kind {
            errors.add("kind", m.clone());
        }
        let config = match &kind {
            Ok(kind) => match ProviderConfig::parse(*kind, &input.fields) {
                Ok(config) => Some(config),
                Err(e) => {
                    for (field, message) in e.iter() {
                        errors.add(field, message.to_owned());
                    }
                    None
                }
            },
            Err(_) => None,
        };
        if kind == Ok(ProviderKind::Local) && input.fields.get("path").is_none_or(|p| p.trim().is_empty()) {
            errors.add("path", "Enter the folder on this machine that Devpilot's backups go to.");
        }
        let (pass, confirm) = (input.passphrase.expose_secret(), input.confirm.expose_secret());
        if let Err(m) = passphrase::check_new(pass) {
            errors.add("passphrase", m);
        } else if pass != confirm {
            errors.add("confirm", "The two passphrases differ.");
        }
        let schedule = match input.schedule.trim() {
            "" => None,
            text => match Schedule::parse(text) {
                Ok(s) => Some(s),
                Err(m) => {
                    errors.add("schedule", m);
                    None
                }
            },
        };
        let keep = match input.keep.trim() {
            "" => Some(DEFAULT_KEEP),
            text => match text.parse::<i64>() {
                Ok(n @ 1..=1000) => Some(n),
                _ => {
                    errors.add("keep", format!("Keep a whole number of backups from 1 to 1000, not “{text}”."));
                    None
                }
            },
        };
        let (Some(config), Some(keep), true) = (config, keep, errors.is_empty()) else {
            return Err(InstanceBackupError::Invalid(errors));
        };
        let mut fields = input.fields.clone();
        let provider = self.provider(&config, &fields)?;
        if let Err(e) = provider.test().await {
            return Err(InstanceBackupError::Invalid(FieldErrors::single(
                "kind",
                format!("The destination does not work: {e}"),
            )));
        }
        // SFTP: the host key the operator's server presented now is the one later backups accept.
        if let Some(key) = provider.presented_host_key() {
            fields.set(HOST_KEY, &key);
        }
        let keys = tokio::task::spawn_blocking({
            let (text, pass) = (self.cipher.ring_text(), input.passphrase);
            move || passphrase::seal(text.expose_secret().as_bytes(), &pass)
        })
        .await
        .map_err(|e| anyhow::anyhow!("sealing the keys: {e}"))?;
        let now = Utc::now().naive_utc();
        let row = ConfigRow {
            id: CONFIG_ID.into(),
            destination_kind: input.kind.clone(),
            destination_sealed: self.cipher.seal(fields.to_json().as_bytes(), DESTINATION_AAD),
            keys_sealed: keys,
            key_ids: self.cipher.key_ids().join(","),
            next_due_at: schedule.as_ref().and_then(|s| s.next_after(now)),
            schedule: schedule.map(|s| s.as_str().to_owned()),
            updated_at: now,
            updated_by: by.email.clone(),
            keep_count: keep,
        };
        self.db.write(move |c| store::save_config(c, &row)).await?;
        tracing::info!(by = %by.email, "the operator set up Devpilot's own backup");
        Ok(())
    }

    /// The operator's destination as a provider: a local folder is the operator's to choose,
    /// so it is the one folder this context may write in.
    fn provider(&self, config: &ProviderConfig, fields: &RawFields) -> Result<Box<dyn Provider>, InstanceBackupError> {
        let mut context = self.providers.clone();
        if let Some(path) = fields.get("path").map(str::trim).filter(|p| !p.is_empty()) {
            let folder = std::fs::canonicalize(path).map_err(|e| {
                InstanceBackupError::Invalid(FieldErrors::single("path", format!("{path} cannot be used: {e}")))
            })?;
            context = context.with_host(HostAccess::new(
                vec![(folder.clone(), FolderAccess::ReadWrite)],
                folder,
                Arc::new(DevpilotFiles::default()),
            ));
        }
        let mut config = config.clone();
        if let ProviderConfig::Sftp(sftp) = &mut config {
            sftp.host_key = fields.get(HOST_KEY).map(str::to_owned);
        }
        providers::build(&config, &context)
            .map_err(|e| InstanceBackupError::Invalid(FieldErrors::single("kind", e.to_string())))
    }

    /// Backs Devpilot up now: a consistent snapshot of its database and the sealed keys, streamed
    /// to the operator's destination as one archive. Recorded in the history either way.
    pub async fn back_up(&self, trigger: &str) -> Result<BackupRow, InstanceBackupError> {
        let config = self.db.run(store::config).await?.ok_or(InstanceBackupError::NotConfigured)?;
        if config.key_ids != self.cipher.key_ids().join(",") {
            return Err(InstanceBackupError::Failed(
                "the master keys changed (a rotation) since the passphrase was set: set the passphrase again so \
                 the backup holds the keys the database needs"
                    .into(),
            ));
        }
        let fields = self
            .cipher
            .open(&config.destination_sealed, DESTINATION_AAD)
            .map_err(|e| anyhow::anyhow!("opening the destination's fields: {e}"))?;
        let fields = RawFields::from_json(&String::from_utf8_lossy(&fields))
            .map_err(|e| anyhow::anyhow!("the destination's fields: {e}"))?;
        let kind = ProviderKind::parse(&config.destination_kind).map_err(|e| anyhow::anyhow!(e))?;
        let parsed = ProviderConfig::parse(kind, &fields)
            .map_err(|_| InstanceBackupError::Failed("the destination's settings no longer parse".into()))?;
        let provider = self.provider(&parsed, &fields).map_err(|e| match e {
            InstanceBackupError::Invalid(errors) => {
                InstanceBackupError::Failed(errors.iter().map(|(_, m)| m.to_owned()).collect::<Vec<_>>().join(" "))
            }
            other => other,
        })?;
        // The snapshot comes before this backup's own row, so a restored install has no backup
        // left "running" forever.
        let (temp, path) = snapshot::take(&self.db, &self.data_dir)
            .await
            .map_err(|e| InstanceBackupError::Failed(format!("{e:#}")))?;
        let started = Utc::now().naive_utc();
        let id = uuid::Uuid::new_v4().to_string();
        let key = format!("devpilot-instance/{}-{id}.tar.zst", started.format("%Y%m%dT%H%M%SZ"));
        let row = BackupRow {
            id: id.clone(),
            trigger: trigger.into(),
            started_at: started,
            finished_at: None,
            status: "running".into(),
            object_key: Some(key.clone()),
            bytes: 0,
            sha256: None,
            error: None,
            pruned_at: None,
        };
        let inserted = row.clone();
        self.db.write(move |c| store::insert_backup(c, &inserted)).await?;
        let info = Info::new(self.db.backend(), self.cipher.key_ids());
        let archive_key = crate::artifacts::encryption::generate_key();
        let keys = ArchiveKeys {
            sealed_master_keys: config.keys_sealed,
            sealed_archive_key: self.cipher.seal(archive_key.expose_secret(), archive::ARCHIVE_KEY_AAD),
            archive_key,
        };
        let (body, digest) = Digesting::new(archive::stream(info, keys, path, temp));
        let result = provider.put(&key, body).await;
        let (sha256, bytes) = digest.finish();
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        let (status, error) = match &result {
            Ok(_) => ("succeeded", None),
            Err(e) => ("failed", Some(e.to_string())),
        };
        let (rid, sha, err) = (id.clone(), sha256.clone(), error.clone());
        self.db
            .write(move |c| {
                store::finish_backup(c, &rid, status, bytes, err.is_none().then_some(sha.as_str()), err.as_deref())
            })
            .await?;
        if error.is_none() {
            self.prune(provider.as_ref(), config.keep_count).await;
        }
        match error {
            None => Ok(BackupRow {
                finished_at: Some(Utc::now().naive_utc()),
                status: status.into(),
                bytes,
                sha256: Some(sha256),
                ..row
            }),
            Some(e) => Err(InstanceBackupError::Failed(e)),
        }
    }

    /// Deletes the succeeded backups beyond the newest `keep` from the destination, each marked
    /// in the history; one that cannot be deleted now is tried again after the next backup.
    async fn prune(&self, provider: &dyn Provider, keep: i64) {
        let old = match self.db.run(move |c| store::beyond_keep(c, keep)).await {
            Ok(old) => old,
            Err(e) => return tracing::warn!(error = %e, "listing Devpilot's own backups to thin failed"),
        };
        for backup in old {
            let Some(key) = backup.object_key.as_deref() else { continue };
            match provider.delete(key).await {
                Ok(()) => {
                    let id = backup.id.clone();
                    let marked = self.db.write(move |c| store::mark_pruned(c, &id, Utc::now().naive_utc())).await;
                    if let Err(e) = marked {
                        tracing::warn!(backup = %backup.id, error = %e, "marking Devpilot's own backup removed failed");
                    }
                }
                Err(e) => tracing::warn!(backup = %backup.id, error = %e, "deleting an old backup of Devpilot failed"),
            }
        }
    }

    /// One scheduler tick: the backup, if due and no other instance claimed it first.
    pub async fn run_if_due(&self) -> Result<(), InstanceBackupError> {
        let Some(config) = self.db.run(store::config).await? else { return Ok(()) };
        let (Some(due), Some(schedule)) = (config.next_due_at, config.schedule) else { return Ok(()) };
        let now = Utc::now().naive_utc();
        if due > now {
            return Ok(());
        }
        let next = Schedule::parse(&schedule).ok().and_then(|s| s.next_after(now));
        if self.db.write(move |c| store::claim_due(c, due, next)).await? {
            self.back_up("scheduled").await?;
        }
        Ok(())
    }
}

/// The schedule's loop: every `tick`, a due backup is made (by one instance among several).
pub async fn run(service: InstanceBackupService, tick: Duration) {
    loop {
        tokio::time::sleep(tick).await;
        if let Err(e) = service.run_if_due().await {
            tracing::warn!(error = %e, "Devpilot's scheduled own backup failed");
        }
    }
}
