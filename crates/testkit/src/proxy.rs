//! A loopback TCP proxy for tests. It counts round trips (each time the client speaks after the
//! server has answered; pipelined commands count once) and can play an outage: while "down" it
//! cuts every connection and refuses new ones.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy.
pub struct TcpProxy {
    addr: String,
    round_trips: Arc<AtomicU64>,
    down: watch::Sender<bool>,
}

impl TcpProxy {
    /// Starts a proxy in front of the server a URL points at (`scheme://[user@]host:port/...`).
    pub async fn start(url: &str) -> Self {
        let target = host_port(url);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let round_trips = Arc::new(AtomicU64::new(0));
        let (down, _) = watch::channel(false);
        let counter = Arc::clone(&round_trips);
        let state = down.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *state.borrow() {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                tokio::spawn(pipe(client, server, Arc::clone(&counter), state.subscribe()));
            }
        });
        Self { addr, round_trips, down }
    }

    /// `url` with its host and port replaced by the proxy's.
    pub fn rewrite(&self, url: &str) -> String {
        url.replacen(&host_port(url), &self.addr, 1)
    }

    /// Round trips since the last reset.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::SeqCst)
    }

    /// Starts counting from zero.
    pub fn reset(&self) {
        self.round_trips.store(0, Ordering::SeqCst);
    }

    /// Plays an outage (`true`) or ends it (`false`).
    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }
}

async fn pipe(client: TcpStream, server: TcpStream, counter: Arc<AtomicU64>, mut down: watch::Receiver<bool>) {
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
    let down_stream = async move {
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
    let outage = async move {
        let _ = down.wait_for(|is_down| *is_down).await;
    };
    tokio::select! {
        _ = async { tokio::join!(up, down_stream) } => {}
        _ = outage => {}
    }
}

/// `host:port` of a `scheme://[user[:pass]@]host:port[/path][?query]` URL.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    let rest = rest.split(['/', '?']).next().unwrap_or(rest);
    rest.rsplit('@').next().unwrap_or(rest).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_strips_everything_else() {
        assert_eq!(host_port("redis://127.0.0.1:6379"), "127.0.0.1:6379");
        assert_eq!(host_port("postgres://postgres:pw@127.0.0.1:5432/test?x=1"), "127.0.0.1:5432");
    }
}
