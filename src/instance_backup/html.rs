//! `/admin/backup`: the operator's settings for Devpilot's own backup, "Back up now", and the
//! backups made. Operators only (403 for anyone else, workspace owners and admins included).

use super::service::{ConfigInput, ConfigView, InstanceBackupError, InstanceBackupService};
use super::store::BackupRow;
use crate::auth::Account;
use crate::error::AppError;
use crate::fields::{FieldErrors, FieldSpec, FieldView, OptionView, RawFields};
use crate::providers::ProviderKind;
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use secrecy::SecretString;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/backup", web::get().to(page))
        .route("/admin/backup/fields", web::get().to(fields))
        .route("/admin/backup", web::post().to(configure))
        .route("/admin/backup/run", web::post().to(run_now));
}

/// The destination types an operator's backup can go to: every type but those that connect
/// through a consent flow, which belongs to a workspace's destination page (and whose rotating
/// tokens are stored through a workspace's destination).
fn operator_kinds() -> impl Iterator<Item = ProviderKind> {
    ProviderKind::ALL.into_iter().filter(|k| !matches!(k, ProviderKind::GoogleDrive | ProviderKind::OneDrive))
}

/// The form's fields of `kind`: its destination fields, less the workspace's managed servers.
fn field_specs(kind: ProviderKind) -> impl Iterator<Item = &'static FieldSpec> {
    kind.fields().iter().filter(|spec| spec.name != "server_id")
}

/// The destination fields submitted (`config.NAME`) for `kind`, blanks left out.
fn submitted_fields(form: &[(String, String)], kind: ProviderKind) -> RawFields {
    let value = |name: &str| form_value(form, &format!("config.{name}")).unwrap_or_default().to_owned();
    RawFields::from_pairs(
        field_specs(kind).map(|spec| (spec.name, value(spec.name))).filter(|(_, v)| !v.trim().is_empty()),
    )
}

/// The type chosen on the form: one it offers, else a local folder.
fn chosen_kind(value: &str) -> ProviderKind {
    operator_kinds().find(|k| k.as_str() == value).unwrap_or(ProviderKind::Local)
}

/// The type select and the chosen type's fields (values as typed, never a secret), shown by the
/// destination form's field partial (hence `ids`, `grant_link` and `refreshes`).
struct DestinationFields {
    kinds: Vec<OptionView>,
    description: &'static str,
    fields: Vec<FieldView>,
    ids: &'static str,
    grant_link: Option<String>,
    /// No folder picker: no destination of the operator's is connected through a consent flow.
    browse: Option<String>,
}

impl DestinationFields {
    /// No select re-renders this form but the type's.
    fn refreshes(&self, _field: &str) -> bool {
        false
    }

    fn new(kind: ProviderKind, values: &RawFields, errors: &FieldErrors) -> DestinationFields {
        DestinationFields {
            ids: "",
            grant_link: None,
            browse: None,
            kinds: operator_kinds()
                .map(|k| OptionView { value: k.as_str().to_owned(), label: k.label().to_owned(), selected: k == kind })
                .collect(),
            description: kind.description(),
            fields: field_specs(kind).map(|spec| FieldView::new(spec, values, &[], errors, || false)).collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "instance_backup/fields_partial.html")]
struct FieldsPartial {
    form: DestinationFields,
}

impl From<InstanceBackupError> for AppError {
    fn from(e: InstanceBackupError) -> Self {
        match e {
            InstanceBackupError::Db(e) => e.into(),
            InstanceBackupError::Internal(e) => AppError::Internal(e),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "instance_backup/page.html")]
struct BackupPage {
    layout: Layout,
    flash: Option<Flash>,
    config: Option<ConfigView>,
    backups: Vec<BackupRow>,
    /// The form's values as typed (never a secret), and its errors.
    values: RawFields,
    errors: FieldErrors,
    /// The destination's type and fields.
    form: DestinationFields,
}

async fn show(
    account: &Account,
    service: &InstanceBackupService,
    flash: Option<Flash>,
    values: RawFields,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let config = service.view().await?;
    let backups = service.history().await?;
    let kind = chosen_kind(values.get("kind").or(config.as_ref().map(|c| c.kind.as_str())).unwrap_or_default());
    let destination = DestinationFields::new(kind, &values, &errors);
    render(
        status,
        &BackupPage {
            layout: Layout::for_account(account, "admin-backup"),
            flash,
            config,
            backups,
            values,
            errors,
            form: destination,
        },
    )
}

async fn page(
    account: Account,
    service: web::Data<InstanceBackupService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    account.require_operator()?;
    show(&account, &service, Flash::take(&session), RawFields::new(), FieldErrors::new(), StatusCode::OK).await
}

async fn configure(
    account: Account,
    service: web::Data<InstanceBackupService>,
    session: Session,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    account.require_operator()?;
    let value = |name: &str| form_value(&form, name).unwrap_or_default().to_owned();
    let kind = chosen_kind(&value("kind"));
    let fields = submitted_fields(&form, kind);
    let input = ConfigInput {
        kind: value("kind"),
        fields: fields.clone(),
        passphrase: SecretString::from(value("passphrase")),
        confirm: SecretString::from(value("confirm")),
        schedule: value("schedule"),
        keep: value("keep"),
    };
    match service.configure(&account, input).await {
        Ok(()) => {
            Flash::ok("Saved. Devpilot's own backups go to this destination, sealed under your passphrase.")
                .set(&session);
            Ok(see_other("/admin/backup"))
        }
        Err(InstanceBackupError::Invalid(errors)) => {
            let secret = |name: &str| field_specs(kind).any(|spec| spec.name == name && spec.secret);
            let mut shown = RawFields::from_pairs(fields.iter().filter(|(k, _)| !secret(k)));
            shown.set("kind", &value("kind"));
            shown.set("schedule", &value("schedule"));
            shown.set("keep", &value("keep"));
            show(&account, &service, None, shown, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The fields of the type chosen on the form (htmx, when the type changes).
async fn fields(account: Account, query: web::Query<Vec<(String, String)>>) -> Result<HttpResponse, AppError> {
    account.require_operator()?;
    let kind = chosen_kind(form_value(&query, "kind").unwrap_or_default());
    let partial = FieldsPartial { form: DestinationFields::new(kind, &RawFields::new(), &FieldErrors::new()) };
    render(StatusCode::OK, &partial)
}

async fn run_now(
    account: Account,
    service: web::Data<InstanceBackupService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    account.require_operator()?;
    match service.back_up("manual").await {
        Ok(row) => Flash::ok(format!(
            "Backed up Devpilot: {} ({} bytes, SHA-256 {}).",
            row.object_key.unwrap_or_default(),
            row.bytes,
            row.sha256.unwrap_or_default()
        ))
        .set(&session),
        Err(e @ (InstanceBackupError::Failed(_) | InstanceBackupError::NotConfigured)) => {
            Flash::error(e.to_string()).set(&session)
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/admin/backup"))
}
