//! Security-key logins on SQLite and PostgreSQL: one read, then one atomic write of the key's use,
//! the login time and the chained audit events, whatever happens concurrently.

mod common;

use std::sync::Arc;

use common::{audit, key_login, key_use, new_key, second_org};
use keyward_domain::StoreError;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::{MemberId, SecurityKeyId};
use keyward_domain::repo::*;
use keyward_domain::security_key::SIGN_COUNT_CHANGED;
use keyward_storage::Database;
use keyward_storage::db::verify_chain;
use keyward_testkit::{TestDb, bootstrap, member, on_both_databases};

/// A key login is one transaction: the key's use, the login time and the audit event land together
/// or not at all.
async fn key_logins_are_recorded_atomically(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    let alice = member(&t.db, org.id, "alice").await;
    let key = t.db.insert_key(new_key(org.id, admin.id, &[4, 2]), audit("security_key.registered")).await.unwrap();
    let events = |db: Arc<Database>| async move {
        db.audit_events(org.id, AuditQuery { first: 50, action: Some("mfa.login".into()), ..Default::default() })
            .await
            .unwrap()
            .items
            .len()
    };

    key_login(&t.db, org.id, admin.id, &key, key_use(0, 3), vec![audit("mfa.login")]).await.unwrap();
    let after = t.db.key(org.id, key.id).await.unwrap().unwrap();
    assert_eq!((after.key.sign_count, after.credential.as_str()), (3, "{\"n\":3}"));
    assert!(after.key.last_used_at.is_some());
    assert!(t.db.member(org.id, admin.id).await.unwrap().unwrap().last_login_at.is_some());
    assert_eq!(events(t.db.clone()).await, 1);

    // A member who does not exist (here: in another organization) rolls the key's use back too.
    let other = second_org(&t.db).await;
    let err =
        key_login(&t.db, org.id, MemberId::new(), &key, key_use(3, 9), vec![audit("mfa.login")]).await.unwrap_err();
    assert_eq!(err, StoreError::NotFound);
    assert_eq!(t.db.key(org.id, key.id).await.unwrap().unwrap().key.sign_count, 3, "rolled back");
    assert!(key_login(&t.db, other.id, admin.id, &key, key_use(3, 9), vec![audit("mfa.login")]).await.is_err());
    assert!(t.db.member(org.id, alice.id).await.unwrap().unwrap().last_login_at.is_none());
    assert_eq!(events(t.db.clone()).await, 1);
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());
}

/// A login's basis can be stale by the time it writes: other events moved the chain, the member
/// was renamed, other members logged in at the same moment. Every login is still recorded once,
/// chained after the real head and named as the member is called now.
async fn key_logins_recompute_a_basis_that_moved(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    let key = t.db.insert_key(new_key(org.id, admin.id, &[5, 1]), audit("security_key.registered")).await.unwrap();
    let (_, stale) = t.db.key_for_login(&key.credential_id).await.unwrap().unwrap();
    assert_eq!(stale.username, "admin");
    t.db.append_audit(org.id, audit("in.between")).await.unwrap();
    let rename = sea_orm::sea_query::Query::update()
        .table("members")
        .value("username", "root")
        .and_where(sea_orm::sea_query::ExprTrait::eq(sea_orm::sea_query::Expr::col("id"), admin.id.0))
        .to_owned();
    sea_orm::ConnectionTrait::execute(t.db.connection(), &rename).await.unwrap();
    let login = AuditRecord::new(Actor::Member(admin.id), "mfa.login").target(format!("member:{}", admin.id));
    t.db.record_key_login(org.id, admin.id, key.id, key_use(0, 1), vec![login], stale).await.unwrap();
    let last = t.db.audit_events(org.id, AuditQuery { first: 1, ..Default::default() }).await.unwrap().items;
    assert_eq!((last[0].action.as_str(), last[0].actor_name.as_deref()), ("mfa.login", Some("root")));
    assert_eq!(t.db.audit_head(org.id).await.unwrap().unwrap().seq, last[0].seq);

    // Eight members log in at once, each with a basis read before any of them wrote.
    let mut logins = Vec::new();
    for i in 0..8u8 {
        let who = member(&t.db, org.id, &format!("m{i}")).await;
        let key = t.db.insert_key(new_key(org.id, who.id, &[6, i]), audit("security_key.registered")).await.unwrap();
        let (_, basis) = t.db.key_for_login(&key.credential_id).await.unwrap().unwrap();
        logins.push((who.id, key.id, basis));
    }
    let tasks = logins.into_iter().map(|(who, key, basis)| {
        let db = Arc::clone(&t.db);
        let event = AuditRecord::new(Actor::Member(who), "mfa.login");
        tokio::spawn(async move { db.record_key_login(org.id, who, key, key_use(0, 1), vec![event], basis).await })
    });
    for task in futures::future::join_all(tasks).await {
        task.unwrap().unwrap();
    }
    let query = AuditQuery { first: 50, action: Some("mfa.login".into()), ..Default::default() };
    assert_eq!(t.db.audit_events(org.id, query).await.unwrap().items.len(), 9);
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());
}

/// A login and a change to the same member at the same moment both finish: the login's single
/// statement takes the member's row before the audit head, as every other writer does, so the
/// two never wait on each other in a cycle.
async fn key_logins_and_member_changes_never_deadlock(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    let bob = member(&t.db, org.id, "bob").await;
    let key = t.db.insert_key(new_key(org.id, bob.id, &[8, 8]), audit("security_key.registered")).await.unwrap();
    for round in 0..30u32 {
        let (_, basis) = t.db.key_for_login(&key.credential_id).await.unwrap().unwrap();
        let role =
            if round % 2 == 0 { keyward_domain::member::Role::Admin } else { keyward_domain::member::Role::Member };
        let (db1, db2) = (Arc::clone(&t.db), Arc::clone(&t.db));
        let login = AuditRecord::new(Actor::Member(bob.id), "mfa.login");
        let (logged_in, changed) = tokio::join!(
            tokio::spawn(async move {
                db1.record_key_login(org.id, bob.id, key.id, key_use(round, round + 1), vec![login], basis).await
            }),
            tokio::spawn(async move {
                db2.set_role(org.id, bob.id, role, AuditRecord::new(Actor::Member(admin.id), "member.role.changed"))
                    .await
            }),
        );
        logged_in.unwrap().unwrap();
        changed.unwrap().unwrap();
    }
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());
}

/// The counter write is a compare-and-set: a login that read a counter another login has moved
/// since writes nothing (not even its audit events), so two concurrent assertions can never move
/// the counter backwards, whichever commits first.
async fn key_counters_never_move_backwards(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    let key = t.db.insert_key(new_key(org.id, admin.id, &[7, 7]), audit("security_key.registered")).await.unwrap();
    let count = |db: Arc<Database>| async move { db.key(org.id, key.id).await.unwrap().unwrap().key.sign_count };
    let logins = |db: Arc<Database>| async move {
        let query = AuditQuery { first: 50, action: Some("mfa.login".into()), ..Default::default() };
        db.audit_events(org.id, query).await.unwrap().items.len()
    };

    let both = vec![audit("mfa.login"), audit("security_key.backup_state_changed")];
    key_login(&t.db, org.id, admin.id, &key, key_use(0, 5), both).await.unwrap();
    assert_eq!(count(t.db.clone()).await, 5);
    let changed =
        t.db.audit_events(org.id, AuditQuery { first: 1, ..Default::default() }).await.unwrap().items[0].action.clone();
    assert_eq!(changed, "security_key.backup_state_changed", "every event of the login is written, in order");

    // A login that read the counter before the last one moved it: nothing is written.
    let stale = key_login(&t.db, org.id, admin.id, &key, key_use(0, 4), vec![audit("mfa.login")]).await;
    assert_eq!(stale.unwrap_err(), StoreError::Conflict(SIGN_COUNT_CHANGED.into()));
    assert_eq!(count(t.db.clone()).await, 5);
    assert_eq!(logins(t.db.clone()).await, 1, "the refused write left no audit event");
    // A regression the caller let through keeps the stored counter.
    t.db.record_key_use(org.id, key.id, key_use(5, 2)).await.unwrap();
    assert_eq!(count(t.db.clone()).await, 5);
    assert_eq!(
        t.db.record_key_use(org.id, SecurityKeyId::new(), key_use(5, 9)).await.unwrap_err(),
        StoreError::NotFound,
        "a missing key is not a counter conflict"
    );

    // Two assertions read 5 and race: one wins, the other must be judged again, never stored.
    let mut expected = 5;
    for round in 0..5u32 {
        let (low, high) = (expected + 1 + round, expected + 2 + round);
        let (db1, db2) = (Arc::clone(&t.db), Arc::clone(&t.db));
        let (k1, k2) = (key.clone(), key.clone());
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move {
                key_login(&db1, org.id, admin.id, &k1, key_use(expected, high), vec![audit("mfa.login")]).await
            }),
            tokio::spawn(async move {
                key_login(&db2, org.id, admin.id, &k2, key_use(expected, low), vec![audit("mfa.login")]).await
            }),
        );
        let (r1, r2) = (r1.unwrap(), r2.unwrap());
        assert_eq!(r1.is_ok() as u8 + r2.is_ok() as u8, 1, "exactly one write wins: {r1:?} {r2:?}");
        let winner = if r1.is_ok() { high } else { low };
        for loser in [r1, r2].into_iter().filter_map(Result::err) {
            assert_eq!(loser, StoreError::Conflict(SIGN_COUNT_CHANGED.into()));
        }
        assert_eq!(count(t.db.clone()).await, winner);
        expected = winner;
    }
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());
}

on_both_databases! {
    key_logins_are_recorded_atomically,
    key_logins_recompute_a_basis_that_moved,
    key_logins_and_member_changes_never_deadlock,
    key_counters_never_move_backwards,
}
