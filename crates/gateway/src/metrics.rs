//! Prometheus metrics: requests, latencies, GraphQL errors by code, and live sessions.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OrgLabels {
    organization: String,
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    errors: Family<CodeLabels, Counter>,
    live_sessions: Family<OrgLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("keyward");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let errors = Family::<CodeLabels, Counter>::default();
        let live_sessions = Family::<OrgLabels, Gauge>::default();
        registry.register("http_requests", "HTTP requests by route, method and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency by route", latency.clone());
        registry.register("graphql_errors", "GraphQL errors by extensions.code", errors.clone());
        registry.register("live_sessions", "Live sessions by organization", live_sessions.clone());
        Self { registry: Mutex::new(registry), requests, latency, errors, live_sessions }
    }
}

/// A request method as a metrics label: the standard methods by name, any other as `OTHER`. HTTP
/// lets a client send any token as a method, and a label per token would be a series per request.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    const STANDARD: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    STANDARD.iter().find(|(standard, _)| standard == method).map_or("OTHER", |(_, label)| label)
}

impl Metrics {
    /// Records one finished HTTP request. The labels are from fixed sets (see [`method_label`]),
    /// so no client can add series, and recording allocates nothing.
    pub fn record_request(&self, route: &'static str, method: &'static str, status: u16, seconds: f64) {
        self.requests.get_or_create(&RequestLabels { route, method, status }).inc();
        self.latency.get_or_create(&RouteLabels { route }).observe(seconds);
    }

    /// Records one GraphQL error.
    pub fn record_error(&self, code: &str) {
        self.errors.get_or_create(&CodeLabels { code: code.into() }).inc();
    }

    /// Sets an organization's live-session gauge.
    pub fn set_live_sessions(&self, organization: &str, count: u64) {
        self.live_sessions
            .get_or_create(&OrgLabels { organization: organization.into() })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_contains_every_family() {
        let metrics = Metrics::default();
        metrics.record_request("/graphql", "POST", 200, 0.002);
        metrics.record_error("FORBIDDEN");
        metrics.set_live_sessions("acme", 3);
        let text = metrics.encode();
        assert!(text.contains("keyward_http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"} 1"));
        assert!(text.contains("keyward_graphql_errors_total{code=\"FORBIDDEN\"} 1"));
        assert!(text.contains("keyward_live_sessions{organization=\"acme\"} 3"));
        assert!(text.contains("keyward_http_request_duration_seconds_bucket"));
    }

    #[test]
    fn methods_outside_the_standard_ones_share_one_label() {
        use axum::http::Method;
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let metrics = Metrics::default();
        for token in ["FOO1", "FOO2", "PROPFIND"] {
            let method = Method::from_bytes(token.as_bytes()).unwrap();
            metrics.record_request("spa", method_label(&method), 405, 0.001);
        }
        let text = metrics.encode();
        assert!(
            text.contains("keyward_http_requests_total{route=\"spa\",method=\"OTHER\",status=\"405\"} 3"),
            "{text}"
        );
        assert!(!text.contains("FOO1") && !text.contains("PROPFIND"), "{text}");
    }
}
