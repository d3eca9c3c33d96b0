//! Notifications: per-workspace channels (email, webhook, Slack, Discord, Teams, Telegram,
//! Gotify) that choose the events they want, plans' heartbeat pings, and their delivery.
//!
//! Features emit events with one call inside their own transaction (`emit`), which only inserts
//! outbox rows; the delivery worker (`worker`) claims each row on one instance, delivers it with
//! a timeout, logs the attempt (secrets redacted) and retries with back-off for a day. Lasting
//! conditions (stale plans, broken WAL archiving) are looked for by `watch`.

pub mod channels;
mod copies;
pub mod domain;
pub mod drill_events;
pub mod emit;
pub mod html;
pub mod service;
pub mod store;
pub mod watch;
pub mod worker;
