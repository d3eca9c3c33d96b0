//! A PutObject whose checksum trails the body (`Content-Encoding: aws-chunked`, payload hash
//! `STREAMING-UNSIGNED-PAYLOAD-TRAILER`), as the AWS SDKs send uploads by default since 2025 and
//! many S3-compatible services refuse, or store with the chunk framing in the object. The probe
//! asks for one; Devpilot's own uploads never use it. object_store's signer sets the payload
//! hash itself, so this one request is signed here (SigV4, AWS's documented algorithm).

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use object_store::aws::AwsCredential;
use sha2::{Digest, Sha256};

const PAYLOAD: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// The headers and body of a PUT of `data` to `url` with a CRC32 trailer.
pub fn put(
    credential: &AwsCredential,
    region: &str,
    url: &url::Url,
    data: &[u8],
    now: DateTime<Utc>,
) -> (http::HeaderMap, Bytes) {
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, data) as u32;
    let trailer = base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes());
    let mut body = format!("{:x}\r\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n0\r\nx-amz-checksum-crc32:{trailer}\r\n\r\n").as_bytes());

    let date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let host = &url[url::Position::BeforeHost..url::Position::AfterPort];
    let mut signed: Vec<(&str, String)> = vec![
        ("content-encoding", "aws-chunked".into()),
        ("host", host.to_owned()),
        ("x-amz-content-sha256", PAYLOAD.into()),
        ("x-amz-date", date.clone()),
        ("x-amz-decoded-content-length", data.len().to_string()),
        ("x-amz-trailer", "x-amz-checksum-crc32".into()),
    ];
    if let Some(token) = &credential.token {
        signed.push(("x-amz-security-token", token.clone()));
    }
    signed.sort();
    let names: Vec<&str> = signed.iter().map(|(n, _)| *n).collect();
    let canonical_headers: String = signed.iter().map(|(n, v)| format!("{n}:{}\n", v.trim())).collect();
    let canonical_request = format!("PUT\n{}\n\n{canonical_headers}\n{}\n{PAYLOAD}", url.path(), names.join(";"));
    let scope = format!("{}/{region}/s3/aws4_request", &date[..8]);
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let key = [&date[..8], region, "s3", "aws4_request"]
        .iter()
        .fold(format!("AWS4{}", credential.secret_key).into_bytes(), |key, part| hmac(&key, part.as_bytes()));
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        credential.key_id,
        names.join(";")
    );
    let mut headers = http::HeaderMap::new();
    for (name, value) in signed.into_iter().filter(|(n, _)| *n != "host") {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    if let Ok(value) = http::HeaderValue::from_str(&authorization) {
        headers.insert(http::header::AUTHORIZATION, value);
    }
    (headers, Bytes::from(body))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_with_the_documented_key_derivation() {
        // AWS's SigV4 documentation example of the signing key.
        let key = ["20120215", "us-east-1", "iam", "aws4_request"]
            .iter()
            .fold(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_vec(), |key, part| hmac(&key, part.as_bytes()));
        assert_eq!(hex::encode(key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    }

    #[test]
    fn frames_the_body_with_a_crc32_trailer() {
        let credential = AwsCredential { key_id: "AKIA".into(), secret_key: "s".into(), token: None };
        let url = url::Url::parse("http://127.0.0.1:9000/b/k").expect("url");
        let (headers, body) = put(&credential, "us-east-1", &url, b"123456789", Utc::now());
        // CRC-32 of "123456789" is 0xCBF43926.
        assert_eq!(&body[..], b"9\r\n123456789\r\n0\r\nx-amz-checksum-crc32:y/Q5Jg==\r\n\r\n");
        assert_eq!(headers["x-amz-decoded-content-length"], "9");
        assert!(headers[http::header::AUTHORIZATION].to_str().is_ok_and(|a| a.contains("x-amz-trailer")));
    }
}
