//! Backup plans: a source, a destination, a schedule (5-field cron, UTC) and retention (keep the
//! last N plus GFS tiers, `gfs.rs`; an Object Lock per artifact, `retention.rs`).

pub mod bucket_source;
pub mod copies;
pub mod domain;
pub mod gfs;
mod host_source;
pub mod html;
pub mod mariadb_source;
pub mod retention;
pub mod retention_html;
pub mod retention_service;
pub mod retention_store;
pub mod schedule;
pub mod service;
pub mod stale;
pub mod store;
