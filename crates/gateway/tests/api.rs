//! The GraphQL endpoint end to end: sessions, the choke point, and hardening against bad input.

mod common;

use common::{TestApp, error_code};
use keyward_domain::repo::{AuditQuery, AuditRepo};
use keyward_domain::session::SessionStage;
use reqwest::StatusCode;
use serde_json::{Value, json};

const VIEWER: &str = "{ viewer { id stage role methods member { username } organization { slug } } }";

async fn anonymous_viewer_is_null(app: &TestApp) {
    let (status, body) = app.graphql("{ __typename viewer { id } }", json!({}), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], json!({ "__typename": "Query", "viewer": null }));
    let (_, body) = app.graphql(VIEWER, json!({}), Some("kw1.garbage.token")).await;
    assert_eq!(body["data"]["viewer"], Value::Null, "a malformed token is no session");
}

async fn viewer_comes_from_the_session(app: &TestApp) {
    let admin = app.admin().await;
    let token = app.session_for(&admin, SessionStage::Authenticated).await;
    let (_, body) = app.graphql(VIEWER, json!({}), Some(&token)).await;
    let viewer = &body["data"]["viewer"];
    assert_eq!(viewer["id"], admin.id.to_string());
    assert_eq!(viewer["stage"], "AUTHENTICATED");
    assert_eq!(viewer["role"], "ADMIN");
    assert_eq!(viewer["methods"], json!(["SSO"]));
    assert_eq!(viewer["member"]["username"], "admin");
    assert_eq!(viewer["organization"]["slug"], "default");

    // The same session through the cookie.
    let response = app
        .client
        .post(format!("{}/graphql", app.url))
        .header("content-type", "application/json")
        .header("cookie", format!("keyward_session={token}"))
        .body(json!({ "query": "{ viewer { id } }" }).to_string())
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["viewer"]["id"], admin.id.to_string());
}

async fn logout_ends_the_session_and_clears_the_cookie(app: &TestApp) {
    let member = app.member("alice").await;
    let token = app.session_for(&member, SessionStage::Authenticated).await;
    let response = app
        .client
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&token)
        .json(&json!({ "query": "mutation { logout }" }))
        .send()
        .await
        .unwrap();
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("keyward_session=;") && cookie.contains("Max-Age=0") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["logout"], true);
    let (_, body) = app.graphql("{ viewer { id } }", json!({}), Some(&token)).await;
    assert_eq!(body["data"]["viewer"], Value::Null);
    let (_, body) = app.graphql("mutation { logout }", json!({}), Some(&token)).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let events = app
        .db
        .audit_events(app.org, AuditQuery { first: 5, action: Some("session.logout".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(events.items.len(), 1);
    assert_eq!(events.items[0].actor, format!("member:{}", member.id));
}

async fn every_stage_reaches_viewer_and_logout(app: &TestApp) {
    let member = app.member("bob").await;
    for (stage, name) in [
        (SessionStage::MfaRequired, "MFA_REQUIRED"),
        (SessionStage::MfaRegistrationRequired, "MFA_REGISTRATION_REQUIRED"),
        (SessionStage::Authenticated, "AUTHENTICATED"),
    ] {
        let token = app.session_for(&member, stage).await;
        let (_, body) = app.graphql("{ viewer { stage } }", json!({}), Some(&token)).await;
        assert_eq!(body["data"]["viewer"]["stage"], name);
        let (_, body) = app.graphql("mutation { logout }", json!({}), Some(&token)).await;
        assert_eq!(body["data"]["logout"], true, "{body}");
    }
}

async fn bad_requests_get_clear_errors(app: &TestApp) {
    let post = |content_type: &'static str, body: String| {
        app.client.post(format!("{}/graphql", app.url)).header("content-type", content_type).body(body).send()
    };
    let response = post("text/plain", json!({ "query": "{ __typename }" }).to_string()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "CSRF: JSON only");
    let response = post("application/x-www-form-urlencoded", "query=mutation%7Blogout%7D".into()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let response = post("application/json", "{ not json".into()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "BAD_USER_INPUT");

    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]).to_string();
    let response = post("application/json", batch).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("batch"));

    let response = post("application/json", json!({ "variables": {} }).to_string()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let (status, body) = app.graphql("{ viewer { id ", json!({}), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let (_, body) = app.graphql("{ nope }", json!({}), None).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");

    let huge = json!({ "query": format!("{{ __typename }} # {}", "x".repeat(70 * 1024)) }).to_string();
    let response = post("application/json", huge).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let mut deep = String::from("{ __schema { types { fields { type ");
    for _ in 0..20 {
        deep.push_str("{ ofType ");
    }
    deep.push_str("{ name }");
    deep.push_str(&" }".repeat(20));
    deep.push_str(" } } } }");
    let (_, body) = app.graphql(&deep, json!({}), None).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert!(body["errors"][0]["message"].as_str().unwrap().to_lowercase().contains("nested too deep"), "{body}");
}

async fn get_serves_queries_but_never_mutations(app: &TestApp) {
    let member = app.member("carol").await;
    let token = app.session_for(&member, SessionStage::Authenticated).await;
    let get = |query: &str| {
        app.client.get(format!("{}/graphql", app.url)).query(&[("query", query)]).bearer_auth(&token).send()
    };
    let body: Value = get("{ viewer { id } }").await.unwrap().json().await.unwrap();
    assert_eq!(body["data"]["viewer"]["id"], member.id.to_string());
    let body: Value = get("mutation { logout }").await.unwrap().json().await.unwrap();
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let (_, still) = app.graphql("{ viewer { id } }", json!({}), Some(&token)).await;
    assert_eq!(still["data"]["viewer"]["id"], member.id.to_string(), "the GET mutation did nothing");
    let page = app.client.get(format!("{}/graphql", app.url)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().to_lowercase().contains("graphiql"));
}

async fn ops_endpoints_answer(app: &TestApp) {
    let public = |path: &str| app.client.get(format!("{}{path}", app.url)).send();
    let get = |path: &str| app.client.get(format!("{}{path}", app.management_url)).send();
    assert_eq!(public("/healthz").await.unwrap().text().await.unwrap(), r#"{"status":"ok"}"#, "bare");
    for path in ["/readyz", "/metrics"] {
        assert_eq!(public(path).await.unwrap().status(), StatusCode::NOT_FOUND, "{path} is for operators only");
    }
    assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body, json!({ "status": "ok", "database": "ok", "sessionStore": "ok" }));
    let admin = app.admin().await;
    app.session_for(&admin, SessionStage::Authenticated).await;
    app.graphql("{ nope }", json!({}), None).await;
    // HTTP lets a client send any token as a method: each must not become a series of its own.
    for made_up in ["FOO1", "FOO2", "FOO3"] {
        let method = reqwest::Method::from_bytes(made_up.as_bytes()).unwrap();
        app.client.request(method, format!("{}/graphql", app.url)).send().await.unwrap();
    }
    let response = get("/metrics").await.unwrap();
    let request_id = response.headers().get("x-request-id").cloned();
    assert!(request_id.is_some(), "every response carries a request ID");
    let text = response.text().await.unwrap();
    assert!(text.contains("keyward_http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"}"), "{text}");
    assert!(text.contains("keyward_graphql_errors_total{code=\"BAD_USER_INPUT\"} 1"), "{text}");
    assert!(text.contains("keyward_live_sessions{organization=\"default\"} 1"), "{text}");
    assert!(text.contains("keyward_http_request_duration_seconds_bucket"));
    assert!(text.contains("method=\"OTHER\""), "{text}");
    assert!(!text.contains("FOO"), "made-up methods share the OTHER label: {text}");
}

on_both_backends! {
    anonymous_viewer_is_null,
    viewer_comes_from_the_session,
    logout_ends_the_session_and_clears_the_cookie,
    every_stage_reaches_viewer_and_logout,
    bad_requests_get_clear_errors,
    get_serves_queries_but_never_mutations,
    ops_endpoints_answer,
}

#[tokio::test]
async fn queries_over_the_complexity_limit_are_refused() {
    let mut config = common::test_config();
    config.limits.query_complexity = 5;
    let app = TestApp::start_with_config(keyward_testkit::TestDb::sqlite().await, common::Store::Memory, config).await;
    let (_, body) = app.graphql("{ a: __typename b: __typename }", json!({}), None).await;
    assert!(body.get("errors").is_none(), "{body}");
    let wide = (0..10).map(|i| format!("v{i}: viewer {{ id }}")).collect::<Vec<_>>().join(" ");
    let (_, body) = app.graphql(&format!("{{ {wide} }}"), json!({}), None).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert!(body["errors"][0]["message"].as_str().unwrap().to_lowercase().contains("complex"), "{body}");
    app.stop().await;
}

/// A failed backup login from behind `forwarded_for`; returns the address the audit trail recorded.
async fn audited_ip_of_failed_login(app: &TestApp, forwarded_for: &str) -> Option<String> {
    use keyward_domain::repo::{AuditQuery, AuditRepo};
    let body: serde_json::Value = app
        .client
        .post(format!("{}/graphql", app.url))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "query": "mutation { backupCredentialsLogin(organization: \"default\", username: \"admin\", secret: \"wrong\") { stage } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let query = AuditQuery { first: 1, action: Some("backup_credentials.login".into()), ..Default::default() };
    app.db.audit_events(app.org, query).await.unwrap().items.first().and_then(|e| e.ip.clone())
}

/// Behind a trusted load balancer, rate limits and the audit trail see the client's address;
/// anyone else's `X-Forwarded-For` is ignored.
#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let direct = TestApp::start(keyward_testkit::TestDb::sqlite().await, common::Store::Memory).await;
    assert_eq!(audited_ip_of_failed_login(&direct, "198.51.100.7").await.as_deref(), Some("127.0.0.1"));
    direct.stop().await;

    let mut config = common::test_config();
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let proxied =
        TestApp::start_with_config(keyward_testkit::TestDb::sqlite().await, common::Store::Memory, config).await;
    let ip = audited_ip_of_failed_login(&proxied, "6.6.6.6, 198.51.100.7").await;
    assert_eq!(ip.as_deref(), Some("198.51.100.7"), "the rightmost untrusted address is the client");
    proxied.stop().await;
}
