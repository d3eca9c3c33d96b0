use super::*;

const MINUTE: i64 = 60;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + seconds, 0).expect("time")
}

fn lsn(text: &str) -> Lsn {
    text.parse().expect("lsn")
}

fn seg(timeline: u32, number: u64) -> Segment {
    Segment { timeline, number }
}

/// An archive of 16 MiB segments; `now` is one day in.
struct Archive {
    inputs: Inputs,
}

impl Archive {
    fn new() -> Archive {
        Archive {
            inputs: Inputs {
                seg_size: SegmentSize::DEFAULT,
                archived: Vec::new(),
                recorded: Vec::new(),
                histories: BTreeMap::new(),
                bases: Vec::new(),
                now: at(24 * 60 * MINUTE),
                receiving: None,
                delayed_after: Duration::from_secs(10 * 60),
                lost_after: Duration::from_secs(60 * 60),
            },
        }
    }

    /// Segments `first..=last` of `timeline`, segment n received at minute n (and recorded).
    fn segments(mut self, timeline: u32, first: u64, last: u64) -> Archive {
        for number in first..=last {
            self = self.file(WalFile::Segment(seg(timeline, number)), at(number as i64 * MINUTE));
        }
        self
    }

    fn file(mut self, file: WalFile, received_at: DateTime<Utc>) -> Archive {
        self.inputs.archived.push(Archived { file, received_at });
        self.inputs.recorded.push(file);
        self
    }

    /// Recorded as uploaded, then removed from the destination.
    fn deleted(mut self, file: WalFile) -> Archive {
        self.inputs.archived.retain(|a| a.file != file);
        self
    }

    /// A base backup starting in segment `first` and stopping in `last`, a little after minute `last`.
    fn base(mut self, id: &str, timeline: u32, first: u64, last: u64) -> Archive {
        let start_lsn = Lsn(first * SegmentSize::DEFAULT.bytes() + 0x28);
        let stop_lsn = Lsn(last * SegmentSize::DEFAULT.bytes() + 0x100);
        let stopped_at = at(last as i64 * MINUTE - 30);
        self.inputs.bases.push(BaseBackupPoint { id: id.into(), timeline, start_lsn, stop_lsn, stopped_at });
        self
    }

    fn history(mut self, timeline: u32, switches: &[(u32, &str)]) -> Archive {
        let parsed = switches.iter().map(|(parent, at)| TimelineSwitch { parent: *parent, switch_at: lsn(at) });
        self.inputs.histories.insert(timeline, parsed.collect());
        self
    }

    fn now(mut self, minutes: i64) -> Archive {
        self.inputs.now = at(minutes * MINUTE);
        self
    }

    fn receiving(mut self, timeline: u32, number: u64) -> Archive {
        self.inputs.receiving = Some(seg(timeline, number));
        self
    }
}

fn kinds(report: &Report) -> Vec<(String, String, GapKind)> {
    report.gaps.iter().map(|g| (g.first_name.clone(), g.last_name.clone(), g.kind)).collect()
}

#[test]
fn an_unbroken_archive_is_one_window_from_the_base_backup_to_the_newest_segment() {
    let archive = Archive::new().segments(1, 2, 10).base("b1", 1, 2, 3);
    let report = check(&archive.inputs);
    assert_eq!(report.ranges, [Range { from: at(3 * MINUTE - 30), to: at(10 * MINUTE), base_id: "b1".into() }]);
    assert_eq!((report.earliest, report.latest), (Some(at(3 * MINUTE - 30)), Some(at(10 * MINUTE))));
    assert_eq!(report.gaps, []);
    assert_eq!(report.newest_timeline, 1);
    assert_eq!(plan_restore(&archive.inputs, at(7 * MINUTE)), Ok(RestorePlan { base_id: "b1".into(), timeline: 1 }));
    let before = plan_restore(&archive.inputs, at(MINUTE)).expect_err("before the base backup");
    assert_eq!(before.latest, Some(at(10 * MINUTE)));
    assert!(before.to_string().contains("outside the recovery window"), "{before}");
    assert!(plan_restore(&archive.inputs, at(11 * MINUTE)).is_err());
}

#[test]
fn the_newest_base_backup_before_the_target_is_chosen() {
    let archive = Archive::new().segments(1, 2, 20).base("old", 1, 2, 3).base("new", 1, 10, 11);
    let report = check(&archive.inputs);
    assert_eq!(report.ranges.len(), 1, "one chain: {:?}", report.ranges);
    assert_eq!(report.ranges[0].base_id, "old");
    assert_eq!(plan_restore(&archive.inputs, at(5 * MINUTE)).map(|p| p.base_id), Ok("old".into()));
    assert_eq!(plan_restore(&archive.inputs, at(15 * MINUTE)).map(|p| p.base_id), Ok("new".into()));
}

#[test]
fn missing_segments_are_uploading_delayed_or_lost_by_how_long_ago_a_later_one_arrived() {
    // Segment 7 arrived at minute 7: at minute 12 the gap is 5 minutes old.
    let archive = |now: i64| Archive::new().segments(1, 2, 4).segments(1, 7, 9).base("b", 1, 2, 3).now(now);
    let gap = |now: i64| kinds(&check(&archive(now).inputs));
    let names = ("000000010000000000000005".to_owned(), "000000010000000000000006".to_owned());
    assert_eq!(gap(12), [(names.0.clone(), names.1.clone(), GapKind::Uploading)]);
    assert_eq!(gap(30), [(names.0.clone(), names.1.clone(), GapKind::Delayed)]);
    assert_eq!(gap(90), [(names.0, names.1, GapKind::Lost)]);
    let report = check(&archive(12).inputs);
    assert_eq!(report.gaps[0].first, seg(1, 5));
    assert_eq!(report.gaps[0].last, seg(1, 6));
    // Whatever the gap's kind, the window ends where the WAL stops.
    assert_eq!(report.latest, Some(at(4 * MINUTE)));
}

#[test]
fn a_deleted_segment_is_lost_at_once_and_ends_the_window_at_the_gap() {
    let archive = Archive::new().segments(1, 2, 12).base("b", 1, 2, 3).deleted(WalFile::Segment(seg(1, 6))).now(13);
    let report = check(&archive.inputs);
    assert_eq!(kinds(&report), [("000000010000000000000006".into(), "000000010000000000000006".into(), GapKind::Lost)]);
    assert_eq!(report.latest, Some(at(5 * MINUTE)));
    assert!(plan_restore(&archive.inputs, at(4 * MINUTE)).is_ok());
    let refused = plan_restore(&archive.inputs, at(8 * MINUTE)).expect_err("past the gap");
    assert_eq!(refused.latest, Some(at(5 * MINUTE)));
    assert!(refused.to_string().contains("to 2023-11-14"), "{refused}");
}

#[test]
fn the_newest_segment_deleted_is_lost_too() {
    let archive = Archive::new().segments(1, 2, 8).base("b", 1, 2, 3).deleted(WalFile::Segment(seg(1, 8)));
    let report = check(&archive.inputs);
    assert_eq!(kinds(&report), [("000000010000000000000008".into(), "000000010000000000000008".into(), GapKind::Lost)]);
    assert_eq!(report.latest, Some(at(7 * MINUTE)));
}

#[test]
fn lost_and_merely_late_segments_in_one_gap_are_told_apart() {
    let archive = Archive::new()
        .segments(1, 2, 5)
        .file(WalFile::Segment(seg(1, 7)), at(7 * MINUTE))
        .segments(1, 9, 10)
        .base("b", 1, 2, 3)
        .deleted(WalFile::Segment(seg(1, 7)))
        .now(11);
    let found: Vec<(u64, u64, GapKind)> =
        check(&archive.inputs).gaps.iter().map(|g| (g.first.number, g.last.number, g.kind)).collect();
    assert_eq!(found, [(6, 6, GapKind::Uploading), (7, 7, GapKind::Lost), (8, 8, GapKind::Uploading)]);
}

#[test]
fn a_base_backup_after_a_gap_starts_a_new_range() {
    let archive =
        Archive::new().segments(1, 2, 5).segments(1, 8, 12).base("before", 1, 2, 3).base("after", 1, 8, 9).now(13);
    let report = check(&archive.inputs);
    let ranges: Vec<(&str, DateTime<Utc>, DateTime<Utc>)> =
        report.ranges.iter().map(|r| (r.base_id.as_str(), r.from, r.to)).collect();
    assert_eq!(
        ranges,
        [("before", at(3 * MINUTE - 30), at(5 * MINUTE)), ("after", at(9 * MINUTE - 30), at(12 * MINUTE))]
    );
    assert_eq!((report.earliest, report.latest), (Some(at(9 * MINUTE - 30)), Some(at(12 * MINUTE))));
    assert_eq!(plan_restore(&archive.inputs, at(4 * MINUTE)).map(|p| p.base_id), Ok("before".into()));
    assert_eq!(plan_restore(&archive.inputs, at(10 * MINUTE)).map(|p| p.base_id), Ok("after".into()));
    let between = plan_restore(&archive.inputs, at(7 * MINUTE)).expect_err("in the gap");
    assert_eq!(between.ranges.len(), 2);
}

#[test]
fn a_base_backup_whose_wal_stops_before_its_end_is_unusable() {
    let archive = Archive::new().segments(1, 2, 3).base("short", 1, 2, 5).base("missing", 1, 20, 21);
    let report = check(&archive.inputs);
    assert_eq!(report.ranges, []);
    assert_eq!((report.earliest, report.latest), (None, None));
    let reasons: Vec<&str> = report.unusable.iter().map(|u| u.reason.as_str()).collect();
    assert!(
        reasons[0].contains("stops at 000000010000000000000003") && reasons[0].contains("consistent"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("000000010000000000000014 is not in the archive"), "{reasons:?}");
    let refused = plan_restore(&archive.inputs, at(3 * MINUTE)).expect_err("nothing usable");
    assert!(refused.to_string().contains("no recovery window"), "{refused}");
}

#[test]
fn a_timeline_switch_is_followed_through_its_history() {
    // Timeline 1 ended in segment 5; the promoted server wrote 5.. on timeline 2. The old primary
    // went on writing 6 and 7 on timeline 1, and its last segment came as a partial.
    let archive = Archive::new()
        .segments(1, 2, 7)
        .file(WalFile::Partial(seg(1, 5)), at(5 * MINUTE))
        .segments(2, 5, 9)
        .history(2, &[(1, "0/5000100")])
        .file(WalFile::History(2), at(5 * MINUTE))
        .base("b", 1, 2, 3)
        .now(10);
    let report = check(&archive.inputs);
    assert_eq!(report.newest_timeline, 2);
    assert_eq!(report.timelines, [(2, TimelineSwitch { parent: 1, switch_at: lsn("0/5000100") })]);
    assert_eq!(report.gaps, []);
    assert_eq!(report.latest, Some(at(9 * MINUTE)));
    assert_eq!(plan_restore(&archive.inputs, at(8 * MINUTE)), Ok(RestorePlan { base_id: "b".into(), timeline: 2 }));
}

#[test]
fn a_missing_segment_after_the_switch_is_a_gap_on_the_new_timeline() {
    let archive = Archive::new()
        .segments(1, 2, 7)
        .segments(2, 5, 9)
        .history(2, &[(1, "0/5000100")])
        .base("b", 1, 2, 3)
        .deleted(WalFile::Segment(seg(2, 6)));
    let report = check(&archive.inputs);
    assert_eq!(kinds(&report), [("000000020000000000000006".into(), "000000020000000000000006".into(), GapKind::Lost)]);
    // Timeline 1's own segment 6 is no substitute: it holds the old primary's WAL after the switch.
    assert_eq!(report.latest, Some(at(5 * MINUTE)));
}

#[test]
fn without_its_history_a_new_timeline_is_not_followed() {
    let archive = Archive::new().segments(1, 2, 6).segments(2, 5, 9).base("b", 1, 2, 3);
    let report = check(&archive.inputs);
    assert_eq!(report.newest_timeline, 1);
    assert_eq!(report.unfollowed_timelines, [2]);
    assert_eq!(report.latest, Some(at(6 * MINUTE)));
}

#[test]
fn a_base_backup_on_an_abandoned_branch_is_unusable() {
    let archive = Archive::new()
        .segments(1, 2, 9)
        .segments(2, 5, 9)
        .history(2, &[(1, "0/5000100")])
        .base("b", 1, 2, 3)
        .base("abandoned", 1, 7, 8);
    let report = check(&archive.inputs);
    assert_eq!(report.unusable.len(), 1);
    assert_eq!(report.unusable[0].base_id, "abandoned");
    assert!(report.unusable[0].reason.contains("timeline 1 ended at 0/5000100"), "{:?}", report.unusable);
}

#[test]
fn a_partial_segment_counts_as_the_last_file_only() {
    let at_end = Archive::new()
        .segments(1, 2, 4)
        .file(WalFile::Partial(seg(1, 5)), at(5 * MINUTE + 20))
        .base("b", 1, 2, 3)
        .receiving(1, 5);
    let report = check(&at_end.inputs);
    assert_eq!(report.gaps, []);
    assert_eq!(report.latest, Some(at(5 * MINUTE + 20)));

    // The receiver moved on: the segment was completed, and its complete file is not here yet.
    let moved_on = Archive { inputs: Inputs { receiving: Some(seg(1, 7)), ..at_end.inputs.clone() } };
    let found: Vec<(u64, u64, GapKind)> =
        check(&moved_on.inputs).gaps.iter().map(|g| (g.first.number, g.last.number, g.kind)).collect();
    assert_eq!(found, [(5, 6, GapKind::Uploading)]);

    // In the middle, a partial is not the segment: the chain ends with it.
    let middle = Archive::new()
        .segments(1, 2, 4)
        .file(WalFile::Partial(seg(1, 5)), at(5 * MINUTE + 20))
        .segments(1, 6, 8)
        .base("b", 1, 2, 3);
    let report = check(&middle.inputs);
    assert_eq!(report.gaps.iter().map(|g| (g.first.number, g.last.number)).collect::<Vec<_>>(), [(5, 5)]);
    assert_eq!(report.latest, Some(at(5 * MINUTE + 20)));
}

#[test]
fn a_complete_segment_wins_over_its_partial() {
    let archive =
        Archive::new().segments(1, 2, 6).file(WalFile::Partial(seg(1, 5)), at(5 * MINUTE - 20)).base("b", 1, 2, 3);
    assert_eq!(check(&archive.inputs).latest, Some(at(6 * MINUTE)));
}

#[test]
fn segments_between_the_archive_and_the_receiver_are_on_their_way() {
    let archive = Archive::new().segments(1, 2, 5).base("b", 1, 2, 3).receiving(1, 8);
    let found: Vec<(String, GapKind)> = kinds(&check(&archive.inputs)).into_iter().map(|(f, _, k)| (f, k)).collect();
    assert_eq!(found, [("000000010000000000000006".to_owned(), GapKind::Uploading)]);
    assert_eq!(check(&archive.inputs).gaps[0].last.number, 7);
}

#[test]
fn gap_names_follow_the_segment_size() {
    let mut archive = Archive::new().segments(1, 4094, 4095).segments(1, 4098, 4099);
    archive.inputs.seg_size = SegmentSize::new(1024 * 1024).expect("size");
    archive.inputs.now = at(5000 * MINUTE);
    let report = check(&archive.inputs);
    assert_eq!(kinds(&report), [("000000010000000100000000".into(), "000000010000000100000001".into(), GapKind::Lost)]);
}

#[test]
fn limits_too_long_for_dates_never_overflow() {
    let mut archive = Archive::new().segments(1, 2, 3).segments(1, 5, 6).base("b", 1, 2, 3);
    archive.inputs.delayed_after = Duration::MAX;
    archive.inputs.lost_after = Duration::MAX;
    assert_eq!(check(&archive.inputs).gaps[0].kind, GapKind::Uploading);
}
