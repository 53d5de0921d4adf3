//! The audit chain and first-start bootstrap on both databases: hash-chained, race-free appends.

use std::sync::Arc;

use chrono::{Duration, Utc};
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::OrgId;
use keyward_domain::org::{Enforcement, Organization};
use keyward_domain::repo::*;
use keyward_storage::Database;
use keyward_storage::db::verify_chain;
use keyward_testkit::{TestDb, bootstrap, on_both_databases};
use sea_orm::ConnectionTrait;

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

on_both_databases! {
    audit_chain_verifies_pages_and_detects_edits,
    concurrent_appenders_never_fork_the_chain,
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
