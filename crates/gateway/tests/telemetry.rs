//! OpenTelemetry: the real `keyward serve` (PostgreSQL, Redis) sends its traces over OTLP/HTTP to
//! a collector played here. Each request is one trace (the request span, `session.lookup`,
//! `graphql <Operation>`, one span per SQL statement and per Redis command, all below the request
//! span); no span carries a token, its hash, a GraphQL variable, a challenge or a secret. Without
//! `otel.endpoint` nothing is sent, even with the standard `OTEL_EXPORTER_OTLP_*` variables set.

#[path = "telemetry/collector.rs"]
mod collector;
#[path = "common/server.rs"]
mod server;

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use keyward_domain::session::SessionToken;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use collector::Collector;
use server::Server;

/// One request's answer: its `X-Request-Id` and body.
struct Answer {
    request_id: String,
    body: Value,
}

async fn graphql(server: &Server, query: &str, variables: Value, token: Option<&str>, extra: HeaderMap) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{}/graphql", server.url))
        .headers(extra)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.header("cookie", format!("keyward_session={token}"));
    }
    let response = request.send().await.unwrap();
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    Answer { request_id, body: response.json().await.unwrap() }
}

fn unique(what: &str) -> String {
    format!("KWTEST-SECRET-{what}-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_one_trace_and_no_span_carries_a_secret() {
    let collector = Collector::start().await;
    let secrets_key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let server = Server::on_postgres_and_redis(&[
        ("KEYWARD_OTEL__ENDPOINT", collector.url.as_str()),
        ("KEYWARD_OTEL__SERVICE_NAME", "keyward-under-test"),
        ("KEYWARD_SECRETS_KEY", secrets_key.as_str()),
    ])
    .await;
    let backup_secret = server.backup_secret.clone().expect("a first start prints backup credentials");

    let login = graphql(
        &server,
        "mutation Login($s: String!) { backupCredentialsLogin(organization: \"default\", username: \"admin\", secret: $s) { sessionToken stage } }",
        json!({ "s": backup_secret }),
        None,
        HeaderMap::new(),
    )
    .await;
    let token = login.body["data"]["backupCredentialsLogin"]["sessionToken"].as_str().expect("a session").to_owned();
    let query = "query Viewer { viewer { id stage member { username } organization { slug } } }";
    let viewer = graphql(&server, query, json!({}), Some(&token), HeaderMap::new()).await;
    assert_eq!(viewer.body["data"]["viewer"]["member"]["username"], "admin", "{}", viewer.body);
    let key_name = unique("key-name");
    let begin = graphql(
        &server,
        "mutation KeyBegin($n: String!) { securityKeyRegistrationBegin(name: $n) { ceremonyId options } }",
        json!({ "n": key_name }),
        Some(&token),
        HeaderMap::new(),
    )
    .await;
    let challenge = begin.body["data"]["securityKeyRegistrationBegin"]["options"]["challenge"]
        .as_str()
        .unwrap_or_else(|| panic!("a challenge: {}", begin.body))
        .to_owned();
    let recovery_code = unique("recovery-code");
    let recover = graphql(
        &server,
        "mutation Recover($code: String!) { mfaRecoveryCodeFinish(code: $code) { stage } }",
        json!({ "code": recovery_code }),
        Some(&token),
        HeaderMap::new(),
    )
    .await;
    assert!(recover.body["errors"].is_array(), "a recovery code is refused at this stage: {}", recover.body);
    let anonymous = graphql(&server, "{ viewer { id } }", json!({}), None, HeaderMap::new()).await;
    let (remote_trace, remote_parent) = (uuid::Uuid::new_v4().simple().to_string(), "00f067aa0ba902b7");
    let mut traceparent = HeaderMap::new();
    traceparent.insert("traceparent", format!("00-{remote_trace}-{remote_parent}-01").parse().unwrap());
    let continued = graphql(&server, "query Viewer { viewer { id } }", json!({}), Some(&token), traceparent).await;

    // Shutting down sends what the batch still holds (its regular export is 5 s away).
    server.terminate().await;
    let answers = [&login, &viewer, &begin, &recover, &anonymous, &continued];
    let received = collector.wait_for(|got| answers.iter().all(|a| got.trace_of(&a.request_id).is_some())).await;

    // a. One trace per request, every span of it below the request span.
    let trace_ids: HashSet<_> = answers.iter().map(|a| received.trace_of(&a.request_id).unwrap()).collect();
    assert_eq!(trace_ids.len(), answers.len(), "each request has its own trace");
    for answer in answers {
        received.assert_one_tree(&answer.request_id);
    }
    let trace = received.request_trace(&viewer.request_id);
    let root = trace.root();
    let graphql_span = trace.named("graphql Viewer");
    assert_eq!(graphql_span.attr("graphql.operation.name"), Some("Viewer"));
    assert_eq!(graphql_span.attr("graphql.operation.type"), Some("query"));
    assert_eq!(graphql_span.attr("request_id"), Some(viewer.request_id.as_str()));
    assert_eq!(graphql_span.parent, root.span_id, "graphql is a child of the request span");
    let lookup = trace.named("session.lookup");
    assert_eq!((lookup.attr("session.credential"), lookup.attr("session.outcome")), (Some("session"), Some("found")));
    assert!(lookup.attr("org.id").is_some(), "the organization is named");
    assert_eq!(lookup.parent, root.span_id);
    let statements = trace.with_attr("db.system", "postgresql");
    assert!(!statements.is_empty(), "the statements of the request are spans of its trace");
    for statement in &statements {
        let sql = statement.attr("db.statement").expect("db.statement");
        assert!(!sql.contains('\''), "no literal in {sql}");
        assert_eq!(statement.attr("db.operation"), sql.split_whitespace().next());
        assert_eq!(statement.attr("request_id"), Some(viewer.request_id.as_str()));
    }
    assert!(statements.iter().any(|s| s.attr("db.statement").unwrap().contains("$1")), "values are bound");
    assert!(
        statements.iter().any(|s| s.parent == graphql_span.span_id),
        "a resolver's statement is a child of the graphql span: the callback runs in the request's task"
    );

    let anonymous_trace = received.request_trace(&anonymous.request_id);
    assert_eq!(anonymous_trace.named("graphql anonymous").attr("graphql.operation.name"), Some("anonymous"));
    let lookup = anonymous_trace.named("session.lookup");
    assert_eq!((lookup.attr("session.credential"), lookup.attr("session.outcome")), (Some("none"), Some("none")));
    assert_eq!(
        received.request_trace(&begin.request_id).named("graphql KeyBegin").attr("graphql.operation.type"),
        Some("mutation")
    );
    let continued_trace = received.request_trace(&continued.request_id);
    assert_eq!(continued_trace.root().trace_id, remote_trace, "an incoming traceparent is continued");
    assert_eq!(continued_trace.root().parent, remote_parent);
    assert_eq!(received.resource_attr("service.name"), Some("keyward-under-test"));

    // b. No secret anywhere: attributes, events, status messages, resource.
    let hash = SessionToken::parse(&token).expect("a session token").hash().key().to_owned();
    let token_secret = token.rsplit('.').next().unwrap().to_owned();
    let forbidden = [
        ("the session token", token.as_str()),
        ("the session token's secret part", token_secret.as_str()),
        ("the session token's hash", hash.as_str()),
        ("the backup secret (a variable)", backup_secret.as_str()),
        ("a key name (a variable)", key_name.as_str()),
        ("a recovery code (a variable)", recovery_code.as_str()),
        ("the registration challenge", challenge.as_str()),
        ("secrets_key", secrets_key.as_str()),
    ];
    let texts = received.all_texts();
    assert!(texts.len() > 50, "there is something to search: {} texts", texts.len());
    for (what, secret) in forbidden {
        if let Some(text) = texts.iter().find(|text| text.contains(secret)) {
            panic!("{what} appears in a span: {text}");
        }
    }
    assert!(texts.iter().any(|t| t == "KeyBegin") && texts.iter().any(|t| t == "Recover"), "names do appear");
    assert!(!texts.iter().any(|t| t.contains("KWTEST-SECRET")), "no variable value appears");

    // Waits on the Redis store's spans (`redis <CMD>`, db.system = "redis").
    let redis = trace.with_attr("db.system", "redis");
    assert!(!redis.is_empty(), "the session lookup's Redis call is a span of the request's trace");
    assert!(redis.iter().all(|s| trace.descends_from_root(s)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_nothing_is_sent() {
    let collector = Collector::start().await;
    let standard: HashMap<&str, String> = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url.clone()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", format!("{}/v1/traces", collector.url)),
    ]
    .into();
    let env: Vec<(&str, &str)> = standard.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::on_sqlite(&env);
    let answer = graphql(&server, "query Viewer { viewer { id } }", json!({}), None, HeaderMap::new()).await;
    assert!(answer.body["data"].is_object(), "{}", answer.body);
    server.terminate().await;
    assert_eq!(collector.exports(), 0, "nothing was sent");
}
