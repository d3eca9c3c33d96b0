//! The file browser of a directory run: its manifest as folders (htmx: a folder opens in place,
//! with a breadcrumb), a search by name, sizes; and for a file or folder a download or a restore
//! into a granted folder, reporting the time taken and the bytes of the artifact read.

use super::restore::RestoreTarget;
use super::runner::Runner;
use super::single_file::{Listed, Listing};
use crate::auth::CurrentUser;
use crate::auth::session::is_htmx;
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::grants::FolderAccess;
use crate::web::format::human_bytes;
use crate::web::{Layout, form_value, render};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/runs/{id}/files", web::get().to(browse))
        .route("/runs/{id}/files/download", web::get().to(download))
        .route("/runs/{id}/files/restore", web::get().to(restore_form))
        .route("/runs/{id}/files/restore", web::post().to(restore));
}

#[derive(serde::Deserialize)]
struct BrowseQuery {
    #[serde(default)]
    folder: String,
    #[serde(default)]
    q: String,
}

/// A folder of the path, for the breadcrumb: (name, path).
fn breadcrumb(folder: &str) -> Vec<(String, String)> {
    let mut crumbs = Vec::new();
    let mut path = String::new();
    for part in folder.split('/').filter(|p| !p.is_empty()) {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(part);
        crumbs.push((part.to_owned(), path.clone()));
    }
    crumbs
}

pub struct EntryView {
    pub name: String,
    pub path: String,
    pub folder: bool,
    pub link: bool,
    pub size: String,
    pub files: u64,
}

fn entry_view(listed: Listed) -> EntryView {
    EntryView {
        folder: listed.kind == "dir",
        link: listed.kind == "symlink",
        size: human_bytes(listed.size),
        files: listed.files,
        name: listed.name,
        path: listed.path,
    }
}

#[derive(Template)]
#[template(path = "runs/files_partial.html")]
struct FilesPartial {
    run_id: String,
    can_write: bool,
    folder: String,
    crumbs: Vec<(String, String)>,
    search: String,
    entries: Vec<EntryView>,
    more: u64,
    summary: String,
}

#[derive(Template)]
#[template(path = "runs/files.html")]
struct FilesPage {
    layout: Layout,
    plan_id: String,
    plan_name: String,
    when: String,
    partial: String,
}

fn partial(user: &CurrentUser, run_id: &str, listing: Listing) -> FilesPartial {
    let totals = listing.totals;
    FilesPartial {
        run_id: run_id.to_owned(),
        can_write: user.can_write(),
        crumbs: breadcrumb(&listing.folder),
        folder: listing.folder,
        search: listing.search.unwrap_or_default(),
        more: listing.more,
        summary: format!("{} files, {} in all", super::drills::thousands(totals.files), human_bytes(totals.bytes)),
        entries: listing.entries.into_iter().map(entry_view).collect(),
    }
}

async fn browse(
    req: HttpRequest,
    user: CurrentUser,
    runner: web::Data<Runner>,
    plans: web::Data<crate::plans::service::PlanService>,
    path: web::Path<String>,
    query: web::Query<BrowseQuery>,
) -> Result<HttpResponse, AppError> {
    let run = runner.find(&user.workspace_id, &path).await?;
    let search = Some(query.q.as_str()).filter(|q| !q.trim().is_empty());
    let listing = runner.list_files(&user.workspace_id, &run.id, &query.folder, search).await?;
    let files = partial(&user, &run.id, listing);
    if is_htmx(&req) {
        return render(StatusCode::OK, &files);
    }
    let plan_name = plans.get(&user.workspace_id, &run.plan_id).await.map(|p| p.name).unwrap_or_default();
    let page = FilesPage {
        layout: Layout::for_user(&user, "plans"),
        plan_id: run.plan_id.clone(),
        plan_name,
        when: crate::web::time::exact(run.created_at),
        partial: files.render().map_err(anyhow::Error::from)?,
    };
    render(StatusCode::OK, &page)
}

#[derive(serde::Deserialize)]
struct PathQuery {
    #[serde(default)]
    path: String,
}

/// One file as itself, a folder as a tar; any member of the workspace (viewers too), as a whole
/// backup's download.
async fn download(
    user: CurrentUser,
    runner: web::Data<Runner>,
    path: web::Path<String>,
    query: web::Query<PathQuery>,
) -> Result<HttpResponse, AppError> {
    let got = runner.download_path(&user.workspace_id, &path, &query.path).await?;
    Ok(HttpResponse::Ok()
        .content_type(got.content_type)
        .insert_header(actix_web::http::header::ContentDisposition::attachment(got.file_name))
        .streaming(got.body))
}

#[derive(Template)]
#[template(path = "runs/files_restore.html")]
struct RestorePathPage {
    layout: Layout,
    run_id: String,
    path: String,
    target: String,
    errors: FieldErrors,
    grant_link: Option<String>,
    outcome: String,
    succeeded: bool,
}

impl RestorePathPage {
    fn error(&self, field: &str) -> String {
        self.errors.get(field).unwrap_or_default().to_owned()
    }
}

fn restore_page(user: &CurrentUser, run_id: &str, path: &str) -> RestorePathPage {
    RestorePathPage {
        layout: Layout::for_user(user, "plans"),
        run_id: run_id.to_owned(),
        path: path.to_owned(),
        target: String::new(),
        errors: FieldErrors::new(),
        grant_link: None,
        outcome: String::new(),
        succeeded: false,
    }
}

async fn restore_form(
    user: CurrentUser,
    runner: web::Data<Runner>,
    path: web::Path<String>,
    query: web::Query<PathQuery>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let run = runner.find(&user.workspace_id, &path).await?;
    render(StatusCode::OK, &restore_page(&user, &run.id, &query.path))
}

async fn restore(
    user: CurrentUser,
    runner: web::Data<Runner>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let run = runner.find(&user.workspace_id, &path).await?;
    let wanted = form_value(&form, "path").unwrap_or_default();
    let typed = form_value(&form, "target").unwrap_or_default();
    let mut page = restore_page(&user, &run.id, wanted);
    page.target = typed.trim().to_owned();
    let access = runner.grants().access(&user.workspace_id).await?;
    let place = match RestoreTarget::parse("directory", typed, &access) {
        Ok(RestoreTarget::Directory(place)) => place,
        Ok(_) => return Err(AppError::BadRequest("Choose a folder to restore into.".into())),
        Err(errors) => {
            page.grant_link =
                crate::grants::html::link_for_refusal(&user, &errors, "target", typed, FolderAccess::ReadWrite);
            page.errors = errors;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    match runner.restore_path(&user.workspace_id, &run.id, wanted, &place).await {
        Ok(done) => {
            page.succeeded = true;
            page.outcome = format!(
                "Restored {} into {} ({} files, {}) in {:.1} s, reading {} of the {} backup; every file's SHA-256 matched the list recorded at backup.",
                wanted.trim_matches('/'),
                page.target,
                super::drills::thousands(done.files),
                human_bytes(done.bytes),
                done.millis as f64 / 1000.0,
                human_bytes(done.bytes_read),
                human_bytes(done.artifact_bytes),
            );
            render(StatusCode::OK, &page)
        }
        Err(AppError::BadRequest(message) | AppError::NotFound(message)) => {
            page.outcome = message;
            render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(e),
    }
}
