//! The person's workspaces: switch, start one when allowed.

use super::service::{WorkspaceError, WorkspaceService, WorkspaceSummary};
use crate::auth::{Account, session};
use crate::error::AppError;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces", web::get().to(list))
        .route("/workspaces", web::post().to(create))
        .route("/workspaces/{id}/switch", web::post().to(switch));
    super::members::routes(cfg);
}

impl From<WorkspaceError> for AppError {
    fn from(e: WorkspaceError) -> Self {
        match e {
            WorkspaceError::Db(e) => e.into(),
            WorkspaceError::Internal(e) => AppError::Internal(e),
            WorkspaceError::Forbidden(m) => AppError::Forbidden(m),
            WorkspaceError::NotFound => AppError::NotFound("Not a member of this workspace".into()),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "workspaces/list.html")]
struct WorkspacesPage {
    layout: Layout,
    flash: Option<Flash>,
    current: String,
    workspaces: Vec<WorkspaceSummary>,
    may_create: bool,
    name: String,
    error: Option<String>,
}

async fn workspaces_page(
    account: &Account,
    service: &WorkspaceService,
    flash: Option<Flash>,
    name: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let workspaces = service.of_user(&account.user_id).await?;
    render(
        status,
        &WorkspacesPage {
            layout: Layout::for_account(account, "workspaces"),
            flash,
            current: account.current.as_ref().map(|c| c.workspace_id.clone()).unwrap_or_default(),
            workspaces,
            may_create: service.may_create(account),
            name,
            error,
        },
    )
}

async fn list(
    account: Account,
    service: web::Data<WorkspaceService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    workspaces_page(&account, &service, Flash::take(&session), String::new(), None, StatusCode::OK).await
}

async fn create(
    account: Account,
    service: web::Data<WorkspaceService>,
    session: Session,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let name = form_value(&form, "workspace").unwrap_or_default().to_owned();
    match service.create_own(&account, &name).await {
        Ok(id) => {
            session::switch_workspace(&session, &id)?;
            Flash::ok(format!("Created the workspace “{}” and switched to it.", name.trim())).set(&session);
            Ok(see_other("/destinations"))
        }
        Err(WorkspaceError::Invalid(errors)) => {
            let error = errors.get("workspace").map(str::to_owned);
            workspaces_page(&account, &service, None, name, error, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn switch(
    account: Account,
    service: web::Data<WorkspaceService>,
    session: Session,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    if !service.is_member(&account.user_id, &path).await? {
        return Err(AppError::NotFound("Workspace not found".into()));
    }
    session::switch_workspace(&session, &path)?;
    Ok(see_other("/destinations"))
}
