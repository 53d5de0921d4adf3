//! The repository suite: the same tests on SQLite and on PostgreSQL, through the real migrations.

use std::sync::Arc;

use chrono::Utc;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::{MemberId, OrgId, SecurityKeyId};
use keyward_domain::org::{Enforcement, Organization};
use keyward_domain::repo::*;
use keyward_domain::security_key::{KeyUse, NewSecurityKey, SIGN_COUNT_CHANGED, SecurityKey};
use keyward_domain::{DomainError, StoreError};
use keyward_storage::Database;
use keyward_storage::db::verify_chain;
use keyward_testkit::{TestDb, bootstrap, member, on_both_databases};

fn audit(action: &str) -> AuditRecord {
    AuditRecord::new(Actor::System, action)
}

/// A key login as the login path makes it: the basis read with the key, then the write.
async fn key_login(
    db: &Database,
    org: OrgId,
    member: MemberId,
    key: &SecurityKey,
    used: KeyUse,
    audit: Vec<AuditRecord>,
) -> Result<(), StoreError> {
    let (_, basis) = db.key_for_login(&key.credential_id).await.unwrap().expect("the key exists");
    db.record_key_login(org, member, key.id, used, audit, basis).await
}

fn new_key(org: OrgId, member: MemberId, credential_id: &[u8]) -> NewSecurityKey {
    NewSecurityKey {
        key: SecurityKey {
            id: SecurityKeyId::new(),
            org_id: org,
            member_id: member,
            name: format!("key {}", credential_id[0]),
            credential_id: credential_id.to_vec(),
            aaguid: Some(uuid::Uuid::new_v4()),
            sign_count: 0,
            backup_eligible: false,
            backed_up: false,
            transports: vec!["usb".into(), "nfc".into()],
            user_verified: true,
            created_at: Utc::now(),
            last_used_at: None,
        },
        credential: "{\"cred\":1}".into(),
    }
}

/// A key's use that read counter `expected` and saw `n`.
fn key_use(expected: u32, n: u32) -> KeyUse {
    KeyUse {
        at: Utc::now(),
        expected_sign_count: expected,
        sign_count: n,
        backed_up: false,
        credential: format!("{{\"n\":{n}}}"),
    }
}

async fn second_org(db: &Database) -> Organization {
    db.create_organization(
        Organization {
            id: OrgId::new(),
            slug: "other".into(),
            name: "Other".into(),
            enforcement: Enforcement::default(),
            created_at: Utc::now(),
        },
        audit("org.created"),
    )
    .await
    .unwrap()
}

async fn bootstrap_happens_once(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    assert!(admin.is_admin());
    let again =
        t.db.bootstrap(
            Bootstrap {
                organization: Organization { id: OrgId::new(), slug: "second".into(), ..org.clone() },
                admin: keyward_domain::member::NewMember {
                    org_id: org.id,
                    username: "x".into(),
                    display_name: "x".into(),
                    email: None,
                    role: keyward_domain::member::Role::Admin,
                    oidc: None,
                },
                backup_username: "x".into(),
                backup_secret_hash: "x".into(),
            },
            audit("org.bootstrapped"),
        )
        .await
        .unwrap();
    assert!(again.is_none());
    assert_eq!(t.db.organizations().await.unwrap().len(), 1);
    assert_eq!(t.db.organization_by_slug("acme").await.unwrap().unwrap().id, org.id);
    let backup = t.db.backup_credential(org.id, "admin").await.unwrap().unwrap();
    assert_eq!(backup.member_id, admin.id);
    assert!(t.db.backup_credential(org.id, "nobody").await.unwrap().is_none());
}

async fn members_list_with_key_counts(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    let alice = member(&t.db, org.id, "alice").await;
    let bob = member(&t.db, org.id, "bob").await;
    t.db.insert_key(new_key(org.id, alice.id, &[1]), audit("k")).await.unwrap();
    t.db.insert_key(new_key(org.id, alice.id, &[2]), audit("k")).await.unwrap();
    let other = second_org(&t.db).await;
    member(&t.db, other.id, "mallory").await;

    let page = t.db.members(org.id, MemberQuery { first: 10, ..Default::default() }).await.unwrap();
    let counts: Vec<_> = page.items.iter().map(|s| (s.member.username.as_str(), s.key_count)).collect();
    assert_eq!(counts, vec![("admin", 0), ("alice", 2), ("bob", 0)]);
    assert!(!page.has_more);

    let first = t.db.members(org.id, MemberQuery { first: 2, ..Default::default() }).await.unwrap();
    assert!(first.has_more);
    let rest =
        t.db.members(org.id, MemberQuery { first: 2, after: Some(first.items[1].member.id), ..Default::default() })
            .await
            .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].member.id, bob.id);
    assert!(!rest.has_more);

    let keyless =
        t.db.members(org.id, MemberQuery { first: 10, without_key: true, ..Default::default() }).await.unwrap();
    let ids: Vec<_> = keyless.items.iter().map(|s| s.member.id).collect();
    assert_eq!(ids, vec![admin.id, bob.id]);
    assert_eq!(t.db.count_members_without_key(org.id).await.unwrap(), 2);
    assert_eq!(t.db.count_members_without_key(other.id).await.unwrap(), 1, "mallory only: counted per organization");

    let duplicate =
        t.db.create_member(
            keyward_domain::member::NewMember {
                org_id: org.id,
                username: "alice".into(),
                display_name: "Alice 2".into(),
                email: None,
                role: keyward_domain::member::Role::Member,
                oidc: None,
            },
            Utc::now(),
            audit("member.created"),
        )
        .await;
    assert!(matches!(duplicate, Err(StoreError::Conflict(_))));
    t.db.record_login(org.id, alice.id, Utc::now()).await.unwrap();
    assert!(t.db.member(org.id, alice.id).await.unwrap().unwrap().last_login_at.is_some());
    assert!(t.db.member(other.id, alice.id).await.unwrap().is_none(), "members are scoped to their org");
}

async fn keys_are_unique_and_scoped(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    let alice = member(&t.db, org.id, "alice").await;
    let key = t.db.insert_key(new_key(org.id, admin.id, &[9, 9]), audit("security_key.registered")).await.unwrap();
    let clash = t.db.insert_key(new_key(org.id, alice.id, &[9, 9]), audit("security_key.registered")).await;
    assert_eq!(clash.unwrap_err(), StoreError::Conflict("credential_id".into()));

    let stored = t.db.key_by_credential(&[9, 9]).await.unwrap().unwrap();
    assert_eq!(stored.key, key);
    assert_eq!(stored.credential, "{\"cred\":1}");

    let renamed = t.db.rename_key(org.id, key.id, "Desk key", audit("security_key.renamed")).await.unwrap();
    assert_eq!(renamed.name, "Desk key");
    let used_at = Utc::now();
    t.db.record_key_use(
        org.id,
        key.id,
        KeyUse {
            at: used_at,
            expected_sign_count: 0,
            sign_count: 7,
            backed_up: true,
            credential: "{\"cred\":2}".into(),
        },
    )
    .await
    .unwrap();
    let after = t.db.key(org.id, key.id).await.unwrap().unwrap();
    assert_eq!(after.key.sign_count, 7);
    assert!(after.key.backed_up);
    assert_eq!(after.credential, "{\"cred\":2}");
    assert_eq!(after.key.last_used_at.unwrap().timestamp_micros(), used_at.timestamp_micros());

    let other = second_org(&t.db).await;
    assert!(t.db.key(other.id, key.id).await.unwrap().is_none());
    assert_eq!(t.db.rename_key(other.id, key.id, "x", audit("x")).await.unwrap_err(), StoreError::NotFound);
    assert_eq!(
        t.db.delete_key(other.id, key.id, DeletedBy::Admin, audit("x")).await.unwrap_err(),
        DomainError::NotFound
    );
    assert_eq!(t.db.keys_of(org.id, admin.id).await.unwrap().len(), 1);
    assert_eq!(t.db.keys_in_org(org.id).await.unwrap().len(), 1);
    assert!(t.db.keys_in_org(other.id).await.unwrap().is_empty());
}

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

async fn enforce(db: &Database, org: OrgId) {
    db.set_enforcement(
        org,
        Enforcement { enabled: true, grace_period_ends_at: None },
        Utc::now(),
        Box::new(|| Box::pin(async { Ok(0) })),
        Box::new(|_| audit("org.mfa_enforcement.enabled")),
    )
    .await
    .unwrap();
}

/// A failing side effect (Redis down) leaves the flag unset and writes no audit event.
async fn enforcement_rolls_back_when_the_flush_fails(t: TestDb) {
    let (org, _admin) = bootstrap(&t.db).await;
    let failed =
        t.db.set_enforcement(
            org.id,
            Enforcement { enabled: true, grace_period_ends_at: None },
            Utc::now(),
            Box::new(|| Box::pin(async { Err(StoreError::Unavailable("redis down".into())) })),
            Box::new(|_| audit("org.mfa_enforcement.enabled")),
        )
        .await;
    assert!(matches!(failed, Err(StoreError::Unavailable(_))));
    assert!(!t.db.organization(org.id).await.unwrap().unwrap().enforcement.enabled);
    let events = t.db.audit_events(org.id, AuditQuery { first: 10, ..Default::default() }).await.unwrap();
    assert_eq!(events.items.len(), 1, "only the bootstrap event");
    let (updated, flushed) =
        t.db.set_enforcement(
            org.id,
            Enforcement { enabled: true, grace_period_ends_at: None },
            Utc::now(),
            Box::new(|| Box::pin(async { Ok(7) })),
            Box::new(|count| audit("org.mfa_enforcement.enabled").details(serde_json::json!({ "revoked": count }))),
        )
        .await
        .unwrap();
    assert!(updated.enforcement.enabled);
    assert_eq!(flushed, 7);
    let events = t.db.audit_events(org.id, AuditQuery { first: 1, ..Default::default() }).await.unwrap();
    assert_eq!(events.items[0].details["revoked"], 7);
}

async fn last_key_rule_holds(t: TestDb) {
    let (org, _admin) = bootstrap(&t.db).await;
    let alice = member(&t.db, org.id, "alice").await;
    let only = t.db.insert_key(new_key(org.id, alice.id, &[1]), audit("k")).await.unwrap();
    enforce(&t.db, org.id).await;
    let refused = t.db.delete_key(org.id, only.id, DeletedBy::Owner, audit("security_key.deleted")).await;
    assert_eq!(refused.unwrap_err(), DomainError::LastKeyEnforced);
    let (deleted, left) =
        t.db.delete_key(org.id, only.id, DeletedBy::Admin, audit("member.security_key.deleted")).await.unwrap();
    assert_eq!((deleted.id, left), (only.id, 0));
}

async fn concurrent_deletions_never_leave_zero_keys(t: TestDb) {
    let (org, _admin) = bootstrap(&t.db).await;
    enforce(&t.db, org.id).await;
    for round in 0..5u8 {
        let m = member(&t.db, org.id, &format!("m{round}")).await;
        let a = t.db.insert_key(new_key(org.id, m.id, &[round, 1]), audit("k")).await.unwrap();
        let b = t.db.insert_key(new_key(org.id, m.id, &[round, 2]), audit("k")).await.unwrap();
        let (db1, db2) = (Arc::clone(&t.db), Arc::clone(&t.db));
        let (r1, r2) = tokio::join!(
            tokio::spawn(
                async move { db1.delete_key(org.id, a.id, DeletedBy::Owner, audit("security_key.deleted")).await }
            ),
            tokio::spawn(
                async move { db2.delete_key(org.id, b.id, DeletedBy::Owner, audit("security_key.deleted")).await }
            ),
        );
        let results = [r1.unwrap(), r2.unwrap()];
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "exactly one deletion wins: {results:?}");
        assert!(results.iter().any(|r| r == &Err(DomainError::LastKeyEnforced)));
        assert_eq!(t.db.keys_of(org.id, m.id).await.unwrap().len(), 1);
    }
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());
}

async fn recovery_codes_work_once(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    let hashes: Vec<String> = (0..10).map(|i| format!("{i:064}")).collect();
    assert_eq!(t.db.recovery_code_status(org.id, admin.id).await.unwrap(), RecoveryCodeStatus::default());
    let generated = Utc::now();
    t.db.replace_recovery_codes(org.id, admin.id, hashes.clone(), generated, audit("recovery_codes.generated"))
        .await
        .unwrap();
    let status = t.db.recovery_code_status(org.id, admin.id).await.unwrap();
    assert_eq!((status.total, status.unused), (10, 10));
    let at = status.generated_at.expect("a generated set has a date");
    assert!((at - generated).num_milliseconds().abs() < 1000, "{at} vs {generated}");
    assert!(
        t.db.consume_recovery_code(org.id, admin.id, &hashes[3], Utc::now(), audit("recovery_code.used"))
            .await
            .unwrap()
    );
    assert!(
        !t.db
            .consume_recovery_code(org.id, admin.id, &hashes[3], Utc::now(), audit("recovery_code.used"))
            .await
            .unwrap()
    );
    assert!(
        !t.db.consume_recovery_code(org.id, admin.id, "nope", Utc::now(), audit("recovery_code.used")).await.unwrap()
    );
    let status = t.db.recovery_code_status(org.id, admin.id).await.unwrap();
    assert_eq!((status.total, status.unused), (10, 9), "a used code still counts in the set");
    let fresh: Vec<String> = (10..20).map(|i| format!("{i:064}")).collect();
    t.db.replace_recovery_codes(org.id, admin.id, fresh, Utc::now(), audit("recovery_codes.generated")).await.unwrap();
    assert!(
        !t.db
            .consume_recovery_code(org.id, admin.id, &hashes[4], Utc::now(), audit("recovery_code.used"))
            .await
            .unwrap(),
        "old codes are void"
    );
    let status = t.db.recovery_code_status(org.id, admin.id).await.unwrap();
    assert_eq!((status.total, status.unused), (10, 10), "a new set replaces the old one");
}

async fn settings_round_trip(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    assert!(t.db.sso_config(org.id).await.unwrap().is_none());
    let mut config = SsoConfig {
        issuer: "https://idp.example.com".into(),
        client_id: "keyward".into(),
        client_secret: "s3cret".into(),
        scopes: vec!["email".into(), "profile".into()],
        admin_group_claim: Some("groups".into()),
        admin_group_value: Some("admins".into()),
        allowed_email_domains: vec!["example.com".into()],
        updated_at: Utc::now(),
    };
    t.db.put_sso_config(org.id, config.clone(), audit("org.sso.configured")).await.unwrap();
    config.client_id = "keyward-2".into();
    t.db.put_sso_config(org.id, config.clone(), audit("org.sso.configured")).await.unwrap();
    let stored = t.db.sso_config(org.id).await.unwrap().unwrap();
    assert_eq!(stored.client_id, "keyward-2");
    assert_eq!(stored.scopes, config.scopes);

    let policy = StoredPolicy {
        kind: PolicyKind::StepUp,
        body: "package keyward".into(),
        updated_at: Utc::now(),
        updated_by: Some(admin.id),
        version: 1,
    };
    assert_eq!(t.db.put_policy(org.id, policy.clone(), 0, audit("org.policy.set")).await.unwrap(), 1);
    // A save over a version that is no longer current loses, whether first or later.
    for stale in [0, 2] {
        let err = t.db.put_policy(org.id, policy.clone(), stale, audit("org.policy.set")).await.unwrap_err();
        assert!(matches!(err, keyward_domain::StoreError::Conflict(_)), "{err:?}");
    }
    let next = StoredPolicy { body: "package keyward.v2".into(), version: 2, ..policy };
    assert_eq!(t.db.put_policy(org.id, next, 1, audit("org.policy.set")).await.unwrap(), 2);
    let stored = t.db.policy(org.id, PolicyKind::StepUp).await.unwrap().unwrap();
    assert_eq!((stored.body.as_str(), stored.version), ("package keyward.v2", 2));
    assert!(t.db.policy(org.id, PolicyKind::Approval).await.unwrap().is_none());

    let rotated =
        t.db.rotate_backup_credential(org.id, "$argon2id$new".into(), Utc::now(), audit("backup_credentials.rotated"))
            .await
            .unwrap();
    assert_eq!(rotated.secret_hash, "$argon2id$new");
    assert_eq!(rotated.member_id, admin.id);
}

async fn deactivation_keeps_an_active_admin(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    let bob = member(&t.db, org.id, "bob").await;
    let carol = member(&t.db, org.id, "carol").await;
    assert_eq!(t.db.count_members_without_key(org.id).await.unwrap(), 3);
    let gone =
        t.db.set_deactivated(org.id, admin.id, bob.id, Some(Utc::now()), audit("member.deactivated")).await.unwrap();
    assert!(!gone.is_active());
    assert!(!t.db.member(org.id, bob.id).await.unwrap().unwrap().is_active(), "stored");
    assert_eq!(t.db.count_members_without_key(org.id).await.unwrap(), 2, "deactivated members are not counted");
    let listed = t.db.members(org.id, MemberQuery { first: 10, ..Default::default() }).await.unwrap();
    assert!(listed.items.iter().any(|m| m.member.id == bob.id && m.member.deactivated_at.is_some()));
    // The only admin can be deactivated by nobody, even with a member's ID as the actor.
    let refused = t.db.set_deactivated(org.id, carol.id, admin.id, Some(Utc::now()), audit("member.deactivated")).await;
    assert_eq!(refused.unwrap_err(), DomainError::LastActiveAdmin);
    assert!(t.db.member(org.id, admin.id).await.unwrap().unwrap().is_active(), "nothing changed");
    // A key login that was in flight when bob was deactivated records nothing.
    let key = t.db.insert_key(new_key(org.id, bob.id, &[42]), audit("security_key.registered")).await.unwrap();
    let used = KeyUse {
        at: Utc::now(),
        sign_count: 1,
        expected_sign_count: 0,
        backed_up: false,
        credential: "{\"cred\":2}".into(),
    };
    let events_before = t.db.audit_events(org.id, AuditQuery { first: 200, ..Default::default() }).await.unwrap();
    let refused = key_login(&t.db, org.id, bob.id, &key, used, vec![audit("mfa.login")]).await;
    assert_eq!(refused.unwrap_err(), StoreError::NotFound);
    let events_after = t.db.audit_events(org.id, AuditQuery { first: 200, ..Default::default() }).await.unwrap();
    assert_eq!(events_after.items.len(), events_before.items.len(), "rolled back whole");
    assert_eq!(t.db.key(org.id, key.id).await.unwrap().unwrap().key.sign_count, 0);
    let back = t.db.set_deactivated(org.id, admin.id, bob.id, None, audit("member.reactivated")).await.unwrap();
    assert!(back.is_active());
    assert_eq!(
        t.db.set_deactivated(org.id, admin.id, MemberId::new(), Some(Utc::now()), audit("x")).await.unwrap_err(),
        DomainError::NotFound
    );
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());
}

async fn members_are_searched_and_counted(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    let alice = member(&t.db, org.id, "alice").await;
    let bob = member(&t.db, org.id, "bob_ops").await;
    let carol = member(&t.db, org.id, "carol").await;
    member(&t.db, second_org(&t.db).await.id, "alice2").await;
    t.db.insert_key(new_key(org.id, alice.id, &[1]), audit("k")).await.unwrap();
    t.db.insert_key(new_key(org.id, alice.id, &[2]), audit("k")).await.unwrap();
    t.db.insert_key(new_key(org.id, bob.id, &[3]), audit("k")).await.unwrap();
    t.db.set_deactivated(org.id, admin.id, carol.id, Some(Utc::now()), audit("member.deactivated")).await.unwrap();

    let search = |text: &str, without_key: bool| {
        let query = MemberQuery { first: 10, search: Some(text.into()), without_key, ..Default::default() };
        let db = t.db.clone();
        async move {
            let page = db.members(org.id, query).await.unwrap();
            page.items.into_iter().map(|s| s.member.username).collect::<Vec<_>>()
        }
    };
    assert_eq!(search("ALI", false).await, vec!["alice"], "any case, this organization only");
    assert_eq!(search("example.com", false).await, vec!["alice", "bob_ops", "carol"], "e-mail addresses match too");
    assert_eq!(search("a_i", false).await, Vec::<String>::new(), "_ is a character, not a wildcard (alice)");
    assert_eq!(search("b_ops", false).await, vec!["bob_ops"]);
    assert_eq!(search("%", false).await, Vec::<String>::new(), "% is a character, not a wildcard");
    assert_eq!(search("a", true).await, vec!["admin", "carol"], "search combines with withoutKey");

    let stats = t.db.member_stats(org.id).await.unwrap();
    assert_eq!(stats, MemberStats { members: 3, with_key: 2, with_one_key: 1, deactivated: 1 });
    assert_eq!(stats.without_key(), 1, "the admin; carol is deactivated and not counted");
}

on_both_databases! {
    members_are_searched_and_counted,
    deactivation_keeps_an_active_admin,
    bootstrap_happens_once,
    members_list_with_key_counts,
    keys_are_unique_and_scoped,
    key_logins_are_recorded_atomically,
    key_logins_recompute_a_basis_that_moved,
    key_logins_and_member_changes_never_deadlock,
    key_counters_never_move_backwards,
    last_key_rule_holds,
    enforcement_rolls_back_when_the_flush_fails,
    concurrent_deletions_never_leave_zero_keys,
    recovery_codes_work_once,
    settings_round_trip,
}
