//! Pages: the person's workspaces (switch, start one when allowed) and the current workspace's
//! members.

use super::service::{Member, WorkspaceError, WorkspaceService, WorkspaceSummary};
use crate::auth::domain::NewAccount;
use crate::auth::{Account, CurrentUser, Role, session};
use crate::destinations::fields::FieldErrors;
use crate::error::AppError;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use secrecy::SecretString;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspaces", web::get().to(list))
        .route("/workspaces", web::post().to(create))
        .route("/workspaces/{id}/switch", web::post().to(switch))
        .route("/members", web::get().to(members))
        .route("/members", web::post().to(add_member));
}

impl From<WorkspaceError> for AppError {
    fn from(e: WorkspaceError) -> Self {
        match e {
            WorkspaceError::Db(e) => e.into(),
            WorkspaceError::Internal(e) => AppError::Internal(e),
            WorkspaceError::Forbidden(m) => AppError::Forbidden(m),
            WorkspaceError::NotFound => AppError::NotFound("Not found".into()),
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

pub struct RoleOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "workspaces/members.html")]
struct MembersPage {
    layout: Layout,
    flash: Option<Flash>,
    members: Vec<Member>,
    name: String,
    email: String,
    roles: Vec<RoleOption>,
    errors: FieldErrors,
}

async fn members_page(
    user: &CurrentUser,
    service: &WorkspaceService,
    flash: Option<Flash>,
    values: &[(String, String)],
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let members = service.members(&user.workspace_id).await?;
    let chosen = form_value(values, "role").unwrap_or("viewer");
    render(
        status,
        &MembersPage {
            layout: Layout::for_user(user, "members"),
            flash,
            members,
            name: form_value(values, "name").unwrap_or_default().to_owned(),
            email: form_value(values, "email").unwrap_or_default().to_owned(),
            roles: Role::CHOICES
                .iter()
                .map(|(v, l)| RoleOption { value: v, label: l, selected: *v == chosen })
                .collect(),
            errors,
        },
    )
}

async fn members(
    user: CurrentUser,
    service: web::Data<WorkspaceService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    members_page(&user, &service, Flash::take(&session), &[], FieldErrors::new(), StatusCode::OK).await
}

async fn add_member(
    user: CurrentUser,
    service: web::Data<WorkspaceService>,
    session: Session,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let value = |name| form_value(&form, name).unwrap_or_default().to_owned();
    let role = value("role");
    if role == "owner" && user.role != Role::Owner {
        return Err(AppError::Forbidden("Only an owner can add another owner.".into()));
    }
    let account =
        NewAccount { name: value("name"), email: value("email"), password: SecretString::from(value("password")) };
    match service.add_member(&user.workspace_id, account, &role).await {
        Ok(()) => {
            Flash::ok(format!("Added {} to the workspace.", value("email").trim())).set(&session);
            Ok(see_other("/members"))
        }
        Err(WorkspaceError::Invalid(errors)) => {
            members_page(&user, &service, None, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}
