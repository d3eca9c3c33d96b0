//! GCS V4 signed download URLs (`GOOG4-RSA-SHA256`), made locally with the service-account key as
//! <https://cloud.google.com/storage/docs/access-control/signing-urls-manually> describes — never
//! through `signBlob` or a metadata server. Path-style (`{api}/{bucket}/{object}`), signing the
//! host the URL really names, so the URL is valid for whichever endpoint the server uses.
//! (object_store's signer always signs the host `storage.googleapis.com`.)

use crate::providers::google_auth::ServiceAccountKey;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// GCS refuses signed URLs that live longer than 7 days.
pub const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

pub fn signed_url(
    key: &ServiceAccountKey,
    api: &url::Url,
    bucket: &str,
    object: &str,
    expires_in: Duration,
    now: DateTime<Utc>,
) -> url::Url {
    let (mut url, string_to_sign) = unsigned_url(api, key.client_email(), bucket, object, expires_in, now);
    let signature = hex::encode(key.sign(string_to_sign.as_bytes()));
    let query = format!("{}&X-Goog-Signature={signature}", url.query().unwrap_or_default());
    url.set_query(Some(&query));
    url
}

/// The GET URL without its signature, and the string to sign for it.
fn unsigned_url(
    api: &url::Url,
    email: &str,
    bucket: &str,
    object: &str,
    expires_in: Duration,
    now: DateTime<Utc>,
) -> (url::Url, String) {
    let timestamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let scope = format!("{}/auto/storage/goog4_request", now.format("%Y%m%d"));
    let path = format!("{}/{}/{}", api.path().trim_end_matches('/'), encode(bucket, false), encode(object, true));
    let host = match api.port() {
        Some(port) => format!("{}:{port}", api.host_str().unwrap_or_default()),
        None => api.host_str().unwrap_or_default().to_owned(),
    };
    // Already in the canonical (sorted by name) order.
    let params = [
        ("X-Goog-Algorithm", "GOOG4-RSA-SHA256".to_owned()),
        ("X-Goog-Credential", format!("{email}/{scope}")),
        ("X-Goog-Date", timestamp.clone()),
        ("X-Goog-Expires", expires_in.min(MAX_EXPIRY).as_secs().to_string()),
        ("X-Goog-SignedHeaders", "host".to_owned()),
    ];
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v, false))).collect();
    let query = query.join("&");
    let canonical_request = format!("GET\n{path}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD");
    let digest = hex::encode(Sha256::digest(canonical_request.as_bytes()));
    let string_to_sign = format!("GOOG4-RSA-SHA256\n{timestamp}\n{scope}\n{digest}");
    let mut url = api.clone();
    url.set_path(&path);
    url.set_query(Some(&query));
    (url, string_to_sign)
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (and `/` in paths).
fn encode(value: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;

    /// The public half of the inactive dummy key in Google's conformance tests
    /// (googleapis/conformance-tests, storage/v1/service-account); the private half is not needed.
    const GOOGLE_TEST_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArD8zIqyKLbX0Nq8o0Jj1
qHEhHhqO3+0OP7TEFx5Vxc6PdwBoFNrfnJRI/S+ZaDYS1avr5Pqpp8g8+UNOMvI1
VsjGM8xjTaxkVv8mmKp6pSmQstTt25pzY1exA2wv4xNWSwWNFNx2kh35+kvTQ/DF
3YA9P7pUU1sKur1PP8OoubWLFO59iy5UE5dX0O/3pjvZ2HAhSXsx2VWtB5nlrHR8
FrKJNLJMEGEDSMz9yRfQaUeYCU9oDYHuiqKQ3rCXi6C82l+3FJw5/ggJ5y7iw8ME
rCFSslcYQRbBVz6ZYKWkEcJhs8BG3/16bfaqNusNlDIJ99I7DmipUngF/HEulYhf
rQIDAQAB
-----END PUBLIC KEY-----";

    /// Google's "Simple GET" and "Vary bucket and object" cases (storage/v1/v4_signatures.json):
    /// bucket, object, and the signature of the expected URL.
    const CASES: &[(&str, &str, &str)] = &[
        (
            "test-bucket",
            "test-object",
            "95e6a13d43a1d1962e667f17397f2b80ac9bdd1669210d5e08e0135df9dff4e56113485dbe429ca2266487b9d1796ebdee2d7cf682a6ef3bb9fbb4c351686fba90d7b621cf1c4eb1fdf126460dd25fa0837dfdde0a9fd98662ce60844c458448fb2b352c203d9969cb74efa4bdb742287744a4f2308afa4af0e0773f55e32e92973619249214b97283b2daa14195244444e33f938138d1e5f561088ce8011f4986dda33a556412594db7c12fc40e1ff3f1bedeb7a42f5bcda0b9567f17f65855f65071fabb88ea12371877f3f77f10e1466fff6ff6973b74a933322ff0949ce357e20abe96c3dd5cfab42c9c83e740a4d32b9e11e146f0eb3404d2e975896f74",
        ),
        (
            "test-bucket2",
            "test-object2",
            "36e3d58dfd3ec1d2dd2f24b5ee372a71e811ffaa2162a2b871d26728d0354270bc116face87127532969c4a3967ed05b7309af741e19c7202f3167aa8c2ac420b61417d6451442bb91d7c822cd17be8783f01e05372769c88913561d27e6660dd8259f0081a71f831be6c50283626cbf04494ac10c394b29bb3bce74ab91548f58a37118a452693cf0483d77561fc9cac8f1765d2c724994cca46a83517a10157ee0347a233a2aaeae6e6ab5e204ff8fc5f54f90a3efdb8301d9fff5475d58cd05b181affd657f48203f4fb133c3a3d355b8eefbd10d5a0a5fd70d06e9515460ad74e22334b2cba4b29cae4f6f285cdb92d8f3126d7a1479ca3bdb69c207d860",
        ),
    ];

    /// Google's own signatures verify against our string to sign, so our canonical request is
    /// byte for byte the one Google computes; and our URL is Google's expected URL.
    #[test]
    fn matches_googles_conformance_vectors() {
        let public = rsa::RsaPublicKey::from_public_key_pem(GOOGLE_TEST_PUBLIC_KEY).expect("public key");
        let verifier = VerifyingKey::<Sha256>::new(public);
        let api = url::Url::parse("https://storage.googleapis.com").expect("url");
        let now = DateTime::parse_from_rfc3339("2019-02-01T09:00:00Z").expect("time").with_timezone(&Utc);
        let email = "test-iam-credentials@dummy-project-id.iam.gserviceaccount.com";
        for (bucket, object, signature) in CASES {
            let (url, string_to_sign) = unsigned_url(&api, email, bucket, object, Duration::from_secs(10), now);
            let signature = Signature::try_from(hex::decode(signature).expect("hex").as_slice()).expect("sig");
            verifier.verify(string_to_sign.as_bytes(), &signature).expect("Google's signature verifies");
            assert_eq!(
                url.as_str(),
                format!(
                    "https://storage.googleapis.com/{bucket}/{object}?X-Goog-Algorithm=GOOG4-RSA-SHA256\
                     &X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com\
                     %2F20190201%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20190201T090000Z\
                     &X-Goog-Expires=10&X-Goog-SignedHeaders=host"
                )
            );
        }
    }

    #[test]
    fn signs_the_real_host_and_encodes_the_key() {
        let api = url::Url::parse("http://127.0.0.1:4443").expect("url");
        let now = Utc::now();
        let (url, string_to_sign) =
            unsigned_url(&api, "a@b", "bkt", "dir/a b&c.tar", Duration::from_secs(30 * 24 * 3600), now);
        assert_eq!(url.path(), "/bkt/dir/a%20b%26c.tar");
        assert!(url.query().unwrap_or_default().contains("X-Goog-Expires=604800"), "capped at 7 days: {url}");
        let (other, other_sts) = unsigned_url(
            &url::Url::parse("http://127.0.0.1:4444").expect("url"),
            "a@b",
            "bkt",
            "dir/a b&c.tar",
            Duration::from_secs(30 * 24 * 3600),
            now,
        );
        assert_eq!(url.path(), other.path());
        assert_ne!(string_to_sign, other_sts, "the port is part of the signed host");
    }
}
