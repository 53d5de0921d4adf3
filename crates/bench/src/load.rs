//! A small keep-alive HTTP/1.1 load generator (tokio + hyper): a fixed number of connections,
//! each sending the same request back to back, bounded in time and in count.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The request every connection repeats.
#[derive(Clone, Debug)]
pub struct Shot {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path and query.
    pub path: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body (empty for GET).
    pub body: Bytes,
}

/// How hard and how long.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Stop after this long.
    pub duration: Duration,
    /// Or after this many requests, whichever comes first.
    pub max_requests: u64,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Successful requests (status 200 and the expected body marker).
    pub ok: u64,
    /// Requests that failed or answered unexpectedly.
    pub failed: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Latency percentiles in microseconds.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
}

impl Outcome {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// Sends `shot` to `addr` within `bounds`; a response counts as OK when its status is 200 and its
/// body contains `expect`.
pub async fn run(addr: SocketAddr, shot: Shot, expect: &'static str, bounds: Bounds) -> Outcome {
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + bounds.duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..bounds.connections {
        let (shot, issued) = (shot.clone(), Arc::clone(&issued));
        tasks.push(tokio::spawn(
            async move { connection(addr, shot, expect, issued, bounds.max_requests, deadline).await },
        ));
    }
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for task in tasks {
        let (lat, fail) = task.await.expect("load task panicked");
        latencies.extend(lat);
        failed += fail;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pick = |q: f64| {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        f64::from(latencies[index])
    };
    Outcome { ok: latencies.len() as u64, failed, elapsed, p50_us: pick(0.50), p99_us: pick(0.99) }
}

async fn connection(
    addr: SocketAddr,
    shot: Shot,
    expect: &'static str,
    issued: Arc<AtomicU64>,
    max_requests: u64,
    deadline: Instant,
) -> (Vec<u32>, u64) {
    let (mut latencies, mut failed) = (Vec::new(), 0u64);
    let stream = TcpStream::connect(addr).await.expect("connect to the server under test");
    stream.set_nodelay(true).ok();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("HTTP/1.1 handshake");
    tokio::spawn(conn);
    while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max_requests {
        let mut request = Request::builder().method(shot.method).uri(&shot.path).header("host", addr.to_string());
        for (name, value) in &shot.headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(shot.body.clone())).expect("a valid request");
        let sent = Instant::now();
        let Ok(response) = sender.send_request(request).await else {
            failed += 1;
            break;
        };
        let status = response.status();
        let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
        if status == 200 && contains(&body, expect.as_bytes()) {
            latencies.push(micros);
        } else {
            failed += 1;
        }
    }
    (latencies, failed)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_marker() {
        assert!(contains(b"{\"data\":{\"viewer\":{\"id\":\"x\"}}}", b"\"viewer\":{"));
        assert!(!contains(b"{\"data\":{\"viewer\":null}}", b"\"viewer\":{"));
    }
}
