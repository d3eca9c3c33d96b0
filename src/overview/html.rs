//! `/overview`, the landing page: how every plan's last run went and when the next is due, which
//! plans are stale, the destinations (failing first) with what they hold and its growth, the
//! last failures and the protected databases' recovery windows.

use super::service::{
    DatabaseSummary, DestinationSummary, Failure, OverviewError, OverviewService, PlanSummary, Window,
};
use crate::auth::CurrentUser;
use crate::destinations::domain::Status;
use crate::error::AppError;
use crate::runs::chart;
use crate::runs::store::{self as runs, RUNNING};
use crate::web::format::human_bytes;
use crate::web::time::{Exact, ago, exact};
use crate::web::{Layout, render};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Duration, NaiveDateTime};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/overview", web::get().to(page));
}

impl From<OverviewError> for AppError {
    fn from(e: OverviewError) -> Self {
        match e {
            OverviewError::Db(e) => e.into(),
            OverviewError::Internal(e) => AppError::Internal(e),
        }
    }
}

/// How many plans and destinations the page lists: it is read at a glance (a workspace of 10,000
/// plans rendered them all, megabytes a visit); the Plans and Destinations pages list them all.
const SHOWN: usize = 50;

#[derive(Template)]
#[template(path = "overview/page.html")]
struct OverviewPage {
    layout: Layout,
    /// The [`SHOWN`] that most need attention when there are more.
    plans: Vec<PlanRow>,
    plans_total: usize,
    stale: usize,
    /// Failing first; the first [`SHOWN`].
    destinations: Vec<DestinationRow>,
    destinations_total: usize,
    failing: usize,
    failures: Vec<FailureRow>,
    databases: Vec<DatabaseRow>,
    /// The restore drills block (overview/drills.rs), rendered.
    drills: String,
}

/// A time as the page writes it: how long ago (or in how long) with the exact time beside.
pub struct When {
    pub words: String,
    pub exact: Exact,
}

fn when(at: NaiveDateTime, now: NaiveDateTime) -> When {
    let words = if at > now { format!("in {}", until(at - now)) } else { ago(at, now).to_string() };
    When { words, exact: Exact(at) }
}

/// "3 hours", "2 days": the time left before a due run.
fn until(left: Duration) -> String {
    let plural = |n: i64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    match left.num_minutes() {
        m if m < 1 => "less than a minute".into(),
        m if m < 60 => plural(m, "minute"),
        m if m < 48 * 60 => plural((m + 30) / 60, "hour"),
        m => plural((m + 720) / 1440, "day"),
    }
}

/// "4.2 s", "3 min 5 s", "1 h 2 min".
fn duration(d: Duration) -> String {
    let s = d.num_milliseconds().max(0) as f64 / 1000.0;
    match s as u64 {
        0..60 => format!("{s:.1} s"),
        60..3600 => format!("{} min {} s", s as u64 / 60, s as u64 % 60),
        n => format!("{} h {} min", n / 3600, n % 3600 / 60),
    }
}

struct PlanRow {
    id: String,
    name: String,
    enabled: bool,
    schedule: String,
    destination: Option<String>,
    /// The last run: its id, status, label and time; size and duration once it has them.
    last: Option<LastRunView>,
    next: Option<When>,
    /// "No success since …" when stale.
    stale: Option<String>,
}

struct LastRunView {
    id: String,
    status: String,
    label: &'static str,
    running: bool,
    when: When,
    size: String,
    duration: String,
    error: String,
}

fn plan_row(p: PlanSummary, now: NaiveDateTime) -> PlanRow {
    let stale = p.stale_since.map(|since| match p.last_success_at {
        Some(at) => format!("No successful backup since {} (overdue since {})", exact(at), exact(since)),
        None => format!("Never backed up successfully (overdue since {})", exact(since)),
    });
    let last = p.last_run.map(|r| LastRunView {
        running: r.status == RUNNING || r.status == runs::QUEUED,
        label: runs::label(&r.status),
        when: when(r.finished_at.unwrap_or(r.created_at), now),
        size: if [runs::SUCCEEDED, runs::PARTIAL, RUNNING].contains(&r.status.as_str()) {
            human_bytes(r.bytes)
        } else {
            String::new()
        },
        duration: r.duration.map(duration).unwrap_or_default(),
        error: r.error.unwrap_or_default(),
        status: r.status,
        id: r.id,
    });
    PlanRow {
        next: p.next_run_at.map(|at| when(at, now)),
        schedule: p.schedule_preview,
        destination: p.destination_name,
        enabled: p.enabled,
        name: p.name,
        id: p.id,
        last,
        stale,
    }
}

struct DestinationRow {
    id: String,
    name: String,
    type_label: &'static str,
    status: &'static str,
    status_label: &'static str,
    is_default: bool,
    tested: Option<When>,
    error: String,
    stored: String,
    artifacts: usize,
    growth: String,
    chart: String,
}

fn destination_row(d: DestinationSummary, now: NaiveDateTime) -> DestinationRow {
    let growth = match d.growth_bytes {
        0 => "no change in 30 days".to_owned(),
        n if n > 0 => format!("+{} in 30 days", human_bytes(n as u64)),
        n => format!("−{} in 30 days", human_bytes(n.unsigned_abs())),
    };
    let title = format!("Storage used on {}", d.name);
    DestinationRow {
        chart: if d.growth.len() > 1 {
            chart::bytes_over_time(&d.growth, &title, "storage-chart")
        } else {
            String::new()
        },
        status: d.status.as_str(),
        status_label: d.status.label(),
        tested: d.last_tested_at.map(|at| when(at, now)),
        error: d.last_error.unwrap_or_default(),
        stored: human_bytes(d.stored_bytes),
        artifacts: d.artifacts,
        type_label: d.type_label,
        is_default: d.is_default,
        name: d.name,
        id: d.id,
        growth,
    }
}

struct FailureRow {
    run_id: String,
    plan_id: String,
    plan_name: String,
    status: String,
    label: &'static str,
    when: When,
    error: String,
}

fn failure_row(f: Failure, now: NaiveDateTime) -> FailureRow {
    FailureRow {
        label: runs::label(&f.status),
        when: when(f.at, now),
        status: f.status,
        run_id: f.run_id,
        plan_id: f.plan_id,
        plan_name: f.plan_name,
        error: f.error,
    }
}

struct DatabaseRow {
    id: String,
    name: String,
    status: String,
    message: String,
    archiving: bool,
    lag: String,
    last_received: Option<When>,
    /// "2026-12-01 02:00:00 UTC – 2026-12-06 10:00:00 UTC", or why there is none.
    window: String,
    window_known: bool,
}

fn database_row(d: DatabaseSummary, now: NaiveDateTime) -> DatabaseRow {
    let (window, window_known) = match d.window {
        Window::Range(from, to) => (format!("{} – {}", exact(from.naive_utc()), exact(to.naive_utc())), true),
        Window::Empty => ("nothing restorable yet".into(), false),
        Window::Unknown(why) => (format!("unknown: {why}"), false),
    };
    DatabaseRow {
        lag: d.lag_bytes.map(|b| human_bytes(b.max(0) as u64)).unwrap_or_default(),
        last_received: d.last_received_at.map(|at| when(at, now)),
        message: d.status_message.unwrap_or_default(),
        archiving: d.archiving,
        status: d.status,
        name: d.name,
        id: d.id,
        window,
        window_known,
    }
}

async fn page(
    user: CurrentUser,
    overview: web::Data<OverviewService>,
    runner: web::Data<crate::runs::runner::Runner>,
) -> Result<HttpResponse, AppError> {
    let o = overview.overview(&user.workspace_id).await?;
    let drills = super::drills::block(&user, &runner).await?;
    let now = o.now;
    let (plans_total, destinations_total) = (o.plans.len(), o.destinations.len());
    let stale = o.plans.iter().filter(|p| p.stale_since.is_some()).count();
    let failing = o.destinations.iter().filter(|d| d.status == Status::Failed).count();
    let plans: Vec<PlanRow> = most_in_need(o.plans).into_iter().map(|p| plan_row(p, now)).collect();
    // Already failing first.
    let destinations: Vec<DestinationRow> =
        o.destinations.into_iter().take(SHOWN).map(|d| destination_row(d, now)).collect();
    let page = OverviewPage {
        layout: Layout::for_user(&user, "overview"),
        plans_total,
        destinations_total,
        stale,
        failing,
        failures: o.failures.into_iter().map(|f| failure_row(f, now)).collect(),
        databases: o.databases.into_iter().map(|d| database_row(d, now)).collect(),
        plans,
        destinations,
        drills,
    };
    render(StatusCode::OK, &page)
}

/// All the plans in name order when they fit; otherwise the [`SHOWN`] that most need attention:
/// stale ones, then those whose last run failed, then the rest, each group in name order.
fn most_in_need(mut plans: Vec<PlanSummary>) -> Vec<PlanSummary> {
    if plans.len() > SHOWN {
        let failed =
            |p: &PlanSummary| p.last_run.as_ref().is_some_and(|r| runs::UNSUCCESSFUL.contains(&r.status.as_str()));
        plans.sort_by_key(|p| (p.stale_since.is_none(), !failed(p)));
        plans.truncate(SHOWN);
    }
    plans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_left_read_plainly() {
        assert_eq!(duration(Duration::milliseconds(4200)), "4.2 s");
        assert_eq!(duration(Duration::seconds(185)), "3 min 5 s");
        assert_eq!(duration(Duration::seconds(3720)), "1 h 2 min");
        assert_eq!(until(Duration::minutes(1)), "1 minute");
        assert_eq!(until(Duration::minutes(150)), "3 hours");
        assert_eq!(until(Duration::days(3)), "3 days");
    }
}
