//! PostgreSQL point-in-time recovery, the layer below the `databases` feature: WAL file names
//! and histories ([`names`], [`history`]), the continuity of an archive and its recovery window
//! ([`continuity`], pure), and the PostgreSQL tools around it: which binaries ([`binaries`]),
//! what a source must allow ([`prereq`]), receiving WAL ([`receiver`]), base backups
//! ([`basebackup`]) and clusters started from them ([`clone`]). Nothing here knows Devpilot's
//! database, HTTP or a provider.

pub mod basebackup;
pub mod binaries;
pub mod clone;
pub mod continuity;
pub mod history;
pub mod names;
pub mod prereq;
pub mod receiver;
pub mod timelines;

pub use basebackup::BackupPoints;
pub use binaries::PgBinaries;
pub use continuity::{
    Archived, BaseBackupPoint, Gap, GapKind, Inputs, OutsideWindow, Range, Report, RestorePlan, Unusable, check,
    plan_restore,
};
pub use history::{TimelineSwitch, parse_history};
pub use names::{Lsn, Segment, SegmentSize, WalFile};
