//! The health history as pages show it: the list row's strip of the last results, the detail
//! page's table with each step's latency, and a small chart of total latency over time (inline
//! SVG, drawn on the server).

use super::health::{HealthTest, StepRecord};
use crate::web::time;
use std::fmt::Write;

/// One result of the strip: its colour and its tooltip.
pub struct StripCell {
    /// passed or failed.
    pub state: &'static str,
    /// Time, result, duration, what ran it and the error.
    pub title: String,
}

/// A destination's last results, oldest left, newest right.
#[derive(Default)]
pub struct HealthStrip {
    pub cells: Vec<StripCell>,
    pub passed: usize,
    pub failed: usize,
}

impl HealthStrip {
    /// From tests newest first (as the store reads them).
    pub fn new(newest_first: Vec<HealthTest>) -> HealthStrip {
        let cells: Vec<StripCell> = newest_first
            .iter()
            .rev()
            .map(|t| {
                let mut title = format!(
                    "{} · {} · {} · {}",
                    time::Exact(t.finished_at),
                    verdict(t),
                    ms(t.duration_ms),
                    t.trigger.cause(t.deep)
                );
                if let Some(error) = &t.error_message {
                    let _ = write!(title, " · {error}");
                }
                StripCell { state: if t.ok { "passed" } else { "failed" }, title }
            })
            .collect();
        let passed = cells.iter().filter(|c| c.state == "passed").count();
        HealthStrip { failed: cells.len() - passed, passed, cells }
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

fn verdict(t: &HealthTest) -> &'static str {
    if t.ok { "passed" } else { "failed" }
}

/// `120 ms`, `3.4 s`.
pub fn ms(millis: i64) -> String {
    if millis < 1000 { format!("{millis} ms") } else { format!("{:.1} s", millis as f64 / 1000.0) }
}

/// One row of the detail page's history table.
pub struct HistoryRow {
    pub iso: time::Iso,
    pub exact: time::Exact,
    pub ok: bool,
    pub duration: String,
    pub steps: Vec<StepCell>,
    pub cause: &'static str,
    pub token: Option<String>,
    pub change: Option<String>,
    pub error_class: Option<String>,
    pub error: Option<String>,
}

pub struct StepCell {
    pub name: String,
    /// passed, failed or not-run (a CSS class).
    pub state: &'static str,
    /// `120 ms`; "—" where it was timed with the next step or not run.
    pub took: String,
}

impl From<&HealthTest> for HistoryRow {
    fn from(t: &HealthTest) -> HistoryRow {
        HistoryRow {
            iso: time::Iso(t.finished_at),
            exact: time::Exact(t.finished_at),
            ok: t.ok,
            duration: ms(t.duration_ms),
            steps: t.steps.iter().map(step_cell).collect(),
            cause: t.trigger.cause(t.deep),
            token: t.triggered_token.clone(),
            change: (t.status_before != t.status_after)
                .then(|| format!("{} → {}", t.status_before.label(), t.status_after.label())),
            error_class: t.error_class.clone(),
            error: t.error_message.clone(),
        }
    }
}

fn step_cell(s: &StepRecord) -> StepCell {
    let state = match s.state() {
        crate::connection_test::StepState::Passed => "passed",
        crate::connection_test::StepState::Failed => "failed",
        crate::connection_test::StepState::NotRun => "not-run",
    };
    let took = s.duration_ms.map_or_else(|| "—".to_owned(), |d| ms(d as i64));
    StepCell { name: s.name.clone(), state, took }
}

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 140.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

/// Total latency of each test over time, oldest left, failed tests in red; an axis with the
/// largest value, and a title per point. Empty without tests. Only numbers, times and fixed
/// words go into it (no provider text), so nothing in it needs escaping.
pub fn latency_chart(newest_first: &[HealthTest]) -> String {
    let mut points: Vec<&HealthTest> = newest_first.iter().collect();
    points.reverse();
    if points.is_empty() {
        return String::new();
    }
    let max = points.iter().map(|t| t.duration_ms).max().unwrap_or(1).max(1) as f64;
    let (t0, t1) = (points[0].finished_at, points[points.len() - 1].finished_at);
    let span = (t1 - t0).num_seconds().max(1) as f64;
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let xy = |t: &HealthTest| {
        let x = if points.len() == 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + (t.finished_at - t0).num_seconds() as f64 / span * plot_w
        };
        (x, TOP + plot_h - t.duration_ms as f64 / max * plot_h)
    };
    let line: Vec<String> = points.iter().map(|t| xy(t)).map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let mut dots = String::new();
    for t in &points {
        let (x, y) = xy(t);
        let class = if t.ok { "ok" } else { "bad" };
        let _ = write!(
            dots,
            "<circle class=\"{class}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\"><title>{} · {} · {}</title></circle>",
            time::Exact(t.finished_at),
            verdict(t),
            ms(t.duration_ms)
        );
    }
    let base = TOP + plot_h;
    format!(
        "<svg class=\"latency-chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" role=\"img\" \
         aria-label=\"Test duration over time, longest {longest}\">\
         <g class=\"axis\" font-size=\"11\" fill=\"currentColor\">\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{base}\" stroke=\"currentColor\"/>\
         <line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{right}\" y2=\"{base}\" stroke=\"currentColor\"/>\
         <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{longest}</text>\
         <text x=\"{lx}\" y=\"{base}\" text-anchor=\"end\">0 ms</text>\
         <text x=\"{LEFT}\" y=\"{bottom}\">{first}</text>\
         <text x=\"{right}\" y=\"{bottom}\" text-anchor=\"end\">{last}</text></g>\
         <polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"{line}\"/>{dots}</svg>",
        longest = ms(max as i64),
        right = WIDTH - 8.0,
        lx = LEFT - 4.0,
        ty = TOP + 10.0,
        bottom = HEIGHT - 4.0,
        first = time::Exact(t0),
        last = time::Exact(t1),
        line = line.join(" "),
    )
}
