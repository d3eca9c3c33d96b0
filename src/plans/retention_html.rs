//! The plan form's retention preview: which of the plan's artifacts the tiers being typed would
//! keep or remove, and why, computed at each keystroke (htmx) and never saved. Thin: the rules
//! are `RetentionService`'s.

use super::copies::{MAX_COPIES, field, own_field};
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
    (1..=MAX_COPIES)
        .map(|n| {
            let field = |name: &str| own_field(n, name);
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
    // The plan's own policy, or (`copy=N`) the own retention typed for the form's copy N.
    let slot = form_value(&form, "copy").and_then(|n| n.parse::<usize>().ok()).filter(|n| (1..=MAX_COPIES).contains(n));
    let (keep_last, fields, position) = match slot {
        None => (form_value(&form, "retention").unwrap_or_default(), fields_from(&form), 0),
        Some(n) => {
            // Saved copies are numbered without the blank selects before them.
            let chosen = (1..=n).filter(|i| form_value(&form, &field(*i)).is_some_and(|v| !v.trim().is_empty()));
            let keep_last = form_value(&form, &own_field(n, "retention")).unwrap_or_default();
            (keep_last, prefixed_fields_from(&form, &own_field(n, "")), chosen.count() as i64)
        }
    };
    // What retention keeps whatever the tiers say: this copy, if it passed the last drill.
    let protected = match plan {
        Some(plan) => runner.last_passed_drill(&user.workspace_id, plan).await?,
        None => None,
    };
    let protected = protected.filter(|(_, copy)| *copy == position).map(|(run, _)| run).into_iter().collect();
    let previewed = service.preview(&user.workspace_id, plan, position, keep_last, &fields, &protected).await;
    let (rows, errors) = match previewed {
        Ok(rows) => (rows, FieldErrors::new()),
        Err(PreviewError::Invalid(errors)) => (Vec::new(), errors),
        Err(PreviewError::Db(e)) => return Err(e.into()),
    };
    render(StatusCode::OK, &PreviewPartial { rows, errors, new_plan: plan.is_none() })
}
