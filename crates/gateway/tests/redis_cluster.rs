//! A gateway on a private Redis Cluster (three masters, a replica each) whose master for the
//! organization's slot is killed mid-test, right after a logout: while the replica takes over, every request either
//! succeeds or fails closed with `SERVICE_UNAVAILABLE`, a revoked session is never let in, and once
//! the cluster has failed over, sessions and a key ceremony begun before the kill carry on by
//! themselves.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::authn::{ORIGIN, token_of};
use common::{TestApp, error_code};
use keyward_domain::session::SessionStage;
use keyward_gateway::Stores;
use keyward_testkit::{RedisCluster, TestDb};
use serde_json::{Value, json};

/// Requests sent at most while waiting for the failover (each takes at most a few seconds).
const PROBES: usize = 600;

/// Consecutive answers that count as recovered.
const SETTLED: usize = 10;

/// The caller's keys: a query only a live session may make (`viewer` is null for nobody).
async fn keys(app: &TestApp, token: &str) -> Value {
    app.graphql("{ securityKeys { id } }", json!({}), Some(token)).await.1
}

fn is_served(body: &Value) -> bool {
    body.get("errors").is_none() && body["data"]["securityKeys"].is_array()
}

#[tokio::test]
async fn a_master_killed_mid_test_fails_closed_and_recovers() {
    let mut cluster = RedisCluster::start();
    let store = keyward_storage::RedisStore::connect(&cluster.url, &keyward_testkit::unique("kwt")).await.unwrap();
    assert!(store.is_cluster());
    let app = TestApp::start_with_stores(
        TestDb::sqlite().await,
        common::test_config(),
        Stores::shared(Arc::new(store.clone())),
        Some(store.clone()),
    )
    .await;
    let (admin_token, mut admin_key) = app.admin_with_key().await;
    let admin = app.admin().await;
    let revoked = app.session_for(&admin, SessionStage::Authenticated).await;
    // A login's key step begun before the kill, to be finished after the failover.
    let pending = app.session_for(&admin, SessionStage::MfaRequired).await;
    let (ceremony, options) = app.mfa_begin(&pending).await;
    cluster.sync_replicas();

    // A logout just before the kill: only the store's own wait for the replica keeps it.
    assert!(is_served(&keys(&app, &revoked).await));
    app.ok("mutation { logout }", json!({}), Some(&revoked)).await;
    let master = cluster.master_of(&store.prefix(app.org));
    cluster.kill(master);
    let killed_at = Instant::now();

    let (mut served, mut unavailable, mut streak) = (0, 0, 0);
    let mut recovered_after = None;
    for _ in 0..PROBES {
        let body = keys(&app, &admin_token).await;
        if is_served(&body) {
            served += 1;
            streak += 1;
        } else {
            assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE", "the only failure allowed: {body}");
            assert!(body["data"].is_null(), "no access while failing: {body}");
            unavailable += 1;
            streak = 0;
        }
        let body = keys(&app, &revoked).await;
        assert!(body["data"].is_null(), "a revoked session is never let in: {body}");
        assert!(
            ["UNAUTHENTICATED", "SERVICE_UNAVAILABLE"].contains(&error_code(&body)),
            "a revoked session is refused or the store is unavailable: {body}"
        );
        if streak == 1 {
            recovered_after = Some(killed_at.elapsed());
        }
        if streak >= SETTLED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(streak >= SETTLED, "no recovery after {PROBES} probes ({served} served, {unavailable} unavailable)");
    let recovered_after = recovered_after.unwrap();
    let healthy_after = cluster.wait_until_healthy();
    println!(
        "failover: master :{master} killed; sessions served again after {} ms ({unavailable} requests refused with \
         SERVICE_UNAVAILABLE, {served} served); cluster_state:ok {} ms later",
        recovered_after.as_millis(),
        healthy_after.as_millis()
    );

    // The ceremony begun before the kill was replicated before it: it carries on, once.
    let response = TestApp::get(&mut admin_key, &options, ORIGIN);
    let finished = app.mfa_finish(&pending, &ceremony, response.clone()).await;
    assert!(finished.get("errors").is_none(), "{finished}");
    let fresh = token_of(&finished["data"]["mfaLoginFinish"]);
    assert!(is_served(&keys(&app, &fresh).await));
    let replay = app.mfa_finish(&fresh, &ceremony, response).await;
    assert_ne!(error_code(&replay), "<none>", "a ceremony works once: {replay}");
    // New sessions and revocations work on the promoted replica.
    let after = app.session_for(&admin, SessionStage::Authenticated).await;
    assert!(is_served(&keys(&app, &after).await));
    app.ok("mutation { logout }", json!({}), Some(&after)).await;
    assert_eq!(error_code(&keys(&app, &after).await), "UNAUTHENTICATED");
    assert_eq!(error_code(&keys(&app, &revoked).await), "UNAUTHENTICATED");
    app.stop().await;
}
