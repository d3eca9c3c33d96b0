//! The operator's grant page (`/admin/grants`): every workspace's host grants, a form for a
//! folder and one for a database server, and revoke buttons. Operators only (403 otherwise).

use super::domain::{DatabaseServer, FolderAccess, GrantKind, HostGrant};
use super::service::{GrantError, GrantInput, GrantService};
use crate::artifacts::postgres::PostgresUrl;
use crate::audit::Actor;
use crate::auth::{Account, CurrentUser};
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/grants", web::get().to(list))
        .route("/admin/grants", web::post().to(create))
        .route("/admin/grants/{id}/revoke", web::post().to(revoke));
}

/// Where the operator grants `path` to a workspace: the link "not granted" messages carry.
pub fn grant_link(workspace: &str, path: &str, access: FolderAccess) -> String {
    prefilled(workspace, &[("path", path.trim()), ("access", access.as_str())], "grant-folder")
}

/// The grant page for `workspace` with one of its forms (`anchor`) filled in with `fields`.
fn prefilled(workspace: &str, fields: &[(&str, &str)], anchor: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("workspace", workspace);
    query.extend_pairs(fields);
    format!("/admin/grants?{}#{anchor}", query.finish())
}

/// Where the operator grants the database server of `url` (as typed) to a workspace.
fn database_grant_link(workspace: &str, url: &str) -> Option<String> {
    let server = PostgresUrl::parse(url).ok()?.grantable_server();
    Some(prefilled(workspace, &[("kind", "database"), ("server", &server)], "grant-database"))
}

/// For an operator, when `field`'s error says the database server of the URL `typed` is not
/// granted: the link that grants that server.
pub fn link_for_database_refusal(user: &CurrentUser, errors: &FieldErrors, field: &str, typed: &str) -> Option<String> {
    let message = errors.get(field)?;
    (user.is_operator && message.contains(crate::hostfs::NOT_GRANTED))
        .then(|| database_grant_link(&user.workspace_id, typed))
        .flatten()
}

/// For an operator, when `field`'s error says its path is not granted: the link that grants it
/// (to the folder of a path that does not exist yet: a restore target).
pub fn link_for_refusal(
    user: &CurrentUser,
    errors: &FieldErrors,
    field: &str,
    typed: &str,
    access: FolderAccess,
) -> Option<String> {
    let message = errors.get(field)?;
    let grantable = message.contains(crate::hostfs::NOT_GRANTED) || message.contains("for reading only");
    (user.is_operator && grantable).then(|| grant_link(&user.workspace_id, typed, access))
}

impl From<GrantError> for AppError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::NotFound => AppError::NotFound("Grant not found".into()),
            GrantError::Invalid(errors) => {
                AppError::BadRequest(errors.iter().map(|(_, m)| m.to_owned()).collect::<Vec<_>>().join(" "))
            }
            GrantError::Db(e) => e.into(),
        }
    }
}

/// One row of the list.
struct GrantRowView {
    id: String,
    workspace: String,
    what: String,
    access: &'static str,
    note: String,
    by: String,
    when: String,
    /// Devpilot's own files inside a read grant, which sources there skip.
    skips: String,
}

#[derive(Template)]
#[template(path = "admin/grants.html")]
struct GrantsPage {
    layout: Layout,
    flash: Option<Flash>,
    grants: Vec<GrantRowView>,
    workspaces: Vec<(String, String)>,
    /// The form that was submitted (`folder` or `database`), its values and errors.
    submitted: String,
    input: GrantInput,
    errors: FieldErrors,
}

impl GrantsPage {
    fn error(&self, kind: &str, field: &str) -> String {
        if self.submitted == kind { self.errors.get(field).unwrap_or_default().to_owned() } else { String::new() }
    }

    fn selected(&self, workspace: &str) -> bool {
        self.input.workspace_id == workspace
    }
}

fn view(grant: HostGrant, workspaces: &[(String, String)], service: &GrantService) -> GrantRowView {
    let workspace = workspaces.iter().find(|(id, _)| *id == grant.workspace_id).map_or("", |(_, n)| n.as_str());
    let (what, access, skips) = match &grant.kind {
        GrantKind::Folder { path, access } => {
            let skips = service.contains_devpilot(path).join(", ");
            let label = if access.allows_write() { "Read and write" } else { "Read" };
            (path.display().to_string(), label, skips)
        }
        GrantKind::Database(server @ DatabaseServer::Tcp { .. }) => {
            (server.describe(), "Database server", String::new())
        }
        GrantKind::Database(server) => (server.describe(), "Database server (socket)", String::new()),
    };
    GrantRowView {
        id: grant.id,
        workspace: workspace.to_owned(),
        what,
        access,
        note: grant.note,
        by: grant.created_by,
        when: grant.created_at.format("%Y-%m-%d %H:%M").to_string(),
        skips,
    }
}

async fn page(
    user: &Account,
    service: &GrantService,
    flash: Option<Flash>,
    submitted: &str,
    input: GrantInput,
    errors: FieldErrors,
) -> Result<GrantsPage, AppError> {
    let (grants, workspaces) = service.all().await?;
    let grants = grants.into_iter().map(|g| view(g, &workspaces, service)).collect();
    let layout = Layout::for_account(user, "admin-grants");
    Ok(GrantsPage { layout, flash, grants, workspaces, submitted: submitted.to_owned(), input, errors })
}

#[derive(serde::Deserialize)]
struct Prefill {
    workspace: Option<String>,
    /// `database` prefills the database form (with `server`); otherwise the folder form.
    kind: Option<String>,
    path: Option<String>,
    access: Option<String>,
    server: Option<String>,
}

async fn list(
    user: Account,
    service: web::Data<GrantService>,
    session: Session,
    query: web::Query<Prefill>,
) -> Result<HttpResponse, AppError> {
    user.require_operator()?;
    let query = query.into_inner();
    let prefilled = if query.kind.as_deref() == Some("database") { "database" } else { "" };
    let input = GrantInput {
        workspace_id: query.workspace.unwrap_or_default(),
        path: query.path.unwrap_or_default(),
        access: query.access.unwrap_or_else(|| "read".into()),
        server: query.server.unwrap_or_default(),
        ..GrantInput::default()
    };
    let flash = Flash::take(&session);
    render(StatusCode::OK, &page(&user, &service, flash, prefilled, input, FieldErrors::new()).await?)
}

async fn create(
    user: Account,
    service: web::Data<GrantService>,
    session: Session,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_operator()?;
    let value = |k: &str| form_value(&form, k).unwrap_or_default().to_owned();
    let input = GrantInput {
        workspace_id: value("workspace_id"),
        kind: if value("kind") == "database" { "database".into() } else { "folder".into() },
        path: value("path"),
        access: value("access"),
        server: value("server"),
        note: value("note"),
    };
    match service.grant(&input, &Actor::operator(&user)).await {
        Ok(grant) => {
            Flash::ok(format!("Granted {}.", grant.kind.describe())).set(&session);
            Ok(see_other("/admin/grants"))
        }
        Err(GrantError::Invalid(errors)) => {
            let kind = input.kind.clone();
            let page = page(&user, &service, None, &kind, input, errors).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e.into()),
    }
}

async fn revoke(
    user: Account,
    service: web::Data<GrantService>,
    session: Session,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_operator()?;
    let grant = service.revoke(&path, &Actor::operator(&user)).await?;
    Flash::ok(format!("Revoked {}.", grant.kind.describe())).set(&session);
    Ok(see_other("/admin/grants"))
}
