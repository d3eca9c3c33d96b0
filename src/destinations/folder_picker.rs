//! The folder picker on a connected Google Drive or OneDrive destination's form (htmx): the
//! folder and its sub-folders, into one, up, a new folder, and "Choose", which puts the folder's
//! ID into the form's Folder ID field (still there for pasting). One template for both types.

use super::folders::Browsed;
use super::service::{DestinationError, DestinationService};
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::providers::folders::check_id;
use crate::web::render;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/destinations/{id}/folders", web::get().to(browse))
        .route("/destinations/{id}/folders", web::post().to(create))
        .route("/destinations/{id}/folders/choose", web::get().to(choose));
}

#[derive(Template)]
#[template(path = "destinations/folder_picker_partial.html")]
struct Picker {
    id: String,
    browsed: Browsed,
    /// A refused folder name, beside its field.
    name_error: Option<String>,
    name: String,
}

#[derive(Template)]
#[template(path = "destinations/folder_choice_partial.html")]
struct Choice {
    folder: String,
}

#[derive(serde::Deserialize)]
struct At {
    folder: Option<String>,
}

/// Missing fields are the handler's to refuse, after the role check.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct NewFolder {
    folder_parent: String,
    folder_name: String,
}

async fn browse(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    query: web::Query<At>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let folder = query.folder.as_deref().filter(|f| !f.is_empty());
    let browsed = service.browse_folders(&user.workspace_id, &path, folder).await?;
    render(StatusCode::OK, &Picker { id: path.into_inner(), browsed, name_error: None, name: String::new() })
}

async fn create(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    form: web::Form<NewFolder>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let by = Actor::web(&user);
    let id = path.into_inner();
    match service.create_folder(&user.workspace_id, &id, &form.folder_parent, &form.folder_name, &by).await {
        Ok(browsed) => render(StatusCode::OK, &Picker { id, browsed, name_error: None, name: String::new() }),
        Err(DestinationError::Invalid(errors)) => {
            let browsed = service.browse_folders(&user.workspace_id, &id, Some(&form.folder_parent)).await?;
            let name_error = errors.iter().next().map(|(_, m)| m.to_owned());
            render(StatusCode::OK, &Picker { id, browsed, name_error, name: form.folder_name.clone() })
        }
        Err(e) => Err(e.into()),
    }
}

/// The Folder ID field again, holding the folder chosen.
async fn choose(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    query: web::Query<At>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    // The destination must be one of this workspace's, as for browsing.
    service.get(&user.workspace_id, &path).await?;
    let folder = query.folder.clone().unwrap_or_default();
    check_id(&folder).map_err(|e| AppError::BadRequest(e.message))?;
    render(StatusCode::OK, &Choice { folder })
}
