//! `GET /auth/verify`: the nginx `auth_request` contract, from Rust. (The same contract behind a
//! real nginx is in `e2e/`.)

mod common;

use chrono::Duration;
use common::TestApp;
use common::authn::ORIGIN;
use keyward_domain::repo::{AuditQuery, AuditRepo};
use keyward_domain::session::SessionStage;
use keyward_testkit::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn verify(
    app: &TestApp,
    query: &str,
    token: Option<&str>,
    original: Option<&str>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut request = app.client.get(format!("{}/auth/verify?{query}", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(original) = original {
        request = request.header("x-original-uri", original);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, response.json().await.unwrap_or(Value::Null), headers)
}

const CLUSTER: &str = "action=k8s.exec&resource=prod%2Fcluster-a";

async fn answers_follow_the_auth_request_contract(app: &TestApp) {
    let admin = app.admin().await;
    let (status, body, _) = verify(app, CLUSTER, None, None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED")));
    let fresh = app.key_session_for(&admin, Duration::seconds(5)).await;
    for malformed in ["", "resource=prod", "action=K8S%20exec", "action=a.b&action=c.d", "action=a.b&extra=1"] {
        let (status, body, _) = verify(app, malformed, Some(&fresh), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{malformed:?}: {body}");
    }
    let (status, _, headers) = verify(app, CLUSTER, Some(&fresh), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-keyward-member"], admin.id.to_string().as_str());
    assert_eq!(headers["x-keyward-org"], app.org.to_string().as_str());

    let stale = app.key_session_for(&admin, Duration::hours(2)).await;
    let (status, body, _) = verify(app, CLUSTER, Some(&stale), Some("/grafana/d/1?x=1")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "STEP_UP_REQUIRED");
    assert_eq!(body["maxAgeSeconds"], 300);
    assert_eq!(
        body["stepUpUrl"],
        "http://localhost:8080/step-up?action=k8s.exec&resource=prod%2Fcluster-a&return=%2Fgrafana%2Fd%2F1%3Fx%3D1"
    );
    let (_, body, _) = verify(app, CLUSTER, Some(&stale), Some("//evil.example/")).await;
    assert!(!body["stepUpUrl"].as_str().unwrap().contains("evil"), "{body}");

    // A member without a key has nothing to step up with: tools behind Keyward stay closed.
    let keyless = app.session_for(&admin, SessionStage::Authenticated).await;
    let (status, body, _) = verify(app, CLUSTER, Some(&keyless), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("STEP_UP_REQUIRED")));
    let pending = app.session_for(&admin, SessionStage::MfaRequired).await;
    let (status, _, _) = verify(app, CLUSTER, Some(&pending), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a login that has not touched its key is no session yet");
}

async fn a_step_up_in_the_browser_opens_the_tool(app: &TestApp) {
    let (_fresh, mut key) = app.admin_with_key().await;
    let admin = app.admin().await;
    let mut stale = app.key_session_for(&admin, Duration::hours(2)).await;
    let begin = "mutation { stepUpBegin(action: \"k8s.exec\", resource: \"prod/cluster-a\") { ceremonyId options } }";
    let begun = app.ok(begin, json!({}), Some(&stale)).await["stepUpBegin"].clone();
    let response = TestApp::get(&mut key, &begun["options"], ORIGIN);
    let finish = "mutation($c: ID!, $r: JSON!) { stepUpFinish(ceremonyId: $c, response: $r) { sessionToken } }";
    let data = app.ok(finish, json!({ "c": begun["ceremonyId"], "r": response }), Some(&stale)).await;
    stale = data["stepUpFinish"]["sessionToken"].as_str().unwrap().to_owned();
    let (status, _, _) = verify(app, CLUSTER, Some(&stale), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = verify(app, "action=k8s.exec&resource=prod%2Fcluster-b", Some(&stale), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the grant names one cluster");
}

async fn a_policy_that_breaks_at_runtime_denies_and_is_audited(app: &TestApp) {
    let (fresh, _key) = app.admin_with_key().await;
    let rego = r#"package keyward.step_up
import rego.v1
slow if {
	input.resource.id == "prod/loop"
	count([x | some x in numbers.range(1, 5000000); x % 7 == 0]) > 0
}
decision := {"max_age_seconds": 60} if slow
"#;
    let body = app
        .graphql("mutation($r: String!) { stepUpPolicySet(rego: $r) { version } }", json!({ "r": rego }), Some(&fresh))
        .await
        .1;
    assert_eq!(body["data"]["stepUpPolicySet"]["version"], 1, "{body}");
    let (status, body, _) = verify(app, "action=db.restart&resource=prod%2Floop", Some(&fresh), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("POLICY_DENIED")), "{body}");
    let query = AuditQuery { first: 10, action: Some("step_up.denied".into()), ..Default::default() };
    let denied = app.db.audit_events(app.org, query).await.unwrap().items;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].details["policyVersion"], 1);
    let (status, _, _) = verify(app, "action=db.restart&resource=prod%2Fquick", Some(&fresh), None).await;
    assert_eq!(status, StatusCode::OK, "other inputs still evaluate");
}

on_both_backends! {
    answers_follow_the_auth_request_contract,
    a_step_up_in_the_browser_opens_the_tool,
    a_policy_that_breaks_at_runtime_denies_and_is_audited,
}

#[tokio::test]
async fn an_unreachable_session_store_never_answers_200() {
    let (app, proxy) = TestApp::behind_redis_proxy(TestDb::sqlite().await).await;
    let fresh = app.key_session_for(&app.admin().await, Duration::seconds(5)).await;
    assert_eq!(verify(&app, CLUSTER, Some(&fresh), None).await.0, StatusCode::OK);
    proxy.set_down(true);
    let (status, body, _) = verify(&app, CLUSTER, Some(&fresh), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("SERVICE_UNAVAILABLE")));
    proxy.set_down(false);
    app.stop().await;
}
