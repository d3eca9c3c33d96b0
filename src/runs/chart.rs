//! Charts of bytes over time, drawn on the server as inline SVG (no script): the plan page's
//! artifact sizes and the overview's storage per destination. Each has a y axis in binary units,
//! dates beneath, the newest value written beside its point and a `<title>` on every point (the
//! browser's tooltip). The drawing is small (a 360-unit-wide viewBox) and stretched to its box,
//! so its text stays readable on a 390-pixel-wide phone; colours come from the page's CSS.

use super::store::{RunRow, SUCCEEDED};
use crate::web::format::human_bytes;
use crate::web::time::exact;
use chrono::NaiveDateTime;
use std::fmt::Write;

const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 170.0;
/// Room for the y axis's labels on the left, the dates below, the newest value above.
const LEFT: f64 = 62.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = 26.0;
const BINARY_UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// A value at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub at: NaiveDateTime,
    pub bytes: u64,
}

/// The successful runs' artifact sizes, oldest left; empty without any.
pub fn sizes(runs: &[RunRow]) -> String {
    let points: Vec<Point> = runs
        .iter()
        .filter(|r| r.status == SUCCEEDED)
        .map(|r| Point { at: r.finished_at.unwrap_or(r.created_at), bytes: r.bytes.max(0) as u64 })
        .collect();
    bytes_over_time(&points, "Backup size", "size-chart")
}

/// A line of `points` (in any order) with axes, or empty without points. `title` names the chart
/// for screen readers (it is escaped here); `class` is the page's name for it.
pub fn bytes_over_time(points: &[Point], title: &str, class: &'static str) -> String {
    let mut points = points.to_vec();
    points.sort_by_key(|p| p.at);
    let (Some(first), Some(last)) = (points.first().copied(), points.last().copied()) else {
        return String::new();
    };
    let peak = points.iter().map(|p| p.bytes).max().unwrap_or(0);
    let scale = Scale::for_peak(peak);
    // Points within a minute of each other are drawn as one moment, at the middle.
    let span = (last.at - first.at).num_seconds().max(0) as f64;
    let x = |at: NaiveDateTime| {
        if span < 60.0 {
            LEFT + (WIDTH - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (at - first.at).num_seconds() as f64 / span * (WIDTH - LEFT - RIGHT)
        }
    };
    let y = |bytes: u64| HEIGHT - BOTTOM - bytes as f64 / scale.top as f64 * (HEIGHT - TOP - BOTTOM);

    let mut svg = String::with_capacity(1024 + points.len() * 160);
    let label = format!(
        "{}: {} point{}, from {} to {}, newest {}, largest {}",
        title,
        points.len(),
        if points.len() == 1 { "" } else { "s" },
        day(first.at),
        day(last.at),
        human_bytes(last.bytes),
        human_bytes(peak)
    );
    let _ = write!(
        svg,
        "<svg class=\"{class} chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" \
         aria-label=\"{}\"><title>{}</title>",
        escape(&label),
        escape(&label)
    );
    // The y axis: gridlines at round values in one binary unit, labelled on the left.
    for tick in scale.ticks() {
        let ty = y(tick);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{ty:.1}\" y2=\"{ty:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            ty + 4.0,
            scale.label(tick)
        );
    }
    let _ = write!(
        svg,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
        HEIGHT - BOTTOM,
        WIDTH - RIGHT,
        HEIGHT - BOTTOM,
        HEIGHT - BOTTOM
    );
    // The x axis: the first and last dates (and the middle one when they are days apart).
    let date_y = HEIGHT - BOTTOM + 17.0;
    let mut dates = vec![(first.at, "start")];
    if span >= 60.0 {
        if (last.at - first.at).num_days() >= 2 {
            dates.push((first.at + (last.at - first.at) / 2, "middle"));
        }
        dates.push((last.at, "end"));
    } else {
        dates[0].1 = "middle";
    }
    for (at, anchor) in dates {
        let _ = write!(
            svg,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{date_y:.1}\" text-anchor=\"{anchor}\">{}</text>",
            x(at),
            axis_date(at, span)
        );
    }
    let line: Vec<String> = points.iter().map(|p| format!("{:.1},{:.1}", x(p.at), y(p.bytes))).collect();
    if points.len() > 1 {
        let _ = write!(svg, "<polyline class=\"line\" points=\"{}\"/>", line.join(" "));
    }
    // Every point with its tooltip; a wider transparent circle makes it easy to hover.
    for p in &points {
        let (px, py) = (x(p.at), y(p.bytes));
        let _ = write!(
            svg,
            "<g class=\"point\"><title>{}: {}</title><circle class=\"dot\" cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\"/>\
             <circle class=\"hit\" cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"9\"/></g>",
            exact(p.at),
            human_bytes(p.bytes)
        );
    }
    // The newest value, written above its point (kept inside the drawing).
    let (lx, ly) = (x(last.at), y(last.bytes));
    let anchor = if lx > WIDTH - 60.0 { "end" } else { "middle" };
    let _ = write!(
        svg,
        "<text class=\"value\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text></svg>",
        lx.min(WIDTH - 2.0),
        (ly - 8.0).max(12.0),
        human_bytes(last.bytes)
    );
    svg
}

/// The y axis: its top (a round value at or above the peak) and the step between gridlines, in
/// one binary unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scale {
    unit: usize,
    step: u64,
    top: u64,
}

impl Scale {
    fn for_peak(peak: u64) -> Scale {
        let mut unit = 0;
        while unit < BINARY_UNITS.len() - 1 && peak >= 1024u64.pow(unit as u32 + 1) {
            unit += 1;
        }
        let size = 1024u64.pow(unit as u32);
        // The peak in the unit, rounded up, split into at most 4 steps of 1, 2 or 5 × 10^k.
        let in_unit = peak.div_ceil(size).max(1);
        let mut magnitude = 1u64;
        let step = loop {
            if let Some(step) = [1, 2, 5].iter().map(|m| m * magnitude).find(|s| in_unit.div_ceil(*s) <= 4) {
                break step;
            }
            magnitude *= 10;
        };
        let top = in_unit.div_ceil(step) * step * size;
        Scale { unit, step: step * size, top }
    }

    fn ticks(self) -> impl Iterator<Item = u64> {
        (0..=self.top / self.step).map(move |i| i * self.step)
    }

    fn label(self, bytes: u64) -> String {
        format!("{} {}", bytes / 1024u64.pow(self.unit as u32), BINARY_UNITS[self.unit])
    }
}

/// `Dec 1` for charts over days, `14:05` within one, `Dec 1 14:05` for a single moment.
fn axis_date(at: NaiveDateTime, span_seconds: f64) -> String {
    let format = match span_seconds {
        s if s < 60.0 => "%b %-d %H:%M",
        s if s < 86_400.0 => "%H:%M",
        _ => "%b %-d",
    };
    at.format(format).to_string()
}

fn day(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d").to_string()
}

fn escape(text: &str) -> String {
    askama::filters::escape(text, askama::filters::Html).map_or_else(|_| String::new(), |e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, day).and_then(|d| d.and_hms_opt(hour, 0, 0)).expect("a time")
    }

    #[test]
    fn the_axis_rounds_up_in_one_binary_unit() {
        let mib = 1024 * 1024;
        let scale = Scale::for_peak(3 * mib + 1);
        assert_eq!((scale.unit, scale.step, scale.top), (2, mib, 4 * mib));
        assert_eq!(
            scale.ticks().map(|t| scale.label(t)).collect::<Vec<_>>(),
            ["0 MiB", "1 MiB", "2 MiB", "3 MiB", "4 MiB"]
        );
        let scale = Scale::for_peak(700 * 1024);
        assert_eq!((scale.unit, scale.step, scale.top), (1, 200 * 1024, 800 * 1024));
        assert_eq!(Scale::for_peak(0).top, 1);
        assert!(Scale::for_peak(u64::MAX / 2).top >= u64::MAX / 2);
    }

    #[test]
    fn every_point_has_a_tooltip_and_the_newest_is_labelled() {
        let points = [Point { at: at(1, 2), bytes: 1536 }, Point { at: at(3, 2), bytes: 3 * 1024 * 1024 }];
        let svg = bytes_over_time(&points, "Size of <b>", "t");
        assert_eq!(svg.matches("<g class=\"point\"><title>").count(), 2);
        assert!(svg.contains("<title>2026-12-01 02:00:00 UTC: 1.5 KiB</title>"), "{svg}");
        assert!(svg.contains(">3.0 MiB</text></svg>"), "{svg}");
        assert!(svg.contains(">Dec 1<") && svg.contains(">Dec 3<"), "{svg}");
        assert!(svg.contains("Size of &#60;b&#62;") || svg.contains("Size of &lt;b&gt;"), "{svg}");
        assert!(!svg.contains("<b>"));
    }

    #[test]
    fn no_points_no_chart_and_one_point_is_centred() {
        assert_eq!(bytes_over_time(&[], "x", "t"), "");
        let svg = bytes_over_time(&[Point { at: at(1, 2), bytes: 10 }], "x", "t");
        assert!(!svg.contains("polyline") && svg.contains("cx=\"204.0\""), "{svg}");
        assert!(svg.contains(">Dec 1 02:00</text>"), "a single moment is dated in full: {svg}");
    }
}
