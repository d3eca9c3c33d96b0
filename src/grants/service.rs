//! The rules of grants: only operators give and revoke them (the pages check); a folder is
//! resolved when granted, must exist and be a folder, lie under `DEVPILOT_ALLOWED_PATHS` when that
//! is set, and never be or lie in Devpilot's data folder, nor be its key or database; a
//! read-and-write grant never contains any of them either (a read grant may: sources skip
//! Devpilot's files). Every grant and revocation is recorded in the workspace's audit log.
//!
//! The rest of the app asks here what a workspace may reach: [`GrantService::access`] for
//! folders, [`super::databases::access`] for database servers.

use super::domain::{DatabaseServer, FolderAccess, GrantKind, HostGrant};
use super::store;
use crate::audit::{self, Action, Actor, Entry, Subject};
use crate::config::AllowedPaths;
use crate::db::{Db, DbError, write_transaction};
use crate::fields::FieldErrors;
use crate::hostfs::{DevpilotFiles, HostAccess, access::lexical};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("Grant not found")]
    NotFound,
    #[error("the grant is invalid")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for GrantError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => GrantError::NotFound,
            other => GrantError::Db(other),
        }
    }
}

/// The grant form as submitted.
#[derive(Debug, Clone, Default)]
pub struct GrantInput {
    pub workspace_id: String,
    /// `folder` or `database`.
    pub kind: String,
    pub path: String,
    /// `read` or `read_write`.
    pub access: String,
    /// A database server: `host:port`, or the absolute folder of its Unix socket.
    pub server: String,
    pub note: String,
}

#[derive(Clone)]
pub struct GrantService {
    db: Db,
    devpilot: Arc<DevpilotFiles>,
    ceiling: AllowedPaths,
    backup_dir: PathBuf,
}

impl GrantService {
    /// `backup_dir` must exist (start-up makes it): it is resolved here, as grants are.
    pub fn new(db: Db, devpilot: Arc<DevpilotFiles>, ceiling: AllowedPaths, backup_dir: PathBuf) -> GrantService {
        let backup_dir = std::fs::canonicalize(&backup_dir).unwrap_or(backup_dir);
        GrantService { db, devpilot, ceiling, backup_dir }
    }

    /// Where a workspace's local destinations without a folder write: `<backups>/<workspace id>`.
    pub fn own_folder(&self, workspace: &str) -> PathBuf {
        self.backup_dir.join(workspace)
    }

    /// Devpilot's own files, which no workspace reaches.
    pub fn devpilot_files(&self) -> Arc<DevpilotFiles> {
        Arc::clone(&self.devpilot)
    }

    /// What of this machine's folders the workspace may reach.
    pub async fn access(&self, workspace: &str) -> Result<HostAccess, DbError> {
        let folders = self
            .for_workspace(workspace)
            .await?
            .into_iter()
            .filter_map(|g| match g.kind {
                GrantKind::Folder { path, access } => Some((path, access)),
                GrantKind::Database(_) => None,
            })
            .collect();
        Ok(HostAccess::new(folders, self.own_folder(workspace), Arc::clone(&self.devpilot)))
    }

    async fn for_workspace(&self, workspace: &str) -> Result<Vec<HostGrant>, DbError> {
        let ws = workspace.to_owned();
        let rows = self.db.run(move |c| store::for_workspace(c, &ws)).await?;
        Ok(rows.into_iter().filter_map(HostGrant::from_row).collect())
    }

    /// Every grant, and every workspace as (id, name).
    pub async fn all(&self) -> Result<(Vec<HostGrant>, Vec<(String, String)>), GrantError> {
        let (rows, workspaces) = self.db.run(|c| Ok((store::all(c)?, store::workspace_names(c)?))).await?;
        Ok((rows.into_iter().filter_map(HostGrant::from_row).collect(), workspaces))
    }

    /// Gives a workspace a folder or a database server, recorded in its audit log.
    pub async fn grant(&self, input: &GrantInput, by: &Actor) -> Result<HostGrant, GrantError> {
        let mut errors = FieldErrors::new();
        let note = super::domain::parse_note(&input.note).map_err(|m| errors.add("note", m)).ok();
        let kind = match input.kind.as_str() {
            "database" => {
                DatabaseServer::parse(&input.server).map(GrantKind::Database).map_err(|m| errors.add("server", m))
            }
            _ => self.folder(&input.path, &input.access).map_err(|e| errors.merge(e)),
        };
        let ws = input.workspace_id.trim().to_owned();
        let workspaces = self.db.run(store::workspace_names).await?;
        if !workspaces.iter().any(|(id, _)| *id == ws) {
            errors.add("workspace_id", "Choose a workspace.");
        }
        let (Ok(kind), Some(note)) = (kind, note) else { return Err(GrantError::Invalid(errors)) };
        if !errors.is_empty() {
            return Err(GrantError::Invalid(errors));
        }
        if let Some(same) = self.for_workspace(&ws).await?.into_iter().find(|g| g.kind.same_target(&kind)) {
            let field = if matches!(kind, GrantKind::Folder { .. }) { "path" } else { "server" };
            return Err(GrantError::Invalid(FieldErrors::single(
                field,
                format!(
                    "Already granted to this workspace ({}); revoke that grant to change it.",
                    same.kind.describe()
                ),
            )));
        }
        let grant = HostGrant {
            id: uuid::Uuid::new_v4().to_string(),
            workspace_id: ws.clone(),
            kind,
            note,
            created_by: by.email.clone(),
            created_at: chrono::Utc::now().naive_utc(),
        };
        let row = grant.to_row();
        let detail = format!("Granted {}.", grant.kind.describe());
        let entry = Entry::new(by, &ws, Subject::grant(&grant.id, &grant.kind.describe()), Action::Created, detail);
        self.db.write(move |c| audit::store::with_entry(c, &entry, |c| store::insert(c, &row))).await?;
        Ok(grant)
    }

    /// Takes a grant back, recorded in its workspace's audit log; returns what it was.
    pub async fn revoke(&self, id: &str, by: &Actor) -> Result<HostGrant, GrantError> {
        let (gid, by) = (id.to_owned(), by.clone());
        let row = self
            .db
            .write(move |c| {
                write_transaction(c, |c| {
                    let row = store::find(c, &gid)?;
                    let name = HostGrant::from_row(row.clone()).map_or_else(|| row.kind.clone(), |g| g.kind.describe());
                    store::delete(c, &gid)?;
                    let detail = format!("Revoked {name}.");
                    let entry =
                        Entry::new(&by, &row.workspace_id, Subject::grant(&gid, &name), Action::Deleted, detail);
                    audit::store::record(c, &entry)?;
                    Ok(row)
                })
            })
            .await?;
        HostGrant::from_row(row).ok_or(GrantError::NotFound)
    }

    /// A folder to grant: resolved, an existing folder, under the ceiling, not Devpilot's.
    fn folder(&self, typed: &str, access: &str) -> Result<GrantKind, FieldErrors> {
        let access = FolderAccess::parse(access)
            .ok_or_else(|| FieldErrors::single("access", "Choose read, or read and write."))?;
        let at_path = |m: String| FieldErrors::single("path", m);
        if typed.trim().is_empty() {
            return Err(at_path("Folder is required: the absolute path of a folder on this server.".into()));
        }
        let shown = typed.trim();
        let path = lexical(typed).map_err(|e| at_path(e.to_string()))?;
        self.never_devpilot(&path, shown)?;
        let path = std::fs::canonicalize(&path)
            .map_err(|e| at_path(format!("“{shown}” cannot be used: {}.", crate::hostfs::describe(&e))))?;
        if !path.is_dir() {
            return Err(at_path(format!("“{shown}” is not a folder.")));
        }
        self.ceiling.check(&path).map_err(at_path)?;
        self.never_devpilot(&path, shown)?;
        let inside = self.devpilot.inside(&path);
        if access.allows_write() && !inside.is_empty() {
            let what: Vec<&str> = inside.iter().map(|o| o.label()).collect();
            return Err(at_path(format!(
                "“{shown}” contains {}; it can be granted for reading only (sources skip Devpilot's files).",
                what.join(" and ")
            )));
        }
        Ok(GrantKind::Folder { path, access })
    }

    fn never_devpilot(&self, path: &Path, shown: &str) -> Result<(), FieldErrors> {
        match self.devpilot.what_is(path) {
            Some(own) => {
                Err(FieldErrors::single("path", format!("“{shown}” is in {}; it can never be granted.", own.label())))
            }
            None => Ok(()),
        }
    }

    /// Which of Devpilot's own things a granted folder contains (sources there skip them).
    pub fn contains_devpilot(&self, path: &Path) -> Vec<&'static str> {
        self.devpilot.inside(path).into_iter().map(|o| o.label()).collect()
    }
}
