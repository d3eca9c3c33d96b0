//! The delivery worker: every tick, claims due outbox rows (one instance each, by a claim that
//! expires, so a killed instance's rows are taken over), delivers them side by side, logs each
//! attempt, and settles the row: delivered, retried with exponential back-off (or when the
//! remote says), or given up after a day. At least once: a row is settled only after its
//! attempt, so a crash between the two delivers it again after the claim expires.

use super::channels::{Attempt, Transport};
use super::domain::{Payload, truncate};
use super::emit::Ping;
use super::service::NotificationService;
use super::store::{self, DeliveryRow, OutboxRow, Settle};
use crate::db::{DbError, write_transaction};
use chrono::{NaiveDateTime, Utc};
use secrecy::ExposeSecret;
use std::time::Duration;

/// Rows claimed per tick.
const BATCH: i64 = 50;
/// The longest pause between two attempts.
const MAX_BACK_OFF: Duration = Duration::from_secs(3600);

/// Runs until the process ends.
pub async fn run(service: NotificationService) {
    let me = service.instance.to_string();
    if let Err(e) = service.db.write(move |c| store::release_claims(c, &me)).await {
        tracing::warn!(error = %e, "releasing a previous process's notification claims failed");
    }
    loop {
        if let Err(e) = tick(&service).await {
            tracing::warn!(error = %e, "the notification worker could not look for due deliveries");
        }
        tokio::time::sleep(service.settings.tick).await;
    }
}

/// How long a claim holds: longer than any attempt can take (each request has its timeout; a
/// mail conversation twice that).
fn lease(service: &NotificationService) -> Duration {
    service.settings.request_timeout * 4 + Duration::from_secs(10)
}

/// Claims and delivers what is due now; returns how many attempts were made.
pub async fn tick(service: &NotificationService) -> Result<usize, DbError> {
    let now = Utc::now().naive_utc();
    let due = service.db.run(move |c| store::due(c, now, BATCH)).await?;
    let until = now + chrono::Duration::from_std(lease(service)).unwrap_or_else(|_| chrono::Duration::minutes(5));
    let mut claimed = Vec::new();
    for id in due {
        let me = service.instance.to_string();
        if let Some(row) = service.db.write(move |c| store::claim(c, &id, &me, now, until)).await? {
            claimed.push(row);
        }
    }
    let count = claimed.len();
    // Channels side by side; heartbeats one after another, oldest first, so a monitor sees
    // /start before the run's end.
    let (heartbeats, channels): (Vec<OutboxRow>, Vec<OutboxRow>) =
        claimed.into_iter().partition(|r| r.channel_id.is_none());
    let in_order = async {
        for row in heartbeats {
            deliver(service, row).await;
        }
    };
    futures::future::join(futures::future::join_all(channels.into_iter().map(|row| deliver(service, row))), in_order)
        .await;
    Ok(count)
}

async fn deliver(service: &NotificationService, row: OutboxRow) {
    let attempt = attempt(service, &row).await;
    let now = Utc::now().naive_utc();
    let settle = next_step(service, &row, &attempt, now);
    let log = DeliveryRow {
        id: uuid::Uuid::new_v4().to_string(),
        workspace_id: row.workspace_id.clone(),
        outbox_id: row.id.clone(),
        channel_id: row.channel_id.clone(),
        plan_id: row.plan_id.clone(),
        event: row.event.clone(),
        attempt: row.attempts + 1,
        attempted_at: now,
        ok: attempt.ok,
        outcome: attempt.outcome.clone(),
        answer: attempt.answer.clone(),
        instance_id: service.instance.to_string(),
    };
    let (id, me) = (row.id.clone(), service.instance.to_string());
    let error = (!attempt.ok).then(|| format!("{}: {}", attempt.outcome, truncate(&attempt.answer, 200)));
    let written = service
        .db
        .write(move |c| {
            write_transaction(c, |c| {
                if store::settle(c, &id, &me, now, settle, error.as_deref())? {
                    store::log(c, &log)?;
                }
                Ok(())
            })
        })
        .await;
    if let Err(e) = written {
        // The claim expires and the row is tried again: at least once.
        tracing::warn!(outbox = %row.id, error = %e, "recording a notification attempt failed");
    }
}

/// Delivered; given up (the remote refused for good, or a day has passed); else the next try,
/// after the remote's Retry-After or the doubling back-off.
fn next_step(service: &NotificationService, row: &OutboxRow, attempt: &Attempt, now: NaiveDateTime) -> Settle {
    if attempt.ok {
        return Settle::Delivered;
    }
    let give_up_at = row.created_at
        + chrono::Duration::from_std(service.settings.give_up_after).unwrap_or_else(|_| chrono::Duration::days(1));
    if attempt.permanent || now >= give_up_at {
        return Settle::GiveUp;
    }
    let doubling = 2u32.saturating_pow(u32::try_from(row.attempts).unwrap_or(u32::MAX).min(20));
    let pause =
        attempt.retry_after.unwrap_or_else(|| service.settings.retry_base.saturating_mul(doubling)).min(MAX_BACK_OFF);
    let next = now + chrono::Duration::from_std(pause).unwrap_or_else(|_| chrono::Duration::hours(1));
    if next > give_up_at { Settle::Retry(give_up_at) } else { Settle::Retry(next) }
}

/// One try: to a channel, or a plan's heartbeat. Whatever it says is redacted of the secrets.
async fn attempt(service: &NotificationService, row: &OutboxRow) -> Attempt {
    let payload: Payload = match serde_json::from_str(&row.payload) {
        Ok(p) => p,
        Err(e) => return Attempt::failed("not sent", format!("the stored event is malformed: {e}"), true),
    };
    match (&row.channel_id, &row.plan_id) {
        (Some(channel), _) => to_channel(service, &row.workspace_id, channel, &payload).await,
        (None, Some(plan)) => to_heartbeat(service, &row.workspace_id, plan, &row.event, &payload).await,
        (None, None) => Attempt::failed("not sent", "the notification has no recipient", true),
    }
}

async fn to_channel(service: &NotificationService, workspace: &str, channel: &str, payload: &Payload) -> Attempt {
    let (ws, id) = (workspace.to_owned(), channel.to_owned());
    let row = match service.db.run(move |c| store::find(c, &ws, &id)).await {
        Ok(row) => row,
        Err(DbError::NotFound) => return Attempt::failed("not sent", "the channel was deleted", true),
        Err(e) => return Attempt::failed("not sent", format!("the channel could not be read: {e}"), false),
    };
    let channel = match service.channel_of(&row) {
        Ok(channel) => channel,
        Err(e) => return Attempt::failed("not sent", e, true),
    };
    let transport: &Transport = &service.transport;
    channel.send(transport, payload).await.redacted(&channel.secrets())
}

async fn to_heartbeat(
    service: &NotificationService,
    workspace: &str,
    plan: &str,
    event: &str,
    payload: &Payload,
) -> Attempt {
    let Some(ping) = Ping::parse(event) else {
        return Attempt::failed("not sent", format!("unknown heartbeat {event}"), true);
    };
    let (ws, pid) = (workspace.to_owned(), plan.to_owned());
    let row = match service.db.run(move |c| store::ping_of(c, &ws, &pid)).await {
        Ok(Some(row)) => row,
        Ok(None) => return Attempt::failed("not sent", "the plan no longer has a heartbeat URL", true),
        Err(e) => return Attempt::failed("not sent", format!("the heartbeat URL could not be read: {e}"), false),
    };
    let url = match service.open_ping(&row) {
        Ok(url) => url,
        Err(e) => return Attempt::failed("not sent", e, true),
    };
    let target = format!("{}{}", url.expose_secret(), ping.suffix());
    let attempt = service.transport.post_text(&target, payload.message.clone()).await.into_attempt();
    attempt.redacted(&[url.expose_secret().to_owned()])
}
