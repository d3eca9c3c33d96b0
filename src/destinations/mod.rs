//! Backup destinations: where artifacts live.

pub mod audited;
pub mod dialog;
pub mod domain;
pub mod fields;
mod host_folder;
pub mod html;
pub mod list;
mod page;
mod policy;
pub mod service;
pub mod store;
mod testing;
