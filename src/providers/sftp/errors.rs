//! SFTP failures in the server's own words: its status code (`SSH_FX_…`) and message, with what
//! we were doing and where.

use crate::providers::{ErrorKind, ProviderError};
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::StatusCode;

fn status_name(code: &StatusCode) -> &'static str {
    match code {
        StatusCode::Ok => "SSH_FX_OK",
        StatusCode::Eof => "SSH_FX_EOF",
        StatusCode::NoSuchFile => "SSH_FX_NO_SUCH_FILE",
        StatusCode::PermissionDenied => "SSH_FX_PERMISSION_DENIED",
        StatusCode::Failure => "SSH_FX_FAILURE",
        StatusCode::BadMessage => "SSH_FX_BAD_MESSAGE",
        StatusCode::NoConnection => "SSH_FX_NO_CONNECTION",
        StatusCode::ConnectionLost => "SSH_FX_CONNECTION_LOST",
        StatusCode::OpUnsupported => "SSH_FX_OP_UNSUPPORTED",
    }
}

pub fn sftp_error(e: &SftpError, action: &str, path: &str) -> ProviderError {
    match e {
        SftpError::Status(status) => {
            let kind = match status.status_code {
                StatusCode::NoSuchFile => ErrorKind::NotFound,
                StatusCode::PermissionDenied => ErrorKind::Permission,
                StatusCode::NoConnection | StatusCode::ConnectionLost => ErrorKind::Unreachable,
                _ => ErrorKind::Provider,
            };
            let said = if status.error_message.is_empty() {
                status.status_code.to_string()
            } else {
                status.error_message.clone()
            };
            ProviderError::with_code(kind, status_name(&status.status_code), format!("{said} ({action} {path})"))
        }
        SftpError::Timeout => {
            ProviderError::new(ErrorKind::Timeout, format!("The SFTP server did not answer in time ({action} {path})"))
        }
        other => ProviderError::new(ErrorKind::Provider, format!("SFTP failed ({action} {path}): {other}")),
    }
}

/// Errors from russh-sftp's file reader and writer arrive as `io::Error`s carrying the server's
/// message.
pub fn io_error(e: &std::io::Error, action: &str, path: &str) -> ProviderError {
    let kind = match e.kind() {
        std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
        std::io::ErrorKind::PermissionDenied => ErrorKind::Permission,
        _ => ErrorKind::Provider,
    };
    ProviderError::new(kind, format!("{e} ({action} {path})"))
}

pub fn is_not_found(e: &SftpError) -> bool {
    matches!(e, SftpError::Status(s) if s.status_code == StatusCode::NoSuchFile)
}
