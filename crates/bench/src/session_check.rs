//! Session check: authenticated `{ viewer { id } }` over keep-alive HTTP against the gateway
//! (session lookup with the org and member epoch checks, the choke point, GraphQL), compared with
//! a minimal axum handler doing one Redis GET of a value as large as the session record. Also the
//! memory of both servers, idle and under this load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use keyward_domain::session::{SessionStage, SessionToken};

use crate::Scale;
use crate::load::{self, Bounds, Outcome, Shot};
use crate::report::{Better, Figure};
use crate::stack::{Backend, Server, Stack, redis_connection, redis_url};

const QUERY: &str = r#"{"query":"{ viewer { id } }"}"#;
const MARKER: &str = "\"viewer\":{\"id\"";

/// Runs the scenario; returns its figures.
pub async fn run(scale: Scale) -> Vec<Figure> {
    let stack = Stack::start(Backend::Sqlite).await;
    let token = stack.session(&stack.admin, SessionStage::Authenticated).await;
    let session_bytes = session_record_bytes(&stack, &token).await;
    let floor_key = "bench:floor";
    set_value(floor_key, session_bytes).await;
    let floor =
        Server::spawn("serve-baseline", &[("BENCH_REDIS_URL", redis_url()), ("BENCH_KEY", floor_key.to_owned())]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (gateway_idle, floor_idle) = (stack.server.rss_kib(), floor.rss_kib());

    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("authorization".to_owned(), format!("Bearer {token}")),
    ];
    let gateway_shot =
        Shot { method: "POST", path: "/graphql".into(), headers: headers.clone(), body: Bytes::from(QUERY) };
    let floor_shot = Shot { method: "POST", path: "/".into(), headers, body: Bytes::from(QUERY) };
    let bounds = Bounds {
        connections: 16,
        duration: Duration::from_secs(if scale.quick { 2 } else { 6 }),
        max_requests: 3_000_000,
    };
    let warm = Bounds { duration: Duration::from_millis(500), ..bounds };
    load::run(stack.server.addr, gateway_shot.clone(), MARKER, warm).await;
    load::run(floor.addr, floor_shot.clone(), MARKER, warm).await;

    // Alternate the two servers and keep each one's best round, so a noisy moment on this shared
    // machine does not decide the ratio.
    let (mut best_gateway, mut best_floor): (Option<Outcome>, Option<Outcome>) = (None, None);
    let (mut gateway_peak, mut floor_peak) = (0, 0);
    let (mut gateway_redis, mut floor_redis) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..2 {
        let before = redis_busy_us().await;
        let (outcome, peak) = measured(&floor, floor.addr, floor_shot.clone(), bounds).await;
        floor_redis = floor_redis.min((redis_busy_us().await - before) / outcome.ok.max(1) as f64);
        floor_peak = floor_peak.max(peak);
        best_floor = best(best_floor, outcome);
        let before = redis_busy_us().await;
        let (outcome, peak) = measured(&stack.server, stack.server.addr, gateway_shot.clone(), bounds).await;
        gateway_redis = gateway_redis.min((redis_busy_us().await - before) / outcome.ok.max(1) as f64);
        gateway_peak = gateway_peak.max(peak);
        best_gateway = best(best_gateway, outcome);
    }
    let (gateway, floor_run) = (best_gateway.expect("a gateway round"), best_floor.expect("a floor round"));
    let curve = connection_curve(&stack, &floor, &gateway_shot, &floor_shot, bounds, &gateway).await;
    drop(floor);
    stack.stop().await;

    let failures = format!("{} gateway / {} floor requests failed", gateway.failed, floor_run.failed);
    let mib = |kib: u64| kib as f64 / 1024.0;
    vec![
        Figure::new(
            "session check: `{ viewer { id } }` rate",
            floor_run.rate(),
            gateway.rate(),
            "req/s",
            Better::Higher,
            Some(0.5),
        )
        .note(format!("16 keep-alive connections; baseline: axum + one Redis GET of {session_bytes} B; {failures}")),
        Figure::new("session check: p50 latency", floor_run.p50_us, gateway.p50_us, "µs", Better::Lower, None),
        Figure::new("session check: p99 latency", floor_run.p99_us, gateway.p99_us, "µs", Better::Lower, None),
        Figure::new("session check: Redis time per request", floor_redis, gateway_redis, "µs", Better::Lower, None)
            .note(
                "Redis's own time in commands (INFO commandstats), per request of the best-of-two rounds: what one \
                 shared Redis spends on every instance's checks; baseline: the floor's GET",
            ),
        Figure::new("gateway RSS, idle", mib(floor_idle), mib(gateway_idle), "MiB", Better::Lower, None)
            .note("baseline: the minimal axum + Redis server"),
        Figure::new(
            "gateway RSS, under session-check load",
            mib(floor_peak),
            mib(gateway_peak),
            "MiB",
            Better::Lower,
            None,
        )
        .note("peak VmRSS sampled every 50 ms"),
    ]
    .into_iter()
    .chain(curve)
    .collect()
}

/// More connections than the first 16, each against the 16-connection rate: on two cores the
/// rate should stay flat (the work per request does not grow with the connections), and so
/// should the floor's; p99 grows with the queue, which the note reports.
async fn connection_curve(
    stack: &Stack,
    floor: &Server,
    gateway_shot: &Shot,
    floor_shot: &Shot,
    bounds: Bounds,
    at_16: &Outcome,
) -> Vec<Figure> {
    let mut figures = Vec::new();
    for connections in [64, 256] {
        let bounds = Bounds { connections, ..bounds };
        let floor_run = load::run(floor.addr, floor_shot.clone(), MARKER, bounds).await;
        let gateway = load::run(stack.server.addr, gateway_shot.clone(), MARKER, bounds).await;
        figures.push(
            Figure::new(
                format!("session check at {connections} connections vs 16"),
                at_16.rate(),
                gateway.rate(),
                "req/s",
                Better::Higher,
                Some(0.9),
            )
            .note(format!(
                "target: flat (at least 0.9x); p99 {:.0} µs (16: {:.0} µs); the floor at {connections}: {:.0} req/s \
                 (Keyward at {:.2}x of it); {} requests failed",
                gateway.p99_us,
                at_16.p99_us,
                floor_run.rate(),
                gateway.rate() / floor_run.rate(),
                gateway.failed,
            )),
        );
    }
    figures
}

fn best(current: Option<Outcome>, candidate: Outcome) -> Option<Outcome> {
    match current {
        Some(c) if c.rate() >= candidate.rate() => Some(c),
        _ => Some(candidate),
    }
}

/// One load round, sampling the server's memory while it runs; returns the outcome and peak RSS.
async fn measured(server: &Server, addr: std::net::SocketAddr, shot: Shot, bounds: Bounds) -> (Outcome, u64) {
    let peak = Arc::new(AtomicU64::new(server.rss_kib()));
    let done = Arc::new(AtomicBool::new(false));
    let path = format!("/proc/{}/status", server.pid());
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(crate::stack::rss_of(&path), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let outcome = load::run(addr, shot, MARKER, bounds).await;
    done.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    (outcome, peak.load(Ordering::Relaxed))
}

/// Microseconds Redis has spent executing commands since its statistics were last reset, all
/// commands together (`INFO commandstats`; a script's time includes the commands it ran).
async fn redis_busy_us() -> f64 {
    let mut conn = redis_connection().await;
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(&mut conn).await.expect("INFO");
    info.lines()
        .filter(|line| line.starts_with("cmdstat_") && !line.starts_with("cmdstat_info:"))
        .filter_map(|line| line.split(',').find_map(|field| field.split_once("usec=").map(|(_, v)| v)))
        .filter_map(|usec| usec.parse::<f64>().ok())
        .sum()
}

/// Bytes of the session record as Redis returns it.
async fn session_record_bytes(stack: &Stack, token: &str) -> usize {
    let hash = SessionToken::parse(token).expect("a token").hash();
    let key = format!("{}s:{}", stack.store.prefix(stack.org), hash.key());
    let mut conn = redis_connection().await;
    let record: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query_async(&mut conn).await.expect("GET");
    record.unwrap_or_else(|| panic!("no session at {key}")).len()
}

/// Stores `size` bytes under `key` (the floor server's value).
pub(crate) async fn set_value(key: &str, size: usize) {
    let mut conn = redis_connection().await;
    let _: () = redis::cmd("SET").arg(key).arg(vec![b'x'; size]).query_async(&mut conn).await.expect("SET");
}
