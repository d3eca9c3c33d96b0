//! `devpilot rotate-key`: makes a new current master key and re-seals every stored secret under
//! it. Safe to interrupt and run again at any point: the key file (written whole, by rename)
//! keeps the old key as a previous one, so both open everything meanwhile, and running servers
//! read the file again when they meet the new key's id. The old key leaves the file only with
//! `--retire-previous`, once every instance runs with the new one and nothing is sealed under it.

use super::sealed::{COLUMNS, Column};
use crate::config::Settings;
use crate::crypto::{CredentialCipher, KeyRing, MasterKey, sealed_key_id, write_key_file};
use crate::db::Db;
use anyhow::{Context, bail};

#[derive(Debug, Default)]
pub struct Report {
    pub resealed: usize,
    /// Rows edited meanwhile (already under the current key).
    pub changed_meanwhile: usize,
    /// Values no held key opens: reported, left as they are.
    pub unreadable: Vec<String>,
}

/// Re-seals every value not sealed with the cipher's current key.
pub async fn reseal_all(db: &Db, cipher: &CredentialCipher) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let current = cipher.current_id();
    for column in COLUMNS {
        let values = db.run(move |c| column.load(c)).await?;
        for value in values.into_iter().filter(|v| sealed_key_id(&v.value) != Some(current.as_str())) {
            let plain = match cipher.open(&value.value, &value.associated_data) {
                Ok(plain) => plain,
                Err(e) => {
                    report.unreadable.push(format!("{} {}: {e}", column.label(), value.row));
                    continue;
                }
            };
            let fresh = cipher.seal(&plain, &value.associated_data);
            let replaced = replace(db, column, value.row, value.value, fresh).await?;
            if replaced { report.resealed += 1 } else { report.changed_meanwhile += 1 }
        }
    }
    Ok(report)
}

async fn replace(db: &Db, column: Column, row: String, old: Vec<u8>, new: Vec<u8>) -> anyhow::Result<bool> {
    Ok(db.run(move |c| column.replace(c, &row, &old, &new)).await?)
}

/// The command. Returns what to tell the operator.
pub async fn run(settings: &Settings, retire_previous: bool) -> anyhow::Result<String> {
    let db = Db::connect(&settings.database_url, 2)?;
    if let Some(ring) = super::ring_from_env(settings)? {
        // Keys from the environment: the operator set the new one; re-seal under it.
        let cipher = CredentialCipher::from_ring(ring, None);
        let report = reseal_all(&db, &cipher).await?;
        return finish(&report, &cipher, "Then remove DEVPILOT_PREVIOUS_MASTER_KEYS from every instance.");
    }
    let path = settings.master_key_file();
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading the master key file {}", path.display()))?;
    let mut ring = KeyRing::parse(&text).with_context(|| format!("in the master key file {}", path.display()))?;
    if !retire_previous && ring.previous.is_empty() {
        let old = std::mem::replace(&mut ring.current, MasterKey::generate());
        ring.previous.push(old);
        write_key_file(&path, &ring)?;
    }
    let cipher = CredentialCipher::from_ring(KeyRing::parse(&ring.to_file_text())?, Some(path.clone()));
    let report = reseal_all(&db, &cipher).await?;
    if !retire_previous {
        return finish(
            &report,
            &cipher,
            "The previous key stays in the key file so that instances still running can read what they seal. \
             Once every instance has restarted, run `devpilot rotate-key --retire-previous`.",
        );
    }
    let still_old = super::key_ids_in_use(&db).await?.into_iter().filter(|id| *id != cipher.current_id()).count();
    if still_old > 0 || !report.unreadable.is_empty() {
        bail!("{still_old} key id(s) are still in use besides the current one; the previous keys stay in the file")
    }
    let retired = ring.previous.len();
    ring.previous.clear();
    write_key_file(&path, &ring)?;
    finish(
        &report,
        &cipher,
        &format!("Retired {retired} previous key(s): the key file now holds only the current one."),
    )
}

fn finish(report: &Report, cipher: &CredentialCipher, next: &str) -> anyhow::Result<String> {
    if !report.unreadable.is_empty() {
        bail!(
            "re-sealed {} value(s), but these could not be opened with any key held: {}",
            report.resealed,
            report.unreadable.join("; ")
        );
    }
    Ok(format!(
        "Current master key: {}. Re-sealed {} value(s) ({} changed meanwhile and were already current). {next}",
        cipher.current_id(),
        report.resealed,
        report.changed_meanwhile
    ))
}
