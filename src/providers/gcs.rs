//! Google Cloud Storage.

use crate::destinations::fields::{FieldErrors, FieldReader, FieldSpec, Input, RawFields, rules};
use secrecy::SecretString;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("bucket", "Bucket").required().max_len(222).placeholder("my-backups"),
    FieldSpec::text("prefix", "Object prefix").max_len(512).placeholder("backups/"),
    FieldSpec::secret("access_token", "OAuth2 access token")
        .max_len(4096)
        .help("Short-lived: it expires within an hour. Prefer a service-account key."),
    FieldSpec::secret("service_account_key", "Service-account JSON key")
        .input(Input::TextArea)
        .max_len(16384)
        .help("Paste the JSON key file of a service account (recommended)."),
];

#[derive(Debug, Clone)]
pub struct GcsConfig {
    pub bucket: String,
    pub prefix: Option<String>,
    pub access_token: Option<SecretString>,
    pub service_account_key: Option<SecretString>,
}

impl GcsConfig {
    pub fn parse(raw: &RawFields) -> Result<GcsConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let bucket = r.checked("bucket", |v| {
            rules::length("Bucket", v, 3..=222)?;
            let ok = v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
                && v.starts_with(|c: char| c.is_ascii_alphanumeric())
                && v.ends_with(|c: char| c.is_ascii_alphanumeric());
            if ok {
                Ok(())
            } else {
                Err("Bucket names use lowercase letters, digits, \"-\", \"_\" and \".\", and start and end with a letter or digit.".into())
            }
        });
        let prefix = r.checked("prefix", rules::prefix);
        let access_token = r.checked_secret("access_token", |v| rules::no_whitespace("Access token", v));
        let service_account_key = r.checked_secret("service_account_key", service_account_rule);
        if access_token.is_none() && service_account_key.is_none() && !r.has_error("service_account_key") {
            r.error("service_account_key", "Enter a service-account key or an access token.");
        }
        r.finish(|| Some(GcsConfig { bucket: bucket?, prefix, access_token, service_account_key }))
    }

    pub fn location(&self) -> String {
        format!("gs://{}/{}", self.bucket, self.prefix.as_deref().unwrap_or_default())
    }
}

/// A service-account key is JSON with `type: service_account`, a `client_email` and a PEM
/// `private_key`.
fn service_account_rule(v: &str) -> Result<(), String> {
    let json: serde_json::Value = serde_json::from_str(v)
        .map_err(|_| "Service-account key must be the JSON key file, pasted whole.".to_owned())?;
    let field = |name: &str| json.get(name).and_then(|x| x.as_str()).unwrap_or_default();
    if field("type") != "service_account" {
        return Err("Service-account key must have \"type\": \"service_account\".".into());
    }
    if !field("client_email").contains('@') {
        return Err("Service-account key is missing its \"client_email\".".into());
    }
    if !field("private_key").contains("PRIVATE KEY") {
        return Err("Service-account key is missing its \"private_key\".".into());
    }
    Ok(())
}
