//! The plan page's chart of artifact size over time: inline SVG, drawn on the server (no JS).

use super::store::{RunRow, SUCCEEDED};
use crate::web::format::human_bytes;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;
const PAD: f64 = 6.0;

/// A polyline of the successful runs' sizes, oldest left; empty with fewer than one point.
pub fn sizes(runs: &[RunRow]) -> String {
    let mut points: Vec<(i64, i64)> =
        runs.iter().filter(|r| r.status == SUCCEEDED).map(|r| (r.created_at.and_utc().timestamp(), r.bytes)).collect();
    points.sort();
    if points.is_empty() {
        return String::new();
    }
    let (t0, t1) = (points[0].0, points[points.len() - 1].0);
    let max = points.iter().map(|p| p.1).max().unwrap_or(1).max(1) as f64;
    let span = (t1 - t0).max(1) as f64;
    let coords: Vec<String> = points
        .iter()
        .map(|(t, b)| {
            let x = if points.len() == 1 { WIDTH / 2.0 } else { PAD + (t - t0) as f64 / span * (WIDTH - 2.0 * PAD) };
            let y = HEIGHT - PAD - (*b as f64 / max) * (HEIGHT - 2.0 * PAD);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let dots: String = coords
        .iter()
        .map(|c| {
            let (x, y) = c.split_once(',').unwrap_or(("0", "0"));
            format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"3\"/>")
        })
        .collect();
    format!(
        "<svg class=\"size-chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" height=\"{HEIGHT}\" role=\"img\" \
         aria-label=\"Artifact size over time, largest {}\"><polyline fill=\"none\" stroke=\"currentColor\" \
         stroke-width=\"2\" points=\"{}\"/><g fill=\"currentColor\">{dots}</g></svg>",
        human_bytes(max as u64),
        coords.join(" ")
    )
}
