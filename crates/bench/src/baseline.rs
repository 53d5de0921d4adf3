//! The two servers the load generator compares: the real gateway, and the floor it is measured
//! against, a minimal axum handler doing one Redis GET of a session-sized value.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use keyward_gateway::config::Config;
use redis::aio::ConnectionManager;
use tokio::net::TcpListener;

/// `serve-gateway`: the gateway from `KEYWARD_*` settings, on a free loopback port.
pub async fn serve_gateway() {
    let mut config = Config::load().unwrap_or_else(|e| panic!("configuration: {e:?}"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    config.listen = addr;
    config.management_listen = "127.0.0.1:0".parse().expect("an address");
    config.public_url = format!("http://localhost:{}/", addr.port()).parse().expect("a URL");
    let running = keyward_gateway::start(config, listener).await.unwrap_or_else(|e| panic!("start: {e}"));
    println!("listening on {addr}");
    let _ = running.wait().await;
}

#[derive(Clone)]
struct Floor {
    redis: ConnectionManager,
    key: String,
}

/// `serve-baseline`: `POST /` and `GET /` answer with the length of one Redis GET of `BENCH_KEY`, in the
/// shape of a `viewer` response.
pub async fn serve_baseline() {
    let url = std::env::var("BENCH_REDIS_URL").expect("BENCH_REDIS_URL");
    let key = std::env::var("BENCH_KEY").expect("BENCH_KEY");
    let client = redis::Client::open(url).expect("redis url");
    let redis = ConnectionManager::new(client).await.expect("Redis is reachable");
    let app = Router::new().route("/", post(floor).get(floor)).with_state(Floor { redis, key });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("listening on {}", listener.local_addr().expect("local address"));
    axum::serve(listener, app).await.expect("serve");
}

async fn floor(State(mut floor): State<Floor>) -> String {
    let value: Option<Vec<u8>> = redis::cmd("GET").arg(&floor.key).query_async(&mut floor.redis).await.unwrap_or(None);
    format!("{{\"data\":{{\"viewer\":{{\"id\":\"{}\"}}}}}}", value.map_or(0, |v| v.len()))
}
