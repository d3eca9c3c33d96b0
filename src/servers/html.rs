//! The Servers pages: list, create/edit, test, accept a new host key, delete (refused while
//! destinations use the server). Thin: parsing of the request and rendering; rules live in the
//! service.

use super::service::{Server, ServerError, ServerService};
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::connection_test::TestOutcome;
use crate::error::AppError;
use crate::fields::{FieldErrors, FieldView, RawFields};
use crate::host_keys::html::{self as host_keys, HostKeyPages};
use crate::providers::sftp::LOGIN_FIELDS;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/servers", web::get().to(list))
        .route("/servers", web::post().to(create))
        .route("/servers/new", web::get().to(new_form))
        .route("/servers/{id}/edit", web::get().to(edit_form))
        .route("/servers/{id}", web::post().to(update))
        .route("/servers/{id}/test", web::post().to(test))
        .route("/servers/{id}/host-key", web::get().to(host_keys::confirm::<ServerService>))
        .route("/servers/{id}/host-key", web::post().to(host_keys::accept::<ServerService>))
        .route("/servers/{id}/delete", web::get().to(confirm_delete))
        .route("/servers/{id}/delete", web::post().to(delete));
}

impl From<ServerError> for AppError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::NotFound => AppError::NotFound("Server not found".into()),
            ServerError::Invalid(errors) => {
                let detail: Vec<String> = errors.iter().map(|(_, m)| m.to_owned()).collect();
                AppError::BadRequest(detail.join(" "))
            }
            ServerError::InUse(names) => AppError::BadRequest(format!("The server is used by: {}.", names.join(", "))),
            ServerError::Db(e) => e.into(),
            ServerError::Credentials(m) => AppError::Internal(anyhow::anyhow!(m)),
        }
    }
}

#[derive(Template)]
#[template(path = "servers/list.html")]
struct ListPage {
    layout: Layout,
    flash: Option<Flash>,
    servers: Vec<Server>,
}

async fn list(
    user: CurrentUser,
    service: web::Data<ServerService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let servers = service.list(&user.workspace_id).await?;
    render(
        StatusCode::OK,
        &ListPage { layout: Layout::for_user(&user, "servers"), flash: Flash::take(&session), servers },
    )
}

// ---- the form ----

#[derive(Template)]
#[template(path = "servers/form.html")]
struct FormPage {
    layout: Layout,
    title: String,
    action: String,
    name: String,
    name_error: Option<String>,
    fields: Vec<FieldView>,
    host_key: Option<String>,
    editing: Option<String>,
}

/// The login fields with values as typed (never a stored secret) and errors by field.
fn field_views(values: &RawFields, stored_secrets: &[&str], errors: &FieldErrors) -> Vec<FieldView> {
    LOGIN_FIELDS.iter().map(|spec| FieldView::new(spec, values, stored_secrets, errors, || false)).collect()
}

struct Submitted {
    name: String,
    fields: RawFields,
}

impl Submitted {
    fn from_pairs(pairs: &[(String, String)]) -> Submitted {
        Submitted {
            name: form_value(pairs, "name").unwrap_or_default().to_owned(),
            fields: RawFields::from_pairs(
                pairs.iter().filter_map(|(k, v)| k.strip_prefix("config.").map(|k| (k.to_owned(), v.as_str()))),
            ),
        }
    }
}

fn form_page(user: &CurrentUser, server: Option<&Server>, submitted: &Submitted, errors: &FieldErrors) -> FormPage {
    let stored = server.map(|s| s.stored_secrets.as_slice()).unwrap_or_default();
    FormPage {
        layout: Layout::for_user(user, "servers"),
        title: server.map_or("New server".into(), |s| format!("Edit {}", s.name)),
        action: server.map_or("/servers".into(), |s| format!("/servers/{}", s.id)),
        name: submitted.name.clone(),
        name_error: errors.get("name").map(str::to_owned),
        fields: field_views(&submitted.fields, stored, errors),
        host_key: server.and_then(|s| s.host_key.clone()),
        editing: server.map(|s| s.id.clone()),
    }
}

async fn new_form(user: CurrentUser) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let blank = Submitted { name: String::new(), fields: RawFields::new() };
    render(StatusCode::OK, &form_page(&user, None, &blank, &FieldErrors::new()))
}

async fn edit_form(
    user: CurrentUser,
    service: web::Data<ServerService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let server = service.get(&user.workspace_id, &path).await?;
    let current = Submitted { name: server.name.clone(), fields: server.settings() };
    render(StatusCode::OK, &form_page(&user, Some(&server), &current, &FieldErrors::new()))
}

async fn create(
    user: CurrentUser,
    service: web::Data<ServerService>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let submitted = Submitted::from_pairs(&form);
    match service.create(&user.workspace_id, &submitted.name, &submitted.fields, &Actor::web(&user)).await {
        Ok((server, outcome)) => {
            saved_flash(&server.name, &outcome).set(&session);
            Ok(see_other("/servers"))
        }
        Err(ServerError::Invalid(errors)) => {
            render(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&user, None, &submitted, &errors))
        }
        Err(e) => Err(e.into()),
    }
}

async fn update(
    user: CurrentUser,
    service: web::Data<ServerService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let submitted = Submitted::from_pairs(&form);
    match service.update(&user.workspace_id, &path, &submitted.name, &submitted.fields, &Actor::web(&user)).await {
        Ok((server, outcome)) => {
            saved_flash(&server.name, &outcome).set(&session);
            Ok(see_other("/servers"))
        }
        Err(ServerError::Invalid(errors)) => {
            let server = service.get(&user.workspace_id, &path).await?;
            render(StatusCode::UNPROCESSABLE_ENTITY, &form_page(&user, Some(&server), &submitted, &errors))
        }
        Err(e) => Err(e.into()),
    }
}

fn saved_flash(name: &str, outcome: &TestOutcome) -> Flash {
    if outcome.ok {
        Flash::ok(format!("Saved “{name}”. {}", outcome.message))
    } else {
        Flash::error(format!("Saved “{name}”, but its login test failed: {}", outcome.message))
    }
}

// ---- actions ----

async fn test(
    user: CurrentUser,
    service: web::Data<ServerService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let server = service.get(&user.workspace_id, &path).await?;
    let outcome = service.test(&user.workspace_id, &path, &Actor::web(&user)).await?;
    if outcome.ok {
        Flash::ok(format!("“{}”: {}", server.name, outcome.message)).set(&session);
    } else {
        let hint = outcome.hint.map(|h| format!(" {h}")).unwrap_or_default();
        Flash::error(format!("“{}” failed its login test: {}{hint}", server.name, outcome.message)).set(&session);
    }
    Ok(see_other("/servers"))
}

impl HostKeyPages for ServerService {
    const SECTION: &'static str = "servers";

    fn accepted(fingerprint: &str, name: &str, outcome: &TestOutcome) -> Flash {
        Flash::ok(format!("Pinned {fingerprint} for “{name}”. {}", outcome.message))
    }
}

#[derive(Template)]
#[template(path = "servers/delete.html")]
struct DeletePage {
    layout: Layout,
    server: Server,
}

async fn confirm_delete(
    user: CurrentUser,
    service: web::Data<ServerService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let server = service.list(&user.workspace_id).await?.into_iter().find(|s| s.id == *path);
    let server = server.ok_or_else(|| AppError::NotFound("Server not found".into()))?;
    render(StatusCode::OK, &DeletePage { layout: Layout::for_user(&user, "servers"), server })
}

async fn delete(
    user: CurrentUser,
    service: web::Data<ServerService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let mut server = service.get(&user.workspace_id, &path).await?;
    match service.delete(&user.workspace_id, &path, &Actor::web(&user)).await {
        Ok(()) => {
            Flash::ok(format!("Deleted “{}”.", server.name)).set(&session);
            Ok(see_other("/servers"))
        }
        Err(ServerError::InUse(names)) => {
            server.used_by = names;
            render(StatusCode::CONFLICT, &DeletePage { layout: Layout::for_user(&user, "servers"), server })
        }
        Err(e) => Err(e.into()),
    }
}
