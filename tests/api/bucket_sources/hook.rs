//! A TCP relay in front of an S3 server that runs hooks, each once, when a request it passes on
//! holds the hook's text (a GET of a chosen key), before that request goes on: "between the
//! listing and the read" made deterministic however many reads are in flight. Armed by the test
//! when it wants it (the save-time check reads an object too).

use futures::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub type Hook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

pub struct HookRelay {
    pub port: u16,
    armed: Arc<AtomicBool>,
    /// How many hooks have run.
    pub fired: Arc<AtomicUsize>,
}

/// A hook and the text that runs it.
struct Trigger {
    pattern: Vec<u8>,
    hook: Hook,
    fired: AtomicBool,
}

impl HookRelay {
    pub async fn start(target: &str, hooks: Vec<(String, Hook)>) -> HookRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        let port = listener.local_addr().expect("addr").port();
        let (armed, fired) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let triggers = hooks
            .into_iter()
            .map(|(pattern, hook)| Trigger { pattern: pattern.into_bytes(), hook, fired: AtomicBool::new(false) })
            .collect();
        let (target, shared) = (target.to_owned(), (armed.clone(), fired.clone(), Arc::new(triggers)));
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let (target, shared) = (target.clone(), shared.clone());
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&target).await else { return };
                    relay(inbound, outbound, shared).await;
                });
            }
        });
        HookRelay { port, armed, fired }
    }

    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
}

type Shared = (Arc<AtomicBool>, Arc<AtomicUsize>, Arc<Vec<Trigger>>);

async fn relay(inbound: TcpStream, outbound: TcpStream, (armed, fired, triggers): Shared) {
    let (mut from_client, mut to_client) = inbound.into_split();
    let (mut from_server, mut to_server) = outbound.into_split();
    let upstream = async move {
        let mut tail: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        let longest = triggers.iter().map(|t| t.pattern.len()).max().unwrap_or(0);
        loop {
            let n = match from_client.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            tail.extend_from_slice(&chunk[..n]);
            for trigger in triggers.iter() {
                if armed.load(Ordering::SeqCst)
                    && tail.windows(trigger.pattern.len()).any(|w| w == trigger.pattern.as_slice())
                    && !trigger.fired.swap(true, Ordering::SeqCst)
                {
                    (trigger.hook)().await;
                    fired.fetch_add(1, Ordering::SeqCst);
                }
            }
            let keep = tail.len().saturating_sub(longest);
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
