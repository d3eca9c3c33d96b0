//! A destination's own page (for every member: what it is, how its last test went, what its
//! service supports, the least its key needs) and the form's least-privilege panel, which the
//! form asks for again as the admin types.

use super::domain::DestinationKind;
use super::fields::RawFields;
use super::policy::{self, Policy};
use super::service::{Destination, DestinationService};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::web::{Layout, form_value, render};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

/// The panel: the policy, and which form fields it is made from (never the secret ones).
pub struct PolicyView {
    pub policy: Policy,
    /// Element id prefix (the plan form's dialog has its own).
    pub ids: &'static str,
    /// htmx's `hx-params`: the form values the panel is drawn from.
    pub params: String,
    /// On a form: drawn again as the admin types.
    pub live: bool,
}

impl PolicyView {
    pub fn new(kind: DestinationKind, values: &RawFields, ids: &'static str) -> PolicyView {
        let mut params: Vec<String> = vec!["type".into(), "dialog".into()];
        params.extend(kind.fields().iter().filter(|f| !f.secret).map(|f| format!("config.{}", f.name)));
        PolicyView { policy: policy::minimal(kind, values), ids, params: params.join(","), live: true }
    }
}

#[derive(Template)]
#[template(path = "destinations/policy.html")]
struct PolicyPanel {
    panel: PolicyView,
}

/// The panel for the values typed so far (POST: the form's values stay out of URLs and logs).
pub async fn policy_panel(user: CurrentUser, form: web::Form<Vec<(String, String)>>) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let kind = form_value(&form, "type").and_then(|k| DestinationKind::parse(k).ok()).unwrap_or(DestinationKind::Local);
    let values = RawFields::from_pairs(
        form.iter().filter_map(|(k, v)| k.strip_prefix("config.").map(|k| (k.to_owned(), v.as_str()))),
    );
    let ids = if form_value(&form, "dialog") == Some("1") { super::dialog::IDS } else { "" };
    render(StatusCode::OK, &PolicyPanel { panel: PolicyView::new(kind, &values, ids) })
}

#[derive(Template)]
#[template(path = "destinations/show.html")]
struct ShowPage {
    layout: Layout,
    d: Destination,
    panel: PolicyView,
    can_write: bool,
}

pub async fn show(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let d = service.get(&user.workspace_id, &path).await?;
    let panel = PolicyView { live: false, ..PolicyView::new(d.kind, &d.settings, "") };
    let layout = Layout::for_user(&user, "destinations");
    render(StatusCode::OK, &ShowPage { can_write: user.can_write(), layout, d, panel })
}
