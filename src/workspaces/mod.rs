//! Workspaces as their members see them: switching, starting one, members and their roles.

pub mod html;
pub mod service;
pub mod store;
