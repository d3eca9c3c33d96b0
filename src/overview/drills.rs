//! The overview's "Restore drills" block: each plan's latest drill, failures first.

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::runs::drills_html::{DrillView, drill_view};
use crate::runs::runner::Runner;
use askama::Template;

#[derive(Template)]
#[template(path = "overview/drills_partial.html")]
struct DrillsBlock {
    /// (plan id, plan name, its latest drill).
    drills: Vec<(String, String, DrillView)>,
    failed: usize,
}

/// The block, rendered.
pub async fn block(user: &CurrentUser, runner: &Runner) -> Result<String, AppError> {
    let mut latest = runner.latest_drills(&user.workspace_id).await?;
    latest.sort_by_key(|(d, _)| d.status == crate::runs::drills_store::PASSED);
    let failed = latest.iter().filter(|(d, _)| d.status == crate::runs::drills_store::FAILED).count();
    let drills = latest.into_iter().map(|(d, name)| (d.plan_id.clone(), name, drill_view(d))).collect();
    Ok(DrillsBlock { drills, failed }.render().map_err(anyhow::Error::from)?)
}
