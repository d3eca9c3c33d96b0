//! An Azure Blob destination's fields and the config parsed from them: the account, container,
//! prefix and endpoint, and one credential, a SAS token (least privilege) or the account key.

use super::sas::SasToken;
use crate::fields::{FieldErrors, FieldReader, FieldSpec, RawFields, rules};
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
    FieldSpec::secret("sas_token", "SAS token")
        .max_len(MAX_SAS_LEN)
        .placeholder("sv=…&sr=c&sp=rwdl&se=…&sig=…")
        .instead_of("account_key")
        .help("Recommended: a container SAS with the permissions shown below. Either this or the account key."),
    FieldSpec::secret("account_key", "Account access key")
        .max_len(128)
        .instead_of("sas_token")
        .help("Can do everything in the storage account; the deep test warns about it."),
];

/// Real tokens are a few hundred characters; a user delegation SAS about 600.
const MAX_SAS_LEN: usize = 2048;

/// How Devpilot signs its requests.
#[derive(Debug, Clone)]
pub enum AzureAuth {
    /// Shared Key: everything in the storage account.
    AccountKey(SecretString),
    Sas(Box<SasToken>),
}

#[derive(Debug, Clone)]
pub struct AzureBlobConfig {
    pub account_name: String,
    pub container: String,
    pub prefix: Option<String>,
    pub endpoint: Option<String>,
    pub auth: AzureAuth,
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
        let http = endpoint.as_deref().is_some_and(|e| e.starts_with("http://"));
        let mut sas = None;
        let sas_token = r.checked_secret("sas_token", |v| {
            sas = Some(SasToken::parse(v, http)?);
            Ok(())
        });
        let account_key =
            r.checked_secret("account_key", |v| match base64::engine::general_purpose::STANDARD.decode(v) {
                Ok(_) => Ok(()),
                Err(_) => Err("Account access key must be the base64 key from the Azure portal.".into()),
            });
        let auth = match (sas.zip(sas_token), account_key) {
            (Some(_), Some(_)) => {
                r.error("sas_token", "Enter a SAS token or the account key, not both.");
                None
            }
            (Some((sas, _)), None) => Some(AzureAuth::Sas(Box::new(sas))),
            (None, Some(key)) => Some(AzureAuth::AccountKey(key)),
            (None, None) => {
                if !r.has_error("sas_token") && !r.has_error("account_key") {
                    r.error("sas_token", "Enter a SAS token (recommended) or the account key.");
                }
                None
            }
        };
        r.finish(|| {
            Some(AzureBlobConfig { account_name: account_name?, container: container?, prefix, endpoint, auth: auth? })
        })
    }

    /// The checks that depend on the time, for a config as it is entered (see
    /// [`SasToken::check_now`]).
    pub fn check_now(&self, now: chrono::DateTime<chrono::Utc>) -> Result<(), FieldErrors> {
        match &self.auth {
            AzureAuth::Sas(sas) => sas.check_now(now).map_err(|m| FieldErrors::single("sas_token", m)),
            AzureAuth::AccountKey(_) => Ok(()),
        }
    }

    pub fn location(&self) -> String {
        format!("{}/{}/{}", self.account_name, self.container, self.prefix.as_deref().unwrap_or_default())
    }

    pub fn sas(&self) -> Option<&SasToken> {
        match &self.auth {
            AzureAuth::Sas(sas) => Some(sas),
            AzureAuth::AccountKey(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(extra: &[(&str, &str)]) -> RawFields {
        let mut raw = RawFields::from_pairs([("account_name", "acct"), ("container", "backups")]);
        for (k, v) in extra {
            raw.set(*k, v);
        }
        raw
    }

    const SAS: &str = "?sv=2022-11-02&sr=c&sp=rwdl&se=2099-01-01&sig=abc";

    #[test]
    fn one_credential_of_two() {
        let sas = AzureBlobConfig::parse(&fields(&[("sas_token", SAS)])).expect("a SAS");
        assert!(sas.sas().is_some());
        let key = AzureBlobConfig::parse(&fields(&[("account_key", "a2V5")])).expect("a key");
        assert!(matches!(key.auth, AzureAuth::AccountKey(_)));
        let both = AzureBlobConfig::parse(&fields(&[("sas_token", SAS), ("account_key", "a2V5")])).expect_err("both");
        assert_eq!(both.get("sas_token"), Some("Enter a SAS token or the account key, not both."));
        let none = AzureBlobConfig::parse(&fields(&[])).expect_err("none");
        assert!(none.get("sas_token").is_some_and(|m| m.contains("or the account key")));
    }

    #[test]
    fn an_expired_token_is_refused_on_input() {
        let old = "sv=2022-11-02&sr=c&sp=rwdl&se=2021-03-04T05:06:07Z&sig=abc";
        let config = AzureBlobConfig::parse(&fields(&[("sas_token", old)])).expect("parses");
        let errors = config.check_now(chrono::Utc::now()).expect_err("expired");
        assert_eq!(errors.get("sas_token"), Some("The SAS token expired on 2021-03-04 05:06 UTC: create a new one."));
    }
}
