//! Two gateway instances sharing PostgreSQL and Redis (one node, then a cluster of three masters
//! and three replicas): an admin and 50 members with 200 live sessions. Enforcing on one instance leaves exactly the admin's current session alive on both;
//! members without keys must register; admin deletion revokes; the chain verifies after it all.

mod common;

use std::sync::Arc;

use chrono::Utc;
use common::authn::{soft_key, token_of};
use common::{TestApp, error_code};
use keyward_domain::session::SessionStage;
use serde_json::{Value, json};

async fn viewer_on(client: &reqwest::Client, url: &str, token: &str) -> Value {
    client
        .post(format!("{url}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ securityKeys { id } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn enforcement_on_one_instance_flushes_both() {
    enforcement_flushes_both_instances(keyward_testkit::redis_store().await).await;
}

#[tokio::test]
async fn enforcement_on_one_instance_flushes_both_on_a_redis_cluster() {
    let redis = keyward_testkit::redis_cluster_store().await;
    assert!(redis.is_cluster());
    enforcement_flushes_both_instances(redis).await;
}

async fn enforcement_flushes_both_instances(redis: keyward_storage::RedisStore) {
    let stores = keyward_gateway::Stores::shared(Arc::new(redis.clone()));
    let a = TestApp::start_with_stores(
        keyward_testkit::TestDb::postgres().await,
        common::test_config(),
        stores.clone(),
        Some(redis),
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = keyward_gateway::start_with(common::test_config(), listener, Arc::clone(&a.db), stores).await.unwrap();
    assert!(b.credentials.is_none(), "the second instance does not bootstrap again");
    let b_url = format!("http://{}", b.addr);
    let client = reqwest::Client::new();

    let mut admin = token_of(&a.backup_login().await);
    let mut admin_key = soft_key(true);
    a.register_key(&mut admin, &mut admin_key, "Admin key").await;
    let mut members = Vec::new();
    for i in 0..50 {
        members.push(a.member(&format!("member{i:02}")).await);
    }
    // Ten members have a key; every member holds four live sessions.
    for member in members.iter().take(10) {
        let mut token = a.session_for(member, SessionStage::Authenticated).await;
        a.register_key(&mut token, &mut soft_key(true), "Key").await;
        a.running
            .state
            .sessions
            .revoke(a.org, &keyward_domain::session::SessionToken::parse(&token).unwrap().hash(), Utc::now())
            .await
            .unwrap();
    }
    let mut tokens = Vec::new();
    for member in &members {
        for _ in 0..4 {
            tokens.push(a.session_for(member, SessionStage::Authenticated).await);
        }
    }
    assert_eq!(tokens.len(), 200);
    assert_eq!(a.running.state.sessions.live_sessions(a.org, Utc::now()).await.unwrap(), 201, "200 + the admin's");

    let data = a
        .ok(
            "mutation { mfaEnforcementSet(input: { enabled: true }) { revokedSessions membersWithoutKey } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(data["mfaEnforcementSet"]["revokedSessions"], 200);
    assert_eq!(data["mfaEnforcementSet"]["membersWithoutKey"], 40);

    for token in tokens.iter().step_by(7) {
        for url in [&a.url, &b_url] {
            assert_eq!(error_code(&viewer_on(&client, url, token).await), "UNAUTHENTICATED");
        }
    }
    for url in [&a.url, &b_url] {
        assert!(
            viewer_on(&client, url, &admin).await["data"]["securityKeys"].is_array(),
            "the admin's session lives on {url}"
        );
    }
    assert_eq!(a.running.state.sessions.live_sessions(a.org, Utc::now()).await.unwrap(), 1);

    // A keyless member logging in (through instance B) must register first.
    let idp = common::oidc::TestIdp::start().await;
    a.configure_sso(&admin, &idp).await;
    let login = a.sso_login(&idp, &common::oidc::IdpUser::new("latecomer")).await;
    assert_eq!(login["stage"], "MFA_REGISTRATION_REQUIRED");
    assert_eq!(error_code(&viewer_on(&client, &b_url, &token_of(&login)).await), "MFA_REGISTRATION_REQUIRED");

    // An admin deleting a member's key ends that member's sessions on both instances.
    let keyed = &members[0];
    let session = a.session_for(keyed, SessionStage::Authenticated).await;
    let key = viewer_on(&client, &b_url, &session).await["data"]["securityKeys"][0]["id"].as_str().unwrap().to_owned();
    a.ok(
        "mutation($id: ID!) { memberSecurityKeyDelete(id: $id) { revokedSessions } }",
        json!({ "id": key }),
        Some(&admin),
    )
    .await;
    assert_eq!(error_code(&viewer_on(&client, &b_url, &session).await), "UNAUTHENTICATED");

    let verify = a.ok("{ auditVerify { ok checked } }", json!({}), Some(&admin)).await;
    assert_eq!(verify["auditVerify"]["ok"], true, "{verify}");
    b.stop().await;
    a.stop().await;
}
