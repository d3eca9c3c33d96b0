//! A TCP relay in front of a real server that a test can kill (every connection reset, the port
//! closed) and bring back on the same port: the destination server "dies" mid-upload as far as
//! Devpilot can tell, while the server behind it keeps what it was sent. Uploads through it are
//! throttled (all connections together) so a test can reliably cut one off part-way. It can also
//! stall: every connection stays open and new ones are accepted, but no byte passes either way,
//! as from a server that hangs.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Client-to-server bytes per second.
const UPLOAD_RATE: usize = 8 * 1024 * 1024;

pub struct Relay {
    pub port: u16,
    target: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// Client-to-server bytes passed on so far.
    uploaded: Arc<AtomicU64>,
    /// Held while a chunk is passed on and paid for in time, so the rate is shared.
    throttle: Arc<tokio::sync::Mutex<()>>,
    stalled: Arc<AtomicBool>,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
}

impl Relay {
    pub async fn start(target: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        let port = listener.local_addr().expect("addr").port();
        let relay = Relay {
            port,
            target: target.to_owned(),
            tasks: Arc::default(),
            uploaded: Arc::default(),
            throttle: Arc::default(),
            stalled: Arc::default(),
            accepted: Arc::default(),
        };
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: TcpListener) {
        let (target, tasks) = (self.target.clone(), Arc::clone(&self.tasks));
        let (uploaded, throttle) = (Arc::clone(&self.uploaded), Arc::clone(&self.throttle));
        let (stalled, accepted) = (Arc::clone(&self.stalled), Arc::clone(&self.accepted));
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let target = target.clone();
                let (uploaded, throttle) = (Arc::clone(&uploaded), Arc::clone(&throttle));
                let stalled = Arc::clone(&stalled);
                let connection = tokio::spawn(async move {
                    wait_while(&stalled).await;
                    let Ok(outbound) = TcpStream::connect(&target).await else { return };
                    // Reset, not a polite close, when the relay is killed.
                    let _ = inbound.set_zero_linger();
                    let _ = outbound.set_zero_linger();
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    let upload = throttled_copy(&mut from_client, &mut to_server, &uploaded, &throttle, &stalled);
                    let download = stallable_copy(&mut from_server, &mut to_client, &stalled);
                    let _ = tokio::join!(upload, download);
                });
                tasks.lock().expect("tasks").push(connection);
            }
        });
        self.tasks.lock().expect("tasks").push(accept);
    }

    /// From now on no byte passes, on open connections or new ones; nothing is closed.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    /// How many connections clients have opened through the relay.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn uploaded(&self) -> u64 {
        self.uploaded.load(Ordering::Relaxed)
    }

    /// Drops every connection and stops listening.
    pub fn kill(&self) {
        for task in self.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
    }

    /// Listens on the same port again, passing bytes again if it was stalled.
    pub async fn revive(&self) {
        self.stalled.store(false, Ordering::SeqCst);
        // The killed accept task lets go of the port once it is dropped, a moment after `kill`.
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(e) if attempts < 100 => {
                    attempts += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("rebind the relay's port: {e}"),
            }
        };
        self.serve(listener);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn wait_while(stalled: &AtomicBool) {
    while stalled.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn throttled_copy(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    uploaded: &AtomicU64,
    throttle: &tokio::sync::Mutex<()>,
    stalled: &AtomicBool,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        wait_while(stalled).await;
        let _turn = throttle.lock().await;
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
        uploaded.fetch_add(n as u64, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs_f64(n as f64 / UPLOAD_RATE as f64)).await;
    }
    let _ = to.shutdown().await;
}

async fn stallable_copy(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    stalled: &AtomicBool,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        wait_while(stalled).await;
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
