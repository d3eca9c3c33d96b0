//! The overview: the landing page that says at a glance whether backups work (plans' last and
//! next runs, stale plans, failing destinations, storage and its growth, the last failures,
//! the protected databases' recovery windows). Read-only: it computes its view from what the
//! other features record.

mod drills;
pub mod html;
pub mod service;
mod store;
