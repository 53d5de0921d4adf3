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
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let token = cookie.split(';').next().unwrap().trim_start_matches("keyward_session=").to_owned();
    let viewer = app.ok("{ viewer { member { username lastLoginAt } } }", json!({}), Some(&token)).await;
    assert_eq!(viewer["viewer"]["member"]["username"], "dave");
    assert!(viewer["viewer"]["member"]["lastLoginAt"].is_string(), "a browser SSO login is a login: {viewer}");
    // A replayed callback lands on the login screen with the error's code.
    let response = app.sso_callback(&code, &state).await;
    assert_eq!(response.headers()["location"], "/login?error=CEREMONY_EXPIRED");
    assert!(response.headers().get("set-cookie").is_none());
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
    email_domains_are_enforced,
    bad_id_tokens_are_refused,
    state_is_single_use_and_checked,
    rotated_signing_keys_are_fetched,
    sso_needs_configuration_and_an_admin,
    the_browser_callback_sets_the_cookie,
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
