//! Google Drive: a folder of a Google account.

use crate::destinations::fields::{FieldErrors, FieldReader, FieldSpec, RawFields, rules};
use secrecy::SecretString;

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("folder_id", "Folder ID")
        .required()
        .max_len(128)
        .help("The last part of the folder's URL in Google Drive."),
    FieldSpec::secret("access_token", "OAuth2 access token")
        .max_len(4096)
        .help("Short-lived. For lasting access use a refresh token with the OAuth client below."),
    FieldSpec::secret("refresh_token", "Refresh token").max_len(4096),
    FieldSpec::text("client_id", "OAuth client ID").max_len(255),
    FieldSpec::secret("client_secret", "OAuth client secret").max_len(255),
];

#[derive(Debug, Clone)]
pub struct GoogleDriveConfig {
    pub folder_id: String,
    pub access_token: Option<SecretString>,
    pub refresh_token: Option<SecretString>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
}

impl GoogleDriveConfig {
    pub fn parse(raw: &RawFields) -> Result<GoogleDriveConfig, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let folder_id = r.checked("folder_id", |v| rules::charset("Folder ID", v, "-_"));
        let access_token = r.checked_secret("access_token", |v| rules::no_whitespace("Access token", v));
        let refresh_token = r.checked_secret("refresh_token", |v| rules::no_whitespace("Refresh token", v));
        let client_id = r.checked("client_id", |v| rules::no_whitespace("OAuth client ID", v));
        let client_secret = r.checked_secret("client_secret", |v| rules::no_whitespace("OAuth client secret", v));
        if refresh_token.is_some() {
            if client_id.is_none() && !r.has_error("client_id") {
                r.error("client_id", "A refresh token needs the OAuth client ID.");
            }
            if client_secret.is_none() && !r.has_error("client_secret") {
                r.error("client_secret", "A refresh token needs the OAuth client secret.");
            }
        } else if access_token.is_none() && !r.has_error("access_token") && !r.has_error("refresh_token") {
            r.error("access_token", "Enter an access token, or a refresh token with its OAuth client.");
        }
        r.finish(|| {
            Some(GoogleDriveConfig { folder_id: folder_id?, access_token, refresh_token, client_id, client_secret })
        })
    }

    pub fn location(&self) -> String {
        format!("Drive folder {}", self.folder_id)
    }
}
