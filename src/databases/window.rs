//! The recovery window of a database: what its destination really holds (listed now), what
//! Devpilot recorded uploading, its base backups and timeline histories, handed to the
//! continuity checker.

use super::archive_store::{self as archive, HISTORY, WalFileRow};
use super::base::SUCCEEDED;
use super::service::{DatabaseError, DatabaseService};
use super::shipping::name_of_key;
use super::store::DatabaseRow;
use crate::artifacts::postgres::wal::continuity::{self, Archived, BaseBackupPoint, Gap, Inputs, Report};
use crate::artifacts::postgres::wal::history::parse_history;
use crate::artifacts::postgres::wal::names::{Lsn, SegmentSize, WalFile};
use crate::artifacts::{ByteStream, compression, encryption, workspace_key};
use crate::providers::Provider;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// A missing segment overtaken longer ago than this is delayed rather than still uploading.
const DELAYED_AFTER: Duration = Duration::from_secs(60);
/// The largest history file read (they are a line per timeline switch).
const HISTORY_LIMIT: usize = 1 << 20;

/// The checker's report, and for each of its gaps (in order) about when its WAL was written.
pub struct Timeline {
    pub report: Report,
    pub gap_times: Vec<GapTime>,
    pub now: DateTime<Utc>,
}

/// A gap's WAL was written after the file before it arrived (unknown when none did) and before
/// the file after it arrived (or now, when none has yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GapTime {
    pub after: Option<DateTime<Utc>>,
    pub before: DateTime<Utc>,
}

fn gap_time(files: &[WalFileRow], gap: &Gap, now: DateTime<Utc>) -> GapTime {
    let (first, last) =
        (i64::try_from(gap.first.number).unwrap_or(i64::MAX), i64::try_from(gap.last.number).unwrap_or(i64::MAX));
    let segments = || files.iter().filter(|f| f.kind != HISTORY);
    let after = segments()
        .filter(|f| f.segno < first)
        .max_by_key(|f| (f.segno, f.received_at))
        .map(|f| f.received_at.and_utc());
    let before = segments()
        .filter(|f| f.segno > last)
        .min_by_key(|f| (f.segno, f.received_at))
        .map_or(now, |f| f.received_at.and_utc());
    GapTime { after: after.map(|a| a.min(before)), before }
}

/// The checker's inputs with the records they came from (the fetch of a segment reads these).
pub struct Archive {
    pub inputs: Inputs,
    pub files: Vec<WalFileRow>,
}

impl DatabaseService {
    pub async fn recovery_window(&self, workspace: &str, id: &str) -> Result<Report, DatabaseError> {
        Ok(self.recovery_timeline(workspace, id).await?.report)
    }

    /// The recovery window with about when each gap's WAL was written, for the page's bar.
    pub async fn recovery_timeline(&self, workspace: &str, id: &str) -> Result<Timeline, DatabaseError> {
        let database = self.get(workspace, id).await?;
        let archive = self.archive(&database.row).await?;
        let report = continuity::check(&archive.inputs);
        let now = archive.inputs.now;
        let gap_times = report.gaps.iter().map(|gap| gap_time(&archive.files, gap, now)).collect();
        Ok(Timeline { report, gap_times, now })
    }

    /// Reads the destination's listing and the records into the checker's inputs.
    pub(super) async fn archive(&self, row: &DatabaseRow) -> Result<Archive, DatabaseError> {
        let refused = |m: String| DatabaseError::Refused(m);
        let size = SegmentSize::new(u64::try_from(row.seg_size).unwrap_or(0)).map_err(refused)?;
        let provider =
            self.provider_of(row).await.map_err(|e| refused(format!("The destination cannot be read: {e}")))?;
        // The archiver works while this reads: records read before and after the listing, so a
        // segment that completed meanwhile (its .partial replaced) is neither missed nor lost.
        let id = row.id.clone();
        let before = self.db.run(move |c| archive::wal_files(c, &id)).await?;
        let listed = provider
            .list(&format!("{}/wal/", row.archive_prefix))
            .await
            .map_err(|e| refused(format!("The archive cannot be listed: {e}")))?;
        let present: HashSet<&str> = listed.iter().filter_map(|o| name_of_key(row, &o.key)).collect();
        let id = row.id.clone();
        let after = self.db.run(move |c| archive::wal_files(c, &id)).await?;
        let kept_throughout: HashSet<&str> = before.iter().map(|f| f.name.as_str()).collect();
        // Recorded for the whole read (a .partial is replaced by design, never lost).
        let recorded: Vec<WalFile> = after
            .iter()
            .filter(|f| f.kind != archive::PARTIAL && kept_throughout.contains(f.name.as_str()))
            .filter_map(|f| WalFile::parse(&f.name, size))
            .collect();
        let mut files: Vec<WalFileRow> =
            before.iter().filter(|f| !after.iter().any(|a| a.name == f.name)).cloned().collect();
        files.extend(after.iter().cloned());
        let archived: Vec<Archived> = files
            .iter()
            .filter(|f| present.contains(f.name.as_str()))
            .filter_map(|f| {
                Some(Archived { file: WalFile::parse(&f.name, size)?, received_at: f.received_at.and_utc() })
            })
            .collect();
        let mut histories = BTreeMap::new();
        for file in files.iter().filter(|f| f.kind == HISTORY && present.contains(f.name.as_str())) {
            let text = self.read_small(provider.as_ref(), row, &file.object_key).await.map_err(refused)?;
            let switches = parse_history(u32::try_from(file.timeline).unwrap_or(0), &text)
                .map_err(|e| refused(format!("{}: {e}", file.name)))?;
            histories.insert(u32::try_from(file.timeline).unwrap_or(0), switches);
        }
        let id = row.id.clone();
        let bases = self.db.run(move |c| archive::base_backups(c, &id)).await?;
        let bases = bases
            .into_iter()
            .filter(|b| b.status == SUCCEEDED)
            .filter_map(|b| {
                Some(BaseBackupPoint {
                    timeline: u32::try_from(b.timeline?).ok()?,
                    start_lsn: b.start_lsn.as_deref()?.parse::<Lsn>().ok()?,
                    stop_lsn: b.stop_lsn.as_deref()?.parse::<Lsn>().ok()?,
                    stopped_at: b.stopped_at?.and_utc(),
                    id: b.id,
                })
            })
            .collect();
        let receiving = row.received_lsn.as_deref().and_then(|l| l.parse::<Lsn>().ok()).map(|lsn| {
            crate::artifacts::postgres::wal::names::Segment {
                timeline: newest_timeline(&files),
                number: size.segment_of(lsn),
            }
        });
        let inputs = Inputs {
            seg_size: size,
            archived,
            recorded,
            histories,
            bases,
            now: Utc::now(),
            receiving: receiving.filter(|_| row.archiving),
            delayed_after: DELAYED_AFTER,
            lost_after: self.settings.lost_after,
        };
        Ok(Archive { inputs, files })
    }

    /// A small archived file (a history file), decrypted and decompressed.
    async fn read_small(&self, provider: &dyn Provider, row: &DatabaseRow, key: &str) -> Result<String, String> {
        let body = provider.get(key).await.map_err(|e| format!("reading {key}: {e}"))?;
        let body = self.opened(row, body, key.ends_with(".dpbe")).await?;
        let mut text = Vec::new();
        let mut body = body;
        while let Some(chunk) = body.try_next().await.map_err(|e| format!("reading {key}: {e}"))? {
            text.extend_from_slice(&chunk);
            if text.len() > HISTORY_LIMIT {
                return Err(format!("{key} is larger than a history file can be"));
            }
        }
        String::from_utf8(text).map_err(|_| format!("{key} is not a history file"))
    }

    /// An archived object's bytes as PostgreSQL wrote them: decrypted, decompressed.
    pub(super) async fn opened(
        &self,
        row: &DatabaseRow,
        body: ByteStream,
        encrypted: bool,
    ) -> Result<ByteStream, String> {
        // By the object's own name: the database may have been encrypted then, and not now.
        let body = if encrypted {
            let key = workspace_key::for_workspace(&self.db, &self.cipher, &row.workspace_id)
                .await
                .map_err(|e| format!("the archive cannot be decrypted: {e}"))?;
            encryption::decrypt(body, &key)
        } else {
            body
        };
        Ok(compression::decompress(body))
    }
}

fn newest_timeline(files: &[WalFileRow]) -> u32 {
    files.iter().map(|f| u32::try_from(f.timeline).unwrap_or(1)).max().unwrap_or(1)
}

/// A time as the window shows it.
pub fn at(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
