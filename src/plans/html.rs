//! The Plans pages: list, create/edit, enable/disable, delete. Thin: request parsing and
//! rendering; rules live in the service.

use super::domain::{PlanInput, Source};
use super::retention::OwnRetentionFields;
use super::schedule::PRESETS;
use super::service::{DestinationChoice, Plan, PlanError, PlanService};
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::grants::FolderAccess;
use crate::grants::html::{link_for_database_refusal, link_for_refusal};
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/plans", web::get().to(list))
        .route("/plans", web::post().to(create))
        .route("/plans/new", web::get().to(new_form))
        .route("/plans/{id}/edit", web::get().to(edit_form))
        .route("/plans/{id}", web::post().to(update))
        .route("/plans/{id}/enable", switch_to(true))
        .route("/plans/{id}/disable", switch_to(false))
        .route("/plans/{id}/delete", web::get().to(confirm_delete))
        .route("/plans/{id}/delete", web::post().to(delete));
}

impl From<PlanError> for AppError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::NotFound => AppError::NotFound("Plan not found".into()),
            PlanError::Invalid(errors) => {
                let detail: Vec<String> = errors.iter().map(|(_, m)| m.to_owned()).collect();
                AppError::BadRequest(detail.join(" "))
            }
            PlanError::Db(e) => e.into(),
        }
    }
}

#[derive(Template)]
#[template(path = "plans/list.html")]
struct ListPage {
    layout: Layout,
    flash: Option<Flash>,
    plans: Vec<Plan>,
    page: i64,
    last_page: i64,
    total: i64,
}

/// Plans a page of the list shows (a workspace may hold thousands).
const PER_PAGE: i64 = 50;

#[derive(serde::Deserialize)]
struct ListQuery {
    page: Option<i64>,
}

async fn list(
    user: CurrentUser,
    service: web::Data<PlanService>,
    session: Session,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let found = service.page(&user.workspace_id, query.page.unwrap_or(1).clamp(1, 1_000_000), PER_PAGE).await?;
    let page = ListPage {
        layout: Layout::for_user(&user, "plans"),
        flash: Flash::take(&session),
        last_page: found.last_page(),
        page: found.page,
        total: found.total,
        plans: found.items,
    };
    render(StatusCode::OK, &page)
}

// ---- the form ----

#[derive(Template)]
#[template(path = "plans/form.html")]
struct FormPage {
    layout: Layout,
    title: String,
    action: String,
    input: PlanInput,
    errors: FieldErrors,
    destinations: Vec<DestinationChoice>,
    source_kinds: &'static [(&'static str, &'static str)],
    presets: &'static [(&'static str, &'static str)],
    preview: String,
    /// The stored database URL (without its password) on an edit of a PostgreSQL plan.
    stored_url: String,
    /// For an operator whose source folder is not granted: the grant page, ready to grant it.
    grant_link: Option<String>,
    /// For an operator whose PostgreSQL server is not granted: the grant page, ready to grant it.
    database_grant_link: Option<String>,
    /// The retention partial's tiers, and the plan its preview reads ("new" for a new plan).
    retention_tiers: [(&'static str, &'static str, u32); 5],
    retention_plan: String,
}

impl FormPage {
    fn error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or_default().to_owned()
    }

    /// The copies' selects and own retentions: their fields, number, choice and errors.
    fn copy_fields(&self) -> Vec<CopyField> {
        (1..=crate::plans::copies::MAX_COPIES)
            .map(|n| {
                let name = crate::plans::copies::field(n);
                let own = self.input.copy_retention.get(n - 1).cloned().flatten();
                // Unticked, the fields start from the plan's retention, ready to be changed.
                let retention = own.clone().unwrap_or_else(|| OwnRetentionFields {
                    keep_last: self.input.retention.clone(),
                    tiers: self.input.tiers.clone(),
                });
                let prefix = format!("{name}_");
                let own_errors = self
                    .errors
                    .iter()
                    .filter_map(|(field, message)| Some((field.strip_prefix(&prefix)?.to_owned(), message.to_owned())))
                    .collect();
                CopyField {
                    error: self.error(&name),
                    selected: self.input.copies.get(n - 1).cloned().unwrap_or_default(),
                    position: n,
                    own: own.is_some(),
                    retention,
                    own_errors,
                    name,
                }
            })
            .collect()
    }
}

/// One copy's select and own retention on the plan form.
struct CopyField {
    name: String,
    position: usize,
    selected: String,
    error: String,
    /// Whether the copy keeps backups by its own retention (else the plan's).
    own: bool,
    retention: OwnRetentionFields,
    /// The own retention's errors, by field name without the copy's prefix (`keep_daily`).
    own_errors: std::collections::HashMap<String, String>,
}

impl CopyField {
    fn own_error(&self, name: &str) -> &str {
        self.own_errors.get(name).map_or("", String::as_str)
    }
}

fn input_from(pairs: &[(String, String)]) -> PlanInput {
    let value = |k: &str| form_value(pairs, k).unwrap_or_default().to_owned();
    PlanInput {
        name: value("name"),
        source_kind: value("source_kind"),
        source_path: value("source_path"),
        source_url: value("source_url"),
        source_destination_id: value("source_destination_id"),
        destination_id: value("destination_id"),
        copies: (1..=crate::plans::copies::MAX_COPIES).map(|n| value(&crate::plans::copies::field(n))).collect(),
        copy_retention: super::retention_html::copy_retention_from(pairs),
        schedule: value("schedule"),
        retention: value("retention"),
        tiers: super::retention_html::fields_from(pairs),
        enabled: form_value(pairs, "enabled").is_some(),
        encrypt: form_value(pairs, "encrypt").is_some(),
    }
}

async fn form_page(
    user: &CurrentUser,
    service: &PlanService,
    plan: Option<&Plan>,
    input: PlanInput,
    errors: FieldErrors,
) -> Result<FormPage, AppError> {
    let preview = super::schedule::Schedule::parse(&input.schedule).map(|s| s.preview()).unwrap_or_default();
    let grant_link = link_for_refusal(user, &errors, "source_path", &input.source_path, FolderAccess::Read);
    let stored_url = match plan.map(|p| &p.source) {
        Some(Source::Postgres(url) | Source::Mariadb(url)) => url.clone(),
        Some(Source::Bucket(location)) if super::bucket_source::destination_of(location).is_none() => location.clone(),
        _ => String::new(),
    };
    // A blank URL on an edit keeps the stored one: that is the one refused then.
    let url = if input.source_url.trim().is_empty() { &stored_url } else { &input.source_url };
    let database_grant_link = link_for_database_refusal(user, &errors, "source_url", url);
    Ok(FormPage {
        grant_link,
        database_grant_link,
        layout: Layout::for_user(user, "plans"),
        title: plan.map_or("New plan".into(), |p| format!("Edit {}", p.name)),
        action: plan.map_or("/plans".into(), |p| format!("/plans/{}", p.id)),
        destinations: service.destination_choices(&user.workspace_id).await?,
        input,
        errors,
        source_kinds: Source::KINDS,
        presets: PRESETS,
        preview,
        stored_url,
        retention_tiers: super::retention::RetentionFields::TIERS,
        retention_plan: plan.map_or("new".into(), |p| p.id.clone()),
    })
}

async fn new_form(user: CurrentUser, service: web::Data<PlanService>) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let destinations = service.destination_choices(&user.workspace_id).await?;
    // Pre-selected: the workspace's default destination (listed first).
    let input = PlanInput {
        source_kind: "directory".into(),
        destination_id: destinations.iter().find(|d| d.is_default).map(|d| d.id.clone()).unwrap_or_default(),
        schedule: PRESETS[1].1.into(),
        // Kopia's defaults: the newest 10, 7 daily, 4 weekly, 24 monthly, 3 yearly.
        retention: "10".into(),
        tiers: super::retention::RetentionFields::of(&super::retention::RetentionPolicy {
            tiers: super::gfs::Tiers::DEFAULT,
            lock: None,
        }),
        enabled: true,
        ..PlanInput::default()
    };
    render(StatusCode::OK, &form_page(&user, &service, None, input, FieldErrors::new()).await?)
}

async fn edit_form(
    user: CurrentUser,
    service: web::Data<PlanService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let plan = service.get(&user.workspace_id, &path).await?;
    render(StatusCode::OK, &form_page(&user, &service, Some(&plan), plan.input(), FieldErrors::new()).await?)
}

async fn create(
    user: CurrentUser,
    service: web::Data<PlanService>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let input = input_from(&form);
    match service.create(&user.workspace_id, &input, &Actor::web(&user)).await {
        Ok(plan) => {
            Flash::ok(format!("Saved “{}”: {}.", plan.name, plan.schedule_preview)).set(&session);
            Ok(see_other("/plans"))
        }
        Err(PlanError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&user, &service, None, input, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

async fn update(
    user: CurrentUser,
    service: web::Data<PlanService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let input = input_from(&form);
    match service.update(&user.workspace_id, &path, &input, &Actor::web(&user)).await {
        Ok(plan) => {
            Flash::ok(format!("Saved “{}”: {}.", plan.name, plan.schedule_preview)).set(&session);
            Ok(see_other("/plans"))
        }
        Err(PlanError::Invalid(errors)) => {
            let plan = service.get(&user.workspace_id, &path).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&user, &service, Some(&plan), input, errors).await?)
        }
        Err(e) => Err(e.into()),
    }
}

// ---- actions ----

/// `POST /plans/{id}/enable` or `/disable`.
fn switch_to(enabled: bool) -> actix_web::Route {
    web::post().to(
        move |user: CurrentUser, service: web::Data<PlanService>, path: web::Path<String>, session: Session| async move {
            switch(user, &service, &path, enabled, &session).await
        },
    )
}

async fn switch(user: CurrentUser, service: &PlanService, id: &str, enabled: bool, session: &Session) -> HttpResult {
    user.require_write()?;
    match service.set_enabled(&user.workspace_id, id, enabled, &Actor::web(&user)).await {
        Ok(plan) => {
            let state = if enabled { "enabled" } else { "disabled" };
            Flash::ok(format!("“{}” is {state}.", plan.name)).set(session);
        }
        Err(PlanError::Invalid(errors)) => {
            let detail: Vec<&str> = errors.iter().map(|(_, m)| m).collect();
            Flash::error(detail.join(" ")).set(session);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/plans"))
}

type HttpResult = Result<HttpResponse, AppError>;

#[derive(Template)]
#[template(path = "plans/delete.html")]
struct DeletePage {
    layout: Layout,
    plan: Plan,
}

async fn confirm_delete(user: CurrentUser, service: web::Data<PlanService>, path: web::Path<String>) -> HttpResult {
    user.require_write()?;
    let plan = service.get(&user.workspace_id, &path).await?;
    render(StatusCode::OK, &DeletePage { layout: Layout::for_user(&user, "plans"), plan })
}

async fn delete(
    user: CurrentUser,
    service: web::Data<PlanService>,
    path: web::Path<String>,
    session: Session,
) -> HttpResult {
    user.require_write()?;
    let plan = service.get(&user.workspace_id, &path).await?;
    service.delete(&user.workspace_id, &path, &Actor::web(&user)).await?;
    Flash::ok(format!("Deleted “{}”. Its backups stay on the destination.", plan.name)).set(&session);
    Ok(see_other("/plans"))
}
