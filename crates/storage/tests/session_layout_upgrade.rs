//! Upgrading over live sessions: a session written by an earlier version keeps working. Layout 1
//! kept a Redis hash under the full token hash, indexed by member in an `ml:<member>` zset; layout
//! 2 kept the record under its key, still indexed in `ml:<member>`. A session's first lookup moves
//! it to the current layout, and the first read of a member's sessions (a count, a listing, a
//! revocation, a new login) folds the member's old index into `mh`; until then every script reads
//! the old forms, so revocations and listings still find them.

use chrono::{DateTime, Duration, Utc};
use keyward_domain::ids::{MemberId, OrgId, SecurityKeyId};
use keyward_domain::session::{SessionLifetimes, SessionStage, SessionToken, TokenHash};
use keyward_domain::store::SessionStore;
use keyward_storage::RedisStore;
use redis::aio::MultiplexedConnection;

async fn connection() -> MultiplexedConnection {
    redis::Client::open(keyward_testkit::redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap()
}

/// Writes a session the way layout 1 did: hash fields under `s:<full hash>`, indexed by the full hash.
async fn write_layout_1(store: &RedisStore, org: OrgId, member: MemberId, now: DateTime<Utc>) -> TokenHash {
    let hash = SessionToken::from_random(org, rand::random()).hash();
    let prefix = store.prefix(org);
    let (ms, member_id) = (now.timestamp_millis(), member.0.simple().to_string());
    let deadline = ms + 1_800_000;
    let key = SecurityKeyId::new().0.simple().to_string();
    let mut conn = connection().await;
    let _: () = redis::cmd("HSET")
        .arg(format!("{prefix}s:{}", hash.0))
        .arg(&[("m", member_id.as_str()), ("r", "M"), ("st", "A"), ("mt", "SK"), ("it", "1800")])
        .arg(&[("c", ms.to_string()), ("ls", ms.to_string()), ("ab", (ms + 43_200_000).to_string())])
        .arg(&[("mv", ms.to_string()), ("k", key), ("g", String::new())])
        .arg(&[("u", "alice|ops 100%"), ("ip", "10.0.0.7"), ("dv", "Firefox on Linux")])
        .arg(&[("oe", "0"), ("me", "0"), ("ke", "0")])
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () =
        redis::cmd("PEXPIRE").arg(format!("{prefix}s:{}", hash.0)).arg(1_800_000).query_async(&mut conn).await.unwrap();
    for index in ["live".to_owned(), format!("ml:{member_id}")] {
        let _: () = redis::cmd("ZADD")
            .arg(format!("{prefix}{index}"))
            .arg(deadline)
            .arg(&hash.0)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    hash
}

/// An SSO session for `member`, created by the current version; returns its hash.
async fn sso_login(store: &RedisStore, org: OrgId, member: MemberId, now: DateTime<Utc>) -> TokenHash {
    let new = keyward_testkit::member_sso_session(SessionToken::from_random(org, rand::random()).hash(), org, member);
    let lifetimes =
        SessionLifetimes { absolute: Duration::hours(12), idle: Duration::minutes(30), pending: Duration::minutes(10) };
    store.create(new, lifetimes, now).await.unwrap().session.token_hash
}

async fn key_type(key: &str) -> String {
    redis::cmd("TYPE").arg(key).query_async(&mut connection().await).await.unwrap()
}

/// The member's entry in `mh`: their session keys back to back.
async fn member_keys(store: &RedisStore, org: OrgId, member: MemberId) -> Option<String> {
    let key = format!("{}mh", store.prefix(org));
    redis::cmd("HGET").arg(key).arg(member.0.simple().to_string()).query_async(&mut connection().await).await.unwrap()
}

/// Turns a session the current version wrote into one layout 2 wrote: the member's keys back in an
/// `ml:<member>` zset, by deadline.
async fn index_as_layout_2(store: &RedisStore, org: OrgId, member: MemberId, deadline: i64) {
    let prefix = store.prefix(org);
    let keys = member_keys(store, org, member).await.expect("the member has sessions");
    let mut conn = connection().await;
    let _: () = redis::cmd("HDEL")
        .arg(format!("{prefix}mh"))
        .arg(member.0.simple().to_string())
        .query_async(&mut conn)
        .await
        .unwrap();
    let legacy = format!("{prefix}ml:{}", member.0.simple());
    for key in keys.as_bytes().chunks(TokenHash::KEY_CHARS) {
        let _: () = redis::cmd("ZADD").arg(&legacy).arg(deadline).arg(key).query_async(&mut conn).await.unwrap();
    }
    let _: () = redis::cmd("PEXPIRE").arg(&legacy).arg(43_200_000).query_async(&mut conn).await.unwrap();
}

async fn index_of(store: &RedisStore, org: OrgId, index: &str) -> Vec<String> {
    let key = format!("{}{index}", store.prefix(org));
    redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).query_async(&mut connection().await).await.unwrap()
}

#[tokio::test]
async fn a_layout_1_session_moves_to_its_key_on_first_lookup() {
    let store = keyward_testkit::redis_store().await;
    let (org, member, now) = (OrgId::new(), MemberId::new(), Utc::now());
    let hash = write_layout_1(&store, org, member, now).await;
    let prefix = store.prefix(org);

    let later = now + Duration::seconds(30);
    let session = store.lookup(org, &hash, later).await.unwrap().expect("a layout 1 session is still live");
    assert_eq!((session.member_id, session.stage), (member, SessionStage::Authenticated));
    assert_eq!(session.facts.username, "alice|ops 100%");
    assert_eq!(session.facts.login_ip.as_deref(), Some("10.0.0.7"));
    assert!(session.key_id.is_some());
    assert_eq!(session.last_seen_at.timestamp_millis(), later.timestamp_millis(), "the move counts as a request");

    assert_eq!(key_type(&format!("{prefix}s:{}", hash.0)).await, "none", "the layout 1 hash is gone");
    assert_eq!(key_type(&format!("{prefix}s:{}", hash.key())).await, "string");
    assert_eq!(index_of(&store, org, "live").await, vec![hash.key().to_owned()]);
    assert_eq!(member_keys(&store, org, member).await.as_deref(), Some(hash.key()));
    assert_eq!(key_type(&format!("{prefix}ml:{}", member.0.simple())).await, "none", "the old member index is gone");
    let again = store.lookup(org, &hash, later + Duration::seconds(1)).await.unwrap().expect("and found again");
    assert_eq!(again.facts, session.facts);
    store.delete_namespace().await.unwrap();
}

#[tokio::test]
async fn revocations_reach_sessions_that_have_not_moved_yet() {
    let store = keyward_testkit::redis_store().await;
    let (org, member, now) = (OrgId::new(), MemberId::new(), Utc::now());
    let old = write_layout_1(&store, org, member, now).await;
    assert_eq!(store.revoke_member(org, member, None, now).await.unwrap(), 1);
    assert!(store.lookup(org, &old, now).await.unwrap().is_none());

    let other = MemberId::new();
    let old = write_layout_1(&store, org, other, now).await;
    assert_eq!(store.revoke_org(org, None, now).await.unwrap(), 1);
    assert!(store.lookup(org, &old, now).await.unwrap().is_none(), "a flush ends it too");
    store.delete_namespace().await.unwrap();
}

#[tokio::test]
async fn a_layout_1_session_is_counted_and_listed_before_its_first_request() {
    let store = keyward_testkit::redis_store().await;
    let (org, member, now) = (OrgId::new(), MemberId::new(), Utc::now());
    let hash = write_layout_1(&store, org, member, now).await;
    let prefix = store.prefix(org);

    assert_eq!(store.live_sessions_of(org, &[member], now).await.unwrap(), vec![1], "counted");
    let listed = store.sessions_of(org, member, 10, now).await.unwrap();
    assert_eq!(listed.len(), 1, "listed");
    assert_eq!(listed[0].facts.username, "alice|ops 100%");
    assert_eq!(listed[0].token_hash, hash, "the listed key names the same session");
    // The count folded the member's old index and moved the session to its key on the way.
    assert_eq!(key_type(&format!("{prefix}s:{}", hash.0)).await, "none");
    assert_eq!(member_keys(&store, org, member).await.as_deref(), Some(hash.key()));
    assert_eq!(index_of(&store, org, "live").await, vec![hash.key().to_owned()]);
    let session = store.lookup(org, &hash, now + Duration::seconds(1)).await.unwrap().expect("still live");
    assert_eq!(session.facts.login_ip.as_deref(), Some("10.0.0.7"));
    store.delete_namespace().await.unwrap();
}

#[tokio::test]
async fn a_layout_2_member_index_is_folded_at_its_first_read() {
    let store = keyward_testkit::redis_store().await;
    let (org, now) = (OrgId::new(), Utc::now());
    let (alice, bob) = (MemberId::new(), MemberId::new());
    let prefix = store.prefix(org);
    let deadline = now.timestamp_millis() + 1_800_000;
    let a1 = sso_login(&store, org, alice, now).await;
    let a2 = sso_login(&store, org, alice, now).await;
    index_as_layout_2(&store, org, alice, deadline).await;

    assert_eq!(store.live_sessions_of(org, &[alice], now).await.unwrap(), vec![2], "both counted");
    assert_eq!(key_type(&format!("{prefix}ml:{}", alice.0.simple())).await, "none", "folded into mh");
    let keys = member_keys(&store, org, alice).await.expect("alice's keys");
    assert!(keys.contains(a1.key()) && keys.contains(a2.key()), "{keys}");

    // A revocation reads an unfolded index too.
    let b1 = sso_login(&store, org, bob, now).await;
    index_as_layout_2(&store, org, bob, deadline).await;
    assert_eq!(store.revoke_member(org, bob, None, now).await.unwrap(), 1);
    assert!(store.lookup(org, &b1, now).await.unwrap().is_none());
    assert_eq!(member_keys(&store, org, bob).await, None, "a member without sessions has no entry");
    assert_eq!(key_type(&format!("{prefix}ml:{}", bob.0.simple())).await, "none");

    // So does a new login: the old sessions stay listed beside the new one.
    index_as_layout_2(&store, org, alice, deadline).await;
    sso_login(&store, org, alice, now).await;
    assert_eq!(store.sessions_of(org, alice, 10, now).await.unwrap().len(), 3);
    store.delete_namespace().await.unwrap();
}

/// The keys of a member who never logs in again do not stay behind: each login prunes one other
/// member's keys, chosen at random, so an expired member's entry goes within a few logins.
#[tokio::test]
async fn a_departed_members_keys_are_pruned_by_later_logins() {
    let store = keyward_testkit::redis_store().await;
    let (org, now) = (OrgId::new(), Utc::now());
    let (alice, bob) = (MemberId::new(), MemberId::new());
    sso_login(&store, org, alice, now).await;
    let later = now + Duration::days(2);
    let mut logins = 0;
    while member_keys(&store, org, alice).await.is_some() {
        assert!(logins < 64, "alice's expired sessions are still listed after {logins} logins of others");
        sso_login(&store, org, bob, later).await;
        logins += 1;
    }
    assert_eq!(store.live_sessions_of(org, &[alice, bob], later).await.unwrap(), vec![0, logins]);
    store.delete_namespace().await.unwrap();
}
