//! The audit log page (`/audit`): the workspace's entries newest first, a page at a time,
//! optionally those of one subject (`?subject=<id>`) or one kind (`?type=plan`). Owners and
//! admins only.

use super::domain::SubjectKind;
use super::service::{AuditService, Event};
use super::store::Filter;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::web::{Layout, render, time};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

const PER_PAGE: i64 = 50;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(list));
}

/// Who may read the log: the people who can change what it records.
pub fn require_admin(user: &CurrentUser) -> Result<(), AppError> {
    if user.can_write() {
        Ok(())
    } else {
        Err(AppError::Forbidden("Only owners and admins of this workspace can see its audit log.".into()))
    }
}

pub struct EventView {
    pub when: String,
    pub actor: String,
    pub channel: String,
    pub action: &'static str,
    pub subject_label: &'static str,
    pub subject_id: String,
    pub subject_name: String,
    pub detail: String,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        EventView {
            when: time::exact(e.at),
            actor: match e.actor_token {
                Some(token) => format!("{} (API token {token})", e.actor_email),
                None => e.actor_email,
            },
            channel: e.channel,
            action: e.action_label,
            subject_label: e.subject_label,
            subject_id: e.subject_id,
            subject_name: e.subject_name,
            detail: e.detail,
        }
    }
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct ListPage {
    layout: Layout,
    events: Vec<EventView>,
    page: i64,
    last_page: i64,
    total: i64,
    /// The filter, as the query string the pager's links keep.
    filter_query: String,
    /// Shown when the list is one subject's.
    filtered: bool,
}

#[derive(serde::Deserialize)]
pub struct ListQuery {
    page: Option<i64>,
    subject: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

async fn list(
    user: CurrentUser,
    service: web::Data<AuditService>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let subject_type = match query.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(SubjectKind::parse(k).ok_or_else(|| {
            AppError::BadRequest(format!("Unknown subject type {k:?}: use destination, plan, server or grant."))
        })?),
        None => None,
    };
    let subject_id = query.subject.clone().filter(|s| !s.is_empty());
    let mut params = Vec::new();
    if let Some(kind) = subject_type {
        params.push(format!("type={}", kind.as_str()));
    }
    if let Some(id) = &subject_id {
        params.push(format!("subject={}", url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()));
    }
    let filter = Filter { subject_type, subject_id };
    let filtered = filter != Filter::default();
    let found = service.page(&user.workspace_id, filter, query.page.unwrap_or(1).clamp(1, 1_000_000), PER_PAGE).await?;
    render(
        StatusCode::OK,
        &ListPage {
            layout: Layout::for_user(&user, "audit"),
            page: found.page,
            last_page: found.last_page(),
            total: found.total,
            events: found.items.into_iter().map(EventView::from).collect(),
            filter_query: params.iter().map(|p| format!("&{p}")).collect(),
            filtered,
        },
    )
}
