//! The session and ceremony store conformance suite: the same tests on Redis and in process.

use chrono::{DateTime, Duration, Utc};
use keyward_domain::ceremony::{Ceremony, CeremonyPurpose};
use keyward_domain::ids::{CeremonyId, MemberId, OrgId};
use keyward_domain::session::{
    AuthMethod, MAX_SESSIONS_PER_MEMBER, NewSession, Session, SessionLifetimes, SessionStage, SessionToken, TokenHash,
};
use keyward_domain::store::{CeremonyStore, SessionStore};

trait Stores: SessionStore + CeremonyStore {}
impl<T: SessionStore + CeremonyStore> Stores for T {}

const LIFETIMES: SessionLifetimes =
    SessionLifetimes { absolute: Duration::hours(12), idle: Duration::minutes(30), pending: Duration::minutes(10) };

fn token(org: OrgId) -> SessionToken {
    SessionToken::from_random(org, rand::random())
}

fn new_session(org: OrgId, member: MemberId) -> NewSession {
    keyward_testkit::member_sso_session(token(org).hash(), org, member)
}

/// A session confirmed with a security key (through a rotation, as the key step does).
async fn start_keyed(store: &dyn Stores, org: OrgId, member: MemberId, now: DateTime<Utc>) -> Session {
    let pending = start(store, org, member, now).await;
    let mut keyed = pending.clone();
    keyed.token_hash = token(org).hash();
    keyed.key_id = Some(keyward_domain::ids::SecurityKeyId::new());
    keyed.mfa_verified_at = Some(now);
    assert!(store.replace(&pending.token_hash, &keyed, now).await.unwrap());
    keyed
}

async fn start(store: &dyn Stores, org: OrgId, member: MemberId, now: DateTime<Utc>) -> Session {
    store.create(new_session(org, member), LIFETIMES, now).await.unwrap().session
}

async fn is_live(store: &dyn Stores, s: &Session, now: DateTime<Utc>) -> bool {
    store.lookup(s.org_id, &s.token_hash, now).await.unwrap().is_some()
}

async fn create_and_lookup(store: &dyn Stores) {
    let (org, member, now) = (OrgId::new(), MemberId::new(), Utc::now());
    let created = start(store, org, member, now).await;
    let found = store.lookup(org, &created.token_hash, now).await.unwrap().unwrap();
    assert_eq!(found.member_id, member);
    assert_eq!(found.stage, SessionStage::Authenticated);
    assert_eq!(found.methods, vec![AuthMethod::Sso]);
    assert_eq!(found.created_at.timestamp_millis(), now.timestamp_millis());
    assert!(store.lookup(org, &TokenHash("unknown".into()), now).await.unwrap().is_none());
    assert!(store.lookup(OrgId::new(), &created.token_hash, now).await.unwrap().is_none(), "another org's prefix");
}

async fn idle_expiry_and_touch(store: &dyn Stores) {
    let (org, member, now) = (OrgId::new(), MemberId::new(), Utc::now());
    let s = start(store, org, member, now).await;
    // Each request within the idle timeout moves the deadline on.
    let mut at = now;
    for _ in 0..4 {
        at += Duration::minutes(20);
        let seen = store.lookup(org, &s.token_hash, at).await.unwrap().expect("still live");
        assert_eq!(seen.last_seen_at.timestamp_millis(), at.timestamp_millis(), "touched");
    }
    assert!(!is_live(store, &s, at + Duration::minutes(30)).await, "idle timeout");
    // A lookup within the touch granularity does not write.
    let quiet = start(store, org, member, now).await;
    let seen = store.lookup(org, &quiet.token_hash, now + Duration::seconds(10)).await.unwrap().unwrap();
    assert_eq!(seen.last_seen_at.timestamp_millis(), now.timestamp_millis());
}

async fn absolute_expiry(store: &dyn Stores) {
    let (org, member, now) = (OrgId::new(), MemberId::new(), Utc::now());
    let s = start(store, org, member, now).await;
    // Busy all day: every 25 minutes, until just before the 12-hour limit.
    let mut at = now;
    while at + Duration::minutes(25) < now + Duration::hours(12) {
        at += Duration::minutes(25);
        assert!(is_live(store, &s, at).await);
    }
    assert!(!is_live(store, &s, now + Duration::hours(12)).await, "absolute lifetime");
}

async fn replace_rotates_and_keeps_epochs(store: &dyn Stores) {
    let (org, member, now) = (OrgId::new(), MemberId::new(), Utc::now());
    let old = start(store, org, member, now).await;
    let mut next = old.clone();
    next.token_hash = token(org).hash();
    next.stage = SessionStage::Authenticated;
    next.methods.push(AuthMethod::SecurityKey);
    next.mfa_verified_at = Some(now);
    assert!(store.replace(&old.token_hash, &next, now).await.unwrap());
    assert!(!is_live(store, &old, now).await, "the old token stops working");
    let found = store.lookup(org, &next.token_hash, now).await.unwrap().unwrap();
    assert_eq!(found.stage, SessionStage::Authenticated);
    assert_eq!(found.methods, vec![AuthMethod::Sso, AuthMethod::SecurityKey]);
    assert!(!store.replace(&old.token_hash, &next, now).await.unwrap(), "a dead session cannot be replaced");
    assert_eq!(store.live_sessions(org, now).await.unwrap(), 1);
}

async fn revoke_one(store: &dyn Stores) {
    let (org, member, now) = (OrgId::new(), MemberId::new(), Utc::now());
    let a = start(store, org, member, now).await;
    let b = start(store, org, member, now).await;
    assert!(store.revoke(org, &a.token_hash, now).await.unwrap());
    assert!(!store.revoke(org, &a.token_hash, now).await.unwrap());
    assert!(!is_live(store, &a, now).await);
    assert!(is_live(store, &b, now).await);
    assert_eq!(store.live_sessions(org, now).await.unwrap(), 1);
}

async fn revoke_member_keeps_one_and_spares_others(store: &dyn Stores) {
    let (org, now) = (OrgId::new(), Utc::now());
    let (alice, bob) = (MemberId::new(), MemberId::new());
    let a1 = start(store, org, alice, now).await;
    let a2 = start(store, org, alice, now).await;
    let a3 = start(store, org, alice, now).await;
    let b1 = start(store, org, bob, now).await;
    assert_eq!(store.live_sessions_of(org, &[alice, bob], now).await.unwrap(), vec![3, 1]);
    assert_eq!(store.revoke_member(org, alice, Some(&a3.token_hash), now).await.unwrap(), 2);
    assert!(!is_live(store, &a1, now).await);
    assert!(!is_live(store, &a2, now).await);
    assert!(is_live(store, &a3, now).await, "kept");
    assert!(is_live(store, &b1, now).await, "other members untouched");
    assert_eq!(store.live_sessions_of(org, &[alice, bob], now).await.unwrap(), vec![1, 1]);
    assert_eq!(store.revoke_member(org, alice, None, now).await.unwrap(), 1);
    assert!(!is_live(store, &a3, now).await);
    let fresh = start(store, org, alice, now).await;
    assert!(is_live(store, &fresh, now).await, "new sessions carry the new epoch");
    assert_eq!(store.live_sessions(org, now).await.unwrap(), 2);
}

async fn revoke_org_keeps_exactly_one(store: &dyn Stores) {
    let (org, other_org, now) = (OrgId::new(), OrgId::new(), Utc::now());
    let admin = MemberId::new();
    let keep = start(store, org, admin, now).await;
    let mut doomed = Vec::new();
    for _ in 0..20 {
        doomed.push(start(store, org, MemberId::new(), now).await);
    }
    let outsider = start(store, other_org, MemberId::new(), now).await;
    assert_eq!(store.live_sessions(org, now).await.unwrap(), 21);
    assert_eq!(store.revoke_org(org, Some(&keep.token_hash), now).await.unwrap(), 20);
    for s in &doomed {
        assert!(!is_live(store, s, now).await);
    }
    assert!(is_live(store, &keep, now).await, "the acting admin's session survives");
    assert!(is_live(store, &outsider, now).await, "other organizations are untouched");
    assert_eq!(store.live_sessions(org, now).await.unwrap(), 1);
    assert_eq!(store.live_sessions_of(org, &[admin, doomed[0].member_id], now).await.unwrap(), vec![1, 0]);
    // Idempotent: nothing else to revoke.
    assert_eq!(store.revoke_org(org, Some(&keep.token_hash), now).await.unwrap(), 0);
    assert!(is_live(store, &keep, now).await);
    // The kept session still rotates and can be revoked normally.
    let mut next = keep.clone();
    next.token_hash = token(org).hash();
    assert!(store.replace(&keep.token_hash, &next, now).await.unwrap());
    assert_eq!(store.revoke_org(org, None, now).await.unwrap(), 1);
    assert_eq!(store.live_sessions(org, now).await.unwrap(), 0);
}

async fn expired_sessions_are_not_counted(store: &dyn Stores) {
    let (org, member, now) = (OrgId::new(), MemberId::new(), Utc::now());
    start(store, org, member, now).await;
    start(store, org, member, now + Duration::minutes(20)).await;
    let later = now + Duration::minutes(35);
    assert_eq!(store.live_sessions(org, later).await.unwrap(), 1);
    assert_eq!(store.live_sessions_of(org, &[member], later).await.unwrap(), vec![1]);
    assert_eq!(store.revoke_org(org, None, later).await.unwrap(), 1);
}

async fn revoke_keyless_spares_key_confirmed_sessions(store: &dyn Stores) {
    let (org, other_org, now) = (OrgId::new(), OrgId::new(), Utc::now());
    let keyless = start(store, org, MemberId::new(), now).await;
    let keyed = start_keyed(store, org, MemberId::new(), now).await;
    let outsider = start(store, other_org, MemberId::new(), now).await;
    store.revoke_keyless(org, now).await.unwrap();
    assert!(!is_live(store, &keyless, now).await, "a session no key confirmed ends");
    assert!(is_live(store, &keyed, now).await, "a key-confirmed session stays");
    assert!(is_live(store, &outsider, now).await, "other organizations are untouched");
    let fresh = start(store, org, MemberId::new(), now).await;
    assert!(is_live(store, &fresh, now).await, "new sessions carry the new keyless epoch");
    // A keyless session that later touches a key keeps living after the next bump.
    let promoted = start_keyed(store, org, fresh.member_id, now).await;
    store.revoke_keyless(org, now).await.unwrap();
    assert!(is_live(store, &promoted, now).await);
}

async fn keyless_sessions_are_counted_before_they_end(store: &dyn Stores) {
    let (org, now) = (OrgId::new(), Utc::now());
    assert_eq!(store.count_keyless(org, now).await.unwrap(), 0);
    for _ in 0..3 {
        start(store, org, MemberId::new(), now).await;
    }
    start_keyed(store, org, MemberId::new(), now).await;
    start(store, OrgId::new(), MemberId::new(), now).await;
    let revoked = start(store, org, MemberId::new(), now).await;
    store.revoke(org, &revoked.token_hash, now).await.unwrap();
    assert_eq!(store.count_keyless(org, now).await.unwrap(), 3, "live, keyless and in this organization only");
    store.revoke_keyless(org, now).await.unwrap();
    assert_eq!(store.count_keyless(org, now).await.unwrap(), 0);
}

async fn a_members_sessions_are_listed_with_their_device(store: &dyn Stores) {
    let (org, alice, bob, now) = (OrgId::new(), MemberId::new(), MemberId::new(), Utc::now());
    let mut from_laptop = new_session(org, alice);
    from_laptop.facts.device = Some("Firefox 133 on Linux".into());
    from_laptop.facts.login_ip = Some("192.0.2.7".into());
    let laptop = store.create(from_laptop, LIFETIMES, now - chrono::Duration::minutes(5)).await.unwrap().session;
    let phone = start(store, org, alice, now).await;
    let ended = start(store, org, alice, now).await;
    store.revoke(org, &ended.token_hash, now).await.unwrap();
    start(store, org, bob, now).await;

    let listed = store.sessions_of(org, alice, 10, now).await.unwrap();
    let hashes: Vec<_> = listed.iter().map(|s| s.token_hash.clone()).collect();
    assert_eq!(hashes, vec![phone.token_hash.clone(), laptop.token_hash.clone()], "live ones, last seen first");
    assert_eq!(listed[1].facts.device.as_deref(), Some("Firefox 133 on Linux"));
    assert_eq!(listed[1].facts.login_ip.as_deref(), Some("192.0.2.7"));
    assert_eq!(store.sessions_of(org, alice, 1, now).await.unwrap().len(), 1, "at most the limit");
    store.revoke_member(org, alice, None, now).await.unwrap();
    assert!(store.sessions_of(org, alice, 10, now).await.unwrap().is_empty());
}

async fn pending_sessions_are_short_lived(store: &dyn Stores) {
    let (org, member, now) = (OrgId::new(), MemberId::new(), Utc::now());
    let mut new = new_session(org, member);
    new.stage = SessionStage::MfaRequired;
    let pending = store.create(new, LIFETIMES, now).await.unwrap().session;
    assert_eq!(pending.absolute_expires_at, now + LIFETIMES.pending);
    assert!(is_live(store, &pending, now + Duration::minutes(9)).await);
    assert!(!is_live(store, &pending, now + Duration::minutes(10)).await, "past session.pending_ttl");
}

fn ceremony(org: OrgId, session: Option<TokenHash>, now: DateTime<Utc>) -> Ceremony {
    Ceremony {
        id: CeremonyId::new(),
        org_id: org,
        session,
        purpose: CeremonyPurpose::StepUp {
            action: "security_key.delete".into(),
            resource: None,
            nonce: "n".into(),
            handoff: None,
        },
        state: serde_json::json!({"challenge": "xyz", "n": 1}),
        created_at: now,
        expires_at: now + Duration::minutes(5),
    }
}

async fn ceremonies_are_taken_once(store: &dyn Stores) {
    let (org, now) = (OrgId::new(), Utc::now());
    let owner = token(org).hash();
    let c = ceremony(org, Some(owner.clone()), now);
    store.put(&c, now).await.unwrap();
    assert!(store.take(OrgId::new(), c.id).await.unwrap().is_none(), "scoped to its org");
    let taken = store.take(org, c.id).await.unwrap().unwrap();
    assert_eq!(taken, c);
    assert!(store.take(org, c.id).await.unwrap().is_none(), "second take finds nothing");
    assert!(taken.claim("STEP_UP", Some(&owner), now).is_ok());
}

async fn concurrent_takes_yield_one_winner(store: &dyn Stores) {
    let (org, now) = (OrgId::new(), Utc::now());
    let c = ceremony(org, None, now);
    store.put(&c, now).await.unwrap();
    let takes = futures::future::join_all((0..10).map(|_| store.take(org, c.id))).await;
    assert_eq!(takes.into_iter().filter(|t| matches!(t, Ok(Some(_)))).count(), 1);
}

/// A counted take counts first: over the limit it refuses and leaves the ceremony alone; the
/// windows are the organization's own.
async fn counted_takes_refuse_over_the_limit_and_keep_the_ceremony(store: &dyn Stores) {
    use keyward_domain::rate_limit::Limit;
    use keyward_domain::store::Counted;
    let (org, now) = (OrgId::new(), Utc::now());
    let limits = [
        ("ceremony:m".to_owned(), Limit { max: 5, window_seconds: 60 }),
        ("ceremony-ip:10.0.0.1".to_owned(), Limit { max: 2, window_seconds: 60 }),
    ];
    for _ in 0..2 {
        let c = ceremony(org, None, now);
        store.put(&c, now).await.unwrap();
        match store.take_counted(org, c.id, &limits, now).await.unwrap() {
            Counted::Taken(Some(taken)) => assert_eq!(taken, c),
            other => panic!("expected the ceremony, got {other:?}"),
        }
    }
    let c = ceremony(org, None, now);
    store.put(&c, now).await.unwrap();
    match store.take_counted(org, c.id, &limits, now).await.unwrap() {
        Counted::RateLimited { retry_after_seconds } => assert!((1..=60).contains(&retry_after_seconds)),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(store.take(org, c.id).await.unwrap().is_some(), "a refused take leaves the ceremony");
    let elsewhere = OrgId::new();
    let missing = store.take_counted(elsewhere, CeremonyId::new(), &limits, now).await.unwrap();
    assert!(matches!(missing, Counted::Taken(None)), "another organization counts apart: {missing:?}");
}

keyward_testkit::on_both_stores! {
    create_and_lookup,
    counted_takes_refuse_over_the_limit_and_keep_the_ceremony,
    idle_expiry_and_touch,
    absolute_expiry,
    replace_rotates_and_keeps_epochs,
    revoke_one,
    revoke_member_keeps_one_and_spares_others,
    revoke_org_keeps_exactly_one,
    expired_sessions_are_not_counted,
    ceremonies_are_taken_once,
    concurrent_takes_yield_one_winner,
    revoke_keyless_spares_key_confirmed_sessions,
    pending_sessions_are_short_lived,
    keyless_sessions_are_counted_before_they_end,
    a_members_sessions_are_listed_with_their_device,
    a_member_keeps_at_most_the_cap_and_the_oldest_ends_first,
}

async fn a_member_keeps_at_most_the_cap_and_the_oldest_ends_first(store: &dyn Stores) {
    let (org, now) = (OrgId::new(), Utc::now());
    let (alice, bob) = (MemberId::new(), MemberId::new());
    let bobs = start(store, org, bob, now).await;
    let mut alices = Vec::new();
    for i in 0..MAX_SESSIONS_PER_MEMBER {
        alices.push(start(store, org, alice, now + Duration::milliseconds(i as i64)).await);
    }
    let later = now + Duration::seconds(1);
    assert_eq!(store.live_sessions_of(org, &[alice], later).await.unwrap(), vec![MAX_SESSIONS_PER_MEMBER as u64]);
    let created = store.create(new_session(org, alice), LIFETIMES, later).await.unwrap();
    assert_eq!(created.evicted, 1, "the answer says one session ended to make room");
    let newest = created.session;
    assert_eq!(store.create(new_session(org, bob), LIFETIMES, later).await.unwrap().evicted, 0, "bob is far below");
    assert!(!is_live(store, &alices[0], later).await, "the oldest ended");
    assert!(is_live(store, &alices[1], later).await, "only the oldest");
    assert!(is_live(store, &newest, later).await);
    assert!(is_live(store, &bobs, later).await, "another member's sessions do not count");
    assert_eq!(
        store.live_sessions_of(org, &[alice, bob], later).await.unwrap(),
        vec![MAX_SESSIONS_PER_MEMBER as u64, 2]
    );
}

/// Redis keeps nothing forever: after every kind of write, each key of the namespace has a TTL,
/// and the indexes shed expired entries.
#[tokio::test]
async fn redis_keys_all_expire_and_indexes_shed_expired_entries() {
    let store = keyward_testkit::redis_store().await;
    let (org, now) = (OrgId::new(), Utc::now());
    let (alice, bob) = (MemberId::new(), MemberId::new());
    let a1 = start(&store, org, alice, now).await;
    start(&store, org, alice, now).await;
    let b1 = start_keyed(&store, org, bob, now).await;
    store.revoke_member(org, alice, Some(&a1.token_hash), now).await.unwrap();
    store.revoke_keyless(org, now).await.unwrap();
    store.revoke_org(org, Some(&b1.token_hash), now).await.unwrap();
    store.put(&ceremony(org, None, now), now).await.unwrap();
    keyward_domain::rate_limit::check(
        &store,
        "ttl-test",
        keyward_domain::rate_limit::Limit { max: 5, window_seconds: 60 },
        now,
    )
    .await
    .unwrap();
    // A session created much later finds the old entries expired and drops them from the indexes.
    let later = now + Duration::hours(13);
    let fresh = start(&store, org, alice, later).await;

    let client = ::redis::Client::open(keyward_testkit::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let pattern = format!("{}:*", store.namespace());
    let keys: Vec<String> = ::redis::cmd("KEYS").arg(&pattern).query_async(&mut conn).await.unwrap();
    for expected in ["epoch", "ke", "live", "mh", &format!("me:{}", alice.0.simple())] {
        assert!(keys.iter().any(|k| k.ends_with(&format!("}}:{expected}"))), "{expected} missing from {keys:?}");
    }
    for key in &keys {
        let ttl: i64 = ::redis::cmd("PTTL").arg(key).query_async(&mut conn).await.unwrap();
        // -1 is a key without a TTL, the fault looked for. -2 is a key that expired after KEYS
        // listed it (a short-lived `dead:` marker, seen on a slow run), which is no fault.
        assert!(ttl > 0 || ttl == -2, "{key} has no TTL ({ttl})");
    }
    let live_key = format!("{}live", store.prefix(org));
    let indexed: Vec<String> =
        ::redis::cmd("ZRANGE").arg(&live_key).arg(0).arg(-1).query_async(&mut conn).await.unwrap();
    assert_eq!(indexed, vec![fresh.token_hash.key().to_owned()], "expired entries are trimmed from the live index");
    let members_key = format!("{}mh", store.prefix(org));
    let indexed: Option<String> =
        ::redis::cmd("HGET").arg(&members_key).arg(alice.0.simple().to_string()).query_async(&mut conn).await.unwrap();
    assert_eq!(indexed.as_deref(), Some(fresh.token_hash.key()), "and from the member's keys");
    store.delete_namespace().await.unwrap();
}

/// A session lookup, epochs included, is one Redis round trip, and only hashes of tokens are
/// stored. A session this instance knows is read with one `MGET` (no script) until its touch is
/// due; then, and for a session it has not seen, the lookup script runs instead.
#[tokio::test]
async fn redis_lookup_is_one_round_trip_and_stores_only_hashes() {
    let proxy = keyward_testkit::proxy::TcpProxy::start(&keyward_testkit::redis_url()).await;
    let namespace = format!("kwt_rt_{}", uuid::Uuid::new_v4().simple());
    let store =
        keyward_storage::RedisStore::connect(&proxy.rewrite(&keyward_testkit::redis_url()), &namespace).await.unwrap();
    let (org, member, now) = (OrgId::new(), MemberId::new(), Utc::now());
    let raw = token(org);
    let mut new = new_session(org, member);
    new.token_hash = raw.hash();
    store.create(new, LIFETIMES, now).await.unwrap();
    proxy.reset();
    store.lookup(org, &raw.hash(), now + Duration::seconds(1)).await.unwrap().unwrap();
    assert_eq!(proxy.round_trips(), 1, "lookup with epoch checks");
    assert_eq!(proxy.work(), [["MGET"]], "{:?}", proxy.log());
    proxy.reset();
    store.lookup(org, &raw.hash(), now + Duration::minutes(5)).await.unwrap().unwrap();
    // `work` leaves out a first call's NOSCRIPT and SCRIPT LOAD, which say nothing about the code.
    assert_eq!(proxy.work(), [["EVALSHA"]], "lookup that also touches: {:?}", proxy.log());
    proxy.reset();
    store.lookup(org, &raw.hash(), now + Duration::minutes(6)).await.unwrap().unwrap();
    assert_eq!(proxy.work(), [["MGET"]], "after the touch: {:?}", proxy.log());
    let other_instance =
        keyward_storage::RedisStore::connect(&proxy.rewrite(&keyward_testkit::redis_url()), &namespace).await.unwrap();
    proxy.reset();
    other_instance.lookup(org, &raw.hash(), now + Duration::minutes(6)).await.unwrap().unwrap();
    assert_eq!(proxy.work(), [["EVALSHA"]], "a session this instance never saw: {:?}", proxy.log());

    let client = ::redis::Client::open(keyward_testkit::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = ::redis::cmd("KEYS").arg(format!("{namespace}:*")).query_async(&mut conn).await.unwrap();
    assert!(keys.iter().any(|k| k.ends_with(&format!("s:{}", raw.hash().key()))));
    let exposed = raw.expose();
    let secret = exposed.rsplit('.').next().unwrap();
    for key in &keys {
        assert!(key.starts_with(&format!("{namespace}:{{{org}}}:")), "hash-tagged by org: {key}");
        assert!(!key.contains(secret), "raw token in key {key}");
        let kind: String = ::redis::cmd("TYPE").arg(key).query_async(&mut conn).await.unwrap();
        if kind == "string" {
            let value: String = ::redis::cmd("GET").arg(key).query_async(&mut conn).await.unwrap();
            assert!(!value.contains(secret), "raw token in {key}");
        }
    }
    store.delete_namespace().await.unwrap();
}

/// A lookup without the script still sees every epoch another instance moved, at once: the
/// member's, the organization's and the keyless one, each bumped here in Redis directly (as a
/// revocation's script does before its purge has deleted the records).
#[tokio::test]
async fn redis_fast_lookup_sees_epochs_moved_elsewhere() {
    let namespace = format!("kwt_fast_{}", uuid::Uuid::new_v4().simple());
    let store = keyward_storage::RedisStore::connect(&keyward_testkit::redis_url(), &namespace).await.unwrap();
    let client = ::redis::Client::open(keyward_testkit::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let now = Utc::now();
    for epoch_key in ["me:{member}", "epoch", "ke"] {
        let (org, member) = (OrgId::new(), MemberId::new());
        let session = start(&store, org, member, now).await;
        assert!(is_live(&store, &session, now).await, "known and live");
        let key = format!("{}:{{{org}}}:{}", namespace, epoch_key.replace("{member}", &member.0.simple().to_string()));
        let _: u64 = ::redis::cmd("INCR").arg(&key).query_async(&mut conn).await.unwrap();
        assert!(!is_live(&store, &session, now + Duration::seconds(1)).await, "{epoch_key} moved");
        assert!(!is_live(&store, &session, now + Duration::seconds(2)).await, "and it stays ended");
    }
    store.delete_namespace().await.unwrap();
}

mod rate_limits {
    use chrono::Utc;
    use keyward_domain::DomainError;
    use keyward_domain::rate_limit::{Limit, RateLimiter, check};

    async fn windows_count_and_refuse(limiter: &dyn RateLimiter) {
        let limit = Limit { max: 3, window_seconds: 60 };
        let bucket = format!("login:{}", uuid::Uuid::new_v4());
        let now = Utc::now();
        for _ in 0..3 {
            check(limiter, &bucket, limit, now).await.unwrap();
        }
        match check(limiter, &bucket, limit, now).await {
            Err(DomainError::RateLimited { retry_after_seconds }) => assert!((1..=60).contains(&retry_after_seconds)),
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        check(limiter, &format!("{bucket}:other"), limit, now).await.unwrap();
    }

    /// Successes are given back: only failures use up a failure budget.
    async fn only_failures_count(limiter: &dyn RateLimiter) {
        use keyward_domain::rate_limit::FailureBudget;
        let limit = Limit { max: 2, window_seconds: 60 };
        let buckets = [(format!("secret:{}", uuid::Uuid::new_v4()), limit)];
        let now = Utc::now();
        for _ in 0..10 {
            FailureBudget::take(limiter, &buckets, now).await.unwrap().succeeded().await.unwrap();
        }
        FailureBudget::take(limiter, &buckets, now).await.unwrap().failed();
        FailureBudget::take(limiter, &buckets, now).await.unwrap().failed();
        for _ in 0..3 {
            assert!(matches!(FailureBudget::take(limiter, &buckets, now).await, Err(DomainError::RateLimited { .. })));
        }
    }

    #[tokio::test]
    async fn redis() {
        let store = keyward_testkit::redis_store().await;
        windows_count_and_refuse(&store).await;
        only_failures_count(&store).await;
        store.delete_namespace().await.unwrap();
    }

    #[tokio::test]
    async fn redis_cluster() {
        let store = keyward_testkit::redis_cluster_store().await;
        windows_count_and_refuse(&store).await;
        only_failures_count(&store).await;
        store.delete_namespace().await.unwrap();
    }

    #[tokio::test]
    async fn memory() {
        windows_count_and_refuse(&keyward_testkit::memory_store()).await;
        only_failures_count(&keyward_testkit::memory_store()).await;
    }
}
