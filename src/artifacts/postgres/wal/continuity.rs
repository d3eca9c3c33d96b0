//! Continuity of a WAL archive and the recovery window it gives, as WAL-G's `wal-verify` checks
//! it, from what a destination really holds: no I/O here. Each base backup reaches from its stop
//! time to the newest file of the unbroken chain of segments from its start, read along the
//! timelines recovery would follow ([`TimelinePath`]). A missing segment is still uploading,
//! delayed or lost by how long ago a later one arrived; one that Devpilot recorded as uploaded
//! and the destination no longer has is lost at once.

use super::history::TimelineSwitch;
use super::names::{Lsn, Segment, SegmentSize, WalFile};
use super::timelines::TimelinePath;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A file the destination holds, and when its last byte was received there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    pub file: WalFile,
    pub received_at: DateTime<Utc>,
}

/// A base backup as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseBackupPoint {
    pub id: String,
    pub timeline: u32,
    pub start_lsn: Lsn,
    pub stop_lsn: Lsn,
    pub stopped_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Inputs {
    pub seg_size: SegmentSize,
    /// What the destination holds (its listing).
    pub archived: Vec<Archived>,
    /// What Devpilot's records say it uploaded.
    pub recorded: Vec<WalFile>,
    /// Each archived `.history` file, parsed.
    pub histories: BTreeMap<u32, Vec<TimelineSwitch>>,
    pub bases: Vec<BaseBackupPoint>,
    pub now: DateTime<Utc>,
    /// The segment the receiver is writing now, if it runs.
    pub receiving: Option<Segment>,
    /// A missing segment that a later one overtook longer ago than this is delayed…
    pub delayed_after: Duration,
    /// …and longer ago than this, lost.
    pub lost_after: Duration,
}

/// A stretch of time any second of which can be restored, from one base backup on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The oldest base backup the stretch starts from.
    pub base_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapKind {
    /// Overtaken only recently, or not yet by anything archived: still on its way.
    Uploading,
    Delayed,
    Lost,
}

/// Segments `first..=last` of one timeline that the archive lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub timeline: u32,
    pub first: Segment,
    pub last: Segment,
    pub kind: GapKind,
    pub first_name: String,
    pub last_name: String,
}

/// A base backup no restore can start from, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub base_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Oldest first.
    pub ranges: Vec<Range>,
    /// The range reaching the newest WAL: the recovery window.
    pub earliest: Option<DateTime<Utc>>,
    pub latest: Option<DateTime<Utc>>,
    pub gaps: Vec<Gap>,
    /// Timeline switches along the newest timeline's history: (child timeline, switch).
    pub timelines: Vec<(u32, TimelineSwitch)>,
    /// The timeline a recovery ends on (`recovery_target_timeline = 'latest'`).
    pub newest_timeline: u32,
    /// Timelines with archived segments but whose history is not archived: recovery never
    /// follows them.
    pub unfollowed_timelines: Vec<u32>,
    pub unusable: Vec<Unusable>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePlan {
    pub base_id: String,
    /// The timeline recovery ends on.
    pub timeline: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", outside_message(.target, .earliest, .latest))]
pub struct OutsideWindow {
    pub target: DateTime<Utc>,
    pub ranges: Vec<Range>,
    pub earliest: Option<DateTime<Utc>>,
    pub latest: Option<DateTime<Utc>>,
}

fn outside_message(target: &DateTime<Utc>, earliest: &Option<DateTime<Utc>>, latest: &Option<DateTime<Utc>>) -> String {
    let at = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    match (earliest, latest) {
        (Some(earliest), Some(latest)) => {
            format!("{} is outside the recovery window, which is from {} to {}", at(target), at(earliest), at(latest))
        }
        _ => format!("{} cannot be restored: there is no recovery window yet (no usable base backup)", at(target)),
    }
}

/// A segment the archive has along the path.
#[derive(Debug, Clone, Copy)]
struct Present {
    partial: bool,
    received_at: DateTime<Utc>,
}

/// What a base backup reaches: the last segment of its chain and when that arrived.
struct Reach {
    base: usize,
    last_segment: u64,
    until: DateTime<Utc>,
}

struct Analysis {
    path: TimelinePath,
    present: BTreeMap<u64, Present>,
    lost: BTreeSet<u64>,
    reaches: Vec<Reach>,
    unusable: Vec<Unusable>,
}

fn analyze(inputs: &Inputs) -> Analysis {
    let size = inputs.seg_size;
    let start = inputs.bases.iter().map(|b| b.timeline).min().unwrap_or(1);
    let path = TimelinePath::latest(start, &inputs.histories, size);
    let held: BTreeSet<WalFile> = inputs.archived.iter().map(|a| a.file).collect();
    let lost: BTreeSet<u64> = inputs
        .recorded
        .iter()
        .filter_map(|file| match file {
            WalFile::Segment(s) if path.timeline_at(s.number) == s.timeline && !held.contains(file) => Some(s.number),
            _ => None,
        })
        .collect();
    let mut present: BTreeMap<u64, Present> = BTreeMap::new();
    for archived in &inputs.archived {
        let (segment, partial) = match archived.file {
            WalFile::Segment(s) => (s, false),
            WalFile::Partial(s) => (s, true),
            WalFile::History(_) => continue,
        };
        if path.timeline_at(segment.number) != segment.timeline || lost.contains(&segment.number) {
            continue;
        }
        let found = Present { partial, received_at: archived.received_at };
        present
            .entry(segment.number)
            .and_modify(|p| {
                if (p.partial && !partial) || (p.partial == partial && p.received_at < found.received_at) {
                    *p = found;
                }
            })
            .or_insert(found);
    }
    let mut reaches = Vec::new();
    let mut unusable = Vec::new();
    for (index, base) in inputs.bases.iter().enumerate() {
        match reach_of(base, &path, &present, size) {
            Ok((last_segment, until)) => reaches.push(Reach { base: index, last_segment, until }),
            Err(reason) => unusable.push(Unusable { base_id: base.id.clone(), reason }),
        }
    }
    Analysis { path, present, lost, reaches, unusable }
}

/// The last segment and arrival time of `base`'s chain, or why it cannot be restored.
fn reach_of(
    base: &BaseBackupPoint,
    path: &TimelinePath,
    present: &BTreeMap<u64, Present>,
    size: SegmentSize,
) -> Result<(u64, DateTime<Utc>), String> {
    let Some(span) = path.span_of(base.timeline) else {
        return Err(format!(
            "it was taken on timeline {}, which the newest timeline {} does not descend from",
            base.timeline,
            path.newest()
        ));
    };
    if let Some(ended) = span.ended_at.filter(|ended| base.stop_lsn > *ended) {
        return Err(format!("timeline {} ended at {ended}, before the backup did ({})", base.timeline, base.stop_lsn));
    }
    let first = size.segment_of(base.start_lsn);
    let needed = size.segment_of(Lsn(base.stop_lsn.0.saturating_sub(1))).max(first);
    let mut last = None;
    for (&number, found) in present.range(first..) {
        if number != last.map_or(first, |(n, _)| n + 1) {
            break;
        }
        last = Some((number, found.received_at));
        if found.partial {
            break;
        }
    }
    let name = |n: u64| Segment { timeline: path.timeline_at(n), number: n }.file_name(size);
    match last {
        None => Err(format!("its first WAL segment {} is not in the archive", name(first))),
        Some((number, _)) if number < needed => Err(format!(
            "its WAL stops at {} before the backup's end in {}: it cannot become consistent",
            name(number),
            name(needed)
        )),
        Some(reached) => Ok(reached),
    }
}

/// Checks the archive: its ranges, the recovery window, gaps and timelines.
pub fn check(inputs: &Inputs) -> Report {
    let analysis = analyze(inputs);
    let ranges_with_ends = ranges(inputs, &analysis);
    let newest = ranges_with_ends.iter().max_by_key(|(range, last)| (*last, range.to));
    let (earliest, latest) = newest.map_or((None, None), |(range, _)| (Some(range.from), Some(range.to)));
    let newest_timeline = analysis.path.newest();
    let mut unfollowed: Vec<u32> = inputs
        .archived
        .iter()
        .filter_map(|a| a.file.segment())
        .map(|s| s.timeline)
        .filter(|t| *t > newest_timeline)
        .collect();
    unfollowed.sort_unstable();
    unfollowed.dedup();
    Report {
        ranges: ranges_with_ends.into_iter().map(|(range, _)| range).collect(),
        earliest,
        latest,
        gaps: gaps(inputs, &analysis),
        timelines: analysis.path.switches.clone(),
        newest_timeline,
        unfollowed_timelines: unfollowed,
        unusable: analysis.unusable,
    }
}

/// One range per chain end: the bases sharing it count from the oldest one's stop.
fn ranges(inputs: &Inputs, analysis: &Analysis) -> Vec<(Range, u64)> {
    let mut by_end: BTreeMap<u64, (Range, u64)> = BTreeMap::new();
    for reach in &analysis.reaches {
        let base = &inputs.bases[reach.base];
        let candidate = Range { from: base.stopped_at, to: reach.until.max(base.stopped_at), base_id: base.id.clone() };
        by_end
            .entry(reach.last_segment)
            .and_modify(|(range, _)| {
                if candidate.from < range.from {
                    range.from = candidate.from;
                    range.base_id = candidate.base_id.clone();
                }
                range.to = range.to.max(candidate.to);
            })
            .or_insert((candidate, reach.last_segment));
    }
    let mut ranges: Vec<(Range, u64)> = by_end.into_values().collect();
    ranges.sort_by_key(|(range, _)| range.from);
    ranges
}

/// The newest base backup that stopped at or before `target` and whose WAL reaches it.
pub fn plan_restore(inputs: &Inputs, target: DateTime<Utc>) -> Result<RestorePlan, OutsideWindow> {
    let analysis = analyze(inputs);
    let chosen = analysis
        .reaches
        .iter()
        .filter(|reach| inputs.bases[reach.base].stopped_at <= target && reach.until >= target)
        .max_by_key(|reach| inputs.bases[reach.base].stopped_at);
    match chosen {
        Some(reach) => {
            Ok(RestorePlan { base_id: inputs.bases[reach.base].id.clone(), timeline: analysis.path.newest() })
        }
        None => {
            let report = check(inputs);
            Err(OutsideWindow { target, ranges: report.ranges, earliest: report.earliest, latest: report.latest })
        }
    }
}

/// The segments missing between the oldest base backup's start (or the oldest archived segment)
/// and the newest segment archived, recorded, or being received.
fn gaps(inputs: &Inputs, analysis: &Analysis) -> Vec<Gap> {
    let size = inputs.seg_size;
    let present = &analysis.present;
    let newest_present = present.keys().next_back().copied();
    // A partial file holds its segment only as the very last file, while it is still written.
    let holds = |number: u64, found: &Present| {
        !found.partial || (Some(number) == newest_present && inputs.receiving.is_none_or(|r| r.number <= number))
    };
    // From the oldest base backup's start; without one, from the oldest segment known.
    let oldest_base = inputs.bases.iter().map(|b| size.segment_of(b.start_lsn)).min();
    let oldest_known = present.keys().chain(analysis.lost.iter()).copied().min();
    let Some(low) = oldest_base.or(oldest_known) else {
        return Vec::new();
    };
    let mut missing: Vec<(u64, u64)> = Vec::new();
    let mut next = low;
    for (&number, _) in present.range(low..).filter(|(n, f)| holds(**n, f)) {
        if number > next {
            missing.push((next, number - 1));
        }
        next = number + 1;
    }
    let received_up_to = inputs.receiving.map(|r| r.number).filter(|r| *r > 0).map(|r| r - 1);
    let high = [received_up_to, analysis.lost.iter().next_back().copied()].into_iter().flatten().max();
    if let Some(high) = high.filter(|high| *high >= next) {
        missing.push((next, high));
    }
    let mut gaps = Vec::new();
    for (first, last) in missing {
        for (from, to, lost) in split_lost(first, last, &analysis.lost) {
            let kind = if lost { GapKind::Lost } else { kind_by_age(inputs, present, to) };
            for (timeline, a, b) in analysis.path.split(from, to) {
                let first = Segment { timeline, number: a };
                let last = Segment { timeline, number: b };
                let (first_name, last_name) = (first.file_name(size), last.file_name(size));
                gaps.push(Gap { timeline, first, last, kind, first_name, last_name });
            }
        }
    }
    gaps
}

/// `first..=last` cut where the segments recorded as uploaded (and now absent) begin and end.
fn split_lost(first: u64, last: u64, lost: &BTreeSet<u64>) -> Vec<(u64, u64, bool)> {
    let mut pieces: Vec<(u64, u64, bool)> = Vec::new();
    let mut from = first;
    for &number in lost.range(first..=last) {
        if number > from {
            pieces.push((from, number - 1, false));
        }
        match pieces.last_mut() {
            Some((_, to, true)) if *to + 1 == number => *to = number,
            _ => pieces.push((number, number, true)),
        }
        from = number + 1;
    }
    if from <= last {
        pieces.push((from, last, false));
    }
    pieces
}

/// A gap overtaken by a later archived file is as old as that file's arrival.
fn kind_by_age(inputs: &Inputs, present: &BTreeMap<u64, Present>, last: u64) -> GapKind {
    let Some((_, later)) = present.range(last.saturating_add(1)..).next() else {
        return GapKind::Uploading;
    };
    let age = inputs.now - later.received_at;
    let over = |limit: Duration| age >= TimeDelta::from_std(limit).unwrap_or(TimeDelta::MAX);
    if over(inputs.lost_after) {
        GapKind::Lost
    } else if over(inputs.delayed_after) {
        GapKind::Delayed
    } else {
        GapKind::Uploading
    }
}

#[cfg(test)]
#[path = "continuity_tests.rs"]
mod tests;
