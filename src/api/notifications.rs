//! `/api/v1/notification-channels`: a workspace's notification channels as JSON (create, read,
//! update, delete), "send test", each channel's delivery log; and a schedule's heartbeat URL
//! (`/api/v1/backup-schedules/{id}/heartbeat`). Secrets go in and never come out: a channel
//! shows which are stored, a webhook's signing secret is in the creation's answer only.

use super::auth::ApiUser;
use super::error::{ApiError, ErrorBody};
use super::responses::JsonBodyErrors;
use crate::fields::RawFields;
use crate::notifications::domain::{ChannelInput, EventKind, Payload};
use crate::notifications::service::{ChannelView, NotificationError, NotificationService, PlanPing};
use crate::notifications::store::DeliveryRow;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

#[derive(OpenApi)]
#[openapi(
    paths(list, create, show, update, delete, test, deliveries, show_heartbeat, set_heartbeat),
    components(schemas(
        ChannelResource,
        ChannelEnvelope,
        ChannelList,
        CreatedChannel,
        ChannelRequest,
        ChannelDeleted,
        TestResult,
        DeliveryResource,
        DeliveryList,
        Heartbeat,
        HeartbeatRequest,
        Payload,
        crate::notifications::domain::Named,
        crate::notifications::domain::RunInfo
    )),
    tags((name = "Notification channels", description = "Where a workspace is told about failures. \
        A webhook channel receives the event as JSON (the `Payload` schema), POSTed with \
        `X-Devpilot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" keyed with the channel's \
        signing secret>`, `X-Devpilot-Event` (the type) and `X-Devpilot-Delivery` (the event id, the same on \
        every retry). Verify by recomputing the HMAC over the raw body, comparing in constant time, and refusing \
        a `t` more than 5 minutes old."))
)]
pub struct NotificationsApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/notification-channels", web::get().to(list))
        .route("/notification-channels", web::post().to(create))
        .route("/notification-channels/{id}", web::get().to(show))
        .route("/notification-channels/{id}", web::put().to(update))
        .route("/notification-channels/{id}", web::delete().to(delete))
        .route("/notification-channels/{id}/test", web::post().to(test))
        .route("/notification-channels/{id}/deliveries", web::get().to(deliveries))
        .route("/backup-schedules/{id}/heartbeat", web::get().to(show_heartbeat))
        .route("/backup-schedules/{id}/heartbeat", web::put().to(set_heartbeat));
}

impl From<NotificationError> for ApiError {
    fn from(e: NotificationError) -> Self {
        match e {
            NotificationError::NotFound => ApiError::not_found("Notification channel not found"),
            NotificationError::Invalid(errors) => ApiError::invalid(&errors),
            NotificationError::Db(e) => e.into(),
            NotificationError::Secrets(m) => ApiError::internal(m),
        }
    }
}

/// A channel as the API shows it.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ChannelResource {
    #[schema(format = "uuid")]
    pub id: String,
    pub name: String,
    /// `email`, `webhook`, `slack`, `discord`, `teams`, `telegram` or `gotify`.
    #[schema(example = "slack")]
    pub kind: String,
    pub enabled: bool,
    /// The event types it receives (see `Payload.type`).
    #[schema(example = json!(["run.failed", "plan.stale"]))]
    pub events: Vec<String>,
    /// The fields that are not secret, as entered (e.g. an email channel's host, port, from, to).
    pub config: BTreeMap<String, String>,
    /// Secret fields that have a stored value (never shown).
    #[schema(example = json!(["webhook_url"]))]
    pub stored_secrets: Vec<String>,
    /// Where it goes, without a secret: a host, addresses, a chat id.
    #[schema(example = "hooks.slack.com")]
    pub target: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ChannelView> for ChannelResource {
    fn from(c: ChannelView) -> Self {
        ChannelResource {
            id: c.id,
            name: c.name,
            kind: c.kind.code().to_owned(),
            enabled: c.enabled,
            events: c.events.iter().map(|e| e.code().to_owned()).collect(),
            config: c.settings.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            stored_secrets: c.stored_secrets.iter().map(|s| (*s).to_owned()).collect(),
            target: c.target,
            created_at: c.created_at.and_utc(),
            updated_at: c.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ChannelEnvelope {
    pub data: ChannelResource,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ChannelList {
    pub data: Vec<ChannelResource>,
}

/// A new channel; a webhook's signing secret, shown this once.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct CreatedChannel {
    pub data: ChannelResource,
    /// Webhooks only: the key of `X-Devpilot-Signature`. Store it now; it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "whsec_…")]
    pub signing_secret: Option<String>,
}

/// A channel to create or replace.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelRequest {
    pub name: String,
    /// `email`, `webhook`, `slack`, `discord`, `teams`, `telegram` or `gotify`: required to create;
    /// it cannot change (left out on update, it is the channel's).
    pub kind: Option<String>,
    /// The kind's fields. Email: `host`, `port`, `security` (`starttls`, `tls`, `none`), `username`,
    /// `password`, `from`, `to`. Webhook: `url`. Slack, Discord, Teams: `webhook_url`. Telegram:
    /// `bot_token`, `chat_id`. Gotify: `server_url`, `app_token`, `priority`. On update a secret
    /// field left out keeps its stored value.
    #[serde(default)]
    pub config: BTreeMap<String, serde_json::Value>,
    /// The event types to receive; default: all but `run.succeeded`.
    pub events: Option<Vec<String>>,
    /// Default true.
    pub enabled: Option<bool>,
}

impl ChannelRequest {
    fn input(&self) -> Result<ChannelInput, ApiError> {
        let mut fields = RawFields::new();
        let mut errors = crate::fields::FieldErrors::new();
        for (name, value) in &self.config {
            match value {
                serde_json::Value::String(s) => fields.set(name.as_str(), s),
                serde_json::Value::Number(n) => fields.set(name.as_str(), &n.to_string()),
                serde_json::Value::Bool(b) => fields.set(name.as_str(), &b.to_string()),
                serde_json::Value::Null => {}
                _ => errors.add(&format!("config.{name}"), "Must be a string, a number or a boolean."),
            }
        }
        let events = match &self.events {
            None => EventKind::CHOOSABLE.into_iter().filter(|e| e.on_by_default()).collect(),
            Some(codes) => {
                let mut kinds = Vec::new();
                for code in codes {
                    match EventKind::parse(code).filter(|k| *k != EventKind::Test) {
                        Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
                        Some(_) => {}
                        None => errors.add("events", format!("Unknown event type “{code}”.")),
                    }
                }
                kinds
            }
        };
        if !errors.is_empty() {
            return Err(ApiError::invalid(&errors));
        }
        Ok(ChannelInput {
            name: self.name.clone(),
            kind: self.kind.clone().unwrap_or_default(),
            fields,
            events,
            enabled: self.enabled.unwrap_or(true),
        })
    }
}

/// Field errors of the kind's config are reported as `config.<field>`.
fn api_error(e: NotificationError) -> ApiError {
    match e {
        NotificationError::Invalid(errors) => {
            let mut renamed = crate::fields::FieldErrors::new();
            for (field, message) in errors.iter() {
                let name = if matches!(field, "name" | "kind" | "events") {
                    field.to_owned()
                } else {
                    format!("config.{field}")
                };
                renamed.add(&name, message);
            }
            ApiError::invalid(&renamed)
        }
        other => other.into(),
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ChannelDeleted {
    #[schema(example = "Notification channel deleted")]
    pub message: String,
}

/// What "send test" got back.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct TestResult {
    pub ok: bool,
    /// `HTTP 200`, `SMTP 250`, `timeout`, `refused`, …
    pub outcome: String,
    /// The remote's answer, truncated, secrets redacted.
    pub answer: String,
}

/// One delivery attempt.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DeliveryResource {
    pub attempted_at: DateTime<Utc>,
    /// The event type (`test` for "send test"; `ping.start`, `ping.success`, `ping.fail` for heartbeats).
    pub event: String,
    /// 1 for the first try of a notification, then 2, 3, …
    pub attempt: i64,
    pub ok: bool,
    pub outcome: String,
    pub answer: String,
}

impl From<DeliveryRow> for DeliveryResource {
    fn from(d: DeliveryRow) -> Self {
        DeliveryResource {
            attempted_at: d.attempted_at.and_utc(),
            event: d.event,
            attempt: d.attempt,
            ok: d.ok,
            outcome: d.outcome,
            answer: d.answer,
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first, at most 200.
    pub data: Vec<DeliveryResource>,
}

/// A schedule's heartbeat: only the host of its URL is ever shown.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct Heartbeat {
    #[schema(format = "uuid")]
    pub schedule_id: String,
    /// The host the heartbeat URL points at; null without one.
    pub host: Option<String>,
    /// Its latest attempts, newest first.
    pub deliveries: Vec<DeliveryResource>,
}

#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct HeartbeatRequest {
    /// A Healthchecks.io-style check URL (`/start` and `/fail` are appended); null or empty removes it.
    #[schema(example = "https://hc-ping.com/0a1b2c3d-…")]
    pub url: Option<String>,
}

fn created_at(id: &str) -> String {
    format!("/api/v1/notification-channels/{id}")
}

/// The workspace's channels, by name.
#[utoipa::path(get, path = "/api/v1/notification-channels", tag = "Notification channels",
    responses((status = 200, description = "Every channel", body = ChannelList), (status = 401, description = "No valid token", body = ErrorBody)))]
pub async fn list(user: ApiUser, service: web::Data<NotificationService>) -> Result<HttpResponse, ApiError> {
    let data = service.list(&user.workspace_id).await?.into_iter().map(ChannelResource::from).collect();
    Ok(HttpResponse::Ok().json(ChannelList { data }))
}

/// Creates a channel. Every host it reaches must pass the server's outbound address policy
/// (never link-local or cloud metadata addresses; this server's own only when the operator allows).
#[utoipa::path(post, path = "/api/v1/notification-channels", tag = "Notification channels", request_body = ChannelRequest,
    responses(
        (status = 201, description = "Created; a webhook's signing secret is in this answer only", body = CreatedChannel,
            headers(("Location" = String, description = "The channel's URL"))),
        (status = 403, description = "Viewers cannot create channels", body = ErrorBody),
        JsonBodyErrors,
    ))]
pub async fn create(
    user: ApiUser,
    service: web::Data<NotificationService>,
    body: web::Json<ChannelRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let input = body.input()?;
    let (channel, secret) = service.create(&user.workspace_id, &input, &user.actor()).await.map_err(api_error)?;
    let location = created_at(&channel.id);
    let answer = CreatedChannel { data: channel.into(), signing_secret: secret.map(|s| s.expose_secret().to_owned()) };
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(answer))
}

/// One channel.
#[utoipa::path(get, path = "/api/v1/notification-channels/{id}", tag = "Notification channels",
    params(("id" = Uuid, Path, description = "Channel UUID")),
    responses((status = 200, description = "The channel", body = ChannelEnvelope), (status = 404, description = "No such channel in this workspace", body = ErrorBody)))]
pub async fn show(
    user: ApiUser,
    service: web::Data<NotificationService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let channel = service.get(&user.workspace_id, &id.to_string()).await?;
    Ok(HttpResponse::Ok().json(ChannelEnvelope { data: channel.into() }))
}

/// Replaces a channel's name, config, events and enabled flag; secrets left out are kept.
#[utoipa::path(put, path = "/api/v1/notification-channels/{id}", tag = "Notification channels", request_body = ChannelRequest,
    params(("id" = Uuid, Path, description = "Channel UUID")),
    responses(
        (status = 200, description = "Saved", body = ChannelEnvelope),
        (status = 403, description = "Viewers cannot change channels", body = ErrorBody),
        (status = 404, description = "No such channel in this workspace", body = ErrorBody),
        JsonBodyErrors,
    ))]
pub async fn update(
    user: ApiUser,
    service: web::Data<NotificationService>,
    id: web::Path<Uuid>,
    body: web::Json<ChannelRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let existing = service.get(&user.workspace_id, &id.to_string()).await?;
    let mut input = body.input()?;
    if body.kind.is_none() {
        input.kind = existing.kind.code().to_owned();
    }
    let channel = service.update(&user.workspace_id, &existing.id, &input, &user.actor()).await.map_err(api_error)?;
    Ok(HttpResponse::Ok().json(ChannelEnvelope { data: channel.into() }))
}

/// Deletes a channel, its log and what it had not delivered yet.
#[utoipa::path(delete, path = "/api/v1/notification-channels/{id}", tag = "Notification channels",
    params(("id" = Uuid, Path, description = "Channel UUID")),
    responses(
        (status = 200, description = "Deleted", body = ChannelDeleted),
        (status = 403, description = "Viewers cannot delete channels", body = ErrorBody),
        (status = 404, description = "No such channel in this workspace", body = ErrorBody),
    ))]
pub async fn delete(
    user: ApiUser,
    service: web::Data<NotificationService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    service.delete(&user.workspace_id, &id.to_string(), &user.actor()).await?;
    Ok(HttpResponse::Ok().json(ChannelDeleted { message: "Notification channel deleted".into() }))
}

/// Sends a test message now and answers what the channel said (also in its delivery log).
#[utoipa::path(post, path = "/api/v1/notification-channels/{id}/test", tag = "Notification channels",
    params(("id" = Uuid, Path, description = "Channel UUID")),
    responses(
        (status = 200, description = "Sent or not: `ok` says", body = TestResult),
        (status = 403, description = "Viewers cannot send tests", body = ErrorBody),
        (status = 404, description = "No such channel in this workspace", body = ErrorBody),
    ))]
pub async fn test(
    user: ApiUser,
    service: web::Data<NotificationService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let attempt = service.send_test(&user.workspace_id, &id.to_string()).await?;
    Ok(HttpResponse::Ok().json(TestResult { ok: attempt.ok, outcome: attempt.outcome, answer: attempt.answer }))
}

/// A channel's delivery attempts, newest first.
#[utoipa::path(get, path = "/api/v1/notification-channels/{id}/deliveries", tag = "Notification channels",
    params(("id" = Uuid, Path, description = "Channel UUID")),
    responses((status = 200, description = "Its attempts", body = DeliveryList), (status = 404, description = "No such channel in this workspace", body = ErrorBody)))]
pub async fn deliveries(
    user: ApiUser,
    service: web::Data<NotificationService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let data = service.deliveries(&user.workspace_id, &id.to_string()).await?.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(DeliveryList { data }))
}

async fn heartbeat(service: &NotificationService, user: &ApiUser, ping: PlanPing) -> Result<Heartbeat, ApiError> {
    let deliveries = service.ping_deliveries(&user.workspace_id, &ping.plan.id).await.map_err(schedule_error)?;
    Ok(Heartbeat {
        schedule_id: ping.plan.id,
        host: ping.host,
        deliveries: deliveries.into_iter().map(Into::into).collect(),
    })
}

fn schedule_error(e: NotificationError) -> ApiError {
    match e {
        NotificationError::NotFound => ApiError::not_found("Backup schedule not found"),
        NotificationError::Invalid(errors) => {
            ApiError::invalid(&errors.iter().fold(crate::fields::FieldErrors::new(), |mut all, (_, m)| {
                all.add("url", m);
                all
            }))
        }
        other => other.into(),
    }
}

/// A schedule's heartbeat: the host of its URL and its latest pings.
#[utoipa::path(get, path = "/api/v1/backup-schedules/{id}/heartbeat", tag = "Notification channels",
    params(("id" = Uuid, Path, description = "Schedule UUID")),
    responses((status = 200, description = "The heartbeat", body = Heartbeat), (status = 404, description = "No such schedule in this workspace", body = ErrorBody)))]
pub async fn show_heartbeat(
    user: ApiUser,
    service: web::Data<NotificationService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let ping = service.plan_ping(&user.workspace_id, &id.to_string()).await.map_err(schedule_error)?;
    Ok(HttpResponse::Ok().json(heartbeat(&service, &user, ping).await?))
}

/// Sets or removes a schedule's heartbeat URL (Healthchecks.io / Uptime Kuma push style):
/// `<url>/start` when a run starts, `<url>` when it succeeds, `<url>/fail` with the reason as
/// the body when it fails. The URL is sealed; only its host is shown.
#[utoipa::path(put, path = "/api/v1/backup-schedules/{id}/heartbeat", tag = "Notification channels", request_body = HeartbeatRequest,
    params(("id" = Uuid, Path, description = "Schedule UUID")),
    responses(
        (status = 200, description = "Saved", body = Heartbeat),
        (status = 403, description = "Viewers cannot change heartbeats", body = ErrorBody),
        (status = 404, description = "No such schedule in this workspace", body = ErrorBody),
        JsonBodyErrors,
    ))]
pub async fn set_heartbeat(
    user: ApiUser,
    service: web::Data<NotificationService>,
    id: web::Path<Uuid>,
    body: web::Json<HeartbeatRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let url = body.url.clone().unwrap_or_default();
    let ping = service.set_plan_ping(&user.workspace_id, &id.to_string(), &url).await.map_err(schedule_error)?;
    Ok(HttpResponse::Ok().json(heartbeat(&service, &user, ping).await?))
}
