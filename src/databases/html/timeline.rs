//! The recovery window as a bar, drawn on the server as inline SVG (no script): the stretches
//! that can be restored, the gaps in the archive marked by kind with a title each, and the times
//! at both ends written beneath it in HTML, so they stay readable however narrow the bar is drawn.

use crate::artifacts::postgres::wal::continuity::GapKind;
use crate::databases::window::Timeline;
use crate::web::time::exact;
use chrono::{DateTime, Utc};
use std::fmt::Write;

/// The SVG's own width: it is stretched to the page's (`preserveAspectRatio="none"`).
const WIDTH: f64 = 1000.0;
/// The narrowest a gap is drawn, so that one segment missing in a month still shows.
const MIN_GAP: f64 = 8.0;

/// What the page shows of the window.
pub struct WindowView {
    /// The bar, or empty when nothing can be restored yet.
    pub svg: String,
    pub start: String,
    pub end: String,
    /// The recovery window: any second from `earliest` to `latest`.
    pub earliest: String,
    pub latest: String,
    /// Other stretches that can be restored (older base backups cut off by a gap).
    pub other_ranges: Vec<String>,
    pub gaps: Vec<GapView>,
    /// Base backups no restore can start from, and why.
    pub unusable: Vec<String>,
}

pub struct GapView {
    /// `uploading`, `delayed` or `lost`.
    pub kind: &'static str,
    pub text: String,
}

fn kind_name(kind: GapKind) -> &'static str {
    match kind {
        GapKind::Uploading => "uploading",
        GapKind::Delayed => "delayed",
        GapKind::Lost => "lost",
    }
}

pub fn window(timeline: &Timeline) -> WindowView {
    let report = &timeline.report;
    let gaps: Vec<GapView> = report
        .gaps
        .iter()
        .zip(&timeline.gap_times)
        .map(|(gap, time)| {
            let when = match time.after {
                Some(after) => format!("written about {} – {}", at(after), at(time.before)),
                None => format!("written before {}", at(time.before)),
            };
            let text = match (gap.kind, gap.first_name == gap.last_name) {
                (kind, true) => format!("{} on timeline {}: {}, {when}", label(kind), gap.timeline, gap.first_name),
                (kind, false) => format!(
                    "{} on timeline {}: {} to {}, {when}",
                    label(kind),
                    gap.timeline,
                    gap.first_name,
                    gap.last_name
                ),
            };
            GapView { kind: kind_name(gap.kind), text }
        })
        .collect();
    let unusable = report.unusable.iter().map(|u| format!("Base backup {}: {}.", u.base_id, u.reason)).collect();
    let (Some(earliest), Some(latest), Some(first)) =
        (report.earliest, report.latest, report.ranges.iter().map(|r| r.from).min())
    else {
        return WindowView {
            svg: String::new(),
            start: String::new(),
            end: String::new(),
            earliest: String::new(),
            latest: String::new(),
            other_ranges: Vec::new(),
            gaps,
            unusable,
        };
    };
    let gap_ends = timeline.gap_times.iter().map(|t| t.before.min(timeline.now));
    let last = report.ranges.iter().map(|r| r.to).chain(gap_ends).max().unwrap_or(latest).max(latest);
    let bar = Bar { start: first, end: last };
    let mut svg = format!(
        "<svg class=\"window-bar\" viewBox=\"0 0 {WIDTH} 24\" preserveAspectRatio=\"none\" width=\"100%\" \
         height=\"24\" role=\"img\" aria-label=\"Recovery window from {} to {}\">\
         <rect class=\"track\" x=\"0\" y=\"4\" width=\"{WIDTH}\" height=\"16\"/>",
        at(earliest),
        at(latest)
    );
    for range in &report.ranges {
        let (x, width) = bar.span(range.from, range.to, 2.0);
        let _ = write!(
            svg,
            "<rect class=\"range\" x=\"{x:.1}\" y=\"4\" width=\"{width:.1}\" height=\"16\">\
             <title>Restorable: any second from {} to {}</title></rect>",
            at(range.from),
            at(range.to)
        );
    }
    for ((gap, time), view) in report.gaps.iter().zip(&timeline.gap_times).zip(&gaps) {
        let (x, width) = bar.span(time.after.unwrap_or(first).max(first), time.before.min(last), MIN_GAP);
        let _ = write!(
            svg,
            "<rect class=\"gap gap-{}\" x=\"{x:.1}\" y=\"0\" width=\"{width:.1}\" height=\"24\"><title>{}</title></rect>",
            kind_name(gap.kind),
            escape(&view.text)
        );
    }
    svg.push_str("</svg>");
    let other_ranges = report
        .ranges
        .iter()
        .filter(|r| r.from != earliest || r.to != latest)
        .map(|r| format!("{} to {}", at(r.from), at(r.to)))
        .collect();
    WindowView {
        svg,
        start: at(first),
        end: at(last),
        earliest: at(earliest),
        latest: at(latest),
        other_ranges,
        gaps,
        unusable,
    }
}

fn label(kind: GapKind) -> &'static str {
    match kind {
        GapKind::Uploading => "Still uploading",
        GapKind::Delayed => "Delayed",
        GapKind::Lost => "Lost",
    }
}

/// The bar's time axis.
struct Bar {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Bar {
    fn x(&self, t: DateTime<Utc>) -> f64 {
        let span = (self.end - self.start).num_milliseconds().max(1) as f64;
        let offset = (t - self.start).num_milliseconds().clamp(0, span as i64) as f64;
        offset / span * WIDTH
    }

    /// `x` and width of `from..to`, at least `min` wide and inside the bar. A bar of one second
    /// (a window that has only just begun) is that second, all of it.
    fn span(&self, from: DateTime<Utc>, to: DateTime<Utc>, min: f64) -> (f64, f64) {
        if self.end <= self.start {
            return (0.0, WIDTH);
        }
        let (a, b) = (self.x(from), self.x(to.max(from)));
        let width = (b - a).max(min);
        let x = (a - (width - (b - a)) / 2.0).clamp(0.0, WIDTH - width);
        (x, width)
    }
}

fn at(t: DateTime<Utc>) -> String {
    exact(t.naive_utc())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::postgres::wal::continuity::{Gap, Range, Report};
    use crate::artifacts::postgres::wal::names::Segment;
    use crate::databases::window::GapTime;
    use chrono::TimeZone;

    fn t(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 4, hour, minute, 0).single().expect("a time")
    }

    fn report(ranges: Vec<Range>, gaps: Vec<Gap>) -> Report {
        Report {
            earliest: ranges.last().map(|r| r.from),
            latest: ranges.last().map(|r| r.to),
            ranges,
            gaps,
            timelines: Vec::new(),
            newest_timeline: 1,
            unfollowed_timelines: Vec::new(),
            unusable: Vec::new(),
        }
    }

    fn gap(kind: GapKind, first: u64, last: u64) -> Gap {
        let segment = |number| Segment { timeline: 1, number };
        Gap {
            timeline: 1,
            first: segment(first),
            last: segment(last),
            kind,
            first_name: format!("00000001000000000000000{first}"),
            last_name: format!("00000001000000000000000{last}"),
        }
    }

    #[test]
    fn the_bar_runs_from_the_oldest_range_to_the_newest_time_with_each_gap_titled() {
        let ranges = vec![
            Range { from: t(1, 0), to: t(2, 0), base_id: "old".into() },
            Range { from: t(3, 0), to: t(5, 0), base_id: "new".into() },
        ];
        let timeline = Timeline {
            report: report(ranges, vec![gap(GapKind::Lost, 4, 6)]),
            gap_times: vec![GapTime { after: Some(t(2, 0)), before: t(2, 30) }],
            now: t(5, 1),
        };
        let view = window(&timeline);
        assert_eq!((view.start.as_str(), view.end.as_str()), ("2026-03-04 01:00:00 UTC", "2026-03-04 05:00:00 UTC"));
        assert_eq!(
            (view.earliest.as_str(), view.latest.as_str()),
            ("2026-03-04 03:00:00 UTC", "2026-03-04 05:00:00 UTC")
        );
        assert_eq!(view.other_ranges, ["2026-03-04 01:00:00 UTC to 2026-03-04 02:00:00 UTC"]);
        assert_eq!(view.svg.matches("class=\"range\"").count(), 2);
        assert!(view.svg.contains("class=\"gap gap-lost\" x=\"250.0\""), "{}", view.svg);
        let title = "<title>Lost on timeline 1: 000000010000000000000004 to 000000010000000000000006, written about \
                     2026-03-04 02:00:00 UTC – 2026-03-04 02:30:00 UTC</title>";
        assert!(view.svg.contains(title), "{}", view.svg);
        assert_eq!(view.gaps[0].kind, "lost");
    }

    #[test]
    fn a_short_gap_is_still_drawn_wide_enough_to_see_and_stays_on_the_bar() {
        let ranges = vec![Range { from: t(0, 0), to: t(23, 0), base_id: "b".into() }];
        let timeline = Timeline {
            report: report(ranges, vec![gap(GapKind::Uploading, 9, 9)]),
            gap_times: vec![GapTime { after: Some(t(23, 0)), before: t(23, 0) }],
            now: t(23, 0),
        };
        let svg = window(&timeline).svg;
        let marker = "class=\"gap gap-uploading\" x=\"";
        let at = svg.find(marker).expect("the gap") + marker.len();
        let x: f64 = svg[at..].split('"').next().and_then(|x| x.parse().ok()).expect("x");
        assert!(svg.contains("width=\"8.0\" height=\"24\""), "{svg}");
        assert!((x - (WIDTH - MIN_GAP)).abs() < 0.01, "kept inside the bar: {x}");
    }

    #[test]
    fn without_a_range_there_is_no_bar_but_the_gaps_are_listed() {
        let timeline = Timeline {
            report: report(Vec::new(), vec![gap(GapKind::Delayed, 1, 2)]),
            gap_times: vec![GapTime { after: None, before: t(1, 0) }],
            now: t(2, 0),
        };
        let view = window(&timeline);
        assert!(view.svg.is_empty());
        assert_eq!(view.gaps.len(), 1);
        assert!(view.gaps[0].text.starts_with("Delayed on timeline 1"), "{}", view.gaps[0].text);
    }
}
