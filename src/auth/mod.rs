//! Accounts and access: users, passwords, browser sessions, CSRF, roles.

pub mod csrf;
pub mod html;
pub mod password;
pub mod service;
pub mod session;
pub mod store;

pub use session::{CurrentUser, Role};
