//! Outages of Redis or the database: requests that need them fail closed with
//! `SERVICE_UNAVAILABLE`, `/readyz` says why, and everything recovers by itself with nothing lost.

mod common;

use std::time::Duration;

use common::{TestApp, error_code};
use keyward_domain::session::SessionStage;
use keyward_testkit::proxy::TcpProxy;
use keyward_testkit::{TestDb, postgres_url};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let response = app.client.get(format!("{}/readyz", app.management_url)).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

/// Retries `query` until it answers without errors (bounded: the services came back).
async fn wait_until_served(app: &TestApp, query: &str, token: &str) -> Value {
    for _ in 0..100 {
        let (_, body) = app.graphql(query, json!({}), Some(token)).await;
        if body.get("errors").is_none() {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{query} never recovered");
}

#[tokio::test]
async fn redis_outage_fails_closed_and_recovers() {
    let (app, proxy) = TestApp::behind_redis_proxy(TestDb::sqlite().await).await;
    let admin = app.admin().await;
    let token = app.session_for(&admin, SessionStage::Authenticated).await;
    let (_, body) = app.graphql("{ viewer { id } }", json!({}), Some(&token)).await;
    assert_eq!(body["data"]["viewer"]["id"], admin.id.to_string());

    proxy.set_down(true);
    let (status, body) = app.graphql("{ viewer { id } }", json!({}), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE", "{body}");
    assert_eq!(body["data"]["viewer"], Value::Null, "no access while Redis is away");
    let (_, body) = app.graphql("mutation { logout }", json!({}), Some(&token)).await;
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE");
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], "ok");
    assert_ne!(body["sessionStore"], "ok");
    let (_, body) = app.graphql("{ __typename }", json!({}), None).await;
    assert_eq!(body["data"]["__typename"], "Query", "requests without a session still work");

    proxy.set_down(false);
    let body = wait_until_served(&app, "{ viewer { id } }", &token).await;
    assert_eq!(body["data"]["viewer"]["id"], admin.id.to_string(), "the session survived");
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn database_outage_fails_closed_and_recovers() {
    let proxy = TcpProxy::start(&postgres_url()).await;
    let app = TestApp::start(TestDb::postgres_at(&proxy.rewrite(&postgres_url())).await, common::Store::Redis).await;
    let admin = app.admin().await;
    let token = app.session_for(&admin, SessionStage::Authenticated).await;
    let query = "{ viewer { id member { username } } }";

    proxy.set_down(true);
    let (_, body) = app.graphql(query, json!({}), Some(&token)).await;
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE", "{body}");
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["sessionStore"], "ok");
    assert_ne!(body["database"], "ok");

    proxy.set_down(false);
    let body = wait_until_served(&app, query, &token).await;
    assert_eq!(body["data"]["viewer"]["member"]["username"], "admin");
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    app.stop().await;
}
