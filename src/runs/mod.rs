//! Backup runs: a plan's source streamed to its destination with SHA-256 and size computed on
//! the way, recorded with its outcome; retention afterwards; the scheduler that starts due plans;
//! restores of a run's artifact, and imports of a dump handed in ([`imports`]).

pub mod chart;
pub mod databases;
pub mod history;
pub mod html;
pub mod imports;
mod leftovers;
pub mod mariadb;
pub mod own_folders;
pub mod progress;
pub mod recovery;
pub mod restore;
mod retention;
pub mod runner;
pub mod scheduler;
mod source;
pub mod store;
pub mod volumes;
