//! Every backup of a protected database, as spec 002's list shows them: its base backups, and the
//! `pg_dump` runs of the workspace's plans that back up the same database (the same server and
//! database name, whatever role they connect as).

use super::archive_store::BaseBackupRow;
use super::service::{DatabaseError, DatabaseService};
use crate::artifacts::postgres::PostgresUrl;
use crate::plans::service::open_source_secret;
use crate::runs::store::RunRow;
use chrono::NaiveDateTime;
use secrecy::ExposeSecret;

/// How many runs of each plan are listed.
const RUNS_PER_PLAN: i64 = 500;

/// One backup of the database.
#[derive(Debug, Clone)]
pub enum Backup {
    Base(BaseBackupRow),
    /// A run of a `pg_dump` plan, with the plan's name.
    Dump(RunRow, String),
}

impl Backup {
    pub fn started_at(&self) -> NaiveDateTime {
        match self {
            Backup::Base(b) => b.started_at,
            Backup::Dump(r, _) => r.started_at.unwrap_or(r.created_at),
        }
    }
}

impl DatabaseService {
    /// Base backups and dump runs, newest first.
    pub async fn backups(&self, workspace: &str, id: &str) -> Result<Vec<Backup>, DatabaseError> {
        let database = self.get(workspace, id).await?;
        let url = PostgresUrl::parse(self.open_url(&database.row).map_err(DatabaseError::Refused)?.expose_secret())
            .map_err(|e| DatabaseError::Refused(e.to_string()))?;
        let mut all: Vec<Backup> = self.base_backups(workspace, id).await?.into_iter().map(Backup::Base).collect();
        let ws = workspace.to_owned();
        let plans =
            self.db.run(move |c| crate::plans::store::list(c, &ws, &crate::plans::store::Selection::All)).await?;
        for (plan, _) in plans.into_iter().filter(|(p, _)| p.source_kind == "postgres") {
            let same = open_source_secret(&self.cipher, &plan)
                .ok()
                .and_then(|u| PostgresUrl::parse(u.expose_secret()).ok())
                .is_some_and(|u| u.grantable_server() == url.grantable_server() && u.dbname == url.dbname);
            if !same {
                continue;
            }
            let (ws, pid) = (workspace.to_owned(), plan.id.clone());
            let runs = self.db.run(move |c| crate::runs::store::for_plan(c, &ws, &pid, RUNS_PER_PLAN)).await?;
            all.extend(runs.into_iter().map(|r| Backup::Dump(r, plan.name.clone())));
        }
        all.sort_by_key(|b| std::cmp::Reverse(b.started_at()));
        Ok(all)
    }
}
