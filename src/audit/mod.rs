//! The audit log: who created, changed, tested, disabled, enabled, made default or deleted a
//! destination, a plan or a managed server (and started a run), when, and through what. Entries
//! are written by the services that make the changes, in the same transaction; owners and
//! admins read them on `/audit` and at `GET /api/v1/audit-events`. No secret is ever in one: a
//! change lists the names of the fields that changed, never their values.

pub mod domain;
pub mod html;
pub mod service;
pub mod store;

pub use domain::{Action, Actor, Channel, Entry, Subject};
