//! The repository suite: the same tests on SQLite and on PostgreSQL, through the real migrations.

use std::sync::Arc;

use chrono::Utc;
use keyward_domain::ids::{MemberId, OrgId};
use keyward_domain::org::{Enforcement, Organization};
use keyward_domain::repo::*;
use keyward_domain::security_key::KeyUse;
use keyward_domain::{DomainError, StoreError};
use keyward_storage::Database;
use keyward_storage::db::verify_chain;
use keyward_testkit::{TestDb, bootstrap, member, on_both_databases};

mod common;

use common::{audit, key_login, new_key, second_org};

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
    last_key_rule_holds,
    enforcement_rolls_back_when_the_flush_fails,
    concurrent_deletions_never_leave_zero_keys,
    recovery_codes_work_once,
    settings_round_trip,
}
