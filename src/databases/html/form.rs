//! The database form: new and edit, saving (which runs every prerequisite step and refuses the
//! save when one fails) and "Check", which runs the same steps without saving. The steps are
//! shown beside the connection URL; bad fields say so next to themselves. The URL is never sent
//! back to the browser: a saved one is shown without its password, and a blank one keeps it.

use super::views::Checks;
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::databases::domain::DatabaseInput;
use crate::databases::service::{Database, DatabaseError, DatabaseService};
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::plans::schedule::{PRESETS, Schedule};
use crate::plans::service::{DestinationChoice, PlanService};
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

#[derive(Template)]
#[template(path = "databases/form.html")]
struct FormPage {
    layout: Layout,
    title: String,
    action: String,
    /// The database edited, if any (its id).
    editing: Option<String>,
    /// The saved URL without its password, on an edit.
    stored_url: String,
    /// A URL was typed and refused: it is not sent back, so it must be typed again.
    retype_url: bool,
    input: DatabaseInput,
    errors: FieldErrors,
    /// A refusal that belongs to no one field (no PostgreSQL binaries on this host, …).
    form_error: String,
    destinations: Vec<DestinationChoice>,
    presets: &'static [(&'static str, &'static str)],
    preview: String,
    checks: Checks,
}

impl FormPage {
    fn error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or_default().to_owned()
    }
}

#[derive(Template)]
#[template(path = "databases/checks_partial.html")]
struct ChecksPartial {
    checks: Checks,
}

fn input_from(pairs: &[(String, String)]) -> DatabaseInput {
    let value = |k: &str| form_value(pairs, k).unwrap_or_default().to_owned();
    DatabaseInput {
        name: value("name"),
        url: value("url"),
        destination_id: value("destination_id"),
        base_schedule: value("base_schedule"),
        window_days: value("window_days"),
        min_base_backups: value("min_base_backups"),
        encrypt: form_value(pairs, "encrypt").is_some(),
    }
}

/// What a refused save shows: field errors, the steps, or a refusal of the whole form.
#[derive(Default)]
struct Refusal {
    errors: FieldErrors,
    checks: Checks,
    form_error: String,
}

async fn form_page(
    user: &CurrentUser,
    plans: &PlanService,
    database: Option<&Database>,
    input: DatabaseInput,
    refusal: Refusal,
) -> Result<FormPage, AppError> {
    Ok(FormPage {
        layout: Layout::for_user(user, "databases"),
        title: database.map_or("Protect a database".into(), |d| format!("Edit {}", d.name())),
        action: database.map_or("/databases".into(), |d| format!("/databases/{}", d.id())),
        editing: database.map(|d| d.id().to_owned()),
        stored_url: database.map(|d| d.url.clone()).unwrap_or_default(),
        retype_url: !input.url.trim().is_empty(),
        preview: Schedule::parse(&input.base_schedule).map(|s| s.preview()).unwrap_or_default(),
        destinations: plans.destination_choices(&user.workspace_id).await?,
        presets: PRESETS,
        input,
        errors: refusal.errors,
        form_error: refusal.form_error,
        checks: refusal.checks,
    })
}

pub(super) async fn new_form(user: CurrentUser, plans: web::Data<PlanService>) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let destinations = plans.destination_choices(&user.workspace_id).await?;
    // Pre-selected: the workspace's default destination (listed first).
    let input = DatabaseInput {
        destination_id: destinations.iter().find(|d| d.is_default).map(|d| d.id.clone()).unwrap_or_default(),
        ..DatabaseInput::defaults()
    };
    render(StatusCode::OK, &form_page(&user, &plans, None, input, Refusal::default()).await?)
}

pub(super) async fn edit_form(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    plans: web::Data<PlanService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let database = service.get(&user.workspace_id, &path).await?;
    let page = form_page(&user, &plans, Some(&database), database.input(), Refusal::default()).await?;
    render(StatusCode::OK, &page)
}

/// A refused save as what the form shows, or the error a page answers with.
fn refusal(e: DatabaseError) -> Result<Refusal, AppError> {
    match e {
        DatabaseError::Invalid(errors) => Ok(Refusal { errors, ..Refusal::default() }),
        DatabaseError::Prerequisites(steps) => Ok(Refusal {
            errors: FieldErrors::single(
                "url",
                "PostgreSQL is not ready for point-in-time recovery: the failed steps below say what to change.",
            ),
            checks: Checks::of(steps),
            form_error: String::new(),
        }),
        DatabaseError::Refused(message) | DatabaseError::Unprocessable(message) => {
            Ok(Refusal { form_error: message, ..Refusal::default() })
        }
        other => Err(other.into()),
    }
}

/// "Saved", with what the check warned about.
fn saved(database: &Database, checks: &Checks, session: &Session) {
    let warnings = checks.warnings();
    let text = if warnings.is_empty() {
        format!("Saved “{}”: WAL archiving starts; base backups {}.", database.name(), database.schedule_preview)
    } else {
        format!("Saved “{}”: WAL archiving starts. Warnings: {}", database.name(), warnings.join(" "))
    };
    Flash::ok(text).set(session);
}

pub(super) async fn create(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    plans: web::Data<PlanService>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let input = input_from(&form);
    match service.create(&user.workspace_id, &input, &Actor::web(&user)).await {
        Ok((database, steps)) => {
            saved(&database, &Checks::of(steps), &session);
            Ok(see_other(&format!("/databases/{}", database.id())))
        }
        Err(e) => {
            let page = form_page(&user, &plans, None, input, refusal(e)?).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

pub(super) async fn update(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    plans: web::Data<PlanService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let input = input_from(&form);
    match service.update(&user.workspace_id, &path, &input, &Actor::web(&user)).await {
        Ok((database, steps)) => {
            saved(&database, &Checks::of(steps), &session);
            Ok(see_other(&format!("/databases/{}", database.id())))
        }
        Err(e) => {
            let refused = refusal(e)?;
            let database = service.get(&user.workspace_id, &path).await?;
            let page = form_page(&user, &plans, Some(&database), input, refused).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

/// "Check": every prerequisite step on the values typed, nothing saved. A name is not needed
/// to check a server, so a blank one is not reported.
pub(super) async fn check(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let mut input = input_from(&form);
    if input.name.trim().is_empty() {
        input.name = "Unnamed".into();
    }
    let id = form_value(&form, "id").filter(|id| !id.is_empty());
    let checks = match service.check(&user.workspace_id, &input, id).await {
        Ok(steps) | Err(DatabaseError::Prerequisites(steps)) => Checks::of(steps),
        Err(DatabaseError::Invalid(errors)) => Checks {
            steps: Vec::new(),
            problems: errors.iter().map(|(field, message)| format!("{}: {message}", label(field))).collect(),
        },
        Err(DatabaseError::Refused(message)) => Checks { steps: Vec::new(), problems: vec![message] },
        Err(e) => return Err(e.into()),
    };
    render(StatusCode::OK, &ChecksPartial { checks })
}

fn label(field: &str) -> &str {
    match field {
        "name" => "Name",
        "url" => "Connection URL",
        "destination_id" => "Destination",
        "base_schedule" => "Base backup schedule",
        "window_days" => "Recovery window",
        "min_base_backups" => "Minimum of base backups",
        other => other,
    }
}
