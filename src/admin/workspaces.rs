//! `/admin/workspaces`: every workspace with its owners; create one for a first owner, rename,
//! delete with everything in it after its name is typed.

use super::back;
use super::service::{AdminError, AdminService};
use crate::auth::Account;
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::web::time::exact;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/workspaces", web::get().to(list))
        .route("/admin/workspaces", web::post().to(create))
        .route("/admin/workspaces/{id}/rename", web::post().to(rename))
        .route("/admin/workspaces/{id}/delete", web::get().to(confirm_delete))
        .route("/admin/workspaces/{id}/delete", web::post().to(delete));
}

pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    pub owners: Vec<String>,
    pub members: usize,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin/workspaces.html")]
struct WorkspacesPage {
    layout: Layout,
    flash: Option<Flash>,
    workspaces: Vec<WorkspaceView>,
    name: String,
    owner: String,
    owner_help: &'static str,
    errors: FieldErrors,
}

/// What the first owner field expects.
const OWNER_HELP: &str = "An existing account: it becomes the workspace's owner and can invite its members.";

async fn page(
    me: &Account,
    service: &AdminService,
    flash: Option<Flash>,
    values: &[(String, String)],
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let workspaces = service
        .workspaces()
        .await?
        .into_iter()
        .map(|w| WorkspaceView {
            id: w.id,
            name: w.name,
            owners: w.owners,
            members: w.members,
            created: exact(w.created_at),
        })
        .collect();
    render(
        status,
        &WorkspacesPage {
            layout: Layout::for_account(me, "admin-workspaces"),
            flash,
            workspaces,
            name: form_value(values, "workspace").unwrap_or_default().to_owned(),
            owner: form_value(values, "owner").unwrap_or_default().to_owned(),
            owner_help: OWNER_HELP,
            errors,
        },
    )
}

async fn list(me: Account, service: web::Data<AdminService>, session: Session) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    page(&me, &service, Flash::take(&session), &[], FieldErrors::new(), StatusCode::OK).await
}

async fn create(
    me: Account,
    service: web::Data<AdminService>,
    session: Session,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    let value = |name| form_value(&form, name).unwrap_or_default();
    match service.create_workspace(value("workspace"), value("owner")).await {
        Ok(id) => {
            tracing::info!(operator = %me.user_id, workspace = %id, "created a workspace");
            Flash::ok(format!("Created the workspace “{}”.", value("workspace").trim())).set(&session);
            Ok(see_other("/admin/workspaces"))
        }
        Err(AdminError::Invalid(errors)) => {
            page(&me, &service, None, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn rename(
    me: Account,
    service: web::Data<AdminService>,
    session: Session,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    let name = form_value(&form, "workspace").unwrap_or_default();
    let done =
        service.rename_workspace(&id, name).await.map(|()| format!("Renamed the workspace to “{}”.", name.trim()));
    back(&session, "/admin/workspaces", done)
}

#[derive(Template)]
#[template(path = "admin/workspace_delete.html")]
struct DeletePage {
    layout: Layout,
    id: String,
    name: String,
    typed: String,
    error: Option<String>,
}

async fn confirm_delete(
    me: Account,
    service: web::Data<AdminService>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    delete_page(&me, &service, &id, String::new(), None, StatusCode::OK).await
}

async fn delete_page(
    me: &Account,
    service: &AdminService,
    id: &str,
    typed: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let workspace = service.workspace(id).await?;
    let layout = Layout::for_account(me, "admin-workspaces");
    render(status, &DeletePage { layout, id: workspace.id, name: workspace.name, typed, error })
}

async fn delete(
    me: Account,
    service: web::Data<AdminService>,
    session: Session,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    me.require_operator()?;
    let typed = form_value(&form, "confirm").unwrap_or_default().to_owned();
    match service.delete_workspace(&id, &typed).await {
        Ok((name, leftover)) => {
            tracing::info!(operator = %me.user_id, workspace = %id, "deleted a workspace");
            match leftover {
                None => Flash::ok(format!("Deleted the workspace “{name}” and everything in it.")),
                Some(problem) => Flash::error(format!("Deleted the workspace “{name}”, but {problem}.")),
            }
            .set(&session);
            Ok(see_other("/admin/workspaces"))
        }
        Err(AdminError::Invalid(errors)) => {
            let error = errors.get("confirm").map(str::to_owned);
            delete_page(&me, &service, &id, typed, error, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => back(&session, "/admin/workspaces", Err(e)),
    }
}
