//! The destination form as a dialog of the plan form ("New destination…"): the same form, fields
//! and handlers as the destination pages (`?dialog=1`, then a `dialog` form field), with every
//! element id prefixed (`super::panel::DIALOG_IDS`) so it cannot clash with the plan form's. A
//! save answers with the plan's destination options, swapped in out of band with the new one
//! selected; when its test passed, also the `destination-saved` event, on which `static/app.js`
//! closes the dialog. The plan form is never submitted or reloaded, so what was typed there stays.

use super::form::FormView;
use super::service::Destination;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::plans::service::DestinationChoice;
use crate::web::{Flash, Layout};
use actix_web::HttpResponse;
use askama::Template;

/// Sent as `HX-Trigger` once the new destination is saved and passed its test.
pub const SAVED_EVENT: &str = "destination-saved";

/// The dialog's content: a title and the form.
#[derive(Template)]
#[template(path = "destinations/dialog.html")]
pub struct DialogForm {
    pub layout: Layout,
    pub title: String,
    pub action: String,
    pub form: FormView,
    /// Saved, but its test failed: the destination's name.
    pub failed: Option<String>,
}

/// The plan form's destination options (out of band, `selected_destination` chosen) and a notice.
#[derive(Template)]
#[template(path = "destinations/dialog_saved.html")]
struct PlanSelect {
    destinations: Vec<DestinationChoice>,
    selected_destination: String,
    notice: Flash,
    /// Which of the plan form's selects (see [`super::form::plan_select`]).
    select: &'static str,
}

/// The answer to a save from the dialog: the plan's options with `d` selected, and either the
/// event that closes the dialog or, when its test failed, `fix` (its edit form) as the content.
pub fn saved(
    user: &CurrentUser,
    d: &Destination,
    destinations: Vec<DestinationChoice>,
    notice: Flash,
    fix: Option<FormView>,
    select: &'static str,
) -> Result<HttpResponse, AppError> {
    let select = PlanSelect { destinations, selected_destination: d.id.clone(), notice, select };
    let passed = fix.is_none();
    let mut body = String::new();
    if let Some(form) = fix {
        let content = DialogForm {
            layout: Layout::for_user(user, "plans"),
            title: format!("Fix “{}”", d.name),
            action: format!("/destinations/{}", d.id),
            form,
            failed: Some(d.name.clone()),
        };
        body.push_str(&render(&content)?);
    }
    body.push_str(&render(&select)?);
    let mut response = HttpResponse::Ok();
    response.content_type("text/html; charset=utf-8");
    if passed {
        response.insert_header(("HX-Trigger", SAVED_EVENT));
    }
    Ok(response.body(body))
}

fn render<T: Template>(template: &T) -> Result<String, AppError> {
    Ok(template.render().map_err(|e| anyhow::anyhow!("rendering a template: {e}"))?)
}
