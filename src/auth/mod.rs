//! Accounts and access: users, passwords, browser sessions, CSRF, roles, API tokens.

pub mod attempts;
pub mod csrf;
pub mod domain;
pub mod html;
pub mod identity;
pub mod limits;
pub mod password;
pub mod role;
pub mod service;
pub mod session;
pub mod store;
pub mod token_store;
pub mod tokens;

pub use identity::{Account, CurrentUser};
pub use role::Role;
