//! A TCP relay in front of moto that runs a hook, once, when a request it passes on holds a
//! given text (a GET of a chosen key), before that request goes on: "between the listing and
//! the read" made deterministic. Armed by the test when it wants it (the save-time check reads
//! an object too).

use futures::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub type Hook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

pub struct HookRelay {
    pub port: u16,
    armed: Arc<AtomicBool>,
    pub fired: Arc<AtomicBool>,
}

impl HookRelay {
    pub async fn start(target: &str, pattern: String, hook: Hook) -> HookRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        let port = listener.local_addr().expect("addr").port();
        let (armed, fired) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (target, shared) = (target.to_owned(), (armed.clone(), fired.clone(), Arc::new(pattern.into_bytes())));
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (target, hook, shared) = (target.clone(), hook.clone(), shared.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&target).await else { return };
                    relay(inbound, outbound, hook, shared).await;
                });
            }
        });
        HookRelay { port, armed, fired }
    }

    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
}

type Shared = (Arc<AtomicBool>, Arc<AtomicBool>, Arc<Vec<u8>>);

async fn relay(inbound: TcpStream, outbound: TcpStream, hook: Hook, (armed, fired, pattern): Shared) {
    let (mut from_client, mut to_client) = inbound.into_split();
    let (mut from_server, mut to_server) = outbound.into_split();
    let upstream = async move {
        let mut tail: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match from_client.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            tail.extend_from_slice(&chunk[..n]);
            if armed.load(Ordering::SeqCst)
                && tail.windows(pattern.len()).any(|w| w == pattern.as_slice())
                && !fired.swap(true, Ordering::SeqCst)
            {
                hook().await;
            }
            let keep = tail.len().saturating_sub(pattern.len());
            tail.drain(..keep);
            if to_server.write_all(&chunk[..n]).await.is_err() {
                break;
            }
        }
        let _ = to_server.shutdown().await;
    };
    let downstream = async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}
