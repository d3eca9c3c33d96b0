//! Azure Blob Storage with Shared Key authentication.

use crate::destinations::fields::{FieldErrors, FieldReader, FieldSpec, RawFields, rules};
use base64::Engine;
use secrecy::SecretString;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("account_name", "Storage account name").required().max_len(24).placeholder("mybackups"),
    FieldSpec::text("container", "Container").required().max_len(63).placeholder("backups"),
    FieldSpec::text("prefix", "Prefix").max_len(512).placeholder("prod/").help("Optional folder inside the container."),
    FieldSpec::text("endpoint", "Blob endpoint")
        .max_len(255)
        .placeholder("https://mybackups.blob.core.windows.net")
        .help("Optional: for Azurite or sovereign clouds."),
    FieldSpec::secret("account_key", "Account access key").required().max_len(128),
];

#[derive(Debug, Clone)]
pub struct AzureBlobConfig {
    pub account_name: String,
    pub container: String,
    pub prefix: Option<String>,
    pub endpoint: Option<String>,
    pub account_key: SecretString,
}

impl AzureBlobConfig {
    pub fn parse(raw: &RawFields) -> Result<AzureBlobConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let account_name = r.checked("account_name", |v| {
            rules::length("Storage account name", v, 3..=24)?;
            if v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
                Ok(())
            } else {
                Err("Storage account name may contain only lowercase letters and digits.".into())
            }
        });
        let container = r.checked("container", |v| {
            rules::length("Container", v, 3..=63)?;
            let chars_ok = v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if chars_ok && !v.starts_with('-') && !v.ends_with('-') && !v.contains("--") {
                Ok(())
            } else {
                Err("Container names use lowercase letters, digits and single hyphens, and start and end with a letter or digit.".into())
            }
        });
        let prefix = r.checked("prefix", rules::prefix);
        let endpoint = r.checked("endpoint", rules::http_url);
        let account_key =
            r.checked_secret("account_key", |v| match base64::engine::general_purpose::STANDARD.decode(v) {
                Ok(_) => Ok(()),
                Err(_) => Err("Account access key must be the base64 key from the Azure portal.".into()),
            });
        r.finish(|| {
            Some(AzureBlobConfig {
                account_name: account_name?,
                container: container?,
                prefix,
                endpoint,
                account_key: account_key?,
            })
        })
    }

    pub fn location(&self) -> String {
        format!("{}/{}/{}", self.account_name, self.container, self.prefix.as_deref().unwrap_or_default())
    }
}
