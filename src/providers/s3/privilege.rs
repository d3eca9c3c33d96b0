//! Whether the key can do more than Devpilot needs, learned without side effects: reads only,
//! of things that exist anyway or of a bucket name that does not exist. Each finding is a
//! warning for the destination's pages.

use super::S3Provider;
use super::requests::Payload;
use crate::providers::xml;
use bytes::Bytes;

pub async fn excess(p: &S3Provider) -> Vec<String> {
    let mut warnings = Vec::new();
    let requests = p.requests();
    let service = format!("{}/", p.at.service_url.trim_end_matches('/'));
    let mut others = Vec::new();
    if let Ok(answer) = requests.send(http::Method::GET, &service, &[], Bytes::new(), Payload::Signed).await
        && answer.ok()
        && answer.body.contains("<ListAllMyBucketsResult")
    {
        others = xml::elements(&answer.body, "Bucket")
            .into_iter()
            .filter_map(|b| xml::field(b, "Name"))
            .filter(|name| *name != p.bucket && is_bucket_name(name))
            .collect();
        warnings
            .push("The key can list every bucket of the account; Devpilot does not need s3:ListAllMyBuckets.".into());
    }
    // A bucket of the account's, else one that does not exist: a key limited to this bucket is
    // refused either way (AccessDenied); one that is not gets the listing, or NoSuchBucket.
    let (other, exists) = match others.first() {
        Some(name) => (name.clone(), true),
        None => (format!("devpilot-probe-{}", uuid::Uuid::new_v4().simple()), false),
    };
    if let Some(url) = p.bucket_url_of(&other) {
        let url = format!("{url}/?list-type=2&max-keys=1");
        if let Ok(answer) = requests.send(http::Method::GET, &url, &[], Bytes::new(), Payload::Signed).await {
            match (answer.ok(), answer.code().as_deref(), exists) {
                (true, _, _) => warnings.push(format!("The key can read another bucket (“{other}”), not only “{}”.", p.bucket)),
                (false, Some("NoSuchBucket"), false) => warnings.push(format!(
                    "The key is not limited to bucket “{}”: asked for a bucket that does not exist, the service answered NoSuchBucket, not AccessDenied.",
                    p.bucket
                )),
                _ => {}
            }
        }
    }
    if let Some(prefix) = p.prefix.as_deref().filter(|p| !p.is_empty()) {
        let url = format!("{}/?list-type=2&max-keys=1", p.at.bucket_url);
        if let Ok(answer) = requests.send(http::Method::GET, &url, &[], Bytes::new(), Payload::Signed).await
            && answer.ok()
        {
            warnings.push(format!("The key can list the whole bucket, not only {prefix}."));
        }
    }
    warnings
}

/// Names from the service's answer go into a URL and a message: only what S3 allows a bucket.
fn is_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && !name.starts_with(['.', '-'])
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_bucket_names_are_taken_from_an_answer() {
        assert!(super::is_bucket_name("backups-2026"));
        for bad in ["ab", "../x", "a/b", "evil.com/x?", "<script>", "-x"] {
            assert!(!super::is_bucket_name(bad), "{bad}");
        }
    }
}
