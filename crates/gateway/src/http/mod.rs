//! The HTTP surface: routes, middleware and the SPA.

pub mod client_ip;
pub mod cookies;
pub mod forward_auth;
pub mod graphql;
pub mod handoff;
pub mod headers;
pub mod json_error;
pub mod ops;
pub mod request_meta;
pub mod session;
pub mod spa;
pub mod sso;
pub mod ws;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::graphql::KeywardSchema;
use crate::state::AppState;
use graphql::GraphqlState;

/// The public router: the API, the SSO callback, the JWKS, the SPA and a bare `/healthz`.
pub fn router(state: AppState, schema: KeywardSchema) -> Router {
    let graphql_state = GraphqlState { app: state.clone(), schema };
    let api = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route(ws::WS_PATH, get(ws::upgrade))
        .with_state(graphql_state);
    let ops = Router::new()
        .route("/healthz", get(ops::healthz))
        // Named here so that neither falls through to the SPA's index page with a 200, which a
        // misdirected readiness probe would take for "ready".
        .route("/readyz", get(ops::on_management_listener))
        .route("/metrics", get(ops::on_management_listener))
        .route("/auth/sso/callback", get(sso::callback))
        .route("/cli/handoff", post(handoff::create_route))
        .route("/cli/handoff/poll", post(handoff::poll_route))
        .route("/auth/verify", get(forward_auth::verify))
        .route(crate::tokens::JWKS_PATH, get(crate::tokens::jwks::serve))
        .with_state(state.clone());
    let body_limit = state.config.limits.body_bytes;
    let public = Router::new()
        .merge(api)
        .merge(ops)
        .fallback_service(spa::router(state.config.static_dir.as_deref()))
        .layer(DefaultBodyLimit::max(body_limit));
    with_common_layers(public, state)
}

/// The management router, for the loopback `management_listen`: metrics (organization slugs,
/// session counts) and readiness with the reasons (driver errors) are for operators only.
pub fn management_router(state: AppState) -> Router {
    let ops = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .with_state(state.clone());
    with_common_layers(ops, state)
}

fn with_common_layers(router: Router, state: AppState) -> Router {
    let edge = Edge { security: headers::SecurityHeaders::new(&state.config), app: state };
    let traced = crate::telemetry::enabled(&edge.app.config);
    router
        // Inside SetRequestIdLayer, so the request ID is already assigned.
        .layer(middleware::from_fn_with_state(edge, pass_edge))
        .layer(TraceLayer::new_for_http().make_span_with(move |request: &Request| {
            let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("none");
            let span =
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id);
            if traced {
                crate::telemetry::adopt_remote_parent(&span, request.headers());
            }
            span
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
}

/// A UUIDv4 request ID from the thread's userspace CSPRNG: tower-http's `MakeRequestUuid` asks the
/// kernel for 16 bytes on every request, a system call the session check measurably paid for.
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        id.hyphenated().to_string().parse().ok().map(RequestId::new)
    }
}

/// What every request passes through, in one middleware rather than one per concern (each
/// `from_fn` layer boxes the request's future again, on the session check's hot path).
#[derive(Clone)]
struct Edge {
    app: AppState,
    security: headers::SecurityHeaders,
}

/// Runs the request inside its audit context (request ID and `User-Agent`, see [`request_meta`]),
/// adds the security headers its response lacks, and records its metrics.
async fn pass_edge(State(edge): State<Edge>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = crate::metrics::method_label(request.method());
    let route = route_label(request.uri().path());
    let meta = request_meta::request_meta(request.headers());
    let mut response = keyward_storage::request_context::scope(meta, next.run(request)).await;
    edge.security.apply(&mut response);
    edge.app.metrics.record_request(route, method, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// The metrics label of a path. Routing happens inside the edge, so this labels by the known paths
/// rather than `MatchedPath`: a label per SPA path would let clients create unbounded series.
fn route_label(path: &str) -> &'static str {
    match path {
        "/graphql" => "/graphql",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/auth/sso/callback" => "/auth/sso/callback",
        "/cli/handoff" => "/cli/handoff",
        "/cli/handoff/poll" => "/cli/handoff/poll",
        "/auth/verify" => "/auth/verify",
        crate::tokens::JWKS_PATH => crate::tokens::JWKS_PATH,
        _ => "spa",
    }
}
