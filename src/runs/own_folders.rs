//! Each workspace its own folder: local destinations without a folder of their own write under
//! `<backups>/<workspace id>/`. Before that, every workspace shared `<backups>/<plan slug>/`; at
//! start-up the artifacts still kept there are moved into their workspace's folder under the same
//! object key (keys are relative to the destination's folder, so every recorded key keeps
//! working). What no run records (a partial file, say) stays where it is.

use super::store;
use crate::db::{Db, DbError};
use crate::fields::RawFields;
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Moves the kept artifacts of the shared layout into their workspaces' folders; returns how many.
pub async fn move_shared_backups(db: &Db, backups: &Path) -> Result<usize, DbError> {
    let Ok(entries) = std::fs::read_dir(backups) else { return Ok(0) };
    let names: HashSet<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    let (destinations, workspaces) = db
        .run(|c| {
            use crate::db::schema::workspaces::dsl as w;
            let workspaces: Vec<String> = w::workspaces.select(w::id).load(c)?;
            Ok((crate::destinations::store::all_of_kind(c, "local")?, workspaces))
        })
        .await?;
    // Nothing but workspaces' folders there: the move is done (or was never needed).
    if names.iter().all(|n| workspaces.contains(n) || n.starts_with('.')) {
        return Ok(0);
    }
    let default_folder: HashMap<String, String> = destinations
        .into_iter()
        .filter(|(_, _, settings)| RawFields::from_json(settings).is_ok_and(|f| f.get("path").is_none()))
        .map(|(id, workspace, _)| (id, workspace))
        .collect();
    let ids: Vec<String> = default_folder.keys().cloned().collect();
    let kept = db.run(move |c| store::kept_on(c, &ids)).await?;
    let mut moved = 0;
    for (destination, key) in kept {
        let (Some(destination), Some(key)) = (destination, key) else { continue };
        let Some(workspace) = default_folder.get(&destination) else { continue };
        if crate::providers::check_key(&key).is_err() || !names.contains(key.split('/').next().unwrap_or_default()) {
            continue;
        }
        let (from, to) = (backups.join(&key), backups.join(workspace).join(&key));
        if !from.is_file() || to.exists() {
            continue;
        }
        let folder = |p: &Path| std::fs::DirBuilder::new().recursive(true).mode(0o700).create(p);
        let renamed = to.parent().map_or(Ok(()), folder).and_then(|()| std::fs::rename(&from, &to));
        match renamed {
            Ok(()) => moved += 1,
            Err(e) => {
                tracing::warn!(key = %key, error = %e, "could not move a local backup into its workspace's folder")
            }
        }
        // The plan's old folder goes once empty.
        if let Some(folder) = from.parent().filter(|f| *f != backups) {
            let _ = std::fs::remove_dir(folder);
        }
    }
    if moved > 0 {
        tracing::info!(count = moved, "moved local backups into their workspaces' own folders");
    }
    Ok(moved)
}
