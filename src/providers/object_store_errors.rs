//! object_store reports a provider's answer only as text (the raw XML or JSON body inside its
//! error message). This turns that text into a [`ProviderError`] carrying the provider's own code
//! and message: S3, Azure and the GCS XML API `<Code>`/`<Message>`, the GCS JSON API
//! `reason`/`message`. (Azure repeats its `x-ms-error-code` header as the body's `<Code>`, and
//! object_store keeps only the body.) [`from_answer`] does the same for error answers to requests
//! we send with reqwest ourselves.

use super::{ErrorKind, ProviderError};

pub fn from_object_store(error: &object_store::Error, endpoint: &str) -> ProviderError {
    if let Some(refused) = super::outbound::refusal_in(error) {
        return refused.provider_error();
    }
    let text = error_chain(error);
    coded_error(&text).or_else(|| transport_error(&text, endpoint)).unwrap_or_else(|| status_error(error, &text))
}

/// An HTTP error answer to a request of our own: the provider's code and message from the body,
/// else the status and the body's first line.
pub fn from_answer(status: reqwest::StatusCode, body: &str) -> ProviderError {
    let by_status = kind_of_status(status);
    match coded_error(body) {
        Some(e) if e.kind == ErrorKind::Provider => ProviderError { kind: by_status, ..e },
        Some(e) => e,
        None => ProviderError::new(by_status, format!("HTTP {}: {}", status.as_u16(), first_line(body))),
    }
}

/// The kind an HTTP status implies when the body says nothing better.
pub fn kind_of_status(status: reqwest::StatusCode) -> ErrorKind {
    match status.as_u16() {
        401 => ErrorKind::Authentication,
        403 => ErrorKind::Permission,
        404 => ErrorKind::NotFound,
        _ => ErrorKind::Provider,
    }
}

fn coded_error(text: &str) -> Option<ProviderError> {
    if let Some(code) = between(text, "<Code>", "</Code>") {
        let message = between(text, "<Message>", "</Message>").unwrap_or_default();
        return Some(ProviderError::with_code(kind_of_code(&code), code, first_line(&message)));
    }
    let reason = json_field(text, "reason")?;
    let message = json_field(text, "message").unwrap_or_default();
    Some(ProviderError::with_code(kind_of_code(&reason), reason, message))
}

/// The error and all its sources, joined, so nested HTTP causes are visible.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

fn transport_error(text: &str, endpoint: &str) -> Option<ProviderError> {
    let lower = text.to_ascii_lowercase();
    let (kind, what) = if lower.contains("connection refused") {
        (ErrorKind::Unreachable, "connection refused")
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        (ErrorKind::Unreachable, "the host name could not be resolved")
    } else if lower.contains("timed out") || lower.contains("timeout") {
        (ErrorKind::Timeout, "no answer in time")
    } else if lower.contains("certificate") || lower.contains("tls") {
        (ErrorKind::Unreachable, "the TLS handshake failed")
    } else if lower.contains("error sending request") || lower.contains("connection reset") {
        (ErrorKind::Unreachable, "the connection failed")
    } else {
        return None;
    };
    Some(ProviderError::new(kind, format!("Could not reach {endpoint}: {what}.")))
}

fn status_error(error: &object_store::Error, text: &str) -> ProviderError {
    use object_store::Error as E;
    let kind = match error {
        E::NotFound { .. } => ErrorKind::NotFound,
        E::PermissionDenied { .. } => ErrorKind::Permission,
        E::Unauthenticated { .. } => ErrorKind::Authentication,
        _ => ErrorKind::Provider,
    };
    ProviderError::new(kind, first_line(text))
}

pub fn kind_of_code(code: &str) -> ErrorKind {
    match code {
        "SignatureDoesNotMatch"
        | "InvalidAccessKeyId"
        | "AuthenticationFailed"
        | "AuthorizationFailure"
        | "InvalidToken"
        | "ExpiredToken"
        | "authError"
        | "InvalidAuthenticationInfo"
        | "AuthenticationRequired" => ErrorKind::Authentication,
        "AccessDenied" | "AuthorizationPermissionMismatch" | "forbidden" | "insufficientPermissions" => {
            ErrorKind::Permission
        }
        "NoSuchBucket" | "ContainerNotFound" | "ResourceNotFound" | "notFound" | "NoSuchKey" | "BlobNotFound" => {
            ErrorKind::NotFound
        }
        _ => ErrorKind::Provider,
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = from + text[from..].find(end)?;
    Some(text[from..to].trim().to_owned())
}

/// The string value of `"name": "…"` in a JSON body embedded in text.
fn json_field(text: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\"");
    let rest = &text[text.find(&key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let mut value = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => value.extend(chars.next()),
            c => value.push(c),
        }
    }
    None
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    let mut line: String = line.chars().take(500).collect();
    if line.is_empty() {
        line = "The provider returned an error without a message.".into();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_xml_code_and_message() {
        let text = "Client error 403: <?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>\
                    <Message>Access Denied</Message></Error>";
        assert_eq!(between(text, "<Code>", "</Code>").as_deref(), Some("AccessDenied"));
        assert_eq!(kind_of_code("AccessDenied"), ErrorKind::Permission);
        assert_eq!(kind_of_code("NoSuchBucket"), ErrorKind::NotFound);
    }

    #[test]
    fn extracts_json_reason() {
        let text = r#"error: {"error":{"code":404,"message":"The \"bucket\" does not exist","errors":[{"reason":"notFound"}]}}"#;
        assert_eq!(json_field(text, "reason").as_deref(), Some("notFound"));
        assert_eq!(json_field(text, "message").as_deref(), Some("The \"bucket\" does not exist"));
    }

    #[test]
    fn names_the_endpoint_when_unreachable() {
        let e = transport_error("error sending request: Connection refused (os error 111)", "http://h:1")
            .expect("transport error");
        assert_eq!(e.kind, ErrorKind::Unreachable);
        assert_eq!(e.message, "Could not reach http://h:1: connection refused.");
    }
}
