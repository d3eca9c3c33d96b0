//! `/databases`: every protected database with its archiving status; while one is still
//! starting, its table looks again every few seconds.

use super::views::DatabaseView;
use crate::auth::CurrentUser;
use crate::databases::service::DatabaseService;
use crate::error::AppError;
use crate::web::{Flash, Layout, render};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

#[derive(Template)]
#[template(path = "databases/list.html")]
struct ListPage {
    layout: Layout,
    flash: Option<Flash>,
    databases: Vec<DatabaseView>,
}

#[derive(Template)]
#[template(path = "databases/table_partial.html")]
struct TablePartial {
    databases: Vec<DatabaseView>,
}

impl ListPage {
    fn polling(&self) -> bool {
        self.databases.iter().any(DatabaseView::starting)
    }
}

impl TablePartial {
    fn polling(&self) -> bool {
        self.databases.iter().any(DatabaseView::starting)
    }
}

async fn views(service: &DatabaseService, workspace: &str) -> Result<Vec<DatabaseView>, AppError> {
    let now = chrono::Utc::now().naive_utc();
    Ok(service.list(workspace).await?.into_iter().map(|d| DatabaseView::new(d, now)).collect())
}

pub(super) async fn list(
    user: CurrentUser,
    service: web::Data<DatabaseService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let databases = views(&service, &user.workspace_id).await?;
    let layout = Layout::for_user(&user, "databases");
    render(StatusCode::OK, &ListPage { layout, flash: Flash::take(&session), databases })
}

/// The table alone, for the list's polling.
pub(super) async fn table(user: CurrentUser, service: web::Data<DatabaseService>) -> Result<HttpResponse, AppError> {
    let databases = views(&service, &user.workspace_id).await?;
    render(StatusCode::OK, &TablePartial { databases })
}
