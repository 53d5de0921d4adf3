//! OpenTelemetry traces over OTLP/HTTP (protobuf), on only when `otel.endpoint` is set.
//!
//! A traced request is one trace: the `request` span of the HTTP layer (parented to an incoming
//! W3C `traceparent`, when there is one), its `session.lookup` span, the `graphql <Operation>`
//! span (see [`graphql`]) and one span per SQL statement (see [`db`]); the Redis store adds a span
//! per command. Spans carry names, outcomes, IDs and SQL with placeholders; never a token, a
//! hash of one, a GraphQL variable, a challenge or a secret.
//!
//! Off (the default), none of this runs: no exporter, no extension, no statement callback, and
//! the spans made here are [`Span::none`].

pub mod db;
pub mod graphql;

use std::time::Duration;

use axum::http::HeaderMap;
use keyward_domain::access::Caller;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{KeyValue, global};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::{Resource, runtime};
use tracing::Span;
use tracing::field::Empty;
use tracing::level_filters::LevelFilter;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;
use url::Url;

use crate::config::{Config, OtelConfig};

/// The instrumentation scope of every span Keyward makes.
pub const SCOPE: &str = "keyward";

/// How long one export to the collector may take; shutdown waits at most this for the last one.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running trace pipeline: the tracer provider behind the `tracing` layer and the global tracer.
/// Call [`Telemetry::shutdown`] before the runtime stops, so the last spans are sent.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Builds the OTLP/HTTP exporter and a batch processor on the current tokio runtime (call it
    /// inside one) and installs the provider as the global one.
    pub fn start(config: &OtelConfig) -> Result<Self, String> {
        let endpoint = config.endpoint.as_ref().ok_or("otel.endpoint is not set")?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(traces_url(endpoint).as_str())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| format!("otel.endpoint: cannot build the OTLP exporter: {e}"))?;
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::builder(exporter, runtime::Tokio).build())
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(config.sample_ratio))))
            .with_resource(resource)
            .build();
        global::set_tracer_provider(provider.clone());
        Ok(Self { provider })
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans: INFO and above, whatever
    /// `log.level` says (so quieter logs do not cut traces), and never the exporter's own events.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        let targets = Targets::new().with_default(LevelFilter::INFO).with_target("opentelemetry", LevelFilter::OFF);
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer(SCOPE)).with_filter(targets)
    }

    /// Sends the spans still queued and stops the exporter. Blocks until then: call it outside
    /// the runtime's tasks, while the runtime still runs.
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(error = %err, "could not send the last traces");
        }
    }
}

/// Where traces go: `<endpoint>/v1/traces`, with or without a trailing slash on the endpoint.
pub fn traces_url(endpoint: &Url) -> Url {
    let mut url = endpoint.clone();
    let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

/// Whether this configuration traces requests.
pub fn enabled(config: &Config) -> bool {
    config.otel.endpoint.is_some()
}

/// The ID of the request being served (its `X-Request-Id`), if the code runs inside one.
pub fn request_id() -> Option<String> {
    keyward_storage::request_context::current().and_then(|meta| meta.request_id)
}

/// Makes an incoming W3C `traceparent` (and `tracestate`) the parent of `span`, the request's
/// root span, so the caller's trace continues here. Without a valid header, `span` starts a trace.
pub fn adopt_remote_parent(span: &Span, headers: &HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        // Fails only when tracing is off or the span was already entered: nothing to adopt then.
        let _ = span.set_parent(parent);
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The `session.lookup` span around resolving a presented token into a caller ([`Span::none`]
/// when tracing is off). [`record_caller`] fills in the outcome.
pub fn session_span(config: &Config) -> Span {
    if !enabled(config) {
        return Span::none();
    }
    let request_id = request_id();
    tracing::info_span!(
        "session.lookup",
        session.credential = Empty,
        session.outcome = Empty,
        org.id = Empty,
        request_id = request_id.as_deref().unwrap_or("none"),
    )
}

/// Records on a `session.lookup` span what was presented (`none`, `session`, `api_key`) and what
/// it gave: `found`, `none` (no token, or no live session for it) or `unavailable` (the store
/// could not be asked). Only the organization is named, never the token or its hash.
pub fn record_caller(span: &Span, credential: &'static str, caller: &Caller) {
    let (outcome, org) = match caller {
        Caller::Session(session) => ("found", Some(session.org_id)),
        Caller::ApiKey(key) => ("found", Some(key.org_id)),
        Caller::Anonymous => ("none", None),
        Caller::Unavailable(_) => ("unavailable", None),
    };
    span.record("session.credential", credential);
    span.record("session.outcome", outcome);
    if let Some(org) = org {
        span.record("org.id", tracing::field::display(org));
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn traces_go_to_v1_traces_under_the_endpoint() {
        for (endpoint, expected) in [
            ("http://collector:4318", "http://collector:4318/v1/traces"),
            ("http://collector:4318/", "http://collector:4318/v1/traces"),
            ("https://otel.example.com/ingest/", "https://otel.example.com/ingest/v1/traces"),
        ] {
            assert_eq!(traces_url(&Url::parse(endpoint).unwrap()).as_str(), expected);
        }
    }

    #[test]
    fn only_w3c_trace_context_headers_are_read() {
        let mut headers = HeaderMap::new();
        headers
            .insert("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        headers.insert("x-other", HeaderValue::from_static("1"));
        let extractor = HeaderExtractor(&headers);
        assert_eq!(extractor.get("traceparent"), Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
        let parent = TraceContextPropagator::new().extract(&extractor);
        let context = parent.span().span_context().clone();
        assert_eq!(context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(context.is_remote() && context.is_sampled());
    }

    #[test]
    fn spans_cost_nothing_when_tracing_is_off() {
        assert!(session_span(&Config::default()).is_none());
    }
}
