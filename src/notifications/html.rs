//! The Notifications pages: channels (list, a form per kind, delete, "Send test" with its result
//! in place, each channel's delivery log) and plans' heartbeat URLs. Thin: parsing and
//! rendering; rules live in the service.

use super::channels::{Attempt, ChannelKind};
use super::domain::{ChannelInput, EventKind};
use super::service::{ChannelView, NotificationError, NotificationService, PlanPing};
use super::store::DeliveryRow;
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::auth::session::is_htmx;
use crate::error::AppError;
use crate::fields::{FieldErrors, FieldView, RawFields};
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::ExposeSecret;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/notifications", web::get().to(list))
        .route("/notifications", web::post().to(create))
        .route("/notifications/new", web::get().to(new_form))
        .route("/notifications/heartbeats", web::get().to(heartbeats))
        .route("/notifications/heartbeats/{plan}", web::post().to(set_heartbeat))
        .route("/notifications/{id}/edit", web::get().to(edit_form))
        .route("/notifications/{id}", web::post().to(update))
        .route("/notifications/{id}/test", web::post().to(send_test))
        .route("/notifications/{id}/deliveries", web::get().to(deliveries))
        .route("/notifications/{id}/delete", web::get().to(confirm_delete))
        .route("/notifications/{id}/delete", web::post().to(delete));
}

impl From<NotificationError> for AppError {
    fn from(e: NotificationError) -> Self {
        match e {
            NotificationError::NotFound => AppError::NotFound("Notification channel not found".into()),
            NotificationError::Invalid(errors) => {
                AppError::BadRequest(errors.iter().map(|(_, m)| m.to_owned()).collect::<Vec<_>>().join(" "))
            }
            NotificationError::Db(e) => e.into(),
            NotificationError::Secrets(m) => AppError::Internal(anyhow::anyhow!(m)),
        }
    }
}

/// A channel's row in the list.
struct Row {
    channel: ChannelView,
    events: String,
}

#[derive(Template)]
#[template(path = "notifications/list.html")]
struct ListPage {
    layout: Layout,
    flash: Option<Flash>,
    rows: Vec<Row>,
    kinds: Vec<(&'static str, &'static str)>,
}

fn kinds() -> Vec<(&'static str, &'static str)> {
    ChannelKind::ALL.iter().map(|k| (k.code(), k.label())).collect()
}

async fn list(
    user: CurrentUser,
    service: web::Data<NotificationService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let rows = service
        .list(&user.workspace_id)
        .await?
        .into_iter()
        .map(|channel| {
            let events = match channel.events.len() {
                0 => "No events".to_owned(),
                n if n == EventKind::CHOOSABLE.len() => "All events".to_owned(),
                _ => channel.events.iter().map(|e| e.label()).collect::<Vec<_>>().join(", "),
            };
            Row { channel, events }
        })
        .collect();
    let page = ListPage {
        layout: Layout::for_user(&user, "notifications"),
        flash: Flash::take(&session),
        rows,
        kinds: kinds(),
    };
    render(StatusCode::OK, &page)
}

// ---- the form ----

struct EventBox {
    code: &'static str,
    label: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "notifications/form.html")]
struct FormPage {
    layout: Layout,
    title: String,
    action: String,
    kind: ChannelKind,
    name: String,
    name_error: Option<String>,
    fields: Vec<FieldView>,
    events: Vec<EventBox>,
    enabled: bool,
    editing: bool,
    other_errors: Vec<String>,
}

struct Submitted {
    input: ChannelInput,
}

impl Submitted {
    fn from_pairs(pairs: &[(String, String)], kind: Option<ChannelKind>) -> Submitted {
        let kind = kind
            .map(|k| k.code().to_owned())
            .unwrap_or_else(|| form_value(pairs, "kind").unwrap_or_default().to_owned());
        let fields = RawFields::from_pairs(
            pairs.iter().filter_map(|(k, v)| k.strip_prefix("config.").map(|k| (k.to_owned(), v.as_str()))),
        );
        let events = pairs.iter().filter_map(|(k, _)| k.strip_prefix("event.")).filter_map(EventKind::parse).collect();
        Submitted {
            input: ChannelInput {
                name: form_value(pairs, "name").unwrap_or_default().to_owned(),
                kind,
                fields,
                events,
                enabled: form_value(pairs, "enabled").is_some(),
            },
        }
    }
}

fn form_page(
    user: &CurrentUser,
    kind: ChannelKind,
    channel: Option<&ChannelView>,
    input: &ChannelInput,
    errors: &FieldErrors,
) -> FormPage {
    let stored = channel.map(|c| c.stored_secrets.as_slice()).unwrap_or_default();
    let known: Vec<&str> = kind.fields().iter().map(|f| f.name).chain(["name"]).collect();
    FormPage {
        layout: Layout::for_user(user, "notifications"),
        title: channel.map_or_else(|| format!("New {} channel", kind.label()), |c| format!("Edit {}", c.name)),
        action: channel.map_or("/notifications".into(), |c| format!("/notifications/{}", c.id)),
        kind,
        name: input.name.clone(),
        name_error: errors.get("name").map(str::to_owned),
        fields: kind
            .fields()
            .iter()
            .map(|spec| FieldView::new(spec, &input.fields, stored, errors, || false))
            .collect(),
        events: EventKind::CHOOSABLE
            .iter()
            .map(|e| EventBox { code: e.code(), label: e.label(), checked: input.events.contains(e) })
            .collect(),
        enabled: input.enabled,
        editing: channel.is_some(),
        other_errors: errors.iter().filter(|(k, _)| !known.contains(k)).map(|(_, m)| m.to_owned()).collect(),
    }
}

#[derive(serde::Deserialize)]
struct KindQuery {
    kind: Option<String>,
}

async fn new_form(user: CurrentUser, query: web::Query<KindQuery>) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let kind = query.kind.as_deref().and_then(ChannelKind::parse).unwrap_or(ChannelKind::Email);
    let blank = ChannelInput {
        name: String::new(),
        kind: kind.code().into(),
        fields: RawFields::new(),
        events: EventKind::CHOOSABLE.into_iter().filter(|e| e.on_by_default()).collect(),
        enabled: true,
    };
    render(StatusCode::OK, &form_page(&user, kind, None, &blank, &FieldErrors::new()))
}

async fn edit_form(
    user: CurrentUser,
    service: web::Data<NotificationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let channel = service.get(&user.workspace_id, &path).await?;
    let current = ChannelInput {
        name: channel.name.clone(),
        kind: channel.kind.code().into(),
        fields: channel.settings.clone(),
        events: channel.events.clone(),
        enabled: channel.enabled,
    };
    render(StatusCode::OK, &form_page(&user, channel.kind, Some(&channel), &current, &FieldErrors::new()))
}

#[derive(Template)]
#[template(path = "notifications/secret.html")]
struct SecretPage {
    layout: Layout,
    name: String,
    secret: String,
}

async fn create(
    user: CurrentUser,
    service: web::Data<NotificationService>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let submitted = Submitted::from_pairs(&form, None);
    match service.create(&user.workspace_id, &submitted.input, &Actor::web(&user)).await {
        Ok((channel, Some(secret))) => {
            let page = SecretPage {
                layout: Layout::for_user(&user, "notifications"),
                name: channel.name,
                secret: secret.expose_secret().to_owned(),
            };
            let mut response = render(StatusCode::OK, &page)?;
            response.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
            Ok(response)
        }
        Ok((channel, None)) => {
            Flash::ok(format!("Saved “{}”. Use “Send test” to check it.", channel.name)).set(&session);
            Ok(see_other("/notifications"))
        }
        Err(NotificationError::Invalid(errors)) => {
            let kind = ChannelKind::parse(&submitted.input.kind).unwrap_or(ChannelKind::Email);
            render(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&user, kind, None, &submitted.input, &errors))
        }
        Err(e) => Err(e.into()),
    }
}

async fn update(
    user: CurrentUser,
    service: web::Data<NotificationService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let channel = service.get(&user.workspace_id, &path).await?;
    let submitted = Submitted::from_pairs(&form, Some(channel.kind));
    match service.update(&user.workspace_id, &path, &submitted.input, &Actor::web(&user)).await {
        Ok(saved) => {
            Flash::ok(format!("Saved “{}”.", saved.name)).set(&session);
            Ok(see_other("/notifications"))
        }
        Err(NotificationError::Invalid(errors)) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &form_page(&user, channel.kind, Some(&channel), &submitted.input, &errors),
        ),
        Err(e) => Err(e.into()),
    }
}

// ---- send test, the log ----

#[derive(Template)]
#[template(path = "notifications/test_result_partial.html")]
struct TestResult {
    attempt: Attempt,
}

async fn send_test(
    req: HttpRequest,
    user: CurrentUser,
    service: web::Data<NotificationService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let channel = service.get(&user.workspace_id, &path).await?;
    let attempt = service.send_test(&user.workspace_id, &path).await?;
    if is_htmx(&req) {
        return render(StatusCode::OK, &TestResult { attempt });
    }
    let said = format!("{} — {}", attempt.outcome, attempt.answer);
    if attempt.ok {
        Flash::ok(format!("Sent a test to “{}”: {said}", channel.name)).set(&session);
    } else {
        Flash::error(format!("The test to “{}” failed: {said}", channel.name)).set(&session);
    }
    Ok(see_other("/notifications"))
}

#[derive(Template)]
#[template(path = "notifications/deliveries.html")]
struct DeliveriesPage {
    layout: Layout,
    channel: ChannelView,
    pending: i64,
    deliveries: Vec<DeliveryRow>,
}

async fn deliveries(
    user: CurrentUser,
    service: web::Data<NotificationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let channel = service.get(&user.workspace_id, &path).await?;
    let deliveries = service.deliveries(&user.workspace_id, &path).await?;
    let pending = service.pending(&user.workspace_id, &path).await?;
    render(
        StatusCode::OK,
        &DeliveriesPage { layout: Layout::for_user(&user, "notifications"), channel, pending, deliveries },
    )
}

// ---- delete ----

#[derive(Template)]
#[template(path = "notifications/delete.html")]
struct DeletePage {
    layout: Layout,
    channel: ChannelView,
}

async fn confirm_delete(
    user: CurrentUser,
    service: web::Data<NotificationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let channel = service.get(&user.workspace_id, &path).await?;
    render(StatusCode::OK, &DeletePage { layout: Layout::for_user(&user, "notifications"), channel })
}

async fn delete(
    user: CurrentUser,
    service: web::Data<NotificationService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let channel = service.get(&user.workspace_id, &path).await?;
    service.delete(&user.workspace_id, &path, &Actor::web(&user)).await?;
    Flash::ok(format!("Deleted “{}”.", channel.name)).set(&session);
    Ok(see_other("/notifications"))
}

// ---- heartbeats ----

#[derive(Template)]
#[template(path = "notifications/heartbeats.html")]
struct HeartbeatsPage {
    layout: Layout,
    flash: Option<Flash>,
    plans: Vec<PlanPing>,
    /// The plan whose URL was refused, and why.
    error: Option<(String, String)>,
}

async fn heartbeats(
    user: CurrentUser,
    service: web::Data<NotificationService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let plans = service.plan_pings(&user.workspace_id).await?;
    let page = HeartbeatsPage {
        layout: Layout::for_user(&user, "notifications"),
        flash: Flash::take(&session),
        plans,
        error: None,
    };
    render(StatusCode::OK, &page)
}

async fn set_heartbeat(
    user: CurrentUser,
    service: web::Data<NotificationService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let url = form_value(&form, "ping_url").unwrap_or_default();
    match service.set_plan_ping(&user.workspace_id, &path, url).await {
        Ok(ping) => {
            let text = match &ping.host {
                Some(host) => format!("“{}” pings {host} at every run.", ping.plan.name),
                None => format!("“{}” has no heartbeat URL now.", ping.plan.name),
            };
            Flash::ok(text).set(&session);
            Ok(see_other("/notifications/heartbeats"))
        }
        Err(NotificationError::Invalid(errors)) => {
            let plans = service.plan_pings(&user.workspace_id).await?;
            let message = errors.get("ping_url").unwrap_or("The URL is invalid.").to_owned();
            let page = HeartbeatsPage {
                layout: Layout::for_user(&user, "notifications"),
                flash: None,
                plans,
                error: Some((path.into_inner(), message)),
            };
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}
