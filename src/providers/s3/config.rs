//! An S3 destination's settings — the service (a preset), bucket, prefix, endpoint, keys — and
//! where its requests go. Everything that decides which URL names the bucket is decided here,
//! once ([`S3Config::addressing`]), so the connection test and the writes address the same
//! bucket; a shape of request that could not name it is refused when the settings are parsed.

use super::learned::Learned;
use crate::config::ExternalEndpoints;
use crate::fields::{FieldErrors, FieldReader, FieldSpec, Input, RawFields, rules};
use crate::providers::outbound::{literal, url_host};
use crate::providers::{ErrorKind, ProviderError};
use secrecy::SecretString;

const PRESETS: &[(&str, &str)] = &[
    ("aws", "Amazon S3"),
    ("r2", "Cloudflare R2"),
    ("backblaze", "Backblaze B2"),
    ("minio", "MinIO"),
    ("ceph", "Ceph RGW"),
    ("garage", "Garage"),
    ("seaweedfs", "SeaweedFS"),
    ("wasabi", "Wasabi"),
    ("digitalocean", "DigitalOcean Spaces"),
    ("custom", "Custom S3-compatible endpoint"),
];

/// Self-hosted services that answer path-style requests only (bucket DNS needs a wildcard
/// domain they rarely have), and R2, whose certificate covers the account's host but not a
/// bucket below it.
const PATH_STYLE_PRESETS: &[&str] = &["minio", "ceph", "garage", "seaweedfs", "r2"];

/// Presets whose endpoint the admin gives.
const ENDPOINT_PRESETS: &[&str] = &["minio", "ceph", "garage", "seaweedfs", "custom"];

const JURISDICTIONS: &[(&str, &str)] = &[("default", "Default"), ("eu", "EU"), ("fedramp", "FedRAMP")];

pub const FIELDS: &[FieldSpec] = &[
    FieldSpec::text("provider", "Provider").input(Input::Select(PRESETS)),
    FieldSpec::text("bucket", "Bucket").required().max_len(63).placeholder("my-backups"),
    FieldSpec::text("region", "Region")
        .max_len(32)
        .placeholder("us-east-1")
        .help("Required for Amazon S3, Backblaze, Wasabi and DigitalOcean."),
    FieldSpec::text("prefix", "Key prefix")
        .max_len(512)
        .placeholder("backups/prod/")
        .help("Optional folder inside the bucket."),
    FieldSpec::text("endpoint", "Endpoint URL")
        .max_len(255)
        .placeholder("https://s3.example.com")
        .help("Required for MinIO, Ceph, Garage, SeaweedFS and custom endpoints; overrides the preset's endpoint otherwise."),
    FieldSpec::text("account_id", "R2 account ID").max_len(32).help("Cloudflare R2 only."),
    FieldSpec::text("jurisdiction", "R2 jurisdiction").input(Input::Select(JURISDICTIONS)),
    FieldSpec::text("path_style", "Use path-style requests").input(Input::Checkbox).help(
        "The bucket goes in the path (https://host/bucket/key), not the host name. MinIO, Ceph, Garage, SeaweedFS, R2 and endpoints given by IP address or localhost need it; ticked for them unless you untick it.",
    ),
    FieldSpec::secret("access_key_id", "Access key ID").required().max_len(128),
    FieldSpec::secret("secret_access_key", "Secret access key").required().max_len(256),
];

#[derive(Debug, Clone)]
pub struct S3Config {
    pub preset: &'static str,
    pub bucket: String,
    pub region: Option<String>,
    pub prefix: Option<String>,
    pub endpoint: Option<String>,
    pub account_id: Option<String>,
    pub jurisdiction: &'static str,
    /// As chosen, or the preset's default when the field was not given.
    pub path_style: bool,
    pub access_key_id: SecretString,
    pub secret_access_key: SecretString,
    /// What the last deep test learned about the service (not a field: the service sets it).
    pub learned: Option<Learned>,
}

/// Where requests go: the service's root, and the URL that names the bucket in the style used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressing {
    pub path_style: bool,
    /// `{endpoint}` (path-style) or the bucket's own host (virtual-hosted), as object_store takes it.
    pub store_endpoint: Option<String>,
    /// `{endpoint}/{bucket}` or `https://{bucket}.{host}`: ListObjectsV2 and our own requests.
    pub bucket_url: String,
    /// The service's root (ListBuckets), for messages too.
    pub service_url: String,
}

impl S3Config {
    pub fn parse(raw: &RawFields) -> Result<S3Config, FieldErrors> {
        let mut r = FieldReader::new(raw, FIELDS);
        let preset = r.choice("provider", "aws");
        let bucket = r.checked("bucket", bucket_rule);
        let region = r.checked("region", |v| rules::charset("Region", v, "-"));
        let prefix = r.checked("prefix", rules::prefix);
        let endpoint = r.checked("endpoint", endpoint_rule);
        let account_id = r.checked("account_id", |v| {
            if v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit()) {
                Ok(())
            } else {
                Err("R2 account ID is the 32-character hexadecimal ID from the Cloudflare dashboard.".into())
            }
        });
        let jurisdiction = r.choice("jurisdiction", "default");
        let chosen_style = raw.contains("path_style").then(|| r.flag("path_style"));
        let access_key_id = r.checked_secret("access_key_id", |v| {
            rules::length("Access key ID", v, 3..=128)?;
            rules::charset("Access key ID", v, "")
        });
        let secret_access_key = r.checked_secret("secret_access_key", |v| rules::no_whitespace("Secret access key", v));

        if matches!(preset, "aws" | "backblaze" | "wasabi" | "digitalocean")
            && region.is_none()
            && !r.has_error("region")
        {
            r.error("region", "Region is required for this provider.");
        }
        if ENDPOINT_PRESETS.contains(&preset) && endpoint.is_none() && !r.has_error("endpoint") {
            r.error("endpoint", "Endpoint URL is required for this provider.");
        }
        if preset == "r2" && account_id.is_none() && endpoint.is_none() && !r.has_error("account_id") {
            r.error("account_id", "R2 account ID is required for Cloudflare R2.");
        }
        let default_style = path_style_default(preset, endpoint.as_deref(), bucket.as_deref());
        let path_style = chosen_style.unwrap_or(default_style);
        if let (false, Some(bucket)) = (path_style, &bucket)
            && let Some(why) = unaddressable(endpoint.as_deref(), bucket)
        {
            r.error("path_style", why);
        }
        r.finish(|| {
            Some(S3Config {
                preset,
                bucket: bucket?,
                region,
                prefix,
                endpoint,
                account_id,
                jurisdiction,
                path_style,
                access_key_id: access_key_id?,
                secret_access_key: secret_access_key?,
                learned: None,
            })
        })
    }

    /// The endpoint requests go to: the one given, else the preset's; None means AWS's own.
    pub fn resolved_endpoint(&self, bases: &ExternalEndpoints) -> Option<String> {
        if let Some(e) = &self.endpoint {
            return Some(e.trim_end_matches('/').to_owned());
        }
        let region = self.region.as_deref().unwrap_or_default();
        match self.preset {
            "r2" => {
                let account = self.account_id.as_deref().unwrap_or_default();
                Some(match self.jurisdiction {
                    "default" => below(&bases.r2_base, account),
                    j => below(&bases.r2_base, &format!("{account}.{j}")),
                })
            }
            "backblaze" => Some(below(&bases.backblaze_base, &format!("s3.{region}"))),
            "wasabi" => Some(format!("https://s3.{region}.wasabisys.com")),
            // At its default, AWS is addressed below (object_store knows AWS's own rules).
            "aws" if bases.aws_s3 != crate::config::AWS_S3_ENDPOINT => Some(bases.aws_s3.replace("{region}", region)),
            "digitalocean" => Some(format!("https://{region}.digitaloceanspaces.com")),
            _ => None,
        }
    }

    pub fn resolved_region(&self) -> String {
        match (self.preset, &self.region) {
            ("r2", _) => "auto".into(),
            (_, Some(r)) => r.clone(),
            // Garage checks the region against its `s3_region`, "garage" unless configured.
            ("garage", None) => "garage".into(),
            _ => "us-east-1".into(),
        }
    }

    /// Where requests go in the style given.
    pub fn addressing(&self, bases: &ExternalEndpoints, path_style: bool) -> Result<Addressing, ProviderError> {
        let region = self.resolved_region();
        let bucket = &self.bucket;
        Ok(match (self.resolved_endpoint(bases), path_style) {
            (Some(e), true) => Addressing {
                path_style,
                store_endpoint: Some(e.clone()),
                bucket_url: format!("{e}/{bucket}"),
                service_url: e,
            },
            (Some(e), false) => {
                let url = virtual_host(&e, bucket).ok_or_else(|| {
                    ProviderError::new(
                        ErrorKind::Provider,
                        format!("{e} cannot carry the bucket in its host name: use path-style requests."),
                    )
                })?;
                Addressing { path_style, store_endpoint: Some(url.clone()), bucket_url: url, service_url: e }
            }
            (None, true) => Addressing {
                path_style,
                store_endpoint: None,
                bucket_url: format!("https://s3.{region}.amazonaws.com/{bucket}"),
                service_url: format!("https://s3.{region}.amazonaws.com"),
            },
            (None, false) => Addressing {
                path_style,
                store_endpoint: None,
                bucket_url: format!("https://{bucket}.s3.{region}.amazonaws.com"),
                service_url: format!("https://s3.{region}.amazonaws.com"),
            },
        })
    }

    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix.as_deref().unwrap_or_default())
    }

    /// The service's own name: "Cloudflare R2", "MinIO", … ("Amazon S3" for AWS).
    pub fn service_label(&self) -> &'static str {
        PRESETS.iter().find(|(v, _)| *v == self.preset).map_or("Amazon S3", |(_, label)| label)
    }
}

/// Path-style unless the service is known to take the bucket in the host name: the presets that
/// need it, endpoints given as an IP address or `localhost`, and dotted bucket names (which a
/// TLS certificate for `*.host` does not cover).
pub fn path_style_default(preset: &str, endpoint: Option<&str>, bucket: Option<&str>) -> bool {
    PATH_STYLE_PRESETS.contains(&preset)
        || endpoint.and_then(url_host).is_some_and(|h| literal(&h).is_some() || h.eq_ignore_ascii_case("localhost"))
        || bucket.is_some_and(|b| b.contains('.'))
}

/// Why a virtual-hosted request could not name `bucket` at `endpoint`, if it could not.
fn unaddressable(endpoint: Option<&str>, bucket: &str) -> Option<String> {
    let host = endpoint.and_then(url_host);
    if let Some(host) = host.as_deref().filter(|h| literal(h).is_some()) {
        return Some(format!(
            "The endpoint is an IP address ({host}): it cannot carry the bucket in its host name. Use path-style requests."
        ));
    }
    let https = endpoint.is_none_or(|e| e.starts_with("https://"));
    (bucket.contains('.') && https).then(|| {
        "A bucket name with dots cannot go in the host name over https (the certificate does not cover it). Use path-style requests.".to_owned()
    })
}

/// `https://{bucket}.{host}` for an endpoint `https://{host}`; None when the host cannot take it.
fn virtual_host(endpoint: &str, bucket: &str) -> Option<String> {
    let mut url = url::Url::parse(endpoint).ok()?;
    let host = url.host_str()?.to_owned();
    if literal(&host).is_some() {
        return None;
    }
    url.set_host(Some(&format!("{bucket}.{host}"))).ok()?;
    Some(url.as_str().trim_end_matches('/').to_owned())
}

/// `{scheme}://{sub}.{host}[:port]` of a base URL (the R2 and Backblaze settings).
fn below(base: &str, sub: &str) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            let host = url.host_str().unwrap_or_default().to_owned();
            if url.set_host(Some(&format!("{sub}.{host}"))).is_err() {
                return base.to_owned();
            }
            url.as_str().trim_end_matches('/').to_owned()
        }
        Err(_) => base.to_owned(),
    }
}

fn bucket_rule(v: &str) -> Result<(), String> {
    rules::length("Bucket", v, 3..=63)?;
    let ok_chars = v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let ok_ends =
        v.starts_with(|c: char| c.is_ascii_alphanumeric()) && v.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok_chars && ok_ends && !v.contains("..") {
        Ok(())
    } else {
        Err("Bucket names use lowercase letters, digits, dots and hyphens, and start and end with a letter or digit."
            .into())
    }
}

/// An http(s) URL of the service itself: a path would sit in front of every bucket and key (an
/// endpoint ending in the bucket's name is the usual mistake), so none is taken.
fn endpoint_rule(v: &str) -> Result<(), String> {
    rules::http_url(v)?;
    match url::Url::parse(v) {
        Ok(url) if url.path() != "/" && !url.path().is_empty() => Err(format!(
            "Endpoint must be the service's address without a path (not {}): the bucket goes in the Bucket field.",
            url.path()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawFields {
        RawFields::from_pairs(pairs.iter().copied())
    }

    const KEYS: [(&str, &str); 2] = [("access_key_id", "AKIA1234"), ("secret_access_key", "s")];

    fn parse(pairs: &[(&str, &str)]) -> Result<S3Config, FieldErrors> {
        let mut all = pairs.to_vec();
        all.extend(KEYS);
        S3Config::parse(&raw(&all))
    }

    #[test]
    fn r2_endpoint_from_account_and_jurisdiction() {
        let account = "0123456789abcdef0123456789abcdef";
        let bases = ExternalEndpoints::default();
        for (jurisdiction, host) in [("default", ""), ("eu", ".eu"), ("fedramp", ".fedramp")] {
            let c = parse(&[
                ("provider", "r2"),
                ("bucket", "b-1"),
                ("account_id", account),
                ("jurisdiction", jurisdiction),
            ])
            .expect("valid");
            let expected = format!("https://{account}{host}.r2.cloudflarestorage.com");
            assert_eq!(c.resolved_endpoint(&bases), Some(expected.clone()));
            assert_eq!(c.resolved_region(), "auto");
            let at = c.addressing(&bases, c.path_style).expect("addressing");
            assert_eq!(at.bucket_url, format!("{expected}/b-1"), "R2 is path-style by default");
        }
        let local = ExternalEndpoints { r2_base: "http://r2.localhost:9000".into(), ..ExternalEndpoints::default() };
        let c = parse(&[("provider", "r2"), ("bucket", "b-1"), ("account_id", account)]).expect("valid");
        assert_eq!(c.resolved_endpoint(&local), Some(format!("http://{account}.r2.localhost:9000")));
    }

    #[test]
    fn backblaze_endpoint_from_region_virtual_hosted() {
        let c = parse(&[("provider", "backblaze"), ("bucket", "b-1"), ("region", "us-west-004")]).expect("valid");
        let at = c.addressing(&ExternalEndpoints::default(), c.path_style).expect("addressing");
        assert_eq!(at.service_url, "https://s3.us-west-004.backblazeb2.com");
        assert_eq!(at.bucket_url, "https://b-1.s3.us-west-004.backblazeb2.com");
    }

    #[test]
    fn path_style_defaults_where_the_service_needs_it() {
        for (preset, endpoint, expected) in [
            ("minio", "https://minio.example.com", true),
            ("ceph", "https://rgw.example.com", true),
            ("garage", "https://garage.example.com", true),
            ("seaweedfs", "https://weed.example.com", true),
            ("custom", "http://10.0.0.5:9000", true),
            ("custom", "http://localhost:9000", true),
            ("custom", "https://s3.example.com", false),
        ] {
            let c = parse(&[("provider", preset), ("bucket", "b-1"), ("endpoint", endpoint)]).expect("valid");
            assert_eq!(c.path_style, expected, "{preset} {endpoint}");
        }
        let unticked = parse(&[
            ("provider", "minio"),
            ("bucket", "b-1"),
            ("endpoint", "https://m.example.com"),
            ("path_style", "false"),
        ]);
        assert!(!unticked.expect("a host name can carry the bucket").path_style);
    }

    #[test]
    fn a_request_that_cannot_name_the_bucket_is_refused() {
        let errors = parse(&[
            ("provider", "custom"),
            ("bucket", "b-1"),
            ("endpoint", "http://10.0.0.5:9000"),
            ("path_style", "false"),
        ])
        .expect_err("an IP address cannot carry the bucket");
        assert!(errors.get("path_style").is_some_and(|m| m.contains("IP address")), "{errors:?}");
        let dotted = parse(&[("provider", "aws"), ("bucket", "a.b"), ("region", "us-east-1"), ("path_style", "false")])
            .expect_err("dotted over https");
        assert!(dotted.get("path_style").is_some(), "{dotted:?}");
        let pathed = parse(&[("provider", "minio"), ("bucket", "b-1"), ("endpoint", "http://10.0.0.5:9000/b-1")])
            .expect_err("a path");
        assert!(pathed.get("endpoint").is_some_and(|m| m.contains("without a path")), "{pathed:?}");
    }

    #[test]
    fn reports_each_bad_field() {
        let errors = S3Config::parse(&raw(&[("provider", "custom"), ("bucket", "Bad_Bucket"), ("prefix", "/x")]))
            .expect_err("invalid");
        for field in ["bucket", "prefix", "endpoint", "access_key_id", "secret_access_key"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
    }

    #[test]
    fn virtual_host_puts_bucket_in_host() {
        assert_eq!(virtual_host("https://s3.example.com", "b").as_deref(), Some("https://b.s3.example.com"));
        assert_eq!(virtual_host("http://127.0.0.1:9000", "b"), None);
    }
}
