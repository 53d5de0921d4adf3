//! A loopback TCP proxy in front of Redis that counts round trips: each time the client speaks
//! after the server has answered is one round trip (pipelined commands count once).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The proxy's address and its counter.
pub struct CountingProxy {
    pub url: String,
    round_trips: Arc<AtomicU64>,
}

impl CountingProxy {
    /// Starts a proxy to `target` (host:port).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let round_trips = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&round_trips);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&target).await.unwrap();
                tokio::spawn(pipe(client, server, Arc::clone(&counter)));
            }
        });
        Self { url, round_trips }
    }

    /// Round trips since the last reset.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::SeqCst)
    }

    /// Starts counting from zero.
    pub fn reset(&self) {
        self.round_trips.store(0, Ordering::SeqCst);
    }
}

async fn pipe(client: TcpStream, server: TcpStream, counter: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let awaiting = Arc::new(AtomicBool::new(false));
    let awaiting_up = Arc::clone(&awaiting);
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !awaiting_up.swap(true, Ordering::SeqCst) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            awaiting.store(false, Ordering::SeqCst);
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(up, down);
}

/// `host:port` of a `redis://host:port[/db]` URL.
pub fn host_port(url: &str) -> String {
    let rest = url.trim_start_matches("redis://");
    let rest = rest.rsplit('@').next().unwrap_or(rest);
    rest.split('/').next().unwrap_or(rest).to_owned()
}
