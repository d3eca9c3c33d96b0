//! The plan form's retention preview: which of the plan's artifacts the tiers being typed would
//! keep or remove, and why, computed at each keystroke (htmx) and never saved. Thin: the rules
//! are `RetentionService`'s.

use super::retention::{OwnRetentionFields, RetentionFields};
use super::retention_service::{PreviewError, PreviewRow, RetentionService};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::web::{form_value, render};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // `new` for a plan being created: it has no artifacts yet.
    cfg.route("/plans/{id}/retention-preview", web::post().to(preview));
}

#[derive(Template)]
#[template(path = "plans/retention_preview_partial.html")]
struct PreviewPartial {
    rows: Vec<PreviewRow>,
    errors: FieldErrors,
    new_plan: bool,
}

impl PreviewPartial {
    fn kept(&self) -> usize {
        self.rows.iter().filter(|r| r.keep).count()
    }

    fn when(&self, row: &PreviewRow) -> String {
        crate::web::time::exact(row.finished_at)
    }
}

/// The tier fields of a submitted form.
pub fn fields_from(pairs: &[(String, String)]) -> RetentionFields {
    prefixed_fields_from(pairs, "")
}

/// The tier fields named with `prefix` (a copy's: `copy_1_keep_daily` …).
pub fn prefixed_fields_from(pairs: &[(String, String)], prefix: &str) -> RetentionFields {
    let mut fields = RetentionFields::default();
    let names = RetentionFields::TIERS.iter().map(|(name, _, _)| *name).chain(["lock_mode", "lock_days"]);
    for name in names {
        fields.set(name, form_value(pairs, &format!("{prefix}{name}")).unwrap_or_default().to_owned());
    }
    fields
}

/// Each copy's own retention on a submitted form: None where its box is not ticked.
pub fn copy_retention_from(pairs: &[(String, String)]) -> Vec<Option<OwnRetentionFields>> {
    (1..=super::copies::MAX_COPIES)
        .map(|n| {
            let field = |name: &str| super::copies::own_field(n, name);
            form_value(pairs, &field("own")).map(|_| OwnRetentionFields {
                keep_last: form_value(pairs, &field("retention")).unwrap_or_default().to_owned(),
                tiers: prefixed_fields_from(pairs, &field("")),
            })
        })
        .collect()
}

async fn preview(
    user: CurrentUser,
    service: web::Data<RetentionService>,
    runner: web::Data<crate::runs::runner::Runner>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let plan = Some(path.as_str()).filter(|id| *id != "new");
    let keep_last = form_value(&form, "retention").unwrap_or_default();
    let fields = fields_from(&form);
    // What retention keeps whatever the tiers say: the primary's copy that passed the last drill.
    let protected = match plan {
        Some(plan) => runner.last_passed_drill(&user.workspace_id, plan).await?,
        None => None,
    };
    let protected = protected.filter(|(_, copy)| *copy == 0).map(|(run, _)| run).into_iter().collect();
    let (rows, errors) = match service.preview(&user.workspace_id, plan, keep_last, &fields, &protected).await {
        Ok(rows) => (rows, FieldErrors::new()),
        Err(PreviewError::Invalid(errors)) => (Vec::new(), errors),
        Err(PreviewError::Db(e)) => return Err(e.into()),
    };
    render(StatusCode::OK, &PreviewPartial { rows, errors, new_plan: plan.is_none() })
}
