//! Backup plans: a source, a destination, a schedule (5-field cron, UTC) and a retention count.

pub mod domain;
mod host_source;
pub mod html;
pub mod mariadb_source;
pub mod schedule;
pub mod service;
pub mod stale;
pub mod store;
