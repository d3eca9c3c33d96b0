//! Managed servers: one SSH login (host, port, username, password or key) that SFTP
//! destinations use instead of holding their own, so a change applies to all of them at once.

pub mod domain;
pub mod html;
pub mod service;
pub mod store;
mod testing;
