//! Upgrading over live sessions: a session written by an earlier version (record layout 1, a
//! Redis hash under the full token hash) keeps working. Its first lookup moves it to the current
//! layout; until then every script reads it, so revocations and listings still find it.

use chrono::{DateTime, Duration, Utc};
use keyward_domain::ids::{MemberId, OrgId, SecurityKeyId};
use keyward_domain::session::{SessionStage, SessionToken, TokenHash};
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

async fn key_type(key: &str) -> String {
    redis::cmd("TYPE").arg(key).query_async(&mut connection().await).await.unwrap()
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

    assert_eq!(store.live_sessions_of(org, &[member], now).await.unwrap(), vec![1], "counted before it moves");
    let listed = store.sessions_of(org, member, 10, now).await.unwrap();
    assert_eq!(listed.len(), 1, "listed before it moves");
    assert_eq!(listed[0].facts.username, "alice|ops 100%");
    assert_eq!(listed[0].token_hash, hash, "the listed key names the same session");

    let later = now + Duration::seconds(30);
    let session = store.lookup(org, &hash, later).await.unwrap().expect("a layout 1 session is still live");
    assert_eq!((session.member_id, session.stage), (member, SessionStage::Authenticated));
    assert_eq!(session.facts.username, "alice|ops 100%");
    assert_eq!(session.facts.login_ip.as_deref(), Some("10.0.0.7"));
    assert!(session.key_id.is_some());
    assert_eq!(session.last_seen_at.timestamp_millis(), later.timestamp_millis(), "the move counts as a request");

    assert_eq!(key_type(&format!("{prefix}s:{}", hash.0)).await, "none", "the layout 1 hash is gone");
    assert_eq!(key_type(&format!("{prefix}s:{}", hash.key())).await, "string");
    let member_index = format!("ml:{}", member.0.simple());
    assert_eq!(index_of(&store, org, "live").await, vec![hash.key().to_owned()]);
    assert_eq!(index_of(&store, org, &member_index).await, vec![hash.key().to_owned()]);
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
