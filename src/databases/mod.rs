//! PostgreSQL databases protected with point-in-time recovery: continuous WAL archiving to any
//! destination (one receiver per database among all instances, by lease), base backups on a
//! schedule, the recovery window and its gaps, and clones restored to any second of it.
//!
//! Layers as everywhere: `html.rs` and `api/databases.rs` call the service; the service calls
//! its stores and, for the network and processes, `artifacts::postgres::wal` and the providers.

pub mod archive_store;
pub mod archiver;
pub mod backups;
pub mod base;
pub mod clones;
pub mod domain;
pub mod fetch;
pub mod fetch_client;
pub mod html;
pub mod imports;
pub mod own_server;
pub mod pitr;
pub mod service;
pub mod shipping;
pub mod store;
pub mod switch;
pub mod wal_route;
pub mod window;
