//! Lasting conditions, looked for every minute (a setting): a plan turned stale
//! (`crate::plans::stale::stale_since`), WAL archiving of a protected database lagging or broken.
//! Each begins an episode (a row keyed by its subject) and is notified once, when the episode
//! opens, by whichever instance opens it; the episode closes when the condition ends, so the
//! next time it begins is news again.

use super::domain::Named;
use super::service::NotificationService;
use super::{emit, store};
use crate::db::schema::{databases, plans, runs};
use crate::db::{DbConn, DbError, write_transaction};
use crate::plans::schedule::Schedule;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};

/// A condition that holds now: its subject key, workspace, and how to announce it.
enum Condition {
    Stale { workspace: String, plan: Named, since: NaiveDateTime },
    Wal { workspace: String, database: Named, status: String, detail: String },
}

impl Condition {
    fn subject(&self) -> String {
        match self {
            Condition::Stale { plan, .. } => format!("stale:{}", plan.id),
            Condition::Wal { database, .. } => format!("wal:{}", database.id),
        }
    }

    fn workspace(&self) -> &str {
        match self {
            Condition::Stale { workspace, .. } | Condition::Wal { workspace, .. } => workspace,
        }
    }

    fn announce(self, conn: &mut DbConn) -> QueryResult<()> {
        match self {
            Condition::Stale { workspace, plan, since } => emit::plan_stale(conn, &workspace, plan, since),
            Condition::Wal { workspace, database, status, detail } => {
                emit::wal_archiving(conn, &workspace, database, &status, &detail)
            }
        }
    }
}

/// Runs until the process ends.
pub async fn run(service: NotificationService) {
    loop {
        if let Err(e) = tick(&service).await {
            tracing::warn!(error = %e, "looking for stale plans and broken WAL archiving failed");
        }
        tokio::time::sleep(service.settings.watch_every).await;
    }
}

/// Opens episodes for conditions that began and closes those that ended; returns how many began.
pub async fn tick(service: &NotificationService) -> Result<usize, DbError> {
    let now = Utc::now().naive_utc();
    let (holding, open) = service.db.run(move |c| Ok((conditions(c, now)?, store::open_episodes(c)?))).await?;
    let holding_subjects: HashSet<String> = holding.iter().map(Condition::subject).collect();
    let mut began = 0;
    for condition in holding {
        let subject = condition.subject();
        if open.contains(&subject) {
            continue;
        }
        let workspace = condition.workspace().to_owned();
        let opened = service
            .db
            .write(move |c| {
                write_transaction(c, |c| {
                    if !store::open_episode(c, &subject, &workspace, now)? {
                        return Ok(false);
                    }
                    condition.announce(c)?;
                    Ok(true)
                })
            })
            .await;
        match opened {
            Ok(true) => began += 1,
            Ok(false) => {}
            // Another instance opened it at the same moment (its insert won).
            Err(e) => tracing::debug!(error = %e, "an episode was opened elsewhere"),
        }
    }
    for subject in open.into_iter().filter(|s| !holding_subjects.contains(s)) {
        service.db.write(move |c| store::close_episode(c, &subject)).await?;
    }
    Ok(began)
}

fn conditions(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Vec<Condition>> {
    let mut found = Vec::new();
    let scheduled: Vec<(String, String, String, String, NaiveDateTime)> = plans::table
        .filter(plans::enabled.eq(true))
        .select((plans::id, plans::workspace_id, plans::name, plans::schedule, plans::created_at))
        .load(conn)?;
    let successes: HashMap<String, NaiveDateTime> = runs::table
        .filter(runs::status.eq("succeeded"))
        .filter(runs::finished_at.is_not_null())
        .group_by(runs::plan_id)
        .select((runs::plan_id, diesel::dsl::max(runs::finished_at)))
        .load::<(String, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .filter_map(|(plan, at)| Some((plan, at?)))
        .collect();
    for (id, workspace, name, schedule, created_at) in scheduled {
        let schedule = Schedule::parse(&schedule).ok();
        let last = successes.get(&id).copied();
        if let Some(since) = crate::plans::stale::stale_since(schedule.as_ref(), last, created_at, now) {
            found.push(Condition::Stale { workspace, plan: Named { id, name }, since });
        }
    }
    let archiving: Vec<(String, String, String, String, Option<String>)> = databases::table
        .filter(databases::archiving.eq(true))
        .filter(databases::replaced_by.is_null())
        .filter(databases::status.eq_any(["failed", "lagging"]))
        .select((databases::id, databases::workspace_id, databases::name, databases::status, databases::status_message))
        .load(conn)?;
    for (id, workspace, name, status, message) in archiving {
        let status = if status == "lagging" { "lagging".to_owned() } else { "broken".to_owned() };
        let detail = message.unwrap_or_else(|| format!("WAL archiving is {status}."));
        found.push(Condition::Wal { workspace, database: Named { id, name }, status, detail });
    }
    Ok(found)
}
