//! One span per SQL statement, made after the fact from sea-orm's per-statement report.
//!
//! The report comes in the task that awaited the statement, so `tracing::Span::current()` is the
//! span of the code that asked (a resolver inside `graphql`, the `session.lookup` of an API key):
//! the statement's span is its child, with the measured start and end. Statements outside any
//! traced request (migrations, background workers) are not reported, so a poll every few seconds
//! does not make a trace every few seconds.

use std::time::SystemTime;

use keyward_storage::db::StatementInfo;
use keyward_storage::{Database, Engine};
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Reports every statement `db` runs from now on as a span (on the global tracer provider, which
/// [`Telemetry::start`](super::Telemetry::start) installs). Call it only when tracing is on.
pub fn trace_statements(db: &mut Database) {
    let tracer = global::tracer(super::SCOPE);
    let system = match db.engine() {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgresql",
    };
    db.on_statement(move |info| {
        let parent = tracing::Span::current().context();
        if parent.span().span_context().is_valid() {
            record(&tracer, &parent, system, info);
        }
    });
}

fn record(tracer: &BoxedTracer, parent: &Context, system: &'static str, info: &StatementInfo<'_>) {
    let end = SystemTime::now();
    let start = end.checked_sub(info.elapsed).unwrap_or(end);
    let operation = operation_of(info.sql);
    let mut attributes = vec![
        KeyValue::new("db.system", system),
        KeyValue::new("db.operation", operation.clone()),
        // The text as sent: placeholders only, the values travel apart from it.
        KeyValue::new("db.statement", info.sql.to_owned()),
    ];
    if let Some(request_id) = super::request_id() {
        attributes.push(KeyValue::new("request_id", request_id));
    }
    let mut span = tracer
        .span_builder(operation)
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes(attributes)
        .start_with_context(tracer, parent);
    if info.failed {
        span.set_status(Status::error("the statement failed"));
    }
    span.end_with_timestamp(end);
}

/// The statement's verb (`SELECT`, `INSERT`, `WITH`, …): its first word, or `SQL` when that is
/// not a plain word.
fn operation_of(sql: &str) -> String {
    match sql.split_whitespace().next() {
        Some(word) if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphabetic()) => word.to_ascii_uppercase(),
        _ => "SQL".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Keeps what it is given.
    #[derive(Clone, Debug, Default)]
    struct Collected(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Collected {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    #[test]
    fn the_verb_names_the_statement() {
        assert_eq!(operation_of("SELECT \"member\".\"id\" FROM \"member\" WHERE \"id\" = $1"), "SELECT");
        assert_eq!(operation_of("  insert into t values (?)"), "INSERT");
        assert_eq!(operation_of("WITH x AS (SELECT 1) SELECT * FROM x"), "WITH");
        assert_eq!(operation_of("(SELECT 1)"), "SQL");
        assert_eq!(operation_of(""), "SQL");
    }

    #[test]
    fn a_statement_becomes_a_child_of_the_current_span_with_its_timing() {
        let exporter = Collected::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let tracer = BoxedTracer::new(Box::new(provider.tracer(super::super::SCOPE)));
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        let sql = "SELECT \"id\" FROM \"member\" WHERE \"username\" = $1";
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("graphql");
            let _entered = outer.enter();
            let parent = tracing::Span::current().context();
            let info = StatementInfo { sql, elapsed: Duration::from_millis(3), failed: true };
            record(&tracer, &parent, "postgresql", &info);
        });
        let spans = exporter.0.lock().unwrap().clone();
        let statement = spans.iter().find(|s| s.name == "SELECT").expect("the statement's span");
        let outer = spans.iter().find(|s| s.name == "graphql").expect("the outer span");
        assert_eq!(statement.parent_span_id, outer.span_context.span_id());
        assert_eq!(statement.span_context.trace_id(), outer.span_context.trace_id());
        assert_eq!(statement.span_kind, SpanKind::Client);
        assert_eq!(statement.end_time.duration_since(statement.start_time).unwrap(), Duration::from_millis(3));
        assert!(matches!(statement.status, Status::Error { .. }));
        let attribute =
            |key: &str| statement.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string());
        assert_eq!(attribute("db.statement").as_deref(), Some(sql));
        assert_eq!(attribute("db.operation").as_deref(), Some("SELECT"));
        assert_eq!(attribute("db.system").as_deref(), Some("postgresql"));
    }
}
