//! The destination list: its rows, the table htmx swaps, "Test all", and the row actions (test,
//! default, disable/enable). The list is the page every visit starts at, so its rows are
//! rendered once per data version and role ([`RenderedPages`]) — only "3 minutes ago" is written
//! per request — and they carry no per-user value: every button submits the table's one
//! `row-actions` form (the CSRF token, the page) to its own `formaction`.

use super::audited::TestedBy;
use super::health_view::HealthStrip;
use super::service::{Destination, DestinationService, TestAllSummary};
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::auth::session::is_htmx;
use crate::db::memo::Memo;
use crate::error::AppError;
use crate::providers::ProviderKind;
use crate::web::{Flash, HtmlId, Layout, render, render_sized, see_other, swap_in_place_of, time};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use std::sync::Arc;

const PER_PAGE: i64 = 50;

pub struct LastTested {
    pub iso: time::Iso,
    pub exact: time::Exact,
    pub ago: AgoSlot,
}

/// "3 minutes ago", or the place it goes in a row rendered ahead of the request.
#[derive(Debug, Clone, Copy)]
pub enum AgoSlot {
    Now(time::Ago),
    Later,
}

/// Escaped user text can never contain `<`, so the marker cannot come from a row's data.
const AGO_MARKER: &str = "<!--ago-->";

impl std::fmt::Display for AgoSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgoSlot::Now(ago) => ago.fmt(f),
            AgoSlot::Later => f.write_str(AGO_MARKER),
        }
    }
}

impl askama::filters::HtmlSafe for AgoSlot {}

pub struct RowView<'a> {
    pub id: HtmlId<'a>,
    pub name: &'a str,
    pub icon: &'static str,
    pub kind_label: &'static str,
    pub location: &'a str,
    pub status: &'static str,
    pub status_label: &'static str,
    pub message: Option<&'a str>,
    pub is_default: bool,
    pub last_tested: Option<LastTested>,
    pub can_write: bool,
    pub page: i64,
    /// The Google consent button's label, on Google Drive rows.
    pub google_connect: Option<&'static str>,
    pub host_key: Option<&'a str>,
    /// The last test refused a changed host key: offer to accept the new one.
    pub host_key_changed: bool,
    /// The last tests, oldest first.
    pub strip: HealthStrip,
}

impl<'a> RowView<'a> {
    fn new(
        d: &'a Destination,
        strip: HealthStrip,
        can_write: bool,
        page: i64,
        ago: impl Fn(NaiveDateTime) -> AgoSlot,
    ) -> RowView<'a> {
        let google_connect = match d.kind {
            _ if d.stored_secrets.contains(&"refresh_token") && d.kind.connects_through_consent() => Some("Reconnect"),
            ProviderKind::GoogleDrive => Some("Connect Google Drive"),
            ProviderKind::OneDrive => Some("Connect OneDrive"),
            _ => None,
        };
        RowView {
            id: HtmlId::new(&d.id),
            name: &d.name,
            icon: d.kind.icon(),
            kind_label: d.type_label,
            location: &d.location,
            status: d.status.as_str(),
            status_label: d.status.label(),
            message: d.last_test_message.as_deref(),
            is_default: d.is_default,
            last_tested: d.last_tested_at.map(|t| LastTested { iso: time::Iso(t), exact: time::Exact(t), ago: ago(t) }),
            can_write,
            page,
            google_connect,
            host_key: d.host_key.as_deref(),
            host_key_changed: d.last_test_message.as_deref().is_some_and(|m| m.contains("host key changed")),
            strip,
        }
    }
}

/// A row rendered ahead of the request, around the place of its "… ago".
pub struct RenderedRow {
    head: String,
    tested_at: Option<NaiveDateTime>,
    tail: String,
}

impl RenderedRow {
    fn new(d: &Destination, strip: HealthStrip, can_write: bool, page: i64) -> Result<RenderedRow, AppError> {
        let html = RowFragment { row: RowView::new(d, strip, can_write, page, |_| AgoSlot::Later) }
            .render()
            .map_err(|e| anyhow::anyhow!("rendering a row: {e}"))?;
        Ok(match html.split_once(AGO_MARKER) {
            Some((head, tail)) => {
                RenderedRow { head: head.to_owned(), tested_at: d.last_tested_at, tail: tail.to_owned() }
            }
            None => RenderedRow { head: html, tested_at: None, tail: String::new() },
        })
    }

    pub fn head(&self) -> &str {
        &self.head
    }

    pub fn ago(&self, now: NaiveDateTime) -> Option<time::Ago> {
        self.tested_at.map(|t| time::ago(t, now))
    }

    pub fn tail(&self) -> &str {
        &self.tail
    }
}

/// A page of the list as rendered for one role (writers see the actions, viewers do not).
pub struct RenderedPage {
    rows: Vec<RenderedRow>,
    page: i64,
    last_page: i64,
    total: i64,
}

/// Rendered pages by (workspace, page, can write), while the data they show is unchanged.
pub struct RenderedPages(Memo<(String, i64, bool), RenderedPage>);

impl Default for RenderedPages {
    fn default() -> Self {
        RenderedPages(Memo::new(CACHED_PAGES))
    }
}

/// Each about 70 KB.
const CACHED_PAGES: usize = 128;

impl RenderedPages {
    async fn get(
        &self,
        service: &DestinationService,
        user: &CurrentUser,
        page: i64,
    ) -> Result<Arc<RenderedPage>, AppError> {
        let key = (user.workspace_id.clone(), page.max(1), user.can_write());
        self.0
            .get_or_load(service.data_version(), key, || async {
                let found = service.list(&user.workspace_id, page, PER_PAGE).await?;
                let ids = found.items.iter().map(|d| d.id.clone()).collect();
                let mut recent = service.recent_tests(&user.workspace_id, ids).await?;
                let rows = found
                    .items
                    .iter()
                    .map(|d| {
                        let strip = HealthStrip::new(recent.remove(&d.id).unwrap_or_default());
                        RenderedRow::new(d, strip, user.can_write(), found.page)
                    })
                    .collect::<Result<_, AppError>>()?;
                Ok::<_, AppError>(RenderedPage {
                    rows,
                    page: found.page,
                    last_page: found.last_page(),
                    total: found.total,
                })
            })
            .await
    }
}

#[derive(Template)]
#[template(path = "destinations/list.html")]
struct ListPage<'a> {
    layout: Layout,
    flash: Option<Flash>,
    table: Table<'a>,
}

/// The table and its pager: what "Test all" and the row actions swap in.
#[derive(Template)]
#[template(path = "destinations/table.html")]
struct Table<'a> {
    can_write: bool,
    csrf: &'a str,
    rows: &'a [RenderedRow],
    now: NaiveDateTime,
    page: i64,
    last_page: i64,
    total: i64,
}

impl<'a> Table<'a> {
    fn new(user: &'a CurrentUser, page: &'a RenderedPage) -> Table<'a> {
        Table {
            can_write: user.can_write(),
            csrf: &user.csrf_token,
            rows: &page.rows,
            now: chrono::Utc::now().naive_utc(),
            page: page.page,
            last_page: page.last_page,
            total: page.total,
        }
    }

    /// About what the page will weigh.
    fn size(&self) -> usize {
        8 * 1024 + self.rows.iter().map(|r| r.head.len() + r.tail.len() + 16).sum::<usize>()
    }
}

#[derive(Template)]
#[template(path = "destinations/row.html")]
struct RowFragment<'a> {
    row: RowView<'a>,
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    page: Option<i64>,
}

pub async fn list(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    pages: web::Data<RenderedPages>,
    query: web::Query<PageQuery>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let page = pages.get(&service, &user, query.page.unwrap_or(1)).await?;
    let table = Table::new(&user, &page);
    let size = table.size();
    let layout = Layout::for_user(&user, "destinations");
    render_sized(StatusCode::OK, &ListPage { layout, flash: Flash::take(&session), table }, size)
}

async fn table(
    user: &CurrentUser,
    service: &DestinationService,
    pages: &RenderedPages,
    page: i64,
) -> Result<HttpResponse, AppError> {
    let page = pages.get(service, user, page).await?;
    let table = Table::new(user, &page);
    render_sized(StatusCode::OK, &table, table.size())
}

async fn row_response(
    user: &CurrentUser,
    service: &DestinationService,
    d: &Destination,
    page: i64,
) -> Result<HttpResponse, AppError> {
    let mut recent = service.recent_tests(&user.workspace_id, vec![d.id.clone()]).await?;
    let strip = HealthStrip::new(recent.remove(&d.id).unwrap_or_default());
    let now = chrono::Utc::now().naive_utc();
    render(
        StatusCode::OK,
        &RowFragment { row: RowView::new(d, strip, user.can_write(), page, |t| AgoSlot::Now(time::ago(t, now))) },
    )
}

/// One row, as a row that is Testing polls for it until its test ends.
pub async fn row(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let d = service.get(&user.workspace_id, &path).await?;
    row_response(&user, &service, &d, query.page.unwrap_or(1)).await
}

#[derive(serde::Deserialize)]
pub struct RowAction {
    page: Option<i64>,
}

impl RowAction {
    fn page(&self) -> i64 {
        self.page.unwrap_or(1).max(1)
    }
}

fn back_to_list(form: &RowAction) -> HttpResponse {
    see_other(&format!("/destinations?page={}", form.page()))
}

/// "Test all": tests every destination that is not disabled, concurrently (bounded by the
/// service). From htmx it answers at once with the table, every row Testing and polling for its
/// own result, while the tests run in the background; without JavaScript it waits for them all
/// and goes back to the list with a summary.
pub async fn test_all(
    req: HttpRequest,
    user: CurrentUser,
    service: web::Data<DestinationService>,
    pages: web::Data<RenderedPages>,
    form: web::Form<RowAction>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let ids = service.begin_test_all(&user.workspace_id).await?;
    let (workspace, service_ref) = (user.workspace_id.clone(), service.clone().into_inner());
    let actor = Actor::web(&user);
    let tests = async move { service_ref.test_marked(&workspace, ids, &actor).await };
    if is_htmx(&req) {
        // Detached from the request: closing the page does not stop the tests.
        tokio::spawn(tests);
        return table(&user, &service, &pages, form.page()).await;
    }
    let summary = tests.await;
    summary_flash(summary).set(&session);
    Ok(back_to_list(&form))
}

fn summary_flash(summary: TestAllSummary) -> Flash {
    let tested = summary.passed + summary.failed;
    let text = format!(
        "Tested {tested} destination{}: {} passed, {} failed.",
        if tested == 1 { "" } else { "s" },
        summary.passed,
        summary.failed
    );
    if summary.failed == 0 { Flash::ok(text) } else { Flash::error(text) }
}

#[derive(serde::Deserialize)]
pub struct TestForm {
    deep: Option<String>,
    page: Option<i64>,
}

/// Tests one saved destination. From htmx it answers with the row, put in place of the row
/// (the shared form's own target is the table).
pub async fn test_connection(
    req: HttpRequest,
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    form: web::Form<TestForm>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let deep = form.deep.as_deref() == Some("true");
    let outcome = service.test_saved(&user.workspace_id, &path, deep, &TestedBy::asked(&Actor::web(&user))).await?;
    let d = service.get(&user.workspace_id, &path).await?;
    if is_htmx(&req) {
        let mut response = row_response(&user, &service, &d, form.page.unwrap_or(1).max(1)).await?;
        swap_in_place_of(&mut response, &format!("#dest-{}", d.id))?;
        return Ok(response);
    }
    if outcome.ok {
        Flash::ok(format!("“{}” passed its connection test.", d.name)).set(&session);
    } else {
        Flash::error(format!("“{}” failed its connection test: {}", d.name, outcome.message)).set(&session);
    }
    Ok(see_other("/destinations"))
}

pub async fn make_default(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    form: web::Form<RowAction>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    service.make_default(&user.workspace_id, &path, &Actor::web(&user)).await?;
    Ok(back_to_list(&form))
}

pub async fn disable(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    form: web::Form<RowAction>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    service.disable(&user.workspace_id, &path, &Actor::web(&user)).await?;
    Ok(back_to_list(&form))
}

pub async fn enable(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    form: web::Form<RowAction>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    service.enable(&user.workspace_id, &path, &Actor::web(&user)).await?;
    Ok(back_to_list(&form))
}
