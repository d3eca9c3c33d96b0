//! Devpilot's own backup, for the operator (never a workspace): its database taken consistently
//! and its master keys sealed under a passphrase the operator typed, as one archive sent to the
//! operator's destination on a schedule or at once (`/admin/backup`); and
//! `devpilot restore-instance`, which loads such an archive into a fresh install.

pub mod archive;
pub mod html;
pub mod passphrase;
pub mod restore;
pub mod service;
pub mod snapshot;
pub mod store;
