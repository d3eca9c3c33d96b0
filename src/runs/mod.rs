//! Backup runs: a plan's source streamed to its destination with SHA-256 and size computed on
//! the way, recorded with its outcome; retention afterwards; the scheduler that starts due plans;
//! restores of a run's artifact, and imports of a dump handed in ([`imports`]).

pub mod artifact;
pub mod artifact_source;
pub mod bucket;
pub mod chart;
pub mod copies;
pub mod copies_store;
pub mod databases;
pub mod drills;
pub mod drills_html;
pub mod drills_store;
pub mod files_html;
pub mod history;
pub mod html;
pub mod imports;
mod leftovers;
mod locks;
pub mod manifests;
pub mod mariadb;
pub mod own_folders;
pub mod progress;
pub mod recovery;
pub mod restore;
pub mod retention;
pub mod runner;
pub mod scheduler;
pub mod single_file;
mod source;
pub mod store;
pub mod volumes;
