//! The audit chain and first-start bootstrap on both databases: hash-chained, race-free appends.

use std::sync::Arc;

use chrono::{Duration, Utc};
use keyward_domain::audit::{
    Actor, Anchor, AuditEvent, AuditHead, AuditRecord, ChainProblem, GENESIS_HASH, HASH_VERSION, LEGACY_HASH_VERSION,
    RequestMeta,
};
use keyward_domain::ids::{OrgId, SecurityKeyId};
use keyward_domain::org::{Enforcement, Organization};
use keyward_domain::repo::*;
use keyward_domain::security_key::{KeyUse, NewSecurityKey, SecurityKey};
use keyward_migrations::{Migrator, MigratorTrait};
use keyward_storage::db::{verify_chain, verify_chain_expecting};
use keyward_storage::{Database, DatabaseOptions, request_context};
use keyward_testkit::{TestDb, bootstrap, member, on_both_databases};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, Value};

fn audit(action: &str) -> AuditRecord {
    AuditRecord::new(Actor::System, action)
}

async fn audit_chain_verifies_pages_and_detects_edits(t: TestDb) {
    let (org, _admin) = bootstrap(&t.db).await;
    for i in 0..25 {
        t.db.append_audit(org.id, audit(if i % 2 == 0 { "even" } else { "odd" }).target(format!("t:{i}")))
            .await
            .unwrap();
    }
    let verdict = verify_chain(t.db.as_ref(), org.id).await.unwrap();
    assert!(verdict.ok());
    assert_eq!(verdict.checked, 26);

    let page = t.db.audit_events(org.id, AuditQuery { first: 10, ..Default::default() }).await.unwrap();
    assert_eq!(page.items.first().unwrap().seq, 26);
    assert!(page.has_more);
    let next =
        t.db.audit_events(
            org.id,
            AuditQuery { first: 10, before_seq: Some(page.items.last().unwrap().seq), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(next.items.first().unwrap().seq, 16);
    let odd =
        t.db.audit_events(org.id, AuditQuery { first: 100, action: Some("odd".into()), ..Default::default() })
            .await
            .unwrap();
    assert_eq!(odd.items.len(), 12);
    let future =
        t.db.audit_events(
            org.id,
            AuditQuery { first: 100, from: Some(Utc::now() + Duration::hours(1)), ..Default::default() },
        )
        .await
        .unwrap();
    assert!(future.items.is_empty());

    let tampered = t.db.connection();
    let sql = match t.db.engine() {
        keyward_storage::Engine::Sqlite => "UPDATE audit_events SET target = 'forged' WHERE seq = 7",
        keyward_storage::Engine::Postgres => "UPDATE audit_events SET target = 'forged' WHERE seq = 7",
    };
    tampered.execute_unprepared(sql).await.unwrap();
    let verdict = verify_chain(t.db.as_ref(), org.id).await.unwrap();
    assert_eq!(verdict.first_broken_seq, Some(7));
}

async fn concurrent_appenders_never_fork_the_chain(t: TestDb) {
    let (org, _admin) = bootstrap(&t.db).await;
    let tasks: Vec<_> = (0..8)
        .map(|worker| {
            let db = Arc::clone(&t.db);
            tokio::spawn(async move {
                for i in 0..10 {
                    db.append_audit(org.id, audit("concurrent").target(format!("{worker}:{i}"))).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let verdict = verify_chain(t.db.as_ref(), org.id).await.unwrap();
    assert!(verdict.ok(), "{verdict:?}");
    assert_eq!(verdict.checked, 81);
}

/// Deleting the newest events with SQL leaves every link intact; the stored head names the gap.
async fn deleting_the_newest_events_is_reported(t: TestDb) {
    let (org, _admin) = bootstrap(&t.db).await;
    for i in 0..3 {
        t.db.append_audit(org.id, audit(&format!("e{i}"))).await.unwrap();
    }
    let recorded = t.db.audit_head(org.id).await.unwrap().unwrap();
    assert_eq!(recorded.seq, 4);
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());

    t.db.connection().execute_unprepared("DELETE FROM audit_events WHERE seq = 4").await.unwrap();
    let verdict = verify_chain(t.db.as_ref(), org.id).await.unwrap();
    assert_eq!(verdict.problem, Some(ChainProblem::Missing { from: 4, to: 4, by: Anchor::StoredHead }));
    assert_eq!((verdict.ok(), verdict.first_broken_seq, verdict.checked), (false, Some(4), 3));

    // Rewriting the stored head too fools the database alone, not a head recorded outside it.
    let third = t.db.audit_chain(org.id, 2, 1).await.unwrap().remove(0);
    let sql = format!("UPDATE audit_heads SET seq = 3, hash = '{}'", third.hash);
    t.db.connection().execute_unprepared(&sql).await.unwrap();
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());
    let verdict = verify_chain_expecting(t.db.as_ref(), org.id, Some(recorded.clone())).await.unwrap();
    assert_eq!(verdict.problem, Some(ChainProblem::Missing { from: 4, to: 4, by: Anchor::ExpectedHead }));

    t.db.connection().execute_unprepared("DELETE FROM audit_heads").await.unwrap();
    assert_eq!(verify_chain(t.db.as_ref(), org.id).await.unwrap().problem, Some(ChainProblem::NoHead));
}

fn key_of(org: OrgId, member: keyward_domain::ids::MemberId, name: &str) -> NewSecurityKey {
    NewSecurityKey {
        key: SecurityKey {
            id: SecurityKeyId::new(),
            org_id: org,
            member_id: member,
            name: name.into(),
            credential_id: name.as_bytes().to_vec(),
            aaguid: None,
            sign_count: 0,
            backup_eligible: false,
            backed_up: false,
            transports: vec![],
            user_verified: true,
            created_at: Utc::now(),
            last_used_at: None,
        },
        credential: "{}".into(),
    }
}

/// The key's use that moves its counter on from `counter`.
fn use_after(counter: u32) -> KeyUse {
    KeyUse {
        at: Utc::now(),
        sign_count: counter + 1,
        expected_sign_count: counter,
        backed_up: false,
        credential: "{}".into(),
    }
}

/// A new key of `member` called `name`, with what its first login reads and uses.
async fn first_login(
    t: &TestDb,
    org: OrgId,
    member: keyward_domain::ids::MemberId,
    name: &str,
) -> (SecurityKeyId, keyward_domain::security_key::LoginBasis, KeyUse) {
    let key = key_of(org, member, name);
    let (key_id, credential_id) = (key.key.id, key.key.credential_id.clone());
    t.db.insert_key(key, audit("k")).await.unwrap();
    let (_, basis) = t.db.key_for_login(&credential_id).await.unwrap().unwrap();
    (key_id, basis, use_after(0))
}

/// Names are snapshotted when the event is written (even of a key the write deletes), and the
/// request's user agent and ID come from the request context without the caller passing them.
async fn events_snapshot_names_and_request_context(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    let bob = member(&t.db, org.id, "bob").await;
    let by_admin = |action: &str| AuditRecord::new(Actor::Member(admin.id), action);
    let key = key_of(org.id, bob.id, "YubiKey 5C");
    let key_id = key.key.id;
    let meta = RequestMeta::new(Some("req-42"), Some("Mozilla/5.0 Firefox/140"));
    let registered = by_admin("security_key.registered").target(format!("security_key:{key_id}"));
    request_context::scope(meta, t.db.insert_key(key, registered)).await.unwrap();
    let deleted = by_admin("member.security_key.deleted")
        .target(format!("member:{}", bob.id))
        .details(serde_json::json!({ "keyName": "YubiKey 5C" }));
    t.db.delete_key(org.id, key_id, DeletedBy::Admin, deleted).await.unwrap();
    let other = key_of(org.id, bob.id, "Backup key");
    let other_id = other.key.id;
    t.db.insert_key(other, audit("k")).await.unwrap();
    let own =
        AuditRecord::new(Actor::Member(bob.id), "security_key.deleted").target(format!("security_key:{other_id}"));
    t.db.delete_key(org.id, other_id, DeletedBy::Owner, own).await.unwrap();
    t.db.append_audit(org.id, audit("org.sso.configured").target(format!("org:{}", org.id))).await.unwrap();
    let given = by_admin("x").target(format!("member:{}", bob.id)).actor_name("given").target_name("kept");
    t.db.append_audit(org.id, given).await.unwrap();

    let events = t.db.audit_chain(org.id, 2, 100).await.unwrap();
    let names: Vec<_> =
        events.iter().map(|e| (e.action.as_str(), e.actor_name.as_deref(), e.target_name.as_deref())).collect();
    assert_eq!(
        names,
        [
            ("security_key.registered", Some("admin"), Some("YubiKey 5C")),
            ("member.security_key.deleted", Some("admin"), Some("bob")),
            ("k", None, None),
            ("security_key.deleted", Some("bob"), Some("Backup key")),
            ("org.sso.configured", None, Some("Acme")),
            ("x", Some("given"), Some("kept")),
        ]
    );
    assert_eq!(events[1].summary(), "admin deleted key YubiKey 5C of bob");
    assert_eq!(
        (events[0].request_id.as_deref(), events[0].user_agent.as_deref()),
        (Some("req-42"), Some("Mozilla/5.0 Firefox/140"))
    );
    assert_eq!((events[1].request_id.as_deref(), events[1].user_agent.as_deref()), (None, None));
    assert!(events.iter().all(|e| e.hash_version == HASH_VERSION));

    // The login path names the member from the row it updates, with no extra query.
    let (key_id, basis, used) = first_login(&t, org.id, bob.id, "Login key").await;
    let login = AuditRecord::new(Actor::Member(bob.id), "mfa.login").target(format!("member:{}", bob.id));
    t.db.record_key_login(org.id, bob.id, key_id, used, vec![login], basis).await.unwrap();
    let last = t.db.audit_events(org.id, AuditQuery { first: 1, ..Default::default() }).await.unwrap().items;
    assert_eq!((last[0].actor_name.as_deref(), last[0].target_name.as_deref()), (Some("bob"), Some("bob")));
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());

    // The snapshots are hashed: editing one breaks the chain.
    let sql = "UPDATE audit_events SET target_name = 'carol' WHERE target_name = 'bob'";
    t.db.connection().execute_unprepared(sql).await.unwrap();
    assert_eq!(verify_chain(t.db.as_ref(), org.id).await.unwrap().first_broken_seq, Some(4));
}

/// A write with several events appends them all under one lock of the head, each named from its
/// own actor and target, chained in order; with the write's own statements that is two more on
/// PostgreSQL (the head and the names, then the events and the head), however many events.
async fn one_write_appends_its_events_in_order_and_names_each(t: TestDb) {
    let (org, admin) = bootstrap(&t.db).await;
    let bob = member(&t.db, org.id, "bob").await;
    let (key_id, basis, used) = first_login(&t, org.id, admin.id, "Admin key").await;
    // Bob's name is not the login's to give, so even PostgreSQL writes these in a transaction.
    let records = vec![
        AuditRecord::new(Actor::Member(admin.id), "first").target(format!("member:{}", bob.id)),
        AuditRecord::new(Actor::Member(bob.id), "second").target(format!("security_key:{key_id}")),
        audit("third").target(format!("org:{}", org.id)),
        AuditRecord::new(Actor::Member(admin.id), "fourth").target(format!("member:{}", admin.id)),
    ];
    let before = t.db.audit_head(org.id).await.unwrap().unwrap();
    t.db.record_key_login(org.id, admin.id, key_id, used, records, basis).await.unwrap();
    let events = t.db.audit_chain(org.id, before.seq, 100).await.unwrap();
    let written: Vec<_> = events
        .iter()
        .map(|e| (e.seq - before.seq, e.action.as_str(), e.actor_name.as_deref(), e.target_name.as_deref()))
        .collect();
    assert_eq!(
        written,
        [
            (1, "first", Some("admin"), Some("bob")),
            (2, "second", Some("bob"), Some("Admin key")),
            (3, "third", None, Some("Acme")),
            (4, "fourth", Some("admin"), Some("admin")),
        ]
    );
    assert_eq!(events[0].prev_hash, before.hash);
    assert_eq!(t.db.audit_head(org.id).await.unwrap().unwrap().hash, events[3].hash);
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());
}

on_both_databases! {
    audit_chain_verifies_pages_and_detects_edits,
    one_write_appends_its_events_in_order_and_names_each,
    concurrent_appenders_never_fork_the_chain,
    deleting_the_newest_events_is_reported,
    events_snapshot_names_and_request_context,
}

async fn insert(db: &Database, table: &str, row: Vec<(&str, Value)>) {
    let (columns, values): (Vec<_>, Vec<_>) = row.into_iter().unzip();
    let statement = Query::insert()
        .into_table(Alias::new(table))
        .columns(columns.into_iter().map(Alias::new))
        .values_panic(values.into_iter().map(Expr::val))
        .to_owned();
    db.connection().execute(&statement).await.unwrap();
}

/// Events written before the audit-context migration, by the code of that time (the old columns
/// only, hashed in the version-1 form), still verify after it, chained with new events.
async fn events_from_before_the_migration_still_verify(db: Database) {
    Migrator::up(db.connection(), Some(1)).await.unwrap();
    let org = OrgId::new();
    let now = Utc::now();
    insert(
        &db,
        "organizations",
        vec![
            ("id", org.0.into()),
            ("slug", "acme".into()),
            ("name", "Acme".into()),
            ("mfa_enforced", false.into()),
            ("created_at", now.into()),
            ("updated_at", now.into()),
        ],
    )
    .await;
    let mut prev = GENESIS_HASH.to_owned();
    for seq in 1..=3 {
        let record = AuditRecord::new(Actor::System, format!("old.{seq}")).target(format!("org:{org}"));
        let mut event = AuditEvent::seal(org, seq, &prev, now, record);
        event.hash_version = LEGACY_HASH_VERSION;
        event.hash = event.computed_hash();
        insert(
            &db,
            "audit_events",
            vec![
                ("org_id", org.0.into()),
                ("seq", (seq as i64).into()),
                ("at", event.at.into()),
                ("actor", event.actor.clone().into()),
                ("action", event.action.clone().into()),
                ("target", event.target.clone().into()),
                ("outcome", event.outcome.clone().into()),
                ("ip", Option::<String>::None.into()),
                ("details", event.details.to_string().into()),
                ("prev_hash", event.prev_hash.clone().into()),
                ("hash", event.hash.clone().into()),
            ],
        )
        .await;
        prev = event.hash;
    }
    insert(&db, "audit_heads", vec![("org_id", org.0.into()), ("seq", 3i64.into()), ("hash", prev.into())]).await;

    db.migrate().await.unwrap();
    let meta = RequestMeta::new(Some("req-1"), Some("curl/8"));
    request_context::scope(meta, db.append_audit(org, audit("new.4").target(format!("org:{org}")))).await.unwrap();
    db.append_audit(org, audit("new.5")).await.unwrap();
    let verdict = verify_chain(&db, org).await.unwrap();
    assert!(verdict.ok(), "{verdict:?}");
    assert_eq!(verdict.checked, 5);
    let events = db.audit_chain(org, 0, 10).await.unwrap();
    let versions: Vec<_> = events.iter().map(|e| e.hash_version).collect();
    assert_eq!(versions, [1, 1, 1, 2, 2]);
    assert_eq!((events[0].target_name.as_deref(), events[3].target_name.as_deref()), (None, Some("Acme")));
    assert_eq!(verdict.end, AuditHead { seq: 5, hash: events[4].hash.clone() });
    // Old events are still protected by their old hash.
    db.connection().execute_unprepared("UPDATE audit_events SET action = 'forged' WHERE seq = 2").await.unwrap();
    assert_eq!(verify_chain(&db, org).await.unwrap().first_broken_seq, Some(2));
}

#[tokio::test]
async fn events_from_before_the_migration_still_verify_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/keyward.db?mode=rwc", dir.path().display());
    events_from_before_the_migration_still_verify(Database::connect(&DatabaseOptions::new(url)).await.unwrap()).await;
}

#[tokio::test]
async fn events_from_before_the_migration_still_verify_on_postgres() {
    let mut options = DatabaseOptions::new(keyward_testkit::postgres_url());
    options.schema = Some(keyward_testkit::fresh_pg_schema().await);
    events_from_before_the_migration_still_verify(Database::connect(&options).await.unwrap()).await;
}

/// Two instances starting together against one empty PostgreSQL create exactly one organization.
#[tokio::test]
async fn racing_bootstraps_on_postgres_create_one_organization() {
    let schema = keyward_testkit::fresh_pg_schema().await;
    let mut options = keyward_storage::DatabaseOptions::new(keyward_testkit::postgres_url());
    options.schema = Some(schema);
    let first = Database::connect(&options).await.unwrap();
    first.migrate().await.unwrap();
    let second = Database::connect(&options).await.unwrap();
    let attempt = |db: Database, slug: &'static str| async move {
        let org = Organization {
            id: OrgId::new(),
            slug: slug.into(),
            name: slug.into(),
            enforcement: Enforcement::default(),
            created_at: Utc::now(),
        };
        db.bootstrap(
            Bootstrap {
                admin: keyward_domain::member::NewMember {
                    org_id: org.id,
                    username: "admin".into(),
                    display_name: "Admin".into(),
                    email: None,
                    role: keyward_domain::member::Role::Admin,
                    oidc: None,
                },
                organization: org,
                backup_username: "admin".into(),
                backup_secret_hash: "h".into(),
            },
            audit("org.bootstrapped"),
        )
        .await
    };
    let (a, b) = tokio::join!(attempt(first.clone(), "one"), attempt(second, "two"));
    let created = [a.unwrap(), b.unwrap()].iter().filter(|r| r.is_some()).count();
    assert_eq!(created, 1);
    assert_eq!(first.organizations().await.unwrap().len(), 1);
}

/// A PostgreSQL database reached through a proxy that counts its statements (in the clear), with
/// the admin's key: (proxy, database, organization, admin, (key ID, credential ID)).
async fn counted_admin_key()
-> (keyward_testkit::proxy::TcpProxy, TestDb, Organization, keyward_domain::member::Member, (SecurityKeyId, Vec<u8>)) {
    let proxy = keyward_testkit::proxy::TcpProxy::start(&keyward_testkit::postgres_url()).await;
    let t = TestDb::postgres_at(&format!("{}?sslmode=disable", proxy.rewrite(&keyward_testkit::postgres_url()))).await;
    let (org, admin) = bootstrap(&t.db).await;
    let key = key_of(org.id, admin.id, "Admin key");
    let ids = (key.key.id, key.key.credential_id.clone());
    t.db.insert_key(key, audit("k")).await.unwrap();
    (proxy, t, org, admin, ids)
}

/// Waits until the proxy has seen no round trip for 100 ms (at most 5 s). sqlx checks each
/// connection it gets back off the request's path, so a step's last round trips can land after
/// the step returned: counting from a reset right after it would count them for the next step.
async fn settled(proxy: &keyward_testkit::proxy::TcpProxy) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut seen = proxy.round_trips();
    while std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = proxy.round_trips();
        if now == seen {
            return;
        }
        seen = now;
    }
}

/// PostgreSQL statements of a key login's database work: one read (the key, the audit head, the
/// owner's name) and one write (key use, login time, events).
const PINNED_KEY_LOGIN_STATEMENTS: usize = 2;

/// A key login costs one read and one write, and naming the member in its events costs nothing
/// more: the name comes with the read and is checked by the write.
#[tokio::test]
async fn a_key_login_costs_one_read_and_one_write() {
    let (proxy, t, org, admin, (key_id, credential_id)) = counted_admin_key().await;
    let login = |named: bool, counter: u32| {
        let record = if named {
            AuditRecord::new(Actor::Member(admin.id), "mfa.login").target(format!("member:{}", admin.id))
        } else {
            audit("mfa.login")
        };
        let used = use_after(counter);
        let (db, credential_id) = (Arc::clone(&t.db), credential_id.clone());
        async move {
            let (_, basis) = db.key_for_login(&credential_id).await.unwrap().unwrap();
            db.record_key_login(org.id, admin.id, key_id, used, vec![record], basis).await.unwrap()
        }
    };
    // Warm the connections' statement caches first, so the round trips below are the steady state.
    for (counter, named) in [false, true, false, true].into_iter().enumerate() {
        login(named, counter as u32).await;
    }
    settled(&proxy).await;
    proxy.reset();
    login(false, 4).await;
    settled(&proxy).await;
    let unnamed = proxy.pg_statements();
    proxy.reset();
    login(true, 5).await;
    settled(&proxy).await;
    assert_eq!(proxy.pg_statements(), unnamed, "{:?}", proxy.log());
    assert_eq!(unnamed, PINNED_KEY_LOGIN_STATEMENTS, "{:?}", proxy.log());
    // Each statement is one round trip; besides them, sqlx checks each connection it gets back
    // (off the request's path). The pool checks none it hands out unless it sat idle (see
    // `Database::connect`), which would be one more round trip per statement.
    assert_eq!(proxy.round_trips(), 2 * PINNED_KEY_LOGIN_STATEMENTS as u64, "{:?}", proxy.log());
    let last = t.db.audit_events(org.id, AuditQuery { first: 1, ..Default::default() }).await.unwrap().items;
    assert_eq!(last[0].actor_name.as_deref(), Some("admin"));
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());
}

/// PostgreSQL statements of a login written in a transaction: BEGIN, the key's use, the login
/// time, the head with the events' names, the events with the head's move, COMMIT.
const PINNED_TRANSACTION_STATEMENTS: usize = 6;

/// A write's audit costs the same two statements for one event as for four.
#[tokio::test]
async fn a_write_appends_any_number_of_events_in_two_statements() {
    let (proxy, t, org, admin, (key_id, credential_id)) = counted_admin_key().await;
    let bob = member(&t.db, org.id, "bob").await;
    // Open the pool's connections first: one opened while counting would add its own setup.
    let opening: Vec<_> = (0..8)
        .map(|_| {
            let db = Arc::clone(&t.db);
            tokio::spawn(async move { db.audit_head(org.id).await.unwrap() })
        })
        .collect();
    for task in opening {
        task.await.unwrap();
    }
    // Naming bob sends the login down its transaction path.
    let about_bob = || AuditRecord::new(Actor::Member(bob.id), "about.bob").target(format!("member:{}", bob.id));
    let mut statements = Vec::new();
    for (counter, events) in [1, 4, 1, 4].into_iter().enumerate() {
        let (_, basis) = t.db.key_for_login(&credential_id).await.unwrap().unwrap();
        let counter = counter as u32;
        let used = use_after(counter);
        proxy.reset();
        let records = (0..events).map(|_| about_bob()).collect();
        t.db.record_key_login(org.id, admin.id, key_id, used, records, basis).await.unwrap();
        statements.push((events, proxy.pg_statements()));
    }
    let pinned = PINNED_TRANSACTION_STATEMENTS;
    assert_eq!(statements, [(1, pinned), (4, pinned), (1, pinned), (4, pinned)], "{:?}", proxy.log());
    let last = t.db.audit_events(org.id, AuditQuery { first: 4, ..Default::default() }).await.unwrap().items;
    assert!(last.iter().all(|e| e.actor_name.as_deref() == Some("bob") && e.target_name.as_deref() == Some("bob")));
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());
}
