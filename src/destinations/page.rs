//! A destination's own page, for every member: what it is, how its last test went, its health
//! history (each test with its steps' latency, a chart of the total), what its service supports,
//! and the least its key needs (the form's panel, not live).

use super::health_view::{HistoryRow, latency_chart};
use super::panel::PolicyView;
use super::service::{Destination, DestinationService};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::web::{Layout, render};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

#[derive(Template)]
#[template(path = "destinations/show.html")]
struct ShowPage {
    layout: Layout,
    d: Destination,
    panel: PolicyView,
    can_write: bool,
    history: Vec<HistoryRow>,
    chart: String,
    page: i64,
    last_page: i64,
    total: i64,
}

/// Tests per page of the history.
const HISTORY_PER_PAGE: i64 = 50;
/// Far beyond any history (each keeps 200 tests); keeps the offset small.
const MAX_PAGE: i64 = 1_000;

#[derive(serde::Deserialize)]
pub struct HistoryQuery {
    page: Option<i64>,
}

pub async fn show(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, AppError> {
    let d = service.get(&user.workspace_id, &path).await?;
    let page = query.page.unwrap_or(1).clamp(1, MAX_PAGE);
    let (tests, total) = service.test_history(&user.workspace_id, &d.id, page, HISTORY_PER_PAGE).await?;
    let panel = PolicyView { live: false, ..PolicyView::new(d.kind, &d.settings, "") };
    let layout = Layout::for_user(&user, "destinations");
    render(
        StatusCode::OK,
        &ShowPage {
            can_write: user.can_write(),
            layout,
            d,
            panel,
            history: tests.iter().map(HistoryRow::from).collect(),
            chart: latency_chart(&tests),
            page,
            last_page: ((total + HISTORY_PER_PAGE - 1) / HISTORY_PER_PAGE).max(1),
            total,
        },
    )
}
