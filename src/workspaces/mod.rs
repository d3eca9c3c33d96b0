//! Workspaces as their members see them: switching, starting one, members (invited by owners)
//! and their roles.

pub mod html;
pub mod members;
pub mod service;
pub mod store;
