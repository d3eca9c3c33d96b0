//! A bucket source: an S3-compatible bucket (or a prefix of it) a plan backs up, read with its
//! own keys or with an S3 destination's of the same workspace.
//!
//! Its own keys come as one URL, `https://ACCESS_KEY:SECRET_KEY@host[:port]/bucket[/prefix]`
//! (`http://` for a plain-http service; `?region=…` and `?path_style=true|false` as on an S3
//! destination), sealed whole like a database's connection URL; the plan shows and stores it
//! without the keys. A destination's keys are named by its id with `bucket[/prefix]`, stored as
//! `destination:{id}:{bucket}/{prefix}` (nothing secret), and looked up in the workspace again at
//! every run. Either way the S3 settings go through the S3 destination's own parser and provider,
//! so the endpoint meets the outbound address policy as a destination's does.
//!
//! Saving checks it step by step ([`check`]): the service is reached, the keys are accepted, the
//! prefix can be listed, and its first object read.

use super::domain::{ParsedSource, Source};
use crate::artifacts::bucket::{list_prefix, unsafe_name};
use crate::destinations::service::{DestinationError, DestinationService};
use crate::fields::{FieldErrors, RawFields};
use crate::providers::s3::{S3Config, S3Provider};
use crate::providers::{ErrorKind, ProviderError};
use secrecy::{ExposeSecret, SecretString};

const DESTINATION: &str = "destination:";

/// The bucket and prefix a source reads (the prefix without slashes at its ends; blank: all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketPath {
    pub bucket: String,
    pub prefix: String,
}

impl BucketPath {
    /// `bucket[/prefix]` as typed.
    pub fn parse(text: &str) -> Result<BucketPath, String> {
        let text = text.trim().trim_start_matches('/');
        if text.is_empty() {
            return Err("Enter the bucket, and a prefix in it if only part is wanted: my-bucket/photos.".into());
        }
        let (bucket, prefix) = text.split_once('/').unwrap_or((text, ""));
        let prefix = prefix.trim_end_matches('/');
        let fine = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
        if !(3..=63).contains(&bucket.len()) || !bucket.chars().all(fine) || bucket.contains("..") {
            return Err(format!(
                "“{}” is not a bucket name: 3 to 63 lowercase letters, digits, dots and hyphens.",
                crate::artifacts::bucket::shown(bucket)
            ));
        }
        if !prefix.is_empty()
            && let Some(why) = unsafe_name(prefix)
        {
            return Err(format!("The prefix “{}” cannot be used: {why}.", crate::artifacts::bucket::shown(prefix)));
        }
        Ok(BucketPath { bucket: bucket.to_owned(), prefix: prefix.to_owned() })
    }

    pub fn shown(&self) -> String {
        match self.prefix.is_empty() {
            true => self.bucket.clone(),
            false => format!("{}/{}", self.bucket, self.prefix),
        }
    }
}

/// A bucket URL with its keys, parsed into an S3 destination's config and the prefix.
pub struct BucketUrl {
    pub config: S3Config,
    pub path: BucketPath,
    /// The URL without the keys: what the plan shows.
    pub display: String,
}

impl BucketUrl {
    pub fn parse(text: &str) -> Result<BucketUrl, String> {
        let example = "https://ACCESS_KEY:SECRET_KEY@s3.example.com/bucket/prefix";
        let url = url::Url::parse(text.trim()).map_err(|_| format!("The bucket URL is not a URL: {example}."))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("The bucket URL starts with https:// (or http://): {example}."));
        }
        let decoded = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let (key, secret) = (decoded(url.username()), url.password().map(decoded).unwrap_or_default());
        if key.is_empty() || secret.is_empty() {
            return Err(format!(
                "The bucket URL needs the access key and the secret key before the host (percent-encode / and + in them): {example}."
            ));
        }
        let host = url.host_str().ok_or_else(|| format!("The bucket URL names no host: {example}."))?;
        let endpoint = match url.port() {
            Some(port) => format!("{}://{host}:{port}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        };
        let path = BucketPath::parse(&decoded(url.path()))?;
        let mut fields = RawFields::from_pairs([
            ("provider", "custom"),
            ("endpoint", endpoint.as_str()),
            ("bucket", path.bucket.as_str()),
            ("access_key_id", key.as_str()),
            ("secret_access_key", secret.as_str()),
        ]);
        let mut query = Vec::new();
        for (name, value) in url.query_pairs() {
            match name.as_ref() {
                "region" | "path_style" => {
                    fields.set(name.as_ref(), &value);
                    query.push(format!("{name}={value}"));
                }
                other => return Err(format!("The bucket URL takes region and path_style, not “{other}”.")),
            }
        }
        let config = S3Config::parse(&fields).map_err(|errors| {
            let said: Vec<String> = errors.iter().map(|(_, m)| m.to_owned()).collect();
            said.join(" ")
        })?;
        let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
        let display = format!("{endpoint}/{}{query}", path.shown());
        Ok(BucketUrl { config, path, display })
    }
}

/// The source as the plan form or the API gave it: `url` (its own keys) or `destination` with
/// `path` (`bucket[/prefix]`).
pub fn parse(url: &str, destination: &str, path: &str) -> Result<ParsedSource, FieldErrors> {
    let (url, destination) = (url.trim(), destination.trim());
    match (url.is_empty(), destination.is_empty()) {
        (true, true) => Err(FieldErrors::single(
            "source_url",
            "Enter the bucket's URL with its keys (https://ACCESS_KEY:SECRET_KEY@host/bucket/prefix), or choose an S3 destination whose keys to use.",
        )),
        (false, false) => Err(FieldErrors::single(
            "source_destination_id",
            "Use either the bucket URL's own keys or a destination's, not both: clear one of them.",
        )),
        (false, true) => {
            let parsed = BucketUrl::parse(url).map_err(|m| FieldErrors::single("source_url", m))?;
            let secret = SecretString::from(url.to_owned());
            Ok(ParsedSource { source: Source::Bucket(parsed.display), secret: Some(secret) })
        }
        (true, false) => {
            let path = BucketPath::parse(path).map_err(|m| FieldErrors::single("source_path", m))?;
            if destination.contains(':') || destination.chars().any(char::is_control) {
                return Err(FieldErrors::single(
                    "source_destination_id",
                    "That destination does not exist in this workspace.",
                ));
            }
            let location = format!("{DESTINATION}{destination}:{}", path.shown());
            Ok(ParsedSource { source: Source::Bucket(location), secret: None })
        }
    }
}

/// The destination id and path of a source that reads with a destination's keys.
pub fn destination_of(location: &str) -> Option<(&str, BucketPath)> {
    let rest = location.strip_prefix(DESTINATION)?;
    let (id, path) = rest.split_once(':')?;
    Some((id, BucketPath::parse(path).ok()?))
}

/// The source's provider and prefix, read afresh: its URL opened from `secret`, or the
/// destination looked up in `workspace` now. Ok(Err(message, field)) when it cannot be used.
pub async fn open(
    destinations: &DestinationService,
    workspace: &str,
    location: &str,
    secret: Option<&SecretString>,
) -> Result<Result<(S3Provider, String), (String, &'static str)>, DestinationError> {
    let (config, path, field) = match destination_of(location) {
        Some((id, path)) => match destinations.s3_config_for_source(workspace, id).await? {
            Ok(mut config) => {
                // The destination's service and keys; the bucket and prefix are the source's.
                config.bucket = path.bucket.clone();
                config.prefix = None;
                // What a deep test learned is about its uploads (conditional writes would refuse
                // a confirmed restore over existing keys): a source reads and writes plainly.
                config.learned = None;
                (config, path, "source_destination_id")
            }
            Err(m) => return Ok(Err((m, "source_destination_id"))),
        },
        None => {
            let Some(secret) = secret else {
                return Ok(Err(("The bucket URL is missing; enter it again.".into(), "source_url")));
            };
            match BucketUrl::parse(secret.expose_secret()) {
                Ok(url) => (url.config, url.path, "source_url"),
                Err(m) => return Ok(Err((m, "source_url"))),
            }
        }
    };
    Ok(destinations.bucket_provider(workspace, &config).await?.map(|p| (p, path.prefix)).map_err(|m| (m, field)))
}

/// The step-by-step check of a source about to be saved: reached, keys accepted, the prefix
/// listed, its first object read. The message says which step failed.
pub async fn check(provider: &S3Provider, prefix: &str) -> Result<(), String> {
    let under = list_prefix(prefix);
    let shown = if under.is_empty() { "the whole bucket".to_owned() } else { format!("“{under}”") };
    let page = provider.list_page(&under, None, 100).await.map_err(|e| listing_refused(&e, provider, &shown))?;
    // Read the first object a run would back up (a hostile key is left out, not read).
    let safe = |key: &str| key.strip_prefix(under.as_str()).is_some_and(|name| unsafe_name(name).is_none());
    let Some(first) = page.objects.iter().find(|o| safe(&o.key)) else { return Ok(()) };
    provider.read_first_byte(&first.key).await.map_err(|e| {
        format!(
            "the keys may list {shown} but not read its objects (reading “{}” failed: {})",
            crate::artifacts::bucket::shown(&first.key),
            e.message.trim_end_matches('.')
        )
    })
}

fn listing_refused(e: &ProviderError, provider: &S3Provider, shown: &str) -> String {
    let said = e.message.trim_end_matches('.');
    let bucket = provider.bucket_name();
    match e.kind {
        ErrorKind::Unreachable | ErrorKind::Timeout => format!("the service cannot be reached: {said}"),
        ErrorKind::Authentication => format!("the service refused the keys: {said}"),
        ErrorKind::Permission => format!("the keys may not list {shown} in bucket “{bucket}”: {said}"),
        ErrorKind::NotFound => format!("bucket “{bucket}” was not found there: {said}"),
        ErrorKind::Provider => format!("listing {shown} failed: {said}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_keys_apart() {
        let url =
            BucketUrl::parse("http://AKIAEXAMPLE:se%2Fcr%2Bet@127.0.0.1:9000/my-bucket/photos/2026/?region=eu-west-1")
                .expect("parses");
        assert_eq!(url.display, "http://127.0.0.1:9000/my-bucket/photos/2026?region=eu-west-1");
        assert_eq!(url.path, BucketPath { bucket: "my-bucket".into(), prefix: "photos/2026".into() });
        assert_eq!(url.config.secret_access_key.expose_secret(), "se/cr+et");
        assert!(url.config.path_style, "an IP address is addressed path-style");
        let refused = |url: &str| BucketUrl::parse(url).err().unwrap_or_default();
        assert!(refused("ftp://a:b@h/b").contains("https://"));
        assert!(refused("https://h/bucket").contains("access key"));
        assert!(refused("https://a:b@h/Bad_Bucket").contains("not a bucket name"));
        assert!(refused("https://a:b@h/b-1/x%00y").contains("control"));
        assert!(refused("https://a:b@h/b-1?evil=1").contains("evil"));
    }

    #[test]
    fn paths_name_a_bucket_and_a_safe_prefix() {
        assert_eq!(BucketPath::parse("b-1/x/").expect("ok"), BucketPath { bucket: "b-1".into(), prefix: "x".into() });
        assert!(BucketPath::parse("b-1/../etc").is_err());
        assert!(BucketPath::parse("b-1/a\u{0}b").is_err());
        assert!(BucketPath::parse(" ").is_err());
        let parsed = parse("", "dest-1", "b-1/p").expect("a destination's keys");
        assert_eq!(parsed.source, Source::Bucket("destination:dest-1:b-1/p".into()));
        let location = parsed.source.location();
        let (id, path) = destination_of(&location).expect("back");
        assert_eq!((id, path.shown().as_str()), ("dest-1", "b-1/p"));
        assert!(parse("https://a:b@h/b-1", "dest-1", "").expect_err("both").get("source_destination_id").is_some());
    }
}
