//! The form's least-privilege panel: the least the credentials need, drawn from the values
//! typed so far and drawn again as the admin types. Also on a destination's own page.

use super::policy::{self, Policy};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::fields::RawFields;
use crate::providers::ProviderKind;
use crate::web::{form_value, render};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

/// Prefix of the element ids in the plan form's dialog (`dialog-f-name` where the page has
/// `f-name`), so they cannot clash with the plan form's; the form and its panel both use it.
pub const DIALOG_IDS: &str = "dialog-";

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
    pub fn new(kind: ProviderKind, values: &RawFields, ids: &'static str) -> PolicyView {
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
    let kind = form_value(&form, "type").and_then(|k| ProviderKind::parse(k).ok()).unwrap_or(ProviderKind::Local);
    let values = RawFields::from_pairs(
        form.iter().filter_map(|(k, v)| k.strip_prefix("config.").map(|k| (k.to_owned(), v.as_str()))),
    );
    let ids = if form_value(&form, "dialog") == Some("1") { DIALOG_IDS } else { "" };
    render(StatusCode::OK, &PolicyPanel { panel: PolicyView::new(kind, &values, ids) })
}
