//! Which timeline's file PostgreSQL reads for each segment when it recovers with
//! `recovery_target_timeline = 'latest'`: the newest timeline whose history is archived (found as
//! `findNewestTimeLine` does, one number after another), and along its history, for segment `s`,
//! the newest timeline whose first segment is at or before `s` (`XLogFileReadAnyTLI`).

use super::history::TimelineSwitch;
use super::names::{Lsn, SegmentSize};
use std::collections::BTreeMap;

/// One timeline of the path: from its first segment until `ended_at` (None: still going).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub timeline: u32,
    pub first_segment: u64,
    pub ended_at: Option<Lsn>,
}

/// The timelines recovery follows, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelinePath {
    pub spans: Vec<Span>,
    /// The switches along the path: (the child timeline, where its parent ended).
    pub switches: Vec<(u32, TimelineSwitch)>,
}

impl TimelinePath {
    /// The path to the newest timeline reachable from `start` through archived histories.
    pub fn latest(start: u32, histories: &BTreeMap<u32, Vec<TimelineSwitch>>, size: SegmentSize) -> TimelinePath {
        let mut newest = start.max(1);
        while let Some(next) = newest.checked_add(1).filter(|n| histories.contains_key(n)) {
            newest = next;
        }
        let ancestors = histories.get(&newest).map(Vec::as_slice).unwrap_or_default();
        let mut spans = Vec::with_capacity(ancestors.len() + 1);
        let mut switches = Vec::with_capacity(ancestors.len());
        let mut first_segment = 0;
        for (index, switch) in ancestors.iter().enumerate() {
            spans.push(Span { timeline: switch.parent, first_segment, ended_at: Some(switch.switch_at) });
            let child = ancestors.get(index + 1).map_or(newest, |next| next.parent);
            switches.push((child, *switch));
            first_segment = size.segment_of(switch.switch_at);
        }
        spans.push(Span { timeline: newest, first_segment, ended_at: None });
        TimelinePath { spans, switches }
    }

    pub fn newest(&self) -> u32 {
        self.spans.last().map_or(1, |span| span.timeline)
    }

    /// The timeline whose file holds segment `number`.
    pub fn timeline_at(&self, number: u64) -> u32 {
        self.span_at(number).timeline
    }

    fn span_at(&self, number: u64) -> Span {
        let fallback = Span { timeline: 1, first_segment: 0, ended_at: None };
        self.spans.iter().rev().find(|span| span.first_segment <= number).copied().unwrap_or(fallback)
    }

    /// The span of `timeline`, if the path passes through it.
    pub fn span_of(&self, timeline: u32) -> Option<Span> {
        self.spans.iter().find(|span| span.timeline == timeline).copied()
    }

    /// Where segments `first..=last` change timeline: the pieces, each on one timeline.
    pub fn split(&self, first: u64, last: u64) -> Vec<(u32, u64, u64)> {
        let mut pieces = Vec::new();
        let mut from = first;
        while from <= last {
            let timeline = self.timeline_at(from);
            let next_start = self.spans.iter().map(|s| s.first_segment).filter(|f| *f > from).min();
            let to = next_start.map_or(last, |n| last.min(n - 1));
            pieces.push((timeline, from, to));
            match to.checked_add(1) {
                Some(next) => from = next,
                None => break,
            }
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsn(text: &str) -> Lsn {
        text.parse().expect("lsn")
    }

    fn histories() -> BTreeMap<u32, Vec<TimelineSwitch>> {
        let one = TimelineSwitch { parent: 1, switch_at: lsn("0/5000100") };
        let two = TimelineSwitch { parent: 2, switch_at: lsn("0/9000000") };
        BTreeMap::from([(2, vec![one]), (3, vec![one, two])])
    }

    #[test]
    fn one_timeline_without_histories() {
        let path = TimelinePath::latest(1, &BTreeMap::new(), SegmentSize::DEFAULT);
        assert_eq!(path.newest(), 1);
        assert_eq!(path.timeline_at(0), 1);
        assert_eq!(path.timeline_at(1_000_000), 1);
        assert!(path.switches.is_empty());
    }

    #[test]
    fn each_segment_is_read_from_the_newest_timeline_that_began_at_or_before_it() {
        let path = TimelinePath::latest(1, &histories(), SegmentSize::DEFAULT);
        assert_eq!(path.newest(), 3);
        assert_eq!(path.timeline_at(4), 1);
        // The switch segment is read from the child: it holds the parent's WAL up to the switch.
        assert_eq!(path.timeline_at(5), 2);
        assert_eq!(path.timeline_at(8), 2);
        assert_eq!(path.timeline_at(9), 3);
        assert_eq!(path.switches.iter().map(|(child, s)| (*child, s.parent)).collect::<Vec<_>>(), [(2, 1), (3, 2)]);
        assert_eq!(path.split(3, 10), [(1, 3, 4), (2, 5, 8), (3, 9, 10)]);
        assert_eq!(path.span_of(2).and_then(|s| s.ended_at), Some(lsn("0/9000000")));
    }

    #[test]
    fn the_newest_timeline_is_found_one_history_after_another() {
        let mut histories = histories();
        let far = TimelineSwitch { parent: 3, switch_at: lsn("0/F000000") };
        histories.insert(5, vec![far]);
        assert_eq!(TimelinePath::latest(1, &histories, SegmentSize::DEFAULT).newest(), 3);
        assert_eq!(TimelinePath::latest(2, &histories, SegmentSize::DEFAULT).newest(), 3);
    }
}
