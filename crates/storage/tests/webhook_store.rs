//! Webhooks on SQLite and PostgreSQL: the webhook and its audit event in one transaction, the
//! cursor starting at the head, deliveries claimed once per event however many instances race,
//! each attempt taken by one instance, and removal failing what is still pending.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use keyward_domain::audit::{Actor, AuditEvent, AuditRecord};
use keyward_domain::ids::OrgId;
use keyward_domain::repo::{AuditQuery, AuditRepo};
use keyward_domain::webhook::{
    AttemptResult, DeliveryStatus, NewDelivery, Webhook, WebhookEvent, WebhookRepo, after_attempt,
};
use keyward_storage::Database;
use keyward_testkit::{TestDb, bootstrap, on_both_databases};
use serde_json::json;

fn hook(org: OrgId, url: &str, events: Vec<WebhookEvent>, at: DateTime<Utc>) -> Webhook {
    Webhook { org_id: org, url: url.into(), events, secret: "v1:sealed".into(), created_at: at, updated_at: at }
}

fn set_record(org: OrgId) -> AuditRecord {
    AuditRecord::new(Actor::System, "org.webhook.set").target(format!("org:{org}"))
}

async fn last_action(db: &Database, org: OrgId) -> String {
    db.audit_events(org, AuditQuery { first: 1, ..Default::default() }).await.unwrap().items[0].action.clone()
}

async fn approval_event(db: &Database, org: OrgId, action: &str) -> AuditEvent {
    let record = AuditRecord::new(Actor::System, action)
        .target("approval_request:r-1")
        .details(json!({"requestId": "r-1", "stage": "prod"}));
    db.append_audit(org, record).await.unwrap()
}

/// Audits `count` approvals and returns the deliveries a webhook subscribed to everything gets.
async fn approvals(db: &Database, webhook: &Webhook, count: usize, now: DateTime<Utc>) -> Vec<NewDelivery> {
    let mut out = Vec::new();
    for _ in 0..count {
        let event = approval_event(db, webhook.org_id, "approval.approved").await;
        out.push(NewDelivery::for_event(webhook, &event, "acme", now).unwrap());
    }
    out
}

async fn the_webhook_and_its_audit_event_are_written_together(t: TestDb) {
    let db = &t.db;
    let (org, _) = bootstrap(db).await;
    let now = Utc::now();
    assert_eq!(db.webhook(org.id).await.unwrap(), None);
    approval_event(db, org.id, "approval.requested").await;

    let first = hook(org.id, "https://a.test/", vec![WebhookEvent::ApprovalApproved], now);
    db.put_webhook(first.clone(), set_record(org.id)).await.unwrap();
    let stored = db.webhook(org.id).await.unwrap().unwrap();
    assert_eq!(stored.url, first.url);
    assert_eq!(stored.events, first.events);
    assert_eq!(stored.secret, "v1:sealed");
    assert_eq!(last_action(db, org.id).await, "org.webhook.set");
    let head = db.audit_head(org.id).await.unwrap().unwrap().seq;
    assert_eq!(db.webhook_cursor(org.id).await.unwrap(), Some(head), "no backfill: the cursor starts at the head");

    approval_event(db, org.id, "approval.requested").await;
    let later = now + Duration::minutes(5);
    let mut second = hook(org.id, "https://b.test/", WebhookEvent::ALL.to_vec(), later);
    second.created_at = later;
    db.put_webhook(second, set_record(org.id)).await.unwrap();
    let stored = db.webhook(org.id).await.unwrap().unwrap();
    assert_eq!((stored.url.as_str(), stored.events.len()), ("https://b.test/", 4));
    assert_eq!(stored.created_at.timestamp(), now.timestamp(), "a replacement keeps the creation time");
    assert_eq!(stored.updated_at.timestamp(), later.timestamp());
    assert_eq!(db.webhook_cursor(org.id).await.unwrap(), Some(head), "a replacement keeps the cursor");
    assert_eq!(db.webhooks().await.unwrap().len(), 1);

    let deleted = AuditRecord::new(Actor::System, "org.webhook.deleted");
    assert!(db.delete_webhook(org.id, deleted.clone()).await.unwrap());
    assert_eq!(last_action(db, org.id).await, "org.webhook.deleted");
    let seq_after_delete = db.audit_head(org.id).await.unwrap().unwrap().seq;
    assert!(!db.delete_webhook(org.id, deleted).await.unwrap(), "nothing to delete");
    assert_eq!(db.audit_head(org.id).await.unwrap().unwrap().seq, seq_after_delete, "and nothing audited");
    assert_eq!(db.webhook(org.id).await.unwrap(), None);
    assert_eq!(db.webhook_cursor(org.id).await.unwrap(), None);
    assert!(db.webhooks().await.unwrap().is_empty());
}

async fn each_event_is_claimed_once_however_many_instances_race(t: TestDb) {
    let db: Arc<Database> = Arc::clone(&t.db);
    let (org, _) = bootstrap(&db).await;
    let now = Utc::now();
    let webhook = hook(org.id, "https://a.test/", WebhookEvent::ALL.to_vec(), now);
    db.put_webhook(webhook.clone(), set_record(org.id)).await.unwrap();
    let start = db.webhook_cursor(org.id).await.unwrap().unwrap();
    let deliveries = approvals(&db, &webhook, 5, now).await;
    let through = deliveries.last().unwrap().audit_seq;

    // Eight "instances" read the same cursor and events and claim them with their own row IDs.
    let racers = (0..8).map(|_| {
        let db = Arc::clone(&db);
        let mine: Vec<NewDelivery> =
            deliveries.iter().cloned().map(|d| NewDelivery { id: uuid::Uuid::now_v7(), ..d }).collect();
        tokio::spawn(async move { db.claim_deliveries(org.id, mine, through).await.unwrap() })
    });
    let claimed: u64 = futures::future::join_all(racers).await.into_iter().map(Result::unwrap).sum();
    assert_eq!(claimed, 5, "each event claimed exactly once");
    assert_eq!(db.webhook_cursor(org.id).await.unwrap(), Some(through));
    assert_eq!(db.claim_deliveries(org.id, deliveries.clone(), through).await.unwrap(), 0);

    let log = db.webhook_deliveries(org.id, 50).await.unwrap();
    let seqs: Vec<u64> = log.iter().map(|d| d.audit_seq).collect();
    let expected: Vec<u64> = (start + 1..=through).rev().collect();
    assert_eq!(seqs, expected, "newest first");
    let newest = &log[0];
    assert_eq!(
        (newest.status, newest.attempts, newest.event),
        (DeliveryStatus::Pending, 0, WebhookEvent::ApprovalApproved)
    );
    assert_eq!(newest.key(), format!("{}:{through}", org.id));
    assert_eq!(newest.approval_request_id.as_deref(), Some("r-1"));
    assert_eq!(newest.payload, deliveries.last().unwrap().payload);
    assert_eq!(db.webhook_deliveries(org.id, 2).await.unwrap().len(), 2);

    // Moving the cursor without deliveries (events nobody subscribed to) and never backwards.
    let quiet = approval_event(&db, org.id, "approval.vote_recorded").await;
    assert_eq!(db.claim_deliveries(org.id, vec![], quiet.seq).await.unwrap(), 0);
    assert_eq!(db.claim_deliveries(org.id, vec![], start).await.unwrap(), 0);
    assert_eq!(db.webhook_cursor(org.id).await.unwrap(), Some(quiet.seq));
}

async fn each_attempt_is_taken_by_one_instance_and_logged(t: TestDb) {
    let db: Arc<Database> = Arc::clone(&t.db);
    let (org, _) = bootstrap(&db).await;
    let now = Utc::now();
    let webhook = hook(org.id, "https://a.test/", WebhookEvent::ALL.to_vec(), now);
    db.put_webhook(webhook.clone(), set_record(org.id)).await.unwrap();
    let deliveries = approvals(&db, &webhook, 1, now).await;
    let through = deliveries[0].audit_seq;
    db.claim_deliveries(org.id, deliveries, through).await.unwrap();

    assert!(db.take_due_deliveries(now - Duration::seconds(1), now, 10).await.unwrap().is_empty(), "not due yet");
    let lease = now + Duration::seconds(30);
    let racers = (0..6).map(|_| {
        let db = Arc::clone(&db);
        tokio::spawn(async move { db.take_due_deliveries(now, lease, 10).await.unwrap() })
    });
    let taken: Vec<_> = futures::future::join_all(racers).await.into_iter().flat_map(Result::unwrap).collect();
    assert_eq!(taken.len(), 1, "one instance takes the attempt");
    let delivery = taken[0].clone();
    assert_eq!(delivery.next_attempt_at.map(|t| t.timestamp()), Some(lease.timestamp()));
    assert!(db.take_due_deliveries(now + Duration::seconds(29), lease, 10).await.unwrap().is_empty(), "leased");

    let refused = AttemptResult::Refused { status_code: Some(500), error: "HTTP 500".into() };
    let first = after_attempt(0, refused, now, 3);
    assert!(db.record_attempt(delivery.id, 0, first.clone()).await.unwrap());
    assert!(!db.record_attempt(delivery.id, 0, first).await.unwrap(), "an attempt is recorded once");
    let logged = &db.webhook_deliveries(org.id, 1).await.unwrap()[0];
    assert_eq!((logged.status, logged.attempts, logged.last_status_code), (DeliveryStatus::Pending, 1, Some(500)));
    assert_eq!(logged.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(logged.next_attempt_at.map(|t| t.timestamp()), Some((now + Duration::seconds(2)).timestamp()));

    // A sender that took an attempt and vanished: its lease runs out and the attempt is retried.
    let again = db.take_due_deliveries(now + Duration::seconds(3), now + Duration::seconds(33), 10).await.unwrap();
    assert_eq!(again.len(), 1);
    let lost = db.take_due_deliveries(now + Duration::seconds(34), now + Duration::seconds(64), 10).await.unwrap();
    assert_eq!(lost.len(), 1, "an expired lease is taken again");
    let accepted = after_attempt(1, AttemptResult::Accepted { status_code: 204 }, now + Duration::seconds(35), 3);
    assert!(db.record_attempt(delivery.id, 1, accepted).await.unwrap());
    let logged = &db.webhook_deliveries(org.id, 1).await.unwrap()[0];
    assert_eq!((logged.status, logged.attempts, logged.last_status_code), (DeliveryStatus::Delivered, 2, Some(204)));
    assert_eq!((logged.last_error.clone(), logged.next_attempt_at), (None, None));
    assert!(logged.delivered_at.is_some());
    assert!(db.take_due_deliveries(now + Duration::days(1), now + Duration::days(2), 10).await.unwrap().is_empty());
}

async fn removing_the_webhook_fails_pending_deliveries_and_stops_claims(t: TestDb) {
    let db = &t.db;
    let (org, _) = bootstrap(db).await;
    let now = Utc::now();
    let webhook = hook(org.id, "https://a.test/", WebhookEvent::ALL.to_vec(), now);
    db.put_webhook(webhook.clone(), set_record(org.id)).await.unwrap();
    let deliveries = approvals(db, &webhook, 2, now).await;
    let through = deliveries[1].audit_seq;
    db.claim_deliveries(org.id, deliveries[..1].to_vec(), deliveries[0].audit_seq).await.unwrap();
    let delivered = db.take_due_deliveries(now, now + Duration::seconds(30), 10).await.unwrap();
    let accepted = after_attempt(0, AttemptResult::Accepted { status_code: 200 }, now, 3);
    db.record_attempt(delivered[0].id, 0, accepted).await.unwrap();
    db.claim_deliveries(org.id, deliveries[1..].to_vec(), through).await.unwrap();

    assert!(db.delete_webhook(org.id, AuditRecord::new(Actor::System, "org.webhook.deleted")).await.unwrap());
    let log = db.webhook_deliveries(org.id, 10).await.unwrap();
    assert_eq!(log.iter().map(|d| d.status).collect::<Vec<_>>(), [DeliveryStatus::Failed, DeliveryStatus::Delivered]);
    assert!(log[0].last_error.as_deref().unwrap().contains("removed"), "{:?}", log[0].last_error);
    assert_eq!(log[0].next_attempt_at, None);
    assert!(db.take_due_deliveries(now + Duration::days(1), now + Duration::days(2), 10).await.unwrap().is_empty());

    let late = approvals(db, &webhook, 1, now).await;
    assert_eq!(db.claim_deliveries(org.id, late.clone(), late[0].audit_seq).await.unwrap(), 0, "no cursor, no claim");

    db.put_webhook(webhook, set_record(org.id)).await.unwrap();
    let head = db.audit_head(org.id).await.unwrap().unwrap().seq;
    assert_eq!(db.webhook_cursor(org.id).await.unwrap(), Some(head), "a webhook set again starts at the head again");
    assert_eq!(db.claim_deliveries(org.id, late, head).await.unwrap(), 0, "events before it are not delivered");
}

on_both_databases! {
    the_webhook_and_its_audit_event_are_written_together,
    each_event_is_claimed_once_however_many_instances_race,
    each_attempt_is_taken_by_one_instance_and_logged,
    removing_the_webhook_fails_pending_deliveries_and_stops_claims,
}
