//! Accounts and access: users, passwords, browser sessions, CSRF, roles.

pub mod attempts;
pub mod csrf;
pub mod domain;
pub mod html;
pub mod limits;
pub mod password;
pub mod role;
pub mod service;
pub mod session;
pub mod store;

pub use session::{Account, CurrentUser, Role};
