//! Production-safe defaults when `public_url` is not localhost: no introspection or suggestions,
//! a `__Host-` session cookie, security headers on every response (HSTS over https), and
//! metrics and detailed readiness only on the management listener. On localhost the developer
//! defaults stay, but the security headers are there too.

mod common;

use common::authn::token_of;
use common::{TestApp, error_code};
use keyward_gateway::config::Config;
use keyward_testkit::TestDb;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const SPA_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A configuration for `public_url`, serving a built SPA from a temporary directory.
fn config_for(public_url: &str, spa: &tempfile::TempDir) -> Config {
    let index = r#"<!doctype html><title>Keyward</title><script type="module" src="/assets/app.js"></script>"#;
    std::fs::write(spa.path().join("index.html"), index).unwrap();
    std::fs::create_dir_all(spa.path().join("assets")).unwrap();
    std::fs::write(spa.path().join("assets/app.js"), "console.log('keyward')").unwrap();
    Config { public_url: public_url.parse().unwrap(), static_dir: Some(spa.path().to_owned()), ..common::test_config() }
}

/// GETs `path` on the public listener; returns the status, headers and body.
async fn get(app: &TestApp, path: &str) -> (StatusCode, HeaderMap, String) {
    let response = app.client.get(format!("{}{path}", app.url)).send().await.unwrap();
    (response.status(), response.headers().clone(), response.text().await.unwrap())
}

/// The headers every response must carry, whatever it is.
fn assert_security_headers(what: &str, headers: &HeaderMap, hsts: bool) {
    assert_eq!(headers["content-security-policy"], SPA_CSP, "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    let expected = hsts.then_some("max-age=31536000; includeSubDomains");
    assert_eq!(headers.get("strict-transport-security").map(|v| v.to_str().unwrap()), expected, "{what}");
}

/// Every kind of response: health, GraphQL, a refused request, the SPA's index, its fallback for
/// client-side routes, and its files.
async fn assert_headers_everywhere(app: &TestApp, hsts: bool) {
    for path in ["/healthz", "/", "/org/sso", "/assets/app.js", "/graphql?query={__typename}", "/readyz"] {
        let (_, headers, _) = get(app, path).await;
        assert_security_headers(path, &headers, hsts);
    }
    let refused = app.client.post(format!("{}/graphql", app.url)).body("{}").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_security_headers("a refused POST", refused.headers(), hsts);
}

/// `/metrics` and the detailed `/readyz` are not on the public listener (even with the SPA's
/// catch-all there), only on the management listener; `/healthz` stays bare.
async fn assert_ops_on_management_only(app: &TestApp) {
    for path in ["/metrics", "/readyz"] {
        let (status, _, body) = get(app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(!body.contains("keyward_") && !body.contains("database"), "{path}: {body}");
        let management = app.client.get(format!("{}{path}", app.management_url)).send().await.unwrap();
        assert_eq!(management.status(), StatusCode::OK, "{path} on the management listener");
    }
    let (status, _, body) = get(app, "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, r#"{"status":"ok"}"#));
}

#[tokio::test]
async fn away_from_localhost_the_defaults_are_production_safe() {
    let spa = tempfile::tempdir().unwrap();
    let config = config_for("https://keyward.example.com", &spa);
    assert_eq!(Config::default().management_listen.ip().to_string(), "127.0.0.1", "loopback by default");
    let app = TestApp::start_with_config(TestDb::sqlite().await, common::Store::Memory, config).await;

    assert_headers_everywhere(&app, true).await;
    assert_ops_on_management_only(&app).await;

    let (_, body) =
        app.graphql("{ __schema { queryType { name } } __type(name: \"Query\") { name } }", json!({}), None).await;
    assert_eq!(body["data"], json!({ "__schema": null, "__type": null }), "no introspection: {body}");
    let (_, body) = app.graphql("{ viewr { id } }", json!({}), None).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "no suggestions: {message}");
    let (status, headers, page) = get(&app, "/graphql").await;
    assert_ne!(status, StatusCode::OK, "no GraphiQL without introspection");
    assert!(!page.to_lowercase().contains("graphiql"));
    assert_security_headers("GET /graphql", &headers, true);

    // The session cookie is `__Host-` prefixed and Secure; a plain `keyward_session` is ignored.
    let secret = &app.running.credentials.as_ref().unwrap().secret;
    let login = "mutation($s: String!) { backupCredentialsLogin(organization: \"default\", username: \"admin\", secret: $s) { sessionToken } }";
    let response = post_with_cookie(&app, json!({ "query": login, "variables": { "s": secret } }), "").await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-keyward_session="), "{cookie}");
    assert!(cookie.contains("; Path=/;") && cookie.ends_with("; Secure"), "{cookie}");
    let body: Value = response.json().await.unwrap();
    let token = token_of(&body["data"]["backupCredentialsLogin"]);
    for (name, known) in [("__Host-keyward_session", true), ("keyward_session", false)] {
        let response =
            post_with_cookie(&app, json!({ "query": "{ viewer { id } }" }), &format!("{name}={token}")).await;
        let viewer: Value = response.json().await.unwrap();
        assert_eq!(viewer["data"]["viewer"].is_object(), known, "{name}: {viewer}");
    }
    app.stop().await;
}

/// POSTs a GraphQL request carrying `cookie` as a browser would (no bearer token).
async fn post_with_cookie(app: &TestApp, request: Value, cookie: &str) -> reqwest::Response {
    let url = format!("{}/graphql", app.url);
    app.client.post(url).header("cookie", cookie).json(&request).send().await.unwrap()
}

#[tokio::test]
async fn introspection_can_be_switched_on_in_production() {
    let spa = tempfile::tempdir().unwrap();
    let config = Config { introspection: Some(true), ..config_for("https://keyward.example.com", &spa) };
    let app = TestApp::start_with_config(TestDb::sqlite().await, common::Store::Memory, config).await;
    let (_, body) = app.graphql("{ __schema { queryType { name } } }", json!({}), None).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query", "{body}");
    let (_, body) = app.graphql("{ viewr { id } }", json!({}), None).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("Did you mean"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn on_localhost_developer_defaults_stay_behind_the_same_headers() {
    let spa = tempfile::tempdir().unwrap();
    let config = config_for("http://localhost:8080", &spa);
    let app = TestApp::start_with_config(TestDb::sqlite().await, common::Store::Memory, config).await;

    assert_headers_everywhere(&app, false).await;
    assert_ops_on_management_only(&app).await;

    let (_, body) = app.graphql("{ __schema { queryType { name } } }", json!({}), None).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query", "{body}");
    // GraphiQL is an inline script from unpkg.com: it gets its own, relaxed policy.
    let (status, headers, page) = get(&app, "/graphql").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.to_lowercase().contains("graphiql"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self' 'unsafe-inline' https://unpkg.com"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");

    let login = app.backup_login().await;
    assert!(login["sessionToken"].is_string());
    let response = app
        .client
        .post(format!("{}/graphql", app.url))
        .bearer_auth(token_of(&login))
        .json(&json!({ "query": "mutation { logout }" }))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("keyward_session=;") && !cookie.contains("Secure"), "{cookie}");
    app.stop().await;
}
