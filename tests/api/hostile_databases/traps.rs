//! Listeners that count who reached them: a refused URL must reach none of them. And a service
//! on a granted port that is not PostgreSQL, answering a body that must never be echoed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback TCP port (or a Unix socket) that counts connections.
pub struct Trap {
    pub port: u16,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Trap {
    pub async fn tcp() -> Trap {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a trap");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        Trap { port, hits, task }
    }

    /// A PostgreSQL-like socket file `.s.PGSQL.5432` in `dir`.
    pub fn unix(dir: &Path) -> Trap {
        let listener = tokio::net::UnixListener::bind(dir.join(".s.PGSQL.5432")).expect("bind a socket trap");
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        Trap { port: 5432, hits, task }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Trap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An HTTP service (an internal admin page, say): whatever it is sent, it answers `body`.
pub struct NotPostgres {
    pub port: u16,
    pub body: String,
    pub trap: Trap,
}

impl NotPostgres {
    pub async fn start() -> NotPostgres {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let body = format!("INTERNAL-ADMIN-SECRET-{}", uuid::Uuid::new_v4().simple());
        let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let reply = reply.clone();
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    let _ = stream.read(&mut buffer).await;
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        NotPostgres { port, body, trap: Trap { port, hits, task } }
    }
}

/// A folder for socket traps, short enough for a socket path.
pub fn socket_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new().prefix("dp-sock").tempdir_in("/tmp").expect("socket dir");
    let path = dir.path().to_path_buf();
    (dir, path)
}
