//! Emitting events: the one call each feature makes where something happened, inside that
//! change's own transaction. It only inserts outbox rows (one per channel that wants the event,
//! and a plan's heartbeat ping), so a slow or failing channel never slows what emits; the
//! delivery worker does the rest.

use super::domain::{EventKind, Named, Payload, RunInfo};
use super::store::{self, OutboxRow, PENDING};
use crate::db::DbConn;
use crate::db::schema::{destinations, plans, runs};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

/// Heartbeat pings, Healthchecks.io style: `<url>/start`, `<url>`, `<url>/fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    Start,
    Success,
    Fail,
}

impl Ping {
    pub fn code(self) -> &'static str {
        match self {
            Ping::Start => "ping.start",
            Ping::Success => "ping.success",
            Ping::Fail => "ping.fail",
        }
    }

    pub fn parse(code: &str) -> Option<Ping> {
        [Ping::Start, Ping::Success, Ping::Fail].into_iter().find(|p| p.code() == code)
    }

    /// What is appended to the plan's URL.
    pub fn suffix(self) -> &'static str {
        match self {
            Ping::Start => "/start",
            Ping::Success => "",
            Ping::Fail => "/fail",
        }
    }
}

/// What happened, before it becomes a [`Payload`] (the workspace's name is read here).
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub workspace_id: String,
    pub title: String,
    pub message: String,
    pub plan: Option<Named>,
    pub run: Option<RunInfo>,
    pub destination: Option<Named>,
    pub database: Option<Named>,
}

impl Event {
    pub fn new(kind: EventKind, workspace: &str, title: String, message: String) -> Event {
        Event {
            kind,
            workspace_id: workspace.to_owned(),
            title,
            message,
            plan: None,
            run: None,
            destination: None,
            database: None,
        }
    }

    pub fn payload(self, conn: &mut DbConn) -> QueryResult<Payload> {
        let name = store::workspace_name(conn, &self.workspace_id)?;
        Ok(Payload {
            id: uuid::Uuid::new_v4().to_string(),
            kind: self.kind.code().to_owned(),
            title: self.title,
            message: self.message,
            occurred_at: Utc::now(),
            workspace: Named { id: self.workspace_id, name },
            plan: self.plan,
            run: self.run,
            destination: self.destination,
            database: self.database,
        })
    }
}

fn row(workspace: &str, channel: Option<&str>, plan: Option<&str>, event: &str, payload: &Payload) -> OutboxRow {
    let now = Utc::now().naive_utc();
    OutboxRow {
        id: uuid::Uuid::new_v4().to_string(),
        workspace_id: workspace.to_owned(),
        channel_id: channel.map(str::to_owned),
        plan_id: plan.map(str::to_owned),
        event_id: payload.id.clone(),
        event: event.to_owned(),
        payload: serde_json::to_string(payload).unwrap_or_default(),
        status: PENDING.into(),
        attempts: 0,
        next_attempt_at: now,
        claimed_by: None,
        claimed_until: None,
        last_error: None,
        created_at: now,
        delivered_at: None,
    }
}

/// Queues the event for every enabled channel of its workspace that chose its kind; returns how
/// many.
pub fn emit(conn: &mut DbConn, event: Event) -> QueryResult<usize> {
    let kind = event.kind;
    let workspace = event.workspace_id.clone();
    let wanting: Vec<String> = store::enabled(conn, &workspace)?
        .into_iter()
        .filter(|(_, events)| super::domain::events_from_db(events).contains(&kind))
        .map(|(id, _)| id)
        .collect();
    if wanting.is_empty() {
        return Ok(0);
    }
    let payload = event.payload(conn)?;
    for channel in &wanting {
        store::enqueue(conn, &row(&workspace, Some(channel), None, kind.code(), &payload))?;
    }
    Ok(wanting.len())
}

/// Queues one event for one channel (the "Send test" button).
pub fn emit_to(conn: &mut DbConn, channel: &str, event: Event) -> QueryResult<String> {
    let (workspace, code) = (event.workspace_id.clone(), event.kind.code());
    let payload = event.payload(conn)?;
    let row = row(&workspace, Some(channel), None, code, &payload);
    store::enqueue(conn, &row)?;
    Ok(row.id)
}

/// Queues a heartbeat ping when the plan has a URL; `reason` is the body of a failure's.
pub fn ping(conn: &mut DbConn, workspace: &str, plan: &str, ping: Ping, reason: Option<&str>) -> QueryResult<()> {
    if store::ping_of(conn, workspace, plan)?.is_none() {
        return Ok(());
    }
    let mut event = Event::new(EventKind::Test, workspace, ping.code().into(), reason.unwrap_or_default().into());
    event.plan = Some(Named { id: plan.to_owned(), name: String::new() });
    let payload = event.payload(conn)?;
    store::enqueue(conn, &row(workspace, None, Some(plan), ping.code(), &payload))
}

/// A run started uploading: the heartbeat's `/start`.
pub fn run_started(conn: &mut DbConn, workspace: &str, plan: &str) -> QueryResult<()> {
    ping(conn, workspace, plan, Ping::Start, None)
}

/// A run ended (call it in the transaction that records the end): failed, interrupted,
/// succeeded (and recovered, when the plan's previous run had not), retention that could not
/// delete; and the heartbeat's success or `/fail`.
pub fn run_ended(conn: &mut DbConn, run_id: &str) -> QueryResult<()> {
    let (workspace, plan_id, status, error, bytes, destination): (
        String,
        String,
        String,
        Option<String>,
        i64,
        Option<String>,
    ) = runs::table
        .filter(runs::id.eq(run_id))
        .select((runs::workspace_id, runs::plan_id, runs::status, runs::error, runs::bytes, runs::destination_id))
        .first(conn)?;
    let plan_name: String = plans::table.filter(plans::id.eq(&plan_id)).select(plans::name).first(conn)?;
    let destination = match destination {
        Some(id) => destinations::table
            .filter(destinations::id.eq(&id))
            .select(destinations::name)
            .first::<String>(conn)
            .optional()?
            .map(|name| Named { id, name }),
        None => None,
    };
    let plan = Named { id: plan_id.clone(), name: plan_name.clone() };
    let run = RunInfo { id: run_id.to_owned(), status: status.clone(), error: error.clone(), bytes };
    let event = |kind: EventKind, title: String, message: String| Event {
        plan: Some(plan.clone()),
        run: Some(run.clone()),
        destination: destination.clone(),
        ..Event::new(kind, &workspace, title, message)
    };
    let reason = error.clone().unwrap_or_else(|| "no reason recorded".into());
    match status.as_str() {
        "succeeded" => {
            let size = size(bytes);
            emit(
                conn,
                event(
                    EventKind::RunSucceeded,
                    format!("Backup succeeded: {plan_name}"),
                    format!("The backup stored {size}."),
                ),
            )?;
            if previous_status(conn, &plan_id, run_id)?.is_some_and(|s| s == "failed" || s == "interrupted") {
                emit(
                    conn,
                    event(
                        EventKind::Recovered,
                        format!("Backup recovered: {plan_name}"),
                        format!("The plan succeeded again after a failure; this backup stored {size}."),
                    ),
                )?;
            }
            if let Some(problem) = error.as_deref().and_then(|e| e.strip_prefix("Retention: ")) {
                emit(
                    conn,
                    event(
                        EventKind::RetentionFailed,
                        format!("Retention could not delete old backups: {plan_name}"),
                        problem.to_owned(),
                    ),
                )?;
            }
            ping(conn, &workspace, &plan_id, Ping::Success, None)
        }
        // Some copies failed: said as such, naming them; the heartbeat hears a success (there is
        // a backup), the channels the failures.
        "partial" => {
            let failed = super::copies::failed_copies(conn, run_id)?;
            let message = format!("The backup stored {} on some copies, but {failed}", size(bytes));
            emit(conn, event(EventKind::RunPartial, format!("Backup partially succeeded: {plan_name}"), message))?;
            ping(conn, &workspace, &plan_id, Ping::Success, None)
        }
        "failed" => {
            emit(conn, event(EventKind::RunFailed, format!("Backup failed: {plan_name}"), reason.clone()))?;
            ping(conn, &workspace, &plan_id, Ping::Fail, Some(&reason))
        }
        "interrupted" => {
            emit(conn, event(EventKind::RunInterrupted, format!("Backup interrupted: {plan_name}"), reason.clone()))?;
            ping(conn, &workspace, &plan_id, Ping::Fail, Some(&reason))
        }
        "skipped" => ping(conn, &workspace, &plan_id, Ping::Fail, Some(&format!("Skipped: {reason}"))),
        _ => Ok(()),
    }
}

/// How the plan's run before this one ended (succeeded, failed or interrupted), if any did.
fn previous_status(conn: &mut DbConn, plan: &str, run_id: &str) -> QueryResult<Option<String>> {
    runs::table
        .filter(runs::plan_id.eq(plan))
        .filter(runs::id.ne(run_id))
        .filter(runs::status.eq_any(["succeeded", "failed", "interrupted"]))
        .filter(runs::finished_at.is_not_null())
        .order(runs::finished_at.desc())
        .select(runs::status)
        .first(conn)
        .optional()
}

/// A destination's test failed (call it in the transaction that stores the result). The
/// destination decides what is news: a scheduled re-validation counts only when the destination
/// was not failing already, so a key revoked for a week is one message, not twenty-eight.
pub fn destination_test_failed(
    conn: &mut DbConn,
    workspace: &str,
    id: &str,
    name: &str,
    scheduled: bool,
    message: &str,
) -> QueryResult<()> {
    let (kind, title) = if scheduled {
        (EventKind::RevalidationFailed, format!("Destination failed its scheduled re-validation: {name}"))
    } else {
        (EventKind::DestinationTestFailed, format!("Destination test failed: {name}"))
    };
    let event = Event {
        destination: Some(Named { id: id.to_owned(), name: name.to_owned() }),
        ..Event::new(kind, workspace, title, message.to_owned())
    };
    emit(conn, event).map(drop)
}

/// When lasting conditions begin: a plan turned stale, WAL archiving broke.
pub fn plan_stale(conn: &mut DbConn, workspace: &str, plan: Named, since: NaiveDateTime) -> QueryResult<()> {
    let message = format!(
        "The plan has not succeeded within two of its scheduled times (stale since {} UTC).",
        since.format("%Y-%m-%d %H:%M")
    );
    let event = Event {
        plan: Some(plan.clone()),
        ..Event::new(EventKind::PlanStale, workspace, format!("Plan stale: {}", plan.name), message)
    };
    emit(conn, event).map(drop)
}

pub fn wal_archiving(
    conn: &mut DbConn,
    workspace: &str,
    database: Named,
    status: &str,
    detail: &str,
) -> QueryResult<()> {
    let title = format!("WAL archiving {status}: {}", database.name);
    let event =
        Event { database: Some(database), ..Event::new(EventKind::WalArchiving, workspace, title, detail.to_owned()) };
    emit(conn, event).map(drop)
}

/// A size for a message: "1.5 MB".
fn size(bytes: i64) -> String {
    let mut value = bytes.max(0) as f64;
    for unit in ["bytes", "KB", "MB", "GB", "TB"] {
        if value < 1000.0 || unit == "TB" {
            return if unit == "bytes" { format!("{bytes} bytes") } else { format!("{value:.1} {unit}") };
        }
        value /= 1000.0;
    }
    unreachable!("the loop returns at TB")
}
