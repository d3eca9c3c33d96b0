//! Run pages: "Run now", the plan page (details, history, size chart, live progress) and the
//! workspace's Runs page.

use super::databases::DatabaseInto;
use super::history::Download;
use super::restore::{RestoreTarget, artifact_kind};
use super::runner::{Runner, Trigger};
use super::store::{self, RUNNING, RunRow};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::grants::FolderAccess;
use crate::plans::service::{Plan, PlanService};
use crate::web::format::human_bytes;
use crate::web::time::exact;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/plans/{id}", web::get().to(plan_page))
        .route("/plans/{id}/run", web::post().to(run_now))
        .route("/runs", web::get().to(runs_page))
        .route("/runs/{id}/progress", web::get().to(progress))
        .route("/runs/{id}/download", web::get().to(download))
        .route("/runs/{id}/restore", web::get().to(restore_form))
        .route("/runs/{id}/restore", web::post().to(restore))
        .configure(super::drills_html::routes)
        .configure(super::files_html::routes);
}

/// A run as the history shows it.
pub struct RunView {
    pub id: String,
    pub plan_name: String,
    pub when: String,
    pub status: String,
    pub status_label: &'static str,
    pub trigger: String,
    pub size: String,
    pub duration: String,
    pub destination: String,
    pub error: String,
    /// What the run wants its reader to know beside its status (what it skipped).
    pub notes: String,
    pub sha256: String,
    pub running: bool,
    /// Succeeded, and retention has not deleted it.
    pub downloadable: bool,
    /// Each copy the run wrote, when it wrote more than one (see `runs/copies.rs`).
    pub copies: Vec<CopyView>,
    /// The Object Lock its artifact carries, in words (empty: none).
    pub lock: String,
    /// A directory backup whose files can be browsed (runs/files_html.rs).
    pub browsable: bool,
}

/// One copy of a run as the history shows it.
pub struct CopyView {
    /// "Primary", "Copy 1".
    pub label: String,
    pub destination: String,
    pub status: String,
    pub status_label: &'static str,
    pub size: String,
    pub error: String,
    pub sha256: String,
}

fn copy_views(copies: Vec<super::copies_store::RunCopyRow>, destinations: &[(String, String)]) -> Vec<CopyView> {
    if copies.len() < 2 {
        return Vec::new();
    }
    copies
        .into_iter()
        .map(|c| CopyView {
            label: if c.position == 0 { "Primary".into() } else { format!("Copy {}", c.position) },
            destination: c
                .destination_id
                .as_ref()
                .and_then(|id| destinations.iter().find(|(d, _)| d == id))
                .map_or_else(|| "—".to_owned(), |(_, name)| name.clone()),
            status_label: match c.status.as_str() {
                "succeeded" if c.pruned_at.is_some() => "pruned",
                "succeeded" => "stored",
                "skipped" => "skipped",
                _ => "failed",
            },
            size: if c.status == "succeeded" { human_bytes(c.bytes.max(0) as u64) } else { String::new() },
            error: c.error.unwrap_or_default(),
            sha256: c.sha256.unwrap_or_default(),
            status: c.status,
        })
        .collect()
}

/// The history's rows with their copies and locks.
async fn views(
    runner: &Runner,
    workspace: &str,
    rows: Vec<(RunRow, String)>,
    names: &[(String, String)],
) -> Result<Vec<RunView>, AppError> {
    let ids = rows.iter().map(|(r, _)| r.id.clone()).collect();
    let mut copies = runner.copies_of_runs(workspace, ids).await?;
    let mut runs: Vec<RunView> = rows
        .into_iter()
        .map(|(r, plan)| {
            let of_run = copies.remove(&r.id).unwrap_or_default();
            RunView { copies: copy_views(of_run, names), ..view(r, plan, names) }
        })
        .collect();
    with_locks(runner, workspace, &mut runs).await?;
    Ok(runs)
}

fn view(run: RunRow, plan_name: String, destinations: &[(String, String)]) -> RunView {
    let duration = match (run.started_at, run.finished_at) {
        (Some(s), Some(f)) => format!("{:.1} s", (f - s).num_milliseconds() as f64 / 1000.0),
        _ => String::new(),
    };
    let destination = run
        .destination_id
        .as_ref()
        .and_then(|id| destinations.iter().find(|(d, _)| d == id))
        .map_or_else(|| "—".to_owned(), |(_, name)| name.clone());
    RunView {
        when: exact(run.created_at),
        running: run.status == RUNNING,
        downloadable: [store::SUCCEEDED, store::PARTIAL].contains(&run.status.as_str())
            && run.pruned_at.is_none()
            && run.object_key.is_some(),
        size: if [store::SUCCEEDED, store::PARTIAL].contains(&run.status.as_str()) {
            human_bytes(run.bytes.max(0) as u64)
        } else {
            String::new()
        },
        browsable: [store::SUCCEEDED, store::PARTIAL].contains(&run.status.as_str())
            && run.pruned_at.is_none()
            && run.object_key.is_some()
            && artifact_kind(&run) == "directory",
        copies: Vec::new(),
        status_label: store::label(&run.status),
        status: run.status,
        trigger: run.trigger,
        duration,
        destination,
        error: run.error.unwrap_or_default(),
        notes: run.notes.unwrap_or_default(),
        sha256: run.sha256.unwrap_or_default(),
        plan_name,
        id: run.id,
        lock: String::new(),
    }
}

#[derive(Template)]
#[template(path = "runs/plan.html")]
struct PlanPage {
    layout: Layout,
    flash: Option<Flash>,
    plan: Plan,
    runs: Vec<RunView>,
    chart: String,
    /// Restore drills: the last, the history, the schedule (runs/drills_html.rs).
    drills: String,
}

async fn plan_page(
    user: CurrentUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let plan = plans.get(&user.workspace_id, &path).await?;
    let rows = runner.history_of_plan(&user.workspace_id, &plan.id, 200).await?;
    let chart = super::chart::sizes(&rows);
    let names = runner.destination_names(&user.workspace_id).await?;
    let rows = rows.into_iter().map(|r| (r, plan.name.clone())).collect();
    let runs = views(&runner, &user.workspace_id, rows, &names).await?;
    let layout = Layout::for_user(&user, "plans");
    let drills =
        super::drills_html::drills_block(&user, &runner, &plan.id).await?.render().map_err(anyhow::Error::from)?;
    render(StatusCode::OK, &PlanPage { layout, flash: Flash::take(&session), plan, runs, chart, drills })
}

/// Fills in the Object Lock each run's artifact carries.
async fn with_locks(runner: &Runner, workspace: &str, runs: &mut [RunView]) -> Result<(), AppError> {
    let mut locks = runner.locks_of_runs(workspace, runs.iter().map(|r| r.id.clone()).collect()).await?;
    for run in runs.iter_mut() {
        run.lock = locks.remove(&run.id).unwrap_or_default();
    }
    Ok(())
}

async fn run_now(
    user: CurrentUser,
    plans: web::Data<PlanService>,
    runner: web::Data<Runner>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let plan = plans.get(&user.workspace_id, &path).await?;
    runner.start(&user.workspace_id, &plan.id, Trigger::Manual, Some(&crate::audit::Actor::web(&user))).await?;
    Flash::ok(format!("Started a backup of “{}”.", plan.name)).set(&session);
    Ok(see_other(&format!("/plans/{}", plan.id)))
}

#[derive(Template)]
#[template(path = "runs/list.html")]
struct RunsPage {
    layout: Layout,
    runs: Vec<RunView>,
}

async fn runs_page(user: CurrentUser, runner: web::Data<Runner>) -> Result<HttpResponse, AppError> {
    let rows = runner.history(&user.workspace_id, 200).await?;
    let names = runner.destination_names(&user.workspace_id).await?;
    let runs = views(&runner, &user.workspace_id, rows, &names).await?;
    render(StatusCode::OK, &RunsPage { layout: Layout::for_user(&user, "runs"), runs })
}

#[derive(Template)]
#[template(path = "runs/progress.html")]
struct ProgressPartial {
    id: String,
    running: bool,
    status: String,
    status_label: &'static str,
    /// Bytes read from the source, with what it will read when known ("1.2 MB of 40 MB").
    bytes: String,
    rate: String,
    /// 0–100 of the source read; None when its size is not known (bytes only).
    percent: Option<u8>,
    /// "about 2 min left", while running with a known size and rate.
    time_left: String,
}

/// The live progress partial, polled every second while the run is running; once it ends the
/// partial stops polling and says how it ended.
async fn progress(
    user: CurrentUser,
    runner: web::Data<Runner>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let run = runner.find(&user.workspace_id, &id).await?;
    let running = run.status == RUNNING || run.status == store::QUEUED;
    let progress = runner.run_progress(&run);
    let bytes = match (running, progress.expected_bytes) {
        (true, Some(expected)) => format!("{} of {} read", human_bytes(progress.read_bytes), human_bytes(expected)),
        (true, None) => format!("{} read", human_bytes(progress.read_bytes)),
        // Once it has ended: the artifact's size.
        (false, _) => human_bytes(progress.bytes),
    };
    let rate =
        progress.bytes_per_second.filter(|_| running).map_or_else(String::new, |r| format!("{}/s", human_bytes(r)));
    let partial = ProgressPartial {
        running,
        status_label: store::label(&run.status),
        status: run.status,
        bytes,
        rate,
        percent: progress.percent,
        time_left: progress.eta_seconds.map_or_else(String::new, crate::web::time::time_left),
        id,
    };
    render(StatusCode::OK, &partial)
}

/// Which copy a download reads: 0 the primary, 1 and 2 the copies.
pub const COPY_HEADER: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static("x-devpilot-copy");

/// How long a presigned download link stays valid.
const LINK_VALID_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// A succeeded run's artifact, for any member of the workspace (viewers too): a short-lived
/// presigned URL where the destination gives one, else streamed through the server.
async fn download(
    user: CurrentUser,
    runner: web::Data<Runner>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    match runner.download(&user.workspace_id, &path, LINK_VALID_FOR).await? {
        Download::Redirect { url, copy } => {
            let mut answer = see_other(url.as_str());
            answer.headers_mut().insert(COPY_HEADER, copy.position.into());
            Ok(answer)
        }
        Download::Stream { body, file_name, content_type, copy } => Ok(HttpResponse::Ok()
            .content_type(content_type)
            .insert_header((COPY_HEADER, copy.position.to_string()))
            .insert_header(actix_web::http::header::ContentDisposition::attachment(file_name))
            .streaming(body)),
    }
}

#[derive(Template)]
#[template(path = "runs/restore.html")]
struct RestorePage {
    layout: Layout,
    run: RunView,
    plan_id: String,
    kind: &'static str,
    kind_label: &'static str,
    encrypted: bool,
    /// The typed path, kept on errors (a database URL is never rendered back).
    target: String,
    /// A database restore's choice: `new` (the default) or `existing`.
    into: &'static str,
    errors: FieldErrors,
    /// For an operator whose target is not granted: the grant page, ready to grant it.
    grant_link: Option<String>,
    outcome: String,
    succeeded: bool,
}

impl RestorePage {
    fn error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or_default().to_owned()
    }
}

async fn restore_page(
    user: &CurrentUser,
    runner: &Runner,
    plans: &PlanService,
    id: &str,
) -> Result<RestorePage, AppError> {
    let run = runner.find(&user.workspace_id, id).await?;
    if !view(run.clone(), String::new(), &[]).downloadable {
        return Err(AppError::NotFound("This backup is no longer available".into()));
    }
    let plan_name = plans.get(&user.workspace_id, &run.plan_id).await.map(|p| p.name).unwrap_or_default();
    let names = runner.destination_names(&user.workspace_id).await?;
    let kind = artifact_kind(&run);
    Ok(RestorePage {
        layout: Layout::for_user(user, "plans"),
        plan_id: run.plan_id.clone(),
        kind,
        kind_label: match kind {
            "postgres" => "PostgreSQL dump",
            "mariadb" => "MariaDB dump",
            "sqlite" => "SQLite snapshot",
            "bucket" => "Bucket archive",
            _ => "Directory archive",
        },
        encrypted: run.encrypted,
        run: view(run, plan_name, &names),
        target: String::new(),
        into: "new",
        errors: FieldErrors::new(),
        grant_link: None,
        outcome: String::new(),
        succeeded: false,
    })
}

async fn restore_form(
    user: CurrentUser,
    runner: web::Data<Runner>,
    plans: web::Data<PlanService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    render(StatusCode::OK, &restore_page(&user, &runner, &plans, &path).await?)
}

/// Restores in the request: the page answers when the restore has finished (or failed).
async fn restore(
    user: CurrentUser,
    runner: web::Data<Runner>,
    plans: web::Data<PlanService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let mut page = restore_page(&user, &runner, &plans, &path).await?;
    let typed = form_value(&form, "target").unwrap_or_default();
    let database = matches!(page.kind, "postgres" | "mariadb");
    if !database {
        page.target = typed.trim().to_owned();
    }
    let target = if page.kind == "bucket" {
        let run = runner.find(&user.workspace_id, &path).await?;
        let confirm = form_value(&form, "confirm").unwrap_or_default();
        runner.bucket_target(&user.workspace_id, &run, typed, confirm).await.map(RestoreTarget::Bucket)
    } else if page.kind == "mariadb" {
        let (into, confirm) = (form_value(&form, "into").unwrap_or_default(), form_value(&form, "confirm"));
        page.into = if into == "existing" { "existing" } else { "new" };
        let all = super::restore::holds_all_databases(&runner.find(&user.workspace_id, &path).await?);
        runner
            .mariadb_target(&user.workspace_id, typed, into, confirm.unwrap_or_default(), all)
            .await
            .map(RestoreTarget::Mariadb)
    } else if page.kind == "postgres" {
        let (into, confirm) = (form_value(&form, "into").unwrap_or_default(), form_value(&form, "confirm"));
        page.into = if into == "existing" { "existing" } else { "new" };
        runner
            .database_target(&user.workspace_id, typed, into, confirm.unwrap_or_default())
            .await
            .map(RestoreTarget::Postgres)
    } else {
        let access = runner.grants().access(&user.workspace_id).await?;
        RestoreTarget::parse(page.kind, typed, &access)
    };
    let target = match target {
        Ok(target) => target,
        Err(errors) => {
            page.grant_link = if database {
                crate::grants::html::link_for_database_refusal(&user, &errors, "target", typed)
            } else {
                crate::grants::html::link_for_refusal(&user, &errors, "target", typed, FolderAccess::ReadWrite)
            };
            page.errors = errors;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    match runner.restore(&user.workspace_id, &path, &target).await {
        Ok(copy) => {
            page.succeeded = true;
            page.outcome = match &target {
                RestoreTarget::Postgres(database) => match database.into {
                    DatabaseInto::New => {
                        format!("Restored into the new database “{}”; the checksum matched.", database.dbname())
                    }
                    DatabaseInto::Existing => format!(
                        "Restored into “{}”, its backed-up tables replaced; the checksum matched.",
                        database.dbname()
                    ),
                },
                RestoreTarget::Mariadb(database) => match (database.database(), database.into) {
                    (None, _) => "Restored every database under its own name; the checksum matched.".to_owned(),
                    (Some(name), DatabaseInto::New) => {
                        format!("Restored into the new database “{name}”; the checksum matched.")
                    }
                    (Some(name), DatabaseInto::Existing) => {
                        format!("Restored into “{name}”, its backed-up tables replaced; the checksum matched.")
                    }
                },
                RestoreTarget::Bucket(bucket) => format!(
                    "Restored every object into “{}/”{}; the checksum matched.",
                    bucket.path.shown(),
                    if bucket.existing { ", objects with the same keys replaced" } else { "" }
                ),
                _ => format!("Restored into {}; the checksum matched.", page.target),
            };
            page.outcome = format!("{} Read from {copy}.", page.outcome);
            render(StatusCode::OK, &page)
        }
        Err(AppError::BadRequest(message)) => {
            page.outcome = message;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}
