//! Backup runs: a plan's source streamed to its destination with SHA-256 and size computed on
//! the way, recorded with its outcome; retention afterwards; the scheduler that starts due plans.

pub mod chart;
pub mod databases;
pub mod history;
pub mod html;
mod leftovers;
pub mod own_folders;
pub mod recovery;
pub mod restore;
mod retention;
pub mod runner;
pub mod scheduler;
mod source;
pub mod store;
