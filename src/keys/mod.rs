//! The master keys: loading them at start-up (refusing to start when the database holds values
//! sealed with a key the server does not have), and rotating them (`devpilot rotate-key`).

pub mod rotate;
pub mod sealed;

use crate::config::Settings;
use crate::crypto::{CredentialCipher, KeyRing, MasterKey, sealed_key_id, write_key_file};
use crate::db::Db;
use anyhow::{Context, bail};
use std::collections::BTreeSet;

/// Where the keys come from: the environment, or the key file in the data dir.
pub fn ring_from_env(settings: &Settings) -> anyhow::Result<Option<KeyRing>> {
    let Some(current) = &settings.master_key else { return Ok(None) };
    let current = MasterKey::from_base64(current).context("DEVPILOT_MASTER_KEY is invalid")?;
    let previous = settings
        .previous_master_keys
        .iter()
        .map(|k| MasterKey::from_base64(k).context("DEVPILOT_PREVIOUS_MASTER_KEYS holds an invalid key"))
        .collect::<anyhow::Result<_>>()?;
    Ok(Some(KeyRing { current, previous }))
}

/// The ids of the keys the database's sealed values name.
pub async fn key_ids_in_use(db: &Db) -> anyhow::Result<BTreeSet<String>> {
    let ids = db
        .run(|c| {
            let mut ids = BTreeSet::new();
            for column in sealed::COLUMNS {
                for value in column.load(c)? {
                    ids.insert(sealed_key_id(&value.value).unwrap_or("(malformed)").to_owned());
                }
            }
            Ok(ids)
        })
        .await?;
    Ok(ids)
}

/// The cipher the server runs with. A missing key file is created only while the database holds
/// no sealed value; a key the database needs but the server lacks stops the start with a message.
pub async fn load(settings: &Settings, db: &Db) -> anyhow::Result<CredentialCipher> {
    let in_use = key_ids_in_use(db).await?;
    let path = settings.master_key_file();
    let (ring, file) = match ring_from_env(settings)? {
        Some(ring) => (ring, None),
        None if path.exists() => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the master key file {}", path.display()))?;
            let ring = KeyRing::parse(&text).with_context(|| format!("in the master key file {}", path.display()))?;
            (ring, Some(path))
        }
        None if !in_use.is_empty() => bail!(
            "the master key file {} is missing, but the database holds values sealed with key {}: restore the \
             file from your backup (or set DEVPILOT_MASTER_KEY); a new key could not open them",
            path.display(),
            in_use.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        None => {
            let ring = KeyRing { current: MasterKey::generate(), previous: Vec::new() };
            write_key_file(&path, &ring)?;
            tracing::info!(path = %path.display(), "generated a new master key");
            (ring, Some(path))
        }
    };
    let held: BTreeSet<String> = ring.ids().into_iter().collect();
    let missing: Vec<String> = in_use.difference(&held).cloned().collect();
    if !missing.is_empty() {
        bail!(
            "the database holds values sealed with master key {}, which this server does not have (it has {}): \
             start it with the right key file or DEVPILOT_MASTER_KEY (and, during a rotation, \
             DEVPILOT_PREVIOUS_MASTER_KEYS)",
            missing.join(", "),
            held.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(CredentialCipher::from_ring(ring, file))
}
