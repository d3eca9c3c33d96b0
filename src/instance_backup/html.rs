//! `/admin/backup`: the operator's settings for Devpilot's own backup, "Back up now", and the
//! backups made. Operators only (403 for anyone else, workspace owners and admins included).

use super::service::{ConfigInput, ConfigView, InstanceBackupError, InstanceBackupService};
use super::store::BackupRow;
use crate::auth::Account;
use crate::error::AppError;
use crate::fields::{FieldErrors, RawFields};
use crate::web::{Flash, Layout, form_value, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use secrecy::SecretString;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/backup", web::get().to(page))
        .route("/admin/backup", web::post().to(configure))
        .route("/admin/backup/run", web::post().to(run_now));
}

/// The destination fields the form offers: a local folder or S3 (others through the same
/// readers once their fields are added here).
const DESTINATION_FIELDS: [&str; 8] =
    ["path", "provider", "endpoint", "region", "bucket", "prefix", "access_key_id", "secret_access_key"];
const SECRET_FIELDS: [&str; 1] = ["secret_access_key"];

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
    /// The plain text fields of the form: (name, label).
    text_fields: &'static [(&'static str, &'static str)],
}

const TEXT_FIELDS: [(&str, &str); 7] = [
    ("path", "Folder (a local destination)"),
    ("provider", "S3 provider (aws, custom, …)"),
    ("endpoint", "Endpoint (S3)"),
    ("region", "Region (S3)"),
    ("bucket", "Bucket (S3)"),
    ("prefix", "Prefix (S3)"),
    ("access_key_id", "Access key ID (S3)"),
];

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
    render(
        status,
        &BackupPage {
            layout: Layout::for_account(account, "admin-backup"),
            flash,
            config,
            backups,
            values,
            errors,
            text_fields: &TEXT_FIELDS,
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
    let fields =
        RawFields::from_pairs(DESTINATION_FIELDS.iter().map(|n| (*n, value(n))).filter(|(_, v)| !v.trim().is_empty()));
    let input = ConfigInput {
        kind: value("kind"),
        fields: fields.clone(),
        passphrase: SecretString::from(value("passphrase")),
        confirm: SecretString::from(value("confirm")),
        schedule: value("schedule"),
    };
    match service.configure(&account, input).await {
        Ok(()) => {
            Flash::ok("Saved. Devpilot's own backups go to this destination, sealed under your passphrase.")
                .set(&session);
            Ok(see_other("/admin/backup"))
        }
        Err(InstanceBackupError::Invalid(errors)) => {
            let mut shown = RawFields::from_pairs(fields.iter().filter(|(k, _)| !SECRET_FIELDS.contains(k)));
            shown.set("kind", &value("kind"));
            shown.set("schedule", &value("schedule"));
            show(&account, &service, None, shown, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
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
