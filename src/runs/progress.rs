//! A run's progress as pages and the API show it: bytes read from the source against what the
//! run expected to read (asked before it started), the rate and the time left. This instance's
//! memory answers for the runs it executes; the run's row (written every few seconds) for runs
//! another instance executes. Without an expected size there is no percent: bytes only.

use super::runner::Runner;
use super::store::{RUNNING, RunRow, SUCCEEDED};
use chrono::Utc;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunProgress {
    /// Bytes uploaded so far (the artifact's size once it has succeeded).
    pub bytes: u64,
    /// Bytes read from the source so far.
    pub read_bytes: u64,
    /// What it would read, asked before it started; None when that could not be known.
    pub expected_bytes: Option<u64>,
    /// 0–100 of `expected_bytes` read: at most 99 while running, 100 once it has succeeded.
    pub percent: Option<u8>,
    /// Source bytes read per second, while it runs.
    pub bytes_per_second: Option<u64>,
    /// Seconds left at that rate, while it runs and both are known.
    pub eta_seconds: Option<u64>,
}

fn unsigned(n: Option<i64>) -> Option<u64> {
    n.and_then(|n| u64::try_from(n).ok())
}

impl Runner {
    /// The run's progress now.
    pub fn run_progress(&self, run: &RunRow) -> RunProgress {
        let expected_bytes = unsigned(run.expected_bytes);
        let running = run.status == RUNNING;
        let (bytes, read_bytes, rate) = match self.progress(&run.id).filter(|_| running) {
            Some(live) => (live.bytes, live.read_bytes, Some(live.bytes_per_second)),
            None => {
                let read = unsigned(run.read_bytes).unwrap_or(0);
                let elapsed = run.started_at.map(|s| (Utc::now().naive_utc() - s).num_milliseconds());
                let rate = elapsed.filter(|_| running).map(|ms| read.saturating_mul(1000) / ms.max(1) as u64);
                (u64::try_from(run.bytes).unwrap_or(0), read, rate)
            }
        };
        let percent = expected_bytes.and_then(|expected| match run.status.as_str() {
            SUCCEEDED => Some(100),
            RUNNING if expected == 0 => Some(0),
            RUNNING => Some(u8::try_from((read_bytes.saturating_mul(100) / expected).min(99)).unwrap_or(99)),
            // Failed, skipped, interrupted: how far it got.
            _ if expected == 0 => None,
            _ => Some(u8::try_from((read_bytes.saturating_mul(100) / expected).min(100)).unwrap_or(100)),
        });
        let eta_seconds = match (expected_bytes, rate) {
            (Some(expected), Some(rate)) if running && rate > 0 => Some(expected.saturating_sub(read_bytes) / rate),
            _ => None,
        };
        RunProgress { bytes, read_bytes, expected_bytes, percent, bytes_per_second: rate, eta_seconds }
    }
}
