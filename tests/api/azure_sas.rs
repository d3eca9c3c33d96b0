//! SAS tokens for the tests, signed here with Azurite's account key as Microsoft documents it
//! (service SAS and account SAS, version 2020-12-06 and later: "Create a service SAS", "Create
//! an account SAS"); Azurite checks every signature, so a token it accepts is one Azure would.
//! Also requests signed with the account key (Shared Key, object_store's signer) for what the
//! tests prepare: a container of their own, a stored access policy.

use crate::provider_azure::Azurite;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use object_store::azure::{AzureAccessKey, AzureAuthorizer, AzureCredential};

/// A version Azurite 3.35 takes, with the 2020-12-06 string-to-sign.
const VERSION: &str = "2022-11-02";

/// What a token is signed for.
pub enum Signed<'a> {
    /// A service SAS for one container (`sr=c`) with `sp` and `se`.
    Container { container: &'a str, permissions: &'a str, expiry: DateTime<Utc> },
    /// A service SAS whose permissions and expiry are the container's stored access policy `si`.
    Policy { container: &'a str, identifier: &'a str },
    /// An account SAS.
    Account { services: &'a str, resource_types: &'a str, permissions: &'a str, expiry: DateTime<Utc> },
}

/// Azure's time format in SAS tokens.
fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The token as the portal gives it: a query string without `?`.
pub fn sas(a: &Azurite, signed: &Signed) -> String {
    let mut q: Vec<(&str, String)> = vec![("sv", VERSION.into())];
    let to_sign = match signed {
        Signed::Container { container, permissions, expiry } => {
            q.extend([("sr", "c".into()), ("sp", (*permissions).into()), ("se", at(*expiry))]);
            service_string(a, container, permissions, &at(*expiry), "")
        }
        Signed::Policy { container, identifier } => {
            q.extend([("sr", "c".into()), ("si", (*identifier).into())]);
            service_string(a, container, "", "", identifier)
        }
        Signed::Account { services, resource_types, permissions, expiry } => {
            q.extend([
                ("ss", (*services).into()),
                ("srt", (*resource_types).into()),
                ("sp", (*permissions).into()),
                ("se", at(*expiry)),
            ]);
            // account, sp, ss, srt, st, se, sip, spr, sv, ses, and a final newline.
            [&a.account, *permissions, *services, *resource_types, "", &at(*expiry), "", "", VERSION, "", ""].join("\n")
        }
    };
    q.push(("sig", sign(&a.key, &to_sign)));
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in q {
        out.append_pair(k, &v);
    }
    out.finish()
}

/// sp, st, se, canonicalized resource, si, sip, spr, sv, sr, snapshot time, ses, rscc, rscd,
/// rsce, rscl, rsct.
fn service_string(a: &Azurite, container: &str, permissions: &str, expiry: &str, identifier: &str) -> String {
    let resource = format!("/blob/{}/{container}", a.account);
    [permissions, "", expiry, &resource, identifier, "", "", VERSION, "c", "", "", "", "", "", "", ""].join("\n")
}

fn sign(key: &str, text: &str) -> String {
    let key = base64::engine::general_purpose::STANDARD.decode(key).expect("base64 account key");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC key");
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A signed query's `sig`, decoded: what must never be shown.
pub fn signature_of(token: &str) -> String {
    url::form_urlencoded::parse(token.as_bytes()).find(|(k, _)| k == "sig").map(|(_, v)| v.into_owned()).expect("sig")
}

/// A request to Azurite signed with the account key.
async fn shared_key(a: &Azurite, method: http::Method, url: &str, body: &str) -> reqwest::Response {
    let mut request = http::Request::builder()
        .method(method.clone())
        .uri(url)
        .header("content-length", body.len().to_string())
        .body(object_store::client::HttpRequestBody::from(body.to_owned()))
        .expect("request");
    if !body.is_empty() {
        request.headers_mut().insert("content-type", http::HeaderValue::from_static("application/xml"));
    }
    let credential = AzureCredential::AccessKey(AzureAccessKey::try_new(&a.key).expect("key"));
    AzureAuthorizer::new(&credential, &a.account).try_authorize(&mut request).expect("signed");
    reqwest::Client::new()
        .request(method, url)
        .headers(request.headers().clone())
        .body(body.to_owned())
        .send()
        .await
        .expect("Azurite answers")
}

/// A container of the test's own (made if missing).
pub async fn container(a: &Azurite, name: &str) {
    let url = format!("{}/{name}?restype=container", a.endpoint.trim_end_matches('/'));
    let status = shared_key(a, http::Method::PUT, &url, "").await.status().as_u16();
    assert!(status == 201 || status == 409, "create container {name}: {status}");
}

/// Replaces the container's stored access policies with one: `identifier` with `permissions`.
pub async fn access_policy(a: &Azurite, container: &str, identifier: &str, permissions: &str) {
    let url = format!("{}/{container}?restype=container&comp=acl", a.endpoint.trim_end_matches('/'));
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><SignedIdentifiers><SignedIdentifier><Id>{identifier}</Id>\
         <AccessPolicy><Start>2020-01-01T00:00:00.0000000Z</Start><Expiry>2099-01-01T00:00:00.0000000Z</Expiry>\
         <Permission>{permissions}</Permission></AccessPolicy></SignedIdentifier></SignedIdentifiers>"
    );
    let answer = shared_key(a, http::Method::PUT, &url, &body).await;
    assert_eq!(answer.status().as_u16(), 200, "set container ACL: {}", answer.text().await.unwrap_or_default());
}

/// A day from now: long enough for any test.
pub fn tomorrow() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::days(1)
}
