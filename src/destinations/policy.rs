//! The least a destination's credentials must be allowed, for what Devpilot does there (list,
//! write, read back, delete; S3 also lists and aborts incomplete multipart uploads), filled in
//! with the bucket, container, folder and prefix as typed. The form shows it beside the fields
//! and updates it as the admin types; values that are not typed yet show as placeholders.

use crate::fields::RawFields;
use crate::providers::ProviderKind;
use crate::providers::azure_blob;
use serde_json::json;

pub struct Policy {
    /// What the text is: "IAM policy (JSON)", "Role", …
    pub title: &'static str,
    pub text: String,
    pub notes: Vec<String>,
}

/// A typed value, or a placeholder that says what goes there.
fn value<'a>(fields: &'a RawFields, name: &str, placeholder: &'a str) -> &'a str {
    fields.get(name).map(|v| v.trim_matches('/')).filter(|v| !v.is_empty()).unwrap_or(placeholder)
}

/// A typed path as is, or a placeholder.
fn path<'a>(fields: &'a RawFields, name: &str, placeholder: &'a str) -> &'a str {
    fields.get(name).filter(|v| !v.is_empty()).unwrap_or(placeholder)
}

/// `prefix/` for a typed prefix, empty for none.
fn folder(fields: &RawFields, name: &str) -> String {
    fields.get(name).map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()).map(|p| format!("{p}/")).unwrap_or_default()
}

pub fn minimal(kind: ProviderKind, fields: &RawFields) -> Policy {
    match kind {
        ProviderKind::S3 => s3(fields),
        ProviderKind::AzureBlob => azure(fields),
        ProviderKind::Gcs => gcs(fields),
        ProviderKind::Sftp => sftp(fields),
        ProviderKind::Local => Policy {
            title: "Folder permissions",
            text: format!(
                "read, write and search (rwx) on {} for the user Devpilot runs as; nothing else",
                path(fields, "path", "the backup folder")
            ),
            notes: vec!["Devpilot writes each file beside its final name and renames it when complete.".into()],
        },
        ProviderKind::GoogleDrive => Policy {
            title: "Google Drive access",
            text: format!(
                "edit access to the folder {} only (share just that folder with the account you connect)",
                value(fields, "folder_id", "FOLDER_ID")
            ),
            notes: vec![
                "Google's consent grants the `drive` scope (see the README); the folder is all Devpilot touches."
                    .into(),
            ],
        },
        ProviderKind::OneDrive => Policy {
            title: "Microsoft Graph permissions",
            text: if fields.get("drive_id").is_some_and(|d| !d.is_empty()) {
                "delegated: offline_access and Files.ReadWrite.All (a shared library needs it); the account you connect needs edit rights on the folder".to_owned()
            } else {
                "delegated: offline_access and Files.ReadWrite (the connected account's own files only)".to_owned()
            },
            notes: vec![
                format!(
                    "Devpilot writes only in the folder {} and its sub-folders.",
                    value(fields, "folder_id", "(the drive's root)")
                ),
                "Register the app in Microsoft Entra with the redirect URI Devpilot shows, and a client secret.".into(),
            ],
        },
        ProviderKind::Cloudinary => Policy {
            title: "Cloudinary API key",
            text: format!(
                "an API key of a product environment used only for backups: Upload API (raw uploads) and the Admin API's resources (list, delete) under {}",
                value(fields, "prefix", "the prefix")
            ),
            notes: vec![
                "Cloudinary API keys cannot be limited to a folder: keep backups in an environment of their own."
                    .into(),
            ],
        },
    }
}

/// S3's IAM JSON, or the service's own kind of scoped key where it has no IAM.
fn s3(fields: &RawFields) -> Policy {
    let bucket = value(fields, "bucket", "BUCKET");
    let prefix = folder(fields, "prefix");
    match fields.get("provider").unwrap_or("aws") {
        "r2" => Policy {
            title: "Cloudflare R2 API token",
            text: format!("Permission: Object Read & Write\nApply to specific buckets only: {bucket}"),
            notes: vec!["R2 tokens cannot be limited to a prefix.".into()],
        },
        "backblaze" => Policy {
            title: "Backblaze B2 application key",
            text: format!(
                "Allow access to bucket: {bucket}\nType of access: Read and Write\nFile name prefix: {}",
                if prefix.is_empty() { "(none)" } else { &prefix }
            ),
            notes: Vec::new(),
        },
        "garage" => Policy {
            title: "Garage key permissions",
            text: format!("garage bucket allow --read --write {bucket} --key KEY_ID"),
            notes: vec!["Not --owner: Devpilot never changes the bucket itself.".into()],
        },
        _ => {
            let bucket_arn = format!("arn:aws:s3:::{bucket}");
            let condition = (!prefix.is_empty()).then(|| json!({"StringLike": {"s3:prefix": [format!("{prefix}*")]}}));
            let policy = IamPolicy {
                version: "2012-10-17",
                statement: vec![
                    Statement::allow("DevpilotListBackups", json!("s3:ListBucket"), &bucket_arn, condition),
                    Statement::allow(
                        "DevpilotFindUnfinishedUploads",
                        json!("s3:ListBucketMultipartUploads"),
                        &bucket_arn,
                        None,
                    ),
                    Statement::allow(
                        "DevpilotBackups",
                        json!(["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]),
                        &format!("{bucket_arn}/{prefix}*"),
                        None,
                    ),
                ],
            };
            Policy {
                title: "IAM policy (JSON)",
                text: serde_json::to_string_pretty(&policy).unwrap_or_default(),
                notes: vec![
                    "Multipart uploads need only s3:PutObject (create, parts, complete) and s3:AbortMultipartUpload; \
                     s3:ListBucketMultipartUploads finds what a cut-off upload left."
                        .into(),
                    "Devpilot sets no Object Lock retention, so no s3:PutObjectRetention or s3:BypassGovernanceRetention."
                        .into(),
                ],
            }
        }
    }
}

/// An IAM policy document, its keys in the order AWS writes them.
#[derive(serde::Serialize)]
struct IamPolicy {
    #[serde(rename = "Version")]
    version: &'static str,
    #[serde(rename = "Statement")]
    statement: Vec<Statement>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Statement {
    sid: &'static str,
    effect: &'static str,
    action: serde_json::Value,
    resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<serde_json::Value>,
}

impl Statement {
    fn allow(
        sid: &'static str,
        action: serde_json::Value,
        resource: &str,
        condition: Option<serde_json::Value>,
    ) -> Statement {
        Statement { sid, effect: "Allow", action, resource: resource.to_owned(), condition }
    }
}

/// A container SAS with exactly the permissions Devpilot uses, or a role for the identity that
/// signs a user delegation SAS (its rights are the SAS's and the role's together).
fn azure(fields: &RawFields) -> Policy {
    let account = value(fields, "account_name", "ACCOUNT");
    let container = value(fields, "container", "CONTAINER");
    let prefix = folder(fields, "prefix");
    let letters = azure_blob::needed_letters();
    let uses: Vec<String> = azure_blob::NEEDED.iter().map(|(c, what)| format!("  {c}  {what}")).collect();
    let https = if fields.get("endpoint").is_some_and(|e| e.starts_with("http://")) { "" } else { " --https-only" };
    let expiry = (chrono::Utc::now() + chrono::Duration::days(365)).format("%Y-%m-%dT%H:%MZ");
    let condition = if prefix.is_empty() {
        String::new()
    } else {
        format!(
            "\n  condition: @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] \
             StringStartsWith '{prefix}'"
        )
    };
    Policy {
        title: "Azure SAS or role",
        text: format!(
            "Container SAS (sr=c) on {container}, permissions: {letters}\n{}\n\n\
             az storage container generate-sas --account-name {account} --name {container} \\\n  \
             --permissions {letters} --expiry {expiry}{https} --auth-mode key -o tsv\n\n\
             Or a role for the identity that signs a user delegation SAS (generate-sas --as-user --auth-mode login):\n  \
             Storage Blob Data Contributor, scope …/storageAccounts/{account}/blobServices/default/containers/{container}{condition}",
            uses.join("\n")
        ),
        notes: vec![
            "Not needed: a (add), c (create), x, y, t, f, m, e, o, p, i, nor an account SAS (it reaches every \
             container). A SAS cannot be limited to the prefix: give backups a container of their own."
                .into(),
            "The account key (Shared Key) can do everything in the storage account: the deep test warns when it, \
             an account SAS or extra permissions are used. With a SAS, downloads stream through Devpilot \
             (a SAS signs no download links)."
                .into(),
            "A SAS that names a stored access policy (si=) can be revoked without changing the account key; a user \
             delegation SAS lasts at most 7 days. The least custom role: blobs/read, blobs/write, blobs/delete and \
             generateUserDelegationKey/action."
                .into(),
        ],
    }
}

fn gcs(fields: &RawFields) -> Policy {
    let bucket = value(fields, "bucket", "BUCKET");
    Policy {
        title: "GCS role",
        text: format!(
            "gcloud iam roles create devpilotBackups --project=PROJECT \\\n  \
             --permissions=storage.objects.create,storage.objects.delete,storage.objects.get,storage.objects.list\n\
             gcloud storage buckets add-iam-policy-binding gs://{bucket} \\\n  \
             --member=serviceAccount:SERVICE_ACCOUNT_EMAIL --role=projects/PROJECT/roles/devpilotBackups"
        ),
        notes: vec!["The nearest predefined role is roles/storage.objectUser on the bucket (it also allows restores and updates of object metadata).".into()],
    }
}

fn sftp(fields: &RawFields) -> Policy {
    let directory = path(fields, "directory", "/the/backup/directory");
    let user = value(fields, "username", "USER");
    Policy {
        title: "SFTP directory permissions",
        text: format!(
            "{user} owns {directory} with rwx (list, create, rename and delete files; create plan folders); \
             its parents need only x\ninstall -d -m 700 -o {user} {directory}"
        ),
        notes: vec![
            "An SFTP-only login (ForceCommand internal-sftp, ChrootDirectory) keeps the key from doing more.".into(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_policy_names_the_bucket_and_prefix() {
        let fields =
            RawFields::from_pairs([("provider", "minio"), ("bucket", "backups"), ("prefix", "team-a/nightly")]);
        let policy: serde_json::Value = serde_json::from_str(&minimal(ProviderKind::S3, &fields).text).expect("JSON");
        let statements = policy["Statement"].as_array().expect("statements");
        assert_eq!(statements[0]["Resource"], "arn:aws:s3:::backups");
        assert_eq!(statements[0]["Condition"]["StringLike"]["s3:prefix"][0], "team-a/nightly/*");
        assert!(
            statements[1].get("Condition").is_none(),
            "s3:prefix is no condition key of ListBucketMultipartUploads"
        );
        assert_eq!(statements[2]["Resource"], "arn:aws:s3:::backups/team-a/nightly/*");
        let whole = RawFields::from_pairs([("bucket", "backups")]);
        let policy: serde_json::Value = serde_json::from_str(&minimal(ProviderKind::S3, &whole).text).expect("JSON");
        assert!(policy["Statement"][0].get("Condition").is_none());
        assert_eq!(policy["Statement"][2]["Resource"], "arn:aws:s3:::backups/*");
    }

    #[test]
    fn placeholders_until_typed() {
        let policy = minimal(ProviderKind::AzureBlob, &RawFields::new());
        assert!(policy.text.contains("containers/CONTAINER"), "{}", policy.text);
    }

    #[test]
    fn azure_shows_the_sas_permissions_for_the_container_and_prefix() {
        let fields = RawFields::from_pairs([("account_name", "acct"), ("container", "backups"), ("prefix", "team-a/")]);
        let policy = minimal(ProviderKind::AzureBlob, &fields);
        assert!(policy.text.starts_with("Container SAS (sr=c) on backups, permissions: rwdl\n"), "{}", policy.text);
        assert!(policy.text.contains("--name backups"), "{}", policy.text);
        assert!(policy.text.contains("--https-only"), "{}", policy.text);
        assert!(policy.text.contains("StringStartsWith 'team-a/'"), "{}", policy.text);
        let azurite = RawFields::from_pairs([("container", "backups"), ("endpoint", "http://127.0.0.1:10000/acct")]);
        assert!(!minimal(ProviderKind::AzureBlob, &azurite).text.contains("--https-only"));
    }
}
