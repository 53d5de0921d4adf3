//! Org webhooks against a local receiver (an axum server on port 0) that can fail the first
//! deliveries: retries with backoff carry the same idempotency key and a valid signature, the
//! delivery log shows every attempt, racing instances send each event once, and only admins see
//! or change the webhook. Approval events are appended to the audit trail directly, as the
//! approval flows write them.
//!
//! The worker is driven pass by pass with `Worker::run_once(now)` (a later `now` reaches a retry
//! without waiting out its backoff); one test lets the background worker run on a short interval.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, Utc};
use common::{Store, TestApp, error_code, test_config};
use keyward_domain::audit::{Actor, AuditEvent, AuditRecord};
use keyward_domain::repo::{AuditQuery, AuditRepo};
use keyward_gateway::config::Config;
use keyward_gateway::webhooks::{Tick, Worker};
use keyward_testkit::TestDb;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What the receiver saw of one POST.
#[derive(Clone, Debug)]
struct Received {
    content_type: String,
    event: String,
    delivery: String,
    signature: String,
    timestamp: String,
    body: String,
}

/// A local webhook receiver answering 500 to its first `failures` requests, then 200.
#[derive(Clone)]
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    failures: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(failures: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/keyward?token=t0k", listener.local_addr().unwrap());
        let receiver = Receiver { url, received: Default::default(), failures: Arc::new(AtomicUsize::new(failures)) };
        let router =
            axum::Router::new().route("/hooks/keyward", axum::routing::post(receive)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        receiver
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    receiver.received.lock().unwrap().push(Received {
        content_type: header("content-type"),
        event: header("x-keyward-event"),
        delivery: header("x-keyward-delivery"),
        signature: header("x-keyward-signature"),
        timestamp: header("x-keyward-timestamp"),
        body,
    });
    let failing = receiver.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if failing { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
}

/// HMAC-SHA256 written out from RFC 2104, so the check does not share code with the signer.
fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    hex::encode(Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize())
}

fn assert_signed(received: &Received, secret: &str) {
    let signed = format!("{}.{}", received.timestamp, received.body);
    let expected = format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), signed.as_bytes()));
    assert_eq!(received.signature, expected, "signature of {received:?}");
    let age = Utc::now().timestamp() - received.timestamp.parse::<i64>().unwrap();
    assert!((0..120).contains(&age), "the timestamp is the time of sending: {received:?}");
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    SqliteMemory,
    PostgresRedis,
}

/// An app whose background worker waits an hour between passes (tests drive it), unless `tune`
/// says otherwise.
async fn start(backend: Backend, tune: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config();
    config.webhooks.poll_interval = StdDuration::from_secs(3600);
    tune(&mut config);
    match backend {
        Backend::SqliteMemory => TestApp::start_with_config(TestDb::sqlite().await, Store::Memory, config).await,
        Backend::PostgresRedis => TestApp::start_with_config(TestDb::postgres().await, Store::Redis, config).await,
    }
}

macro_rules! on_both_backends_tuned {
    ($($name:ident),* $(,)?) => {
        mod sqlite_memory {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::SqliteMemory).await; } )*
        }
        mod postgres_redis {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::PostgresRedis).await; } )*
        }
    };
}

const SET: &str = "mutation($url: String!, $events: [WebhookEvent!]!, $rotate: Boolean!) {
    webhookSet(url: $url, events: $events, rotateSecret: $rotate) { secret webhook { url events createdAt updatedAt } } }";
const LOG: &str = "{ webhookDeliveries { id event idempotencyKey attempts status lastStatusCode lastError
    nextAttemptAt createdAt deliveredAt requestId } }";

/// Sets the webhook as a freshly key-checked admin; returns the payload.
async fn set_webhook(app: &TestApp, url: &str, events: Value) -> Value {
    let admin = app.key_session_for(&app.admin().await, Duration::seconds(5)).await;
    let (_, body) = app.graphql(SET, json!({"url": url, "events": events, "rotate": false}), Some(&admin)).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["webhookSet"].clone()
}

async fn delivery_log(app: &TestApp) -> Vec<Value> {
    let admin = app.session_for(&app.admin().await, keyward_domain::session::SessionStage::Authenticated).await;
    let (_, body) = app.graphql(LOG, Value::Null, Some(&admin)).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["webhookDeliveries"].as_array().unwrap().clone()
}

/// Appends an approval audit event with the details the approval flows record.
async fn approval(app: &TestApp, action: &str, request: &str) -> AuditEvent {
    let details = json!({
        "requestId": request, "pipeline": "deploy-api", "runId": "4711", "stage": "deploy",
        "environment": "production", "commitSha": "0a1b2c3d", "digest": "ab".repeat(32),
        "status": if action == "approval.requested" { "PENDING" } else { "APPROVED" },
        "approvalUrl": format!("http://localhost:8080/approvals/{request}"),
        "outcome": "PENDING", "requirements": {"count": 2}, "policyVersion": 3,
    });
    let record = AuditRecord::new(Actor::System, action).target(format!("approval_request:{request}")).details(details);
    app.db.append_audit(app.org, record).await.unwrap()
}

async fn failed_deliveries_are_retried_with_the_same_key_and_signature(backend: Backend) {
    let app = start(backend, |_| {}).await;
    let receiver = Receiver::start(2).await;
    let set = set_webhook(&app, &receiver.url, json!(["APPROVAL_REQUESTED", "APPROVAL_APPROVED"])).await;
    let secret = set["secret"].as_str().expect("the secret is shown on first set").to_owned();
    assert_eq!(set["webhook"]["url"], receiver.url);

    let requested = approval(&app, "approval.requested", "req-1").await;
    approval(&app, "approval.vote_recorded", "req-1").await;
    approval(&app, "approval.rejected", "req-2").await;
    let key = format!("{}:{}", app.org, requested.seq);

    let worker = Worker::new(app.running.state.clone());
    let t0 = Utc::now();
    let tick = worker.run_once(t0).await.unwrap();
    assert_eq!(
        tick,
        Tick { claimed: 1, attempted: 1, delivered: 0, failed: 0 },
        "votes and unsubscribed events stay quiet"
    );
    let log = delivery_log(&app).await;
    assert_eq!(log.len(), 1);
    assert_eq!((log[0]["status"].as_str(), log[0]["attempts"].as_u64()), (Some("PENDING"), Some(1)));
    assert_eq!(log[0]["lastStatusCode"], 500);
    assert!(log[0]["lastError"].as_str().unwrap().contains("500"), "{}", log[0]);
    let next = chrono::DateTime::parse_from_rfc3339(log[0]["nextAttemptAt"].as_str().unwrap()).unwrap();
    assert_eq!(next.timestamp(), (t0 + Duration::seconds(2)).timestamp(), "the first retry waits 2 s");

    assert_eq!(worker.run_once(t0 + Duration::seconds(1)).await.unwrap().attempted, 0, "not due yet");
    assert_eq!(worker.run_once(t0 + Duration::seconds(3)).await.unwrap().attempted, 1);
    assert_eq!(worker.run_once(t0 + Duration::seconds(6)).await.unwrap().attempted, 0, "the second retry waits 4 s");
    let tick = worker.run_once(t0 + Duration::seconds(8)).await.unwrap();
    assert_eq!(tick, Tick { claimed: 0, attempted: 1, delivered: 1, failed: 0 });
    assert_eq!(worker.run_once(t0 + Duration::hours(1)).await.unwrap(), Tick::default(), "delivered once");

    let received = receiver.received();
    assert_eq!(received.len(), 3, "two refused attempts and the accepted one");
    for attempt in &received {
        assert_eq!(attempt.delivery, key, "the idempotency key is the same on every retry");
        assert_eq!(attempt.event, "approval.requested");
        assert_eq!(attempt.content_type, "application/json");
        assert_eq!(attempt.body, received[0].body, "every retry sends the same body");
        assert_signed(attempt, &secret);
    }
    let payload: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(payload["id"], key);
    assert_eq!(payload["event"], "approval.requested");
    assert_eq!(payload["organization"], json!({"id": app.org.to_string(), "slug": "default"}));
    assert_eq!(
        payload["request"],
        json!({"id": "req-1", "pipeline": "deploy-api", "runId": "4711", "stage": "deploy",
            "environment": "production", "commitSha": "0a1b2c3d", "digest": "ab".repeat(32), "status": "PENDING",
            "approvalUrl": "http://localhost:8080/approvals/req-1"})
    );
    assert_eq!(payload["details"], requested.details);
    assert!(chrono::DateTime::parse_from_rfc3339(payload["occurredAt"].as_str().unwrap()).is_ok());

    let log = delivery_log(&app).await;
    let entry = &log[0];
    assert_eq!((entry["status"].as_str(), entry["attempts"].as_u64()), (Some("DELIVERED"), Some(3)));
    assert_eq!((entry["lastStatusCode"].as_u64(), entry["lastError"].is_null()), (Some(200), true));
    assert_eq!((entry["idempotencyKey"].as_str(), entry["requestId"].as_str()), (Some(key.as_str()), Some("req-1")));
    assert_eq!(entry["event"], "APPROVAL_REQUESTED");
    assert!(entry["deliveredAt"].is_string() && entry["nextAttemptAt"].is_null(), "{entry}");
    app.stop().await;
}

async fn deliveries_fail_for_good_after_the_last_attempt(backend: Backend) {
    let app = start(backend, |c| c.webhooks.max_attempts = 3).await;
    let receiver = Receiver::start(usize::MAX).await;
    set_webhook(&app, &receiver.url, json!(["APPROVAL_APPROVED"])).await;
    approval(&app, "approval.approved", "req-9").await;
    let worker = Worker::new(app.running.state.clone());
    let t0 = Utc::now();
    assert_eq!(worker.run_once(t0).await.unwrap().attempted, 1);
    assert_eq!(worker.run_once(t0 + Duration::seconds(3)).await.unwrap().attempted, 1);
    let tick = worker.run_once(t0 + Duration::seconds(8)).await.unwrap();
    assert_eq!(tick, Tick { claimed: 0, attempted: 1, delivered: 0, failed: 1 });
    assert_eq!(worker.run_once(t0 + Duration::days(1)).await.unwrap().attempted, 0, "no attempt after the last");
    let entry = &delivery_log(&app).await[0];
    assert_eq!((entry["status"].as_str(), entry["attempts"].as_u64()), (Some("FAILED"), Some(3)));
    assert!(entry["nextAttemptAt"].is_null() && entry["deliveredAt"].is_null(), "{entry}");
    assert_eq!(receiver.received().len(), 3);

    // An unreachable receiver is logged as such (nothing listens on the port any more).
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    set_webhook(&app, &format!("http://{closed}/gone"), json!(["APPROVAL_APPROVED"])).await;
    approval(&app, "approval.approved", "req-10").await;
    assert_eq!(worker.run_once(Utc::now()).await.unwrap().attempted, 1);
    let entry = &delivery_log(&app).await[0];
    assert_eq!((entry["requestId"].as_str(), entry["lastStatusCode"].is_null()), (Some("req-10"), true));
    assert!(entry["lastError"].as_str().unwrap().starts_with("could not connect"), "{entry}");
    assert!(!entry["lastError"].as_str().unwrap().contains("/gone"), "the URL stays out of the log: {entry}");
    app.stop().await;
}

async fn racing_instances_send_each_event_once(backend: Backend) {
    let app = start(backend, |_| {}).await;
    let receiver = Receiver::start(0).await;
    set_webhook(&app, &receiver.url, json!(["APPROVAL_REQUESTED", "APPROVAL_APPROVED", "APPROVAL_EXPIRED"])).await;
    for i in 0..6 {
        approval(&app, if i % 2 == 0 { "approval.requested" } else { "approval.expired" }, &format!("r{i}")).await;
    }
    // Three instances' workers over one database, in the same pass.
    let workers: Vec<Worker> = (0..3).map(|_| Worker::new(app.running.state.clone())).collect();
    let now = Utc::now();
    let ticks = futures::future::join_all(workers.iter().map(|w| w.run_once(now))).await;
    let total = ticks.into_iter().map(Result::unwrap).fold(Tick::default(), |sum, t| Tick {
        claimed: sum.claimed + t.claimed,
        attempted: sum.attempted + t.attempted,
        delivered: sum.delivered + t.delivered,
        failed: sum.failed + t.failed,
    });
    assert_eq!(total, Tick { claimed: 6, attempted: 6, delivered: 6, failed: 0 });
    let mut keys: Vec<String> = receiver.received().into_iter().map(|r| r.delivery).collect();
    keys.sort();
    keys.dedup();
    assert_eq!((keys.len(), receiver.received().len()), (6, 6), "six events, six POSTs");
    app.stop().await;
}

async fn the_background_worker_delivers_new_events_only(backend: Backend) {
    let app = start(backend, |c| c.webhooks.poll_interval = StdDuration::from_millis(100)).await;
    let receiver = Receiver::start(0).await;
    approval(&app, "approval.approved", "before").await;
    set_webhook(&app, &receiver.url, json!(["APPROVAL_APPROVED"])).await;
    let after = approval(&app, "approval.approved", "after").await;
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(20);
    while receiver.received().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the worker delivered nothing");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let first = &receiver.received()[0];
    assert_eq!(first.delivery, format!("{}:{}", app.org, after.seq));
    let log = delivery_log(&app).await;
    assert_eq!(log.len(), 1, "no backfill of events before the webhook was set: {log:?}");
    app.stop().await;
}

async fn only_admins_see_or_change_the_webhook(backend: Backend) {
    let app = start(backend, |_| {}).await;
    let member = app.member("mallory").await;
    let member = app.key_session_for(&member, Duration::seconds(5)).await;
    let url = "https://hooks.example.com/services/T0/B0/s3cret?x=1";
    let vars = json!({"url": url, "events": ["APPROVAL_APPROVED"], "rotate": false});
    for (query, variables) in [
        ("{ webhook { url } }", Value::Null),
        (LOG, Value::Null),
        (SET, vars.clone()),
        ("mutation { webhookDelete }", Value::Null),
    ] {
        let (_, body) = app.graphql(query, variables, Some(&member)).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{query}: {body}");
    }
    let admin = app.admin().await;
    let stale = app.key_session_for(&admin, Duration::hours(2)).await;
    let (_, body) = app.graphql(SET, vars.clone(), Some(&stale)).await;
    assert_eq!(error_code(&body), "STEP_UP_REQUIRED", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["action"], "org.webhook.set");

    let fresh = app.key_session_for(&admin, Duration::seconds(5)).await;
    for (bad_url, events) in [
        ("ftp://x.example/", json!(["APPROVAL_APPROVED"])),
        ("https://user:pw@x.example/", json!(["APPROVAL_APPROVED"])),
        ("https://x.example/", json!([])),
    ] {
        let variables = json!({"url": bad_url, "events": events, "rotate": false});
        let (_, body) = app.graphql(SET, variables, Some(&fresh)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad_url}: {body}");
    }
    let (_, body) = app.graphql("{ webhook { url } }", Value::Null, Some(&fresh)).await;
    assert_eq!(body["data"]["webhook"], Value::Null);

    let (_, first) = app.graphql(SET, vars.clone(), Some(&fresh)).await;
    let first = &first["data"]["webhookSet"];
    let secret = first["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43);
    let changed = json!({"url": "https://hooks.example.com/other", "events": ["APPROVAL_EXPIRED", "APPROVAL_REQUESTED"], "rotate": false});
    let (_, second) = app.graphql(SET, changed, Some(&fresh)).await;
    let second = &second["data"]["webhookSet"];
    assert_eq!(second["secret"], Value::Null, "the secret is shown once");
    assert_eq!(second["webhook"]["events"], json!(["APPROVAL_REQUESTED", "APPROVAL_EXPIRED"]));
    assert_eq!(second["webhook"]["createdAt"], first["webhook"]["createdAt"]);
    let rotate = json!({"url": url, "events": ["APPROVAL_APPROVED"], "rotate": true});
    let (_, third) = app.graphql(SET, rotate, Some(&fresh)).await;
    let rotated = third["data"]["webhookSet"]["secret"].as_str().unwrap();
    assert_ne!(rotated, secret);

    let audit = app
        .db
        .audit_events(app.org, AuditQuery { action: Some("org.webhook.set".into()), first: 10, ..Default::default() });
    let events = audit.await.unwrap().items;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].details["urlOrigin"], "https://hooks.example.com");
    assert_eq!(events[0].details["secretRotated"], true);
    assert_eq!(events[2].details["created"], true);
    assert!(events.iter().all(|e| !e.details.to_string().contains("s3cret")), "the hook's path stays out of the audit");

    let (_, body) = app.graphql("mutation { webhookDelete }", Value::Null, Some(&fresh)).await;
    assert_eq!(body["data"]["webhookDelete"], true, "{body}");
    let (_, body) = app.graphql("mutation { webhookDelete }", Value::Null, Some(&fresh)).await;
    assert_eq!(body["data"]["webhookDelete"], false, "{body}");
    let deleted = AuditQuery { action: Some("org.webhook.deleted".into()), first: 10, ..Default::default() };
    assert_eq!(app.db.audit_events(app.org, deleted).await.unwrap().items.len(), 1);
    let (_, body) = app.graphql("{ webhook { url } }", Value::Null, Some(&fresh)).await;
    assert_eq!(body["data"]["webhook"], Value::Null);
    app.stop().await;
}

on_both_backends_tuned! {
    failed_deliveries_are_retried_with_the_same_key_and_signature,
    deliveries_fail_for_good_after_the_last_attempt,
    racing_instances_send_each_event_once,
    the_background_worker_delivers_new_events_only,
    only_admins_see_or_change_the_webhook,
}
