//! What an Azure container reports of its immutability (Get Container Properties): a
//! time-based retention policy, a legal hold, version-level immutability. Shown in the
//! connection test's message; never a failure (a key that may not read it is said so).

use super::AzureBlobProvider;
use crate::providers::http::unsigned;
use object_store::azure::AzureAuthorizer;

impl AzureBlobProvider {
    /// "Immutability: off", or what is on, or why it is unknown.
    pub(super) async fn immutability(&self) -> String {
        match self.container_headers().await {
            Ok(headers) => describe(&headers),
            Err(why) => format!("Immutability: unknown ({why})"),
        }
    }

    async fn container_headers(&self) -> Result<http::HeaderMap, String> {
        let mut url = self.container_url_parsed().map_err(|e| e.to_string())?;
        url.query_pairs_mut().append_pair("restype", "container");
        let credential = self.store.credentials().get_credential().await.map_err(|e| e.to_string())?;
        let mut request = unsigned(http::Method::GET, &url).map_err(|e| e.to_string())?;
        AzureAuthorizer::new(&credential, &self.account).try_authorize(&mut request).map_err(|e| e.to_string())?;
        let response = self
            .http
            .request(http::Method::GET, url.as_str())
            .map_err(|e| e.to_string())?
            .headers(request.headers().clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("Get Container Properties answered {}", response.status().as_u16()));
        }
        Ok(response.headers().clone())
    }
}

/// The immutability the headers report.
fn describe(headers: &http::HeaderMap) -> String {
    let on =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut found = Vec::new();
    if on("x-ms-has-immutability-policy") {
        found.push("a time-based retention policy");
    }
    if on("x-ms-has-legal-hold") {
        found.push("a legal hold");
    }
    if on("x-ms-immutable-storage-with-versioning-enabled") {
        found.push("version-level immutability");
    }
    if found.is_empty() {
        let reported = headers.contains_key("x-ms-has-immutability-policy");
        return if reported { "Immutability: off".into() } else { "Immutability: not reported by this service".into() };
    }
    format!("Immutability: {}", found.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, http::HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn immutability_in_words() {
        let off = headers(&[("x-ms-has-immutability-policy", "false"), ("x-ms-has-legal-hold", "false")]);
        assert_eq!(describe(&off), "Immutability: off");
        let on = headers(&[
            ("x-ms-has-immutability-policy", "true"),
            ("x-ms-has-legal-hold", "true"),
            ("x-ms-immutable-storage-with-versioning-enabled", "true"),
        ]);
        assert_eq!(
            describe(&on),
            "Immutability: a time-based retention policy, a legal hold, version-level immutability"
        );
        assert_eq!(describe(&headers(&[])), "Immutability: not reported by this service");
    }
}
