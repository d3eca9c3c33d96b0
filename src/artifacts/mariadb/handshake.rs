//! Whether something answers as MariaDB or MySQL does, before any tool is run: connect to a checked
//! address and read the server's greeting (a packet of protocol version 10 with its version
//! string), at most a few kilobytes and within a deadline. Anything else — an HTTP server, an SSH
//! banner, silence — is "not a MariaDB or MySQL server", and nothing it sent is repeated.

use super::MariaDbError;
use super::reach::{CONNECT_TIMEOUT, Endpoint, Reachable};
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::io::{AsyncRead, AsyncReadExt};

/// A greeting is far smaller; a longer first packet is not MySQL's.
const GREETING_LIMIT: usize = 16 * 1024;

/// The address that answered, to give the tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Tcp(SocketAddr),
    Socket(PathBuf),
}

/// The greeting's news: where, and which server.
#[derive(Debug, Clone)]
pub struct Greeting {
    pub at: Address,
    /// `10.11.6-MariaDB` or `8.0.36`, printable ASCII only, at most 60 characters.
    pub version: String,
}

impl Reachable {
    /// Connects to the first address that accepts and reads its greeting.
    pub async fn greet(&self) -> Result<Greeting, MariaDbError> {
        let target = self.url.target();
        let unreachable = |detail: String| MariaDbError::Unreachable { target: target.clone(), detail };
        match &self.endpoint {
            Endpoint::Socket(path) => {
                let connect = tokio::net::UnixStream::connect(path);
                let stream = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return Err(unreachable(describe(&e))),
                    Err(_) => return Err(unreachable(timed_out())),
                };
                let version = read_greeting(stream, &target).await?;
                Ok(Greeting { at: Address::Socket(path.clone()), version })
            }
            Endpoint::Tcp(addrs) => {
                let mut last = String::from("no address");
                for addr in addrs {
                    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
                        Ok(Ok(stream)) => {
                            let version = read_greeting(stream, &target).await?;
                            return Ok(Greeting { at: Address::Tcp(*addr), version });
                        }
                        Ok(Err(e)) => last = describe(&e),
                        Err(_) => last = timed_out(),
                    }
                }
                Err(unreachable(last))
            }
        }
    }
}

fn timed_out() -> String {
    format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())
}

/// The OS's reason in our words (never anything the peer sent).
fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "the connection was refused (nothing listens on that port)".into(),
        std::io::ErrorKind::NotFound => "the socket does not exist".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => "the network could not reach it".into(),
    }
}

/// Reads the first packet: 3-byte length, sequence 0, then protocol 10 and a NUL-ended version,
/// or an error packet (0xff and a code) when the server refuses this client outright.
async fn read_greeting(mut stream: impl AsyncRead + Unpin, target: &str) -> Result<String, MariaDbError> {
    let not_mysql = || MariaDbError::NotMySql { target: target.to_owned() };
    let read = async {
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).await.ok()?;
        let length = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        if header[3] != 0 || !(2..=GREETING_LIMIT).contains(&length) {
            return None;
        }
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).await.ok()?;
        Some(payload)
    };
    let payload = tokio::time::timeout(CONNECT_TIMEOUT, read).await.ok().flatten().ok_or_else(not_mysql)?;
    parse_greeting(&payload, target)
}

fn parse_greeting(payload: &[u8], target: &str) -> Result<String, MariaDbError> {
    let not_mysql = || MariaDbError::NotMySql { target: target.to_owned() };
    match payload.first() {
        Some(0xff) if payload.len() >= 3 => {
            let code = u16::from_le_bytes([payload[1], payload[2]]);
            Err(MariaDbError::RefusedByServer { target: target.to_owned(), code })
        }
        Some(10) => {
            let end = payload[1..].iter().position(|b| *b == 0).ok_or_else(not_mysql)?;
            let version = &payload[1..1 + end];
            if version.is_empty() || !version.iter().all(|b| b.is_ascii_graphic()) {
                return Err(not_mysql());
            }
            let version = String::from_utf8_lossy(version);
            // MariaDB 10+ announces itself behind a "5.5.5-" prefix for old clients.
            let version = version.strip_prefix("5.5.5-").unwrap_or(&version);
            Ok(version.chars().take(60).collect())
        }
        _ => Err(not_mysql()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_are_told_from_other_services() {
        let greeting = b"\x0a5.5.5-10.11.6-MariaDB-0+deb12u1\x00\x08\x00\x00\x00";
        assert_eq!(parse_greeting(greeting, "t").expect("mariadb"), "10.11.6-MariaDB-0+deb12u1");
        assert_eq!(parse_greeting(b"\x0a8.0.36\x00rest", "t").expect("mysql"), "8.0.36");
        let refused = parse_greeting(b"\xff\x69\x04#HY000Host 'x' is blocked", "t").expect_err("error packet");
        assert_eq!(refused, MariaDbError::RefusedByServer { target: "t".into(), code: 1129 });
        assert!(!refused.to_string().contains("blocked"), "the server's words are not repeated");
        for other in [&b"HTTP/1.1 400 Bad Request"[..], b"\x0aversion-without-end", b"\x0a\x00", b"SSH-2.0-x"] {
            assert!(matches!(parse_greeting(other, "t"), Err(MariaDbError::NotMySql { .. })));
        }
    }

    #[tokio::test]
    async fn a_service_that_is_not_mysql_is_named_so() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            if let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nsecret internal page\r\n\r\n").await;
            }
        });
        let url = super::super::MariaDbUrl::parse(&format!("mariadb://a@127.0.0.1:{}/x", addr.port())).expect("url");
        let reachable = Reachable { url, endpoint: Endpoint::Tcp(vec![addr]) };
        let error = reachable.greet().await.expect_err("not mysql").to_string();
        assert!(error.contains("not a MariaDB or MySQL server") && !error.contains("secret"), "{error}");
    }
}
