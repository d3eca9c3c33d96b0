//! The destination form's handlers: new and edit, the type picker, "Test credentials", and
//! saving (create, update), answered as a page or into the plan form's dialog.

use super::dialog::{self, DialogForm};
use super::form::{FormBody, FormPage, FormView, Submitted, TestResult, form_view, stored_secrets_for};
use super::service::{Destination, DestinationError, DestinationService};
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::connection_test::TestOutcome;
use crate::error::AppError;
use crate::fields::{FieldErrors, RawFields};
use crate::plans::service::PlanService;
use crate::providers::ProviderKind;
use crate::web::{Flash, Layout, render, see_other, swap_in_place_of};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

/// The form as a page, or as the content of the plan form's dialog.
fn form_response(
    status: StatusCode,
    user: &CurrentUser,
    title: String,
    action: String,
    form: FormView,
) -> Result<HttpResponse, AppError> {
    if form.dialog {
        render(status, &DialogForm { layout: Layout::for_user(user, "plans"), title, action, form, failed: None })
    } else {
        render(status, &FormPage { layout: Layout::for_user(user, "destinations"), title, action, form })
    }
}

#[derive(serde::Deserialize)]
pub struct NewQuery {
    dialog: Option<String>,
    /// The plan form's select the dialog fills (a copy's, or the destination's by default).
    select: Option<String>,
}

pub(super) async fn new_form(user: CurrentUser, query: web::Query<NewQuery>) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    // Local is the first type shown; the SFTP servers are offered when the type changes.
    let form = FormView::new(None, "", ProviderKind::Local, &RawFields::new(), &[], &FieldErrors::new())
        .in_dialog(query.dialog.as_deref() == Some("1"))
        .for_select(super::form::plan_select(query.select.as_deref()));
    form_response(StatusCode::OK, &user, "New destination".into(), "/destinations".into(), form)
}

pub(super) async fn edit_form(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let d = service.get(&user.workspace_id, &path).await?;
    let form = FormView::new(Some(d.id.clone()), &d.name, d.kind, &d.settings, &d.stored_secrets, &FieldErrors::new());
    let mut form = form_view(&service, &user, form, d.kind).await?;
    form.host_key = d.host_key.clone();
    form.compatibility = d.compatibility.clone();
    // After consent the drive can be browsed for the folder.
    if d.kind.connects_through_consent() && d.stored_secrets.contains(&"refresh_token") {
        form.browse = Some(d.id.clone());
    }
    render(
        StatusCode::OK,
        &FormPage {
            layout: Layout::for_user(&user, "destinations"),
            title: format!("Edit {}", d.name),
            action: format!("/destinations/{}", d.id),
            form,
        },
    )
}

/// The type picker (a POST, so typed secrets never land in a URL or an access log): re-renders the form body for the chosen type, keeping what was typed.
pub(super) async fn fields(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    request: actix_web::HttpRequest,
    query: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let mut submitted = Submitted::from_pairs(&query);
    // Another S3 service chosen: its path-style default applies, not the last one's box.
    if request.headers().get("HX-Trigger-Name").is_some_and(|n| n == "config.provider") {
        submitted.input.fields.set("path_style", "");
    }
    let stored = stored_secrets_for(&service, &user, &submitted).await?;
    let form = form_view(&service, &user, submitted.form(&stored, &FieldErrors::new()), submitted.kind()).await?;
    render(StatusCode::OK, &FormBody { form })
}

pub(super) async fn test_credentials(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let submitted = Submitted::from_pairs(&form);
    match service.test_credentials(&user.workspace_id, submitted.id.as_deref(), &submitted.input, submitted.deep).await
    {
        Ok(t) => render(StatusCode::OK, &TestResult { t }),
        Err(DestinationError::Invalid(errors)) => {
            // Show the problems next to their fields: swap the whole form body instead.
            let stored = stored_secrets_for(&service, &user, &submitted).await?;
            let form = form_view(&service, &user, submitted.form(&stored, &errors), submitted.kind()).await?;
            let retarget = format!("#{}form-body", form.ids);
            let mut response = render(StatusCode::UNPROCESSABLE_ENTITY, &FormBody { form })?;
            swap_in_place_of(&mut response, &retarget)?;
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn create(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    plans: web::Data<PlanService>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let submitted = Submitted::from_pairs(&form);
    match service.create(&user.workspace_id, submitted.input.clone(), &Actor::web(&user)).await {
        Ok((d, outcome)) => saved(&user, &service, &plans, &submitted, d, outcome, &session).await,
        Err(DestinationError::Invalid(errors)) => {
            let servers = service.server_choices(&user.workspace_id).await?;
            form_with_errors(&user, submitted, &errors, &[], servers, "New destination".into(), "/destinations".into())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn update(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    plans: web::Data<PlanService>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let mut submitted = Submitted::from_pairs(&form);
    submitted.id = Some(path.clone());
    match service.update(&user.workspace_id, &path, submitted.input.clone(), &Actor::web(&user)).await {
        Ok((d, outcome)) => saved(&user, &service, &plans, &submitted, d, outcome, &session).await,
        Err(DestinationError::Invalid(errors)) => {
            let stored = stored_secrets_for(&service, &user, &submitted).await?;
            let title = format!("Edit {}", submitted.input.name);
            let servers = service.server_choices(&user.workspace_id).await?;
            form_with_errors(&user, submitted, &errors, &stored, servers, title, format!("/destinations/{path}"))
        }
        Err(e) => Err(e.into()),
    }
}

/// After a save (which tested the destination): back to the list with the outcome, or, from the
/// plan form's dialog, the plan's destination select with this one chosen. In the dialog a failed
/// test keeps the dialog open as this destination's edit form, showing the test, so that fixing
/// it updates the saved destination instead of adding a second one.
async fn saved(
    user: &CurrentUser,
    service: &DestinationService,
    plans: &PlanService,
    submitted: &Submitted,
    d: Destination,
    outcome: TestOutcome,
    session: &Session,
) -> Result<HttpResponse, AppError> {
    let flash = saved_flash(&d.name, &outcome);
    if !submitted.dialog {
        flash.set(session);
        return Ok(see_other("/destinations"));
    }
    let choices = plans.destination_choices(&user.workspace_id).await?;
    let fix = if outcome.ok {
        None
    } else {
        let form =
            FormView::new(Some(d.id.clone()), &d.name, d.kind, &d.settings, &d.stored_secrets, &FieldErrors::new());
        let mut form = form_view(service, user, form.in_dialog(true).for_select(submitted.select), d.kind).await?;
        form.test = Some(outcome);
        Some(form)
    };
    dialog::saved(user, &d, choices, flash, fix, submitted.select)
}

fn saved_flash(name: &str, outcome: &TestOutcome) -> Flash {
    if outcome.ok {
        Flash::ok(format!("Saved “{name}”. Connection test passed."))
    } else {
        Flash::error(format!("Saved “{name}”, but its connection test failed: {}", outcome.message))
    }
}

fn form_with_errors(
    user: &CurrentUser,
    submitted: Submitted,
    errors: &FieldErrors,
    stored: &[&str],
    servers: Vec<(String, String)>,
    title: String,
    action: String,
) -> Result<HttpResponse, AppError> {
    let form = submitted.form(stored, errors).with_grant_link(user, submitted.kind());
    let form = if submitted.kind() == ProviderKind::Sftp { form.with_servers(servers) } else { form };
    form_response(StatusCode::UNPROCESSABLE_ENTITY, user, title, action, form)
}
