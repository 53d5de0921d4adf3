//! The hand-off store conformance suite: the same tests on Redis and in process.

use chrono::{DateTime, Duration, Utc};
use keyward_domain::StoreError;
use keyward_domain::handoff::{
    BoundSession, DEFAULT_TTL, Handoff, HandoffId, HandoffKind, HandoffResult, NewHandoff, POLL_SECRET_BYTES,
};
use keyward_domain::ids::{MemberId, OrgId};
use keyward_domain::session::TokenHash;
use keyward_domain::store::HandoffStore;

fn login(now: DateTime<Utc>) -> NewHandoff {
    Handoff::create(
        HandoffKind::Login,
        None,
        rand::random(),
        rand::random::<[u8; POLL_SECRET_BYTES]>(),
        now,
        DEFAULT_TTL,
    )
}

fn result(token: &str) -> HandoffResult {
    HandoffResult {
        org_id: OrgId::new(),
        member_id: MemberId::new(),
        session_token: Some(token.to_owned()),
        token: None,
        grant: Some(serde_json::json!({ "action": "cli.login" })),
    }
}

async fn pending_then_completed_once_then_delivered_once(store: &dyn HandoffStore) {
    let now = Utc::now();
    let kind =
        HandoffKind::StepUp { action: "security_key.delete".into(), resource: Some("k:1".into()), want_token: true };
    let bound = BoundSession { org_id: OrgId::new(), member_id: MemberId::new(), token_hash: TokenHash("cli".into()) };
    let new = Handoff::create(kind, Some(bound), rand::random(), rand::random(), now, DEFAULT_TTL);
    let h = new.handoff;
    store.create_handoff(&h, now).await.unwrap();
    assert_eq!(store.handoff(h.id, now).await.unwrap().as_ref(), Some(&h), "kept as created");
    assert_eq!(store.take_completed_handoff(h.id, now).await.unwrap(), None, "nothing to deliver while pending");
    assert!(store.handoff(h.id, now).await.unwrap().is_some(), "a take while pending leaves it in place");

    assert!(store.complete_handoff(h.id, &result("first"), now).await.unwrap());
    assert!(!store.complete_handoff(h.id, &result("second"), now).await.unwrap(), "completed once");
    let completed = store.handoff(h.id, now).await.unwrap().unwrap();
    assert_eq!(completed.result.as_ref().and_then(|r| r.session_token.as_deref()), Some("first"));

    let taken = store.take_completed_handoff(h.id, now).await.unwrap().unwrap();
    assert_eq!(taken, completed);
    assert_eq!(store.take_completed_handoff(h.id, now).await.unwrap(), None, "delivered once");
    assert_eq!(store.handoff(h.id, now).await.unwrap(), None, "gone after delivery");
    assert!(!store.complete_handoff(h.id, &result("late"), now).await.unwrap());
}

async fn expired_hand_offs_are_gone(store: &dyn HandoffStore) {
    let now = Utc::now();
    let h = login(now).handoff;
    store.create_handoff(&h, now).await.unwrap();
    let end = h.expires_at;
    assert!(store.handoff(h.id, end - Duration::seconds(1)).await.unwrap().is_some());
    assert_eq!(store.handoff(h.id, end).await.unwrap(), None);
    assert!(!store.complete_handoff(h.id, &result("late"), end).await.unwrap(), "too late to approve");

    let done = login(now).handoff;
    store.create_handoff(&done, now).await.unwrap();
    assert!(store.complete_handoff(done.id, &result("t"), now).await.unwrap());
    assert_eq!(store.take_completed_handoff(done.id, done.expires_at).await.unwrap(), None, "too late to collect");
}

async fn unknown_and_duplicate_ids(store: &dyn HandoffStore) {
    let now = Utc::now();
    let unknown = HandoffId::new();
    assert_eq!(store.handoff(unknown, now).await.unwrap(), None);
    assert!(!store.complete_handoff(unknown, &result("t"), now).await.unwrap());
    assert_eq!(store.take_completed_handoff(unknown, now).await.unwrap(), None);
    let h = login(now).handoff;
    store.create_handoff(&h, now).await.unwrap();
    let mut clash = login(now).handoff;
    clash.id = h.id;
    assert!(matches!(store.create_handoff(&clash, now).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.handoff(h.id, now).await.unwrap().unwrap().user_code, h.user_code, "the first one stays");
}

async fn concurrent_completions_and_takes_have_one_winner(store: &dyn HandoffStore) {
    let now = Utc::now();
    let h = login(now).handoff;
    store.create_handoff(&h, now).await.unwrap();
    let results: Vec<HandoffResult> = (0..10).map(|i| result(&format!("t{i}"))).collect();
    let completions = futures::future::join_all(results.iter().map(|r| store.complete_handoff(h.id, r, now))).await;
    assert_eq!(completions.into_iter().filter(|c| matches!(c, Ok(true))).count(), 1);
    let takes = futures::future::join_all((0..10).map(|_| store.take_completed_handoff(h.id, now))).await;
    assert_eq!(takes.into_iter().filter(|t| matches!(t, Ok(Some(_)))).count(), 1);
}

keyward_testkit::on_both_stores! {
    pending_then_completed_once_then_delivered_once,
    expired_hand_offs_are_gone,
    unknown_and_duplicate_ids,
    concurrent_completions_and_takes_have_one_winner,
}

/// In Redis every hand-off key lives under the store's namespace with a TTL no longer than the
/// hand-off, completing keeps that TTL, and the poll secret is never stored.
#[tokio::test]
async fn redis_hand_off_keys_expire_with_the_hand_off_and_hold_no_secret() {
    let store = keyward_testkit::redis_store().await;
    let now = Utc::now();
    let new = login(now);
    store.create_handoff(&new.handoff, now).await.unwrap();
    assert!(store.complete_handoff(new.handoff.id, &result("t"), now).await.unwrap());

    let client = ::redis::Client::open(keyward_testkit::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        ::redis::cmd("KEYS").arg(format!("{}:*", store.namespace())).query_async(&mut conn).await.unwrap();
    assert_eq!(keys, vec![format!("{}:{{ho:{}}}", store.namespace(), new.handoff.id.0.simple())]);
    let ttl: i64 = ::redis::cmd("PTTL").arg(&keys[0]).query_async(&mut conn).await.unwrap();
    assert!(ttl > 0 && ttl <= DEFAULT_TTL.num_milliseconds(), "TTL {ttl}");
    let values: Vec<String> = ::redis::cmd("HVALS").arg(&keys[0]).query_async(&mut conn).await.unwrap();
    assert!(values.iter().all(|v| !v.contains(&new.poll_secret)), "poll secret stored: {values:?}");
    assert!(store.take_completed_handoff(new.handoff.id, now).await.unwrap().is_some());
    let left: Vec<String> =
        ::redis::cmd("KEYS").arg(format!("{}:*", store.namespace())).query_async(&mut conn).await.unwrap();
    assert!(left.is_empty(), "delivery deletes the key: {left:?}");
    store.delete_namespace().await.unwrap();
}
