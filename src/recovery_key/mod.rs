//! A workspace's recovery key: its artifact key, exported once to an owner who re-entered their
//! password, so that `devpilot recover` can open the workspace's encrypted backups without
//! Devpilot. Only the owner role; never stored in any other form; every export audited (who and
//! when, never the key).

pub mod html;
pub mod service;
