//! An OTLP/HTTP collector for tests: `POST /v1/traces` with an `ExportTraceServiceRequest`
//! (protobuf, uncompressed: the exporter is built without compression), kept as plain spans.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

/// One span as received, IDs in lowercase hex (`parent` empty for a root).
#[derive(Clone, Debug)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    pub parent: String,
    pub name: String,
    pub attributes: Vec<(String, String)>,
    /// Event names, event and link attributes, the status message.
    pub other_texts: Vec<String>,
}

impl Span {
    /// The value of attribute `key`, as text.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Everything the collector got.
#[derive(Clone, Debug, Default)]
pub struct Received {
    pub spans: Vec<Span>,
    pub resource: Vec<(String, String)>,
    pub exports: usize,
    pub problems: Vec<String>,
}

/// The spans of one trace.
pub struct Trace<'a> {
    request_id: String,
    spans: Vec<&'a Span>,
}

impl<'a> Trace<'a> {
    /// The request span.
    pub fn root(&self) -> &'a Span {
        let is_root = |s: &&&Span| s.name == "request" && s.attr("request_id") == Some(&self.request_id);
        self.spans.iter().find(is_root).expect("the request span")
    }

    /// The one span called `name`.
    pub fn named(&self, name: &str) -> &'a Span {
        let found: Vec<_> = self.spans.iter().filter(|s| s.name == name).collect();
        let names: Vec<_> = self.spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(found.len(), 1, "one span {name:?} in the trace of {}: {names:?}", self.request_id);
        found[0]
    }

    /// The spans whose attribute `key` is `value`.
    pub fn with_attr(&self, key: &str, value: &str) -> Vec<&'a Span> {
        self.spans.iter().copied().filter(|s| s.attr(key) == Some(value)).collect()
    }

    /// Whether `span` is the request span or below it.
    pub fn descends_from_root(&self, span: &Span) -> bool {
        let root = self.root();
        let mut current = span;
        for _ in 0..=self.spans.len() {
            if current.span_id == root.span_id {
                return true;
            }
            match self.spans.iter().find(|s| s.span_id == current.parent) {
                Some(parent) => current = parent,
                None => return false,
            }
        }
        false
    }
}

impl Received {
    /// The trace ID of the request whose `X-Request-Id` is `request_id`.
    pub fn trace_of(&self, request_id: &str) -> Option<String> {
        let root = self.spans.iter().find(|s| s.name == "request" && s.attr("request_id") == Some(request_id))?;
        Some(root.trace_id.clone())
    }

    /// The trace of the request whose `X-Request-Id` is `request_id`.
    pub fn request_trace(&self, request_id: &str) -> Trace<'_> {
        let trace_id = self.trace_of(request_id).unwrap_or_else(|| panic!("no request span for {request_id}"));
        let spans = self.spans.iter().filter(|s| s.trace_id == trace_id).collect();
        Trace { request_id: request_id.to_owned(), spans }
    }

    /// Every span tagged with `request_id` is in its trace, and every span of the trace is below
    /// the request span.
    pub fn assert_one_tree(&self, request_id: &str) {
        let trace = self.request_trace(request_id);
        let trace_id = &trace.root().trace_id;
        for span in self.spans.iter().filter(|s| s.attr("request_id") == Some(request_id)) {
            assert_eq!(&span.trace_id, trace_id, "{} of request {request_id} is in the request's trace", span.name);
        }
        for span in &trace.spans {
            assert!(trace.descends_from_root(span), "{} is below the request span of {request_id}", span.name);
        }
    }

    /// A resource attribute.
    pub fn resource_attr(&self, key: &str) -> Option<&str> {
        self.resource.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every text received: span names, attribute keys and values, events, links, statuses and
    /// the resource.
    pub fn all_texts(&self) -> Vec<String> {
        let mut texts = Vec::new();
        for span in &self.spans {
            texts.push(span.name.clone());
            texts.extend(span.attributes.iter().flat_map(|(k, v)| [k.clone(), v.clone()]));
            texts.extend(span.other_texts.iter().cloned());
        }
        texts.extend(self.resource.iter().flat_map(|(k, v)| [k.clone(), v.clone()]));
        texts
    }
}

/// A collector listening on loopback.
pub struct Collector {
    /// Its base URL (what `otel.endpoint` takes).
    pub url: String,
    received: Arc<Mutex<Received>>,
}

impl Collector {
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Received::default()));
        let app = Router::new().route("/v1/traces", post(export)).with_state(Arc::clone(&received));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, received }
    }

    /// How many export requests came.
    pub fn exports(&self) -> usize {
        self.received.lock().unwrap().exports
    }

    /// Waits (at most 10 s) until `done` holds for what was received, and returns it.
    pub async fn wait_for(&self, done: impl Fn(&Received) -> bool) -> Received {
        for _ in 0..100 {
            {
                let received = self.received.lock().unwrap();
                if done(&received) {
                    return received.clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let received = self.received.lock().unwrap();
        let names: Vec<_> = received.spans.iter().map(|s| s.name.as_str()).collect();
        panic!(
            "the spans did not arrive within 10 s: {} exports, problems {:?}, spans {names:?}",
            received.exports, received.problems
        );
    }
}

const PROTOBUF: [(header::HeaderName, &str); 1] = [(header::CONTENT_TYPE, "application/x-protobuf")];

async fn export(State(received): State<Arc<Mutex<Received>>>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let mut received = received.lock().unwrap();
    received.exports += 1;
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        received.problems.push(format!("unexpected Content-Encoding {encoding:?}"));
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, PROTOBUF, Vec::new());
    }
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => request,
        Err(err) => {
            received.problems.push(format!("undecodable export: {err}"));
            return (StatusCode::BAD_REQUEST, PROTOBUF, Vec::new());
        }
    };
    for resource_spans in request.resource_spans {
        if let Some(resource) = resource_spans.resource {
            received.resource = pairs(&resource.attributes);
        }
        for span in resource_spans.scope_spans.into_iter().flat_map(|scope| scope.spans) {
            let mut other_texts: Vec<String> = Vec::new();
            for event in &span.events {
                other_texts.push(event.name.clone());
                other_texts.extend(pairs(&event.attributes).into_iter().flat_map(|(k, v)| [k, v]));
            }
            for link in &span.links {
                other_texts.extend(pairs(&link.attributes).into_iter().flat_map(|(k, v)| [k, v]));
            }
            other_texts.extend(span.status.as_ref().map(|status| status.message.clone()));
            received.spans.push(Span {
                trace_id: hex::encode(&span.trace_id),
                span_id: hex::encode(&span.span_id),
                parent: hex::encode(&span.parent_span_id),
                name: span.name.clone(),
                attributes: pairs(&span.attributes),
                other_texts,
            });
        }
    }
    (StatusCode::OK, PROTOBUF, ExportTraceServiceResponse::default().encode_to_vec())
}

fn pairs(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes.iter().map(|kv| (kv.key.clone(), kv.value.as_ref().map(text).unwrap_or_default())).collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(any_value::Value::ArrayValue(array)) => array.values.iter().map(text).collect::<Vec<_>>().join(","),
        Some(any_value::Value::KvlistValue(list)) => {
            pairs(&list.values).into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
        }
        None => String::new(),
    }
}
