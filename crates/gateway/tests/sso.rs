//! SSO against the in-test OIDC issuer: every check a relying party must make.

mod common;

use common::authn::token_of;
use common::oidc::{IdpUser, Tamper, TestIdp};
use common::{TestApp, error_code};
use keyward_domain::repo::{AuditQuery, AuditRepo, MemberRepo};
use serde_json::json;

async fn admin_with_sso(app: &TestApp) -> TestIdp {
    let admin = token_of(&app.backup_login().await);
    let idp = TestIdp::start().await;
    app.configure_sso(&admin, &idp).await;
    idp
}

async fn bad_id_tokens_are_refused(app: &TestApp) {
    let idp = admin_with_sso(app).await;
    let alice = IdpUser::new("alice");
    for tamper in
        [Tamper::BadSignature, Tamper::WrongAudience, Tamper::WrongNonce, Tamper::Expired, Tamper::WrongIssuer]
    {
        let url = app.sso_start().await;
        let (code, state) = idp.authorize(&url, &alice);
        idp.tamper_next(tamper);
        let body = app.sso_finish(&code, &state).await;
        assert_eq!(error_code(&body), "CEREMONY_FAILED", "{tamper:?}: {body}");
        assert!(body["data"].is_null());
    }
    let failures = app
        .db
        .audit_events(app.org, AuditQuery { first: 50, action: Some("sso.login".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(failures.items.iter().filter(|e| e.outcome == "FAILURE").count(), 5);
    // Nobody was provisioned by a bad token.
    let bad = app.db.member_by_username(app.org, "alice").await.unwrap();
    assert!(bad.is_none());
}

async fn state_is_single_use_and_checked(app: &TestApp) {
    let idp = admin_with_sso(app).await;
    let alice = IdpUser::new("alice");
    let url = app.sso_start().await;
    let (code, state) = idp.authorize(&url, &alice);
    let good = app.sso_finish(&code, &state).await;
    assert!(good.get("errors").is_none(), "{good}");
    let replay = app.sso_finish(&code, &state).await;
    assert_eq!(error_code(&replay), "CEREMONY_EXPIRED", "a state works once: {replay}");

    let url = app.sso_start().await;
    let (code, state) = idp.authorize(&url, &alice);
    let forged = format!("{}x", &state[..state.len() - 1]);
    assert_eq!(error_code(&app.sso_finish(&code, &forged).await), "CEREMONY_FAILED");
    assert_eq!(error_code(&app.sso_finish(&code, "garbage").await), "BAD_USER_INPUT");
}

async fn rotated_signing_keys_are_fetched(app: &TestApp) {
    let idp = admin_with_sso(app).await;
    app.sso_login(&idp, &IdpUser::new("carol")).await;
    idp.rotate_key();
    let login = app.sso_login(&idp, &IdpUser::new("carol")).await;
    assert_eq!(login["stage"], "AUTHENTICATED", "an unknown kid makes Keyward refetch the JWKS");
}

async fn sso_needs_configuration_and_an_admin(app: &TestApp) {
    let (_, body) = app
        .graphql("mutation { ssoLoginStart(organization: \"default\") { authorizationUrl } }", json!({}), None)
        .await;
    assert_eq!(error_code(&body), "SSO_NOT_CONFIGURED");
    let known = body["errors"][0]["message"].clone();
    let (_, body) =
        app.graphql("mutation { ssoLoginStart(organization: \"nope\") { authorizationUrl } }", json!({}), None).await;
    assert_eq!(error_code(&body), "SSO_NOT_CONFIGURED", "an unknown organization answers like one without SSO");
    assert_eq!(body["errors"][0]["message"], known, "so logins do not list organizations");
    let member = app.member("mallory").await;
    let token = app.session_for(&member, keyward_domain::session::SessionStage::Authenticated).await;
    let (_, body) = app
        .graphql(
            "mutation { ssoConfigure(input: { issuer: \"http://127.0.0.1:1\", clientId: \"x\", clientSecret: \"y\" }) { issuer } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let admin = token_of(&app.backup_login().await);
    let (_, body) = app
        .graphql(
            "mutation { ssoConfigure(input: { issuer: \"http://127.0.0.1:1\", clientId: \"x\", clientSecret: \"y\" }) { issuer } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "discovery is fetched when saving: {body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "issuer");
}

async fn the_browser_callback_sets_the_cookie(app: &TestApp) {
    let idp = admin_with_sso(app).await;
    let url = app.sso_start().await;
    let (code, state) = idp.authorize(&url, &IdpUser::new("dave"));
    let response = app.sso_callback(&code, &state).await;
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/");
    let cookies = set_cookies(&response);
    let cookie = cookies.iter().find(|c| c.starts_with("keyward_session=")).expect("a session cookie").clone();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookies.iter().any(|c| c.starts_with("keyward_sso=;") && c.contains("Max-Age=0")), "{cookies:?}");
    let token = cookie.split(';').next().unwrap().trim_start_matches("keyward_session=").to_owned();
    let viewer = app.ok("{ viewer { member { username lastLoginAt } } }", json!({}), Some(&token)).await;
    assert_eq!(viewer["viewer"]["member"]["username"], "dave");
    assert!(viewer["viewer"]["member"]["lastLoginAt"].is_string(), "a browser SSO login is a login: {viewer}");
    // A replayed callback lands on the login screen with the error's code.
    let response = app.sso_callback(&code, &state).await;
    assert_eq!(response.headers()["location"], "/login?error=CEREMONY_EXPIRED");
    assert!(!set_cookies(&response).iter().any(|c| c.starts_with("keyward_session=")));
}

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

/// RFC 6749 §10.12: a code and state finish the login only in the browser that started it, so
/// an attacker can neither use a leaked callback URL nor plant their own login in a victim's
/// browser (login CSRF).
async fn a_login_finishes_only_in_the_browser_that_started_it(app: &TestApp) {
    let idp = admin_with_sso(app).await;
    let start = app
        .client
        .post(format!("{}/graphql", app.url))
        .json(&json!({ "query": "mutation { ssoLoginStart(organization: \"default\") { authorizationUrl } }" }))
        .send()
        .await
        .unwrap();
    let cookie = set_cookies(&start).pop().expect("ssoLoginStart sets the binding cookie");
    assert!(cookie.starts_with("keyward_sso=") && cookie.len() > "keyward_sso=".len() + 40, "{cookie}");
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=360"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "{attribute}: {cookie}");
    }

    // A leaked callback URL, used from a browser without the cookie.
    let url = app.sso_start().await;
    let (code, state) = idp.authorize(&url, &IdpUser::new("alice"));
    let started = app.swap_sso_cookie(None);
    assert_eq!(error_code(&app.sso_finish(&code, &state).await), "SSO_STATE_MISMATCH");
    app.swap_sso_cookie(started);
    assert_eq!(error_code(&app.sso_finish(&code, &state).await), "CEREMONY_EXPIRED", "the attempt spent it");

    // The attacker's own code and state, planted in a browser that holds its own cookie.
    let url = app.sso_start().await;
    let (code, state) = idp.authorize(&url, &IdpUser::new("mallory"));
    app.swap_sso_cookie(None);
    app.sso_start().await;
    assert_eq!(error_code(&app.sso_finish(&code, &state).await), "SSO_STATE_MISMATCH");

    // The same through the browser callback, with a forged cookie.
    let url = app.sso_start().await;
    let (code, state) = idp.authorize(&url, &IdpUser::new("mallory"));
    app.swap_sso_cookie(Some("forged".into()));
    let response = app.sso_callback(&code, &state).await;
    assert_eq!(response.headers()["location"], "/login?error=SSO_STATE_MISMATCH");
    assert!(!set_cookies(&response).iter().any(|c| c.starts_with("keyward_session=")));

    for username in ["alice", "mallory"] {
        assert!(app.db.member_by_username(app.org, username).await.unwrap().is_none(), "{username}");
    }
    let failures = app
        .db
        .audit_events(app.org, AuditQuery { first: 50, action: Some("sso.login".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(failures.items.iter().filter(|e| e.outcome == "FAILURE").count(), 3);
}

/// A discovery document whose URLs are not https (or http on localhost) is refused when saving,
/// and a login never hands such an `authorization_endpoint` to the browser.
async fn unsafe_discovery_documents_are_refused(app: &TestApp) {
    use keyward_domain::audit::{Actor, AuditRecord};
    use keyward_domain::repo::SsoConfigRepo;
    let admin = token_of(&app.backup_login().await);
    let idp = TestIdp::start().await;
    idp.serve_in_discovery("authorization_endpoint", "javascript:alert(document.domain)//");
    let input = json!({ "i": {
        "issuer": idp.issuer,
        "clientId": common::oidc::CLIENT_ID,
        "clientSecret": common::oidc::CLIENT_SECRET,
    }});
    let configure = "mutation($i: SsoConfigureInput!) { ssoConfigure(input: $i) { issuer } }";
    let (_, body) = app.graphql(configure, input.clone(), Some(&admin)).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "issuer");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("authorization_endpoint"), "{body}");

    // Settings stored before the document went bad: login start fails closed.
    let settings = keyward_domain::sso::SsoSettings {
        issuer: idp.issuer.clone(),
        client_id: common::oidc::CLIENT_ID.into(),
        client_secret: Some(common::oidc::CLIENT_SECRET.into()),
        ..Default::default()
    };
    let config = settings.into_config(|s| s.to_owned(), None, chrono::Utc::now()).unwrap();
    app.db.put_sso_config(app.org, config, AuditRecord::new(Actor::System, "org.sso.configured")).await.unwrap();
    let (_, body) = app
        .graphql("mutation { ssoLoginStart(organization: \"default\") { authorizationUrl } }", json!({}), None)
        .await;
    assert_eq!(error_code(&body), "CEREMONY_FAILED", "{body}");
    assert!(body["data"].is_null(), "no authorization URL: {body}");

    idp.serve_in_discovery("authorization_endpoint", &format!("{}/authorize", idp.issuer));
    idp.serve_in_discovery("token_endpoint", "http://idp.example.com/token");
    let (_, body) = app.graphql(configure, input, Some(&admin)).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("token_endpoint"), "{body}");
}

async fn email_domains_are_enforced(app: &TestApp) {
    let admin = token_of(&app.backup_login().await);
    let idp = TestIdp::start().await;
    app.ok(
        "mutation($i: SsoConfigureInput!) { ssoConfigure(input: $i) { allowedEmailDomains } }",
        json!({ "i": {
            "issuer": idp.issuer,
            "clientId": common::oidc::CLIENT_ID,
            "clientSecret": common::oidc::CLIENT_SECRET,
            "allowedEmailDomains": ["@Corp.Example"],
        }}),
        Some(&admin),
    )
    .await;
    let url = app.sso_start().await;
    let (code, state) = idp.authorize(&url, &IdpUser::new("outsider"));
    assert_eq!(error_code(&app.sso_finish(&code, &state).await), "POLICY_DENIED");
    let insider = IdpUser { email: "insider@corp.example".into(), ..IdpUser::new("insider") };
    assert_eq!(app.sso_login(&idp, &insider).await["stage"], "AUTHENTICATED");
}

on_both_backends! {
    unsafe_discovery_documents_are_refused,
    email_domains_are_enforced,
    bad_id_tokens_are_refused,
    state_is_single_use_and_checked,
    rotated_signing_keys_are_fetched,
    sso_needs_configuration_and_an_admin,
    the_browser_callback_sets_the_cookie,
    a_login_finishes_only_in_the_browser_that_started_it,
}

/// With `secrets_key` set, the SSO client secret is stored sealed, and logins still work.
#[tokio::test]
async fn client_secrets_are_sealed_at_rest() {
    use base64::Engine;
    use keyward_domain::repo::SsoConfigRepo;
    let mut config = common::test_config();
    config.secrets_key = Some(base64::engine::general_purpose::STANDARD.encode([42u8; 32]));
    let app = TestApp::start_with_config(keyward_testkit::TestDb::sqlite().await, common::Store::Memory, config).await;
    let idp = admin_with_sso(&app).await;
    let stored = app.db.sso_config(app.org).await.unwrap().unwrap();
    assert!(stored.client_secret.starts_with("v1:"), "{}", stored.client_secret);
    assert!(!stored.client_secret.contains(common::oidc::CLIENT_SECRET));
    let login = app.sso_login(&idp, &IdpUser::new("erin")).await;
    assert_eq!(login["stage"], "AUTHENTICATED");
    app.stop().await;
}
