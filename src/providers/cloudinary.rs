//! Cloudinary: artifacts as raw assets.

use crate::destinations::fields::{FieldErrors, FieldReader, FieldSpec, RawFields, rules};
use secrecy::SecretString;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("cloud_name", "Cloud name").required().max_len(64).placeholder("my-cloud"),
    FieldSpec::text("prefix", "Public ID prefix").max_len(255).placeholder("backups/"),
    FieldSpec::secret("api_key", "API key").required().max_len(64),
    FieldSpec::secret("api_secret", "API secret").required().max_len(128),
];

#[derive(Debug, Clone)]
pub struct CloudinaryConfig {
    pub cloud_name: String,
    pub prefix: Option<String>,
    pub api_key: SecretString,
    pub api_secret: SecretString,
}

impl CloudinaryConfig {
    pub fn parse(raw: &RawFields) -> Result<CloudinaryConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let cloud_name = r.checked("cloud_name", |v| rules::charset("Cloud name", v, "-_"));
        let prefix = r.checked("prefix", rules::prefix);
        let api_key = r.checked_secret("api_key", |v| {
            if v.chars().all(|c| c.is_ascii_digit()) {
                Ok(())
            } else {
                Err("API key is the number shown in the Cloudinary console.".into())
            }
        });
        let api_secret = r.checked_secret("api_secret", |v| rules::charset("API secret", v, "-_"));
        r.finish(|| {
            Some(CloudinaryConfig { cloud_name: cloud_name?, prefix, api_key: api_key?, api_secret: api_secret? })
        })
    }

    pub fn location(&self) -> String {
        format!("cloudinary://{}/{}", self.cloud_name, self.prefix.as_deref().unwrap_or_default())
    }
}
