//! Restore drills on the plan page: the last drill and its history, the drill schedule, and
//! "Drill now". The block is a partial of the plan page that polls itself while a drill runs.

use super::drills::DrillError;
use super::drills_store::{DrillRow, RUNNING};
use super::runner::Runner;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::plans::service::PlanService;
use crate::web::time::exact;
use crate::web::{Flash, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/plans/{id}/drill", web::post().to(drill_now))
        .route("/plans/{id}/drills", web::get().to(block))
        .route("/plans/{id}/drill-schedule", web::post().to(save_schedule));
}

/// A drill as the plan page shows it.
pub struct DrillView {
    pub id: String,
    pub when: String,
    pub status: String,
    pub status_label: &'static str,
    pub trigger: String,
    pub duration: String,
    pub checked: String,
    pub error: String,
    pub run_id: String,
    pub copy_position: i64,
    pub bytes_read: String,
}

pub fn drill_view(drill: DrillRow) -> DrillView {
    let duration = match drill.finished_at {
        Some(f) => format!("{:.1} s", (f - drill.started_at).num_milliseconds() as f64 / 1000.0),
        None => String::new(),
    };
    DrillView {
        when: exact(drill.started_at),
        status_label: match drill.status.as_str() {
            RUNNING => "Running",
            super::drills_store::PASSED => "Passed",
            _ => "Failed",
        },
        status: drill.status,
        trigger: drill.trigger_kind,
        duration,
        checked: drill.checked.unwrap_or_default(),
        error: drill.error.unwrap_or_default(),
        run_id: drill.run_id.unwrap_or_default(),
        copy_position: drill.copy_position,
        bytes_read: crate::web::format::human_bytes(u64::try_from(drill.bytes_read).unwrap_or(0)),
        id: drill.id,
    }
}

/// The plan page's drills block.
#[derive(Template)]
#[template(path = "runs/drills_partial.html")]
pub struct DrillsBlock {
    pub plan_id: String,
    pub csrf: String,
    pub can_write: bool,
    pub drills: Vec<DrillView>,
    pub running: bool,
    pub schedule: String,
    pub enabled: bool,
    pub next: String,
    pub schedule_error: String,
    /// What was just saved, when the block answers its own form.
    pub notice: String,
}

/// The block for the plan's page.
pub async fn drills_block(user: &CurrentUser, runner: &Runner, plan_id: &str) -> Result<DrillsBlock, AppError> {
    let drills = runner.drills_of_plan(&user.workspace_id, plan_id, 20).await?;
    let schedule = runner.drill_schedule(&user.workspace_id, plan_id).await?;
    let running = drills.iter().any(|d| d.status == RUNNING);
    Ok(DrillsBlock {
        plan_id: plan_id.to_owned(),
        csrf: user.csrf_token.clone(),
        can_write: user.role.can_write(),
        drills: drills.into_iter().map(drill_view).collect(),
        running,
        schedule: schedule.schedule,
        enabled: schedule.enabled,
        next: schedule.next_drill_at.map(exact).unwrap_or_else(|| "not scheduled".into()),
        schedule_error: String::new(),
        notice: String::new(),
    })
}

async fn block(
    user: CurrentUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let plan = plans.get(&user.workspace_id, &path).await?;
    render(StatusCode::OK, &drills_block(&user, &runner, &plan.id).await?)
}

async fn drill_now(
    user: CurrentUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let plan = plans.get(&user.workspace_id, &path).await?;
    match runner.drill_now(&user.workspace_id, &plan.id, &crate::audit::Actor::web(&user)).await {
        Ok(_) => Flash::ok(format!("Started a restore drill of “{}”.", plan.name)).set(&session),
        Err(e @ DrillError::NothingToDrill) => Flash::error(e.to_string()).set(&session),
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!("/plans/{}#drills", plan.id)))
}

/// Saves the drill schedule. The form posts through htmx and gets the block back (the error next to
/// the field, 422); without script, a flash message and the plan page.
async fn save_schedule(
    req: actix_web::HttpRequest,
    user: CurrentUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let plan = plans.get(&user.workspace_id, &path).await?;
    let schedule = crate::web::form_value(&form, "drill_schedule").unwrap_or_default();
    let enabled = crate::web::form_value(&form, "drill_enabled").is_some_and(|v| v == "on" || v == "true");
    let by = crate::audit::Actor::web(&user);
    let htmx = crate::auth::session::is_htmx(&req);
    match runner.set_drill_schedule(&user.workspace_id, &plan.id, schedule, enabled, &by).await {
        Ok(_) if htmx => {
            let mut block = drills_block(&user, &runner, &plan.id).await?;
            block.notice = "Saved the drill schedule.".into();
            render(StatusCode::OK, &block)
        }
        Ok(_) => {
            Flash::ok("Saved the drill schedule.").set(&session);
            Ok(see_other(&format!("/plans/{}#drills", plan.id)))
        }
        Err(DrillError::Schedule(message)) if htmx => {
            let mut block = drills_block(&user, &runner, &plan.id).await?;
            block.schedule = schedule.trim().to_owned();
            block.enabled = enabled;
            block.schedule_error = message;
            render(StatusCode::UNPROCESSABLE_ENTITY, &block)
        }
        Err(DrillError::Schedule(message)) => {
            Flash::error(format!("The drill schedule was not saved: {message}")).set(&session);
            Ok(see_other(&format!("/plans/{}#drills", plan.id)))
        }
        Err(e) => Err(e.into()),
    }
}
