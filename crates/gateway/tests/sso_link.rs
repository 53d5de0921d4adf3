//! Linking an IdP account to the first admin, who starts with backup credentials: afterwards the
//! admin logs in by SSO as the same member, and still needs their key.

mod common;

use common::authn::{soft_key, token_of};
use common::oidc::{IdpUser, TestIdp};
use common::{TestApp, error_code};
use keyward_domain::repo::{AuditQuery, AuditRepo};
use serde_json::{Value, json};

async fn link_start(app: &TestApp, token: &str) -> Value {
    app.graphql_in_browser("mutation { ssoLinkStart { authorizationUrl } }", json!({}), Some(token)).await
}

async fn link_finish(app: &TestApp, token: &str, code: &str, state: &str) -> Value {
    app.graphql_in_browser(
        "mutation($c: String!, $s: String!) { ssoLinkFinish(code: $c, state: $s) { username ssoLinked } }",
        json!({ "c": code, "s": state }),
        Some(token),
    )
    .await
}

/// Starts a link as `token` and lets `user` authorize it; returns the code and state.
async fn authorize_link(app: &TestApp, idp: &TestIdp, token: &str, user: &IdpUser) -> (String, String) {
    let body = link_start(app, token).await;
    let url = body["data"]["ssoLinkStart"]["authorizationUrl"].as_str().unwrap_or_else(|| panic!("{body}"));
    idp.authorize(url, user)
}

async fn the_first_admin_links_and_then_logs_in_by_sso_with_their_key(app: &TestApp) {
    let mut admin = token_of(&app.backup_login().await);
    let idp = TestIdp::start().await;
    app.configure_sso(&admin, &idp).await;
    let mut key = soft_key(false);
    app.register_key(&mut admin, &mut key, "Desk key").await;

    let (code, state) = authorize_link(app, &idp, &admin, &IdpUser::admin("ada")).await;
    assert!(state.ends_with(".link"), "{state}");
    // The browser comes back without the Strict cookie: the callback hands over to the SPA.
    let response = app.sso_callback(&code, &state).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/org/sso?linkCode="), "{location}");
    assert!(response.headers().get("set-cookie").is_none());

    let linked = link_finish(app, &admin, &code, &state).await;
    assert_eq!(linked["data"]["ssoLinkFinish"]["username"], "admin", "{linked}");
    assert_eq!(linked["data"]["ssoLinkFinish"]["ssoLinked"], true);
    let again = link_start(app, &admin).await;
    assert_eq!(error_code(&again), "SSO_ALREADY_LINKED");

    let login = app.sso_login(&idp, &IdpUser::admin("ada")).await;
    assert_eq!(login["stage"], "MFA_REQUIRED", "the linked admin still needs the key: {login}");
    let done = app.mfa_login(&token_of(&login), &mut key).await;
    assert_eq!(done["stage"], "AUTHENTICATED");
    let viewer = app.ok("{ viewer { member { username role } } }", json!({}), Some(&token_of(&done))).await;
    assert_eq!(viewer["viewer"]["member"]["username"], "admin");
    assert_eq!(viewer["viewer"]["member"]["role"], "ADMIN");

    let events = app
        .db
        .audit_events(app.org, AuditQuery { first: 10, action: Some("member.sso.linked".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(events.items.len(), 1);
    assert_eq!(events.items[0].outcome, "SUCCESS");
}

async fn a_link_works_once_and_only_for_the_session_that_began_it(app: &TestApp) {
    let admin = token_of(&app.backup_login().await);
    let idp = TestIdp::start().await;
    app.configure_sso(&admin, &idp).await;
    let other = app.member("mallory").await;
    let mallory = app.session_for(&other, keyward_domain::session::SessionStage::Authenticated).await;

    let (code, state) = authorize_link(app, &idp, &admin, &IdpUser::admin("ada")).await;
    let stolen = link_finish(app, &mallory, &code, &state).await;
    assert_eq!(error_code(&stolen), "CEREMONY_FAILED", "{stolen}");
    // Taken before the owner check: the admin starts again.
    assert_eq!(error_code(&link_finish(app, &admin, &code, &state).await), "CEREMONY_EXPIRED");

    let (code, state) = authorize_link(app, &idp, &admin, &IdpUser::admin("ada")).await;
    let login_with_link_state = app.sso_finish(&code, &state).await;
    assert_eq!(error_code(&login_with_link_state), "CEREMONY_FAILED", "a link state is no login");

    let (code, state) = authorize_link(app, &idp, &admin, &IdpUser::admin("ada")).await;
    assert!(link_finish(app, &admin, &code, &state).await.get("errors").is_none());
    assert_eq!(error_code(&link_finish(app, &admin, &code, &state).await), "CEREMONY_EXPIRED");
}

/// The link's code and state, replayed by someone holding the admin's session token but not the
/// browser that began the link, are refused; so are they in a browser with another link's cookie.
async fn a_link_finishes_only_in_the_browser_that_began_it(app: &TestApp) {
    let admin = token_of(&app.backup_login().await);
    let idp = TestIdp::start().await;
    app.configure_sso(&admin, &idp).await;

    let (code, state) = authorize_link(app, &idp, &admin, &IdpUser::admin("ada")).await;
    let began = app.swap_sso_cookie(None);
    assert!(began.is_some(), "ssoLinkStart sets the binding cookie");
    let body = link_finish(app, &admin, &code, &state).await;
    assert_eq!(error_code(&body), "SSO_STATE_MISMATCH", "{body}");
    app.swap_sso_cookie(began);
    assert_eq!(error_code(&link_finish(app, &admin, &code, &state).await), "CEREMONY_EXPIRED", "spent");

    let (code, state) = authorize_link(app, &idp, &admin, &IdpUser::admin("ada")).await;
    authorize_link(app, &idp, &admin, &IdpUser::admin("ada")).await;
    let body = link_finish(app, &admin, &code, &state).await;
    assert_eq!(error_code(&body), "SSO_STATE_MISMATCH", "another link's cookie: {body}");

    let viewer = app.ok("{ viewer { member { ssoLinked } } }", json!({}), Some(&admin)).await;
    assert_eq!(viewer["viewer"]["member"]["ssoLinked"], false);
    let failures = app
        .db
        .audit_events(app.org, AuditQuery { first: 10, action: Some("member.sso.linked".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(failures.items.iter().filter(|e| e.outcome == "FAILURE").count(), 2);
}

async fn taken_accounts_and_non_admin_accounts_are_refused(app: &TestApp) {
    let admin = token_of(&app.backup_login().await);
    let idp = TestIdp::start().await;
    app.configure_sso(&admin, &idp).await;
    // Bob logged in by SSO before, so his IdP account is his member's.
    app.sso_login(&idp, &IdpUser::admin("bob")).await;
    let (code, state) = authorize_link(app, &idp, &admin, &IdpUser::admin("bob")).await;
    assert_eq!(error_code(&link_finish(app, &admin, &code, &state).await), "SSO_ALREADY_LINKED");

    // Linking an account outside the admin group would demote the admin at the next SSO login.
    let (code, state) = authorize_link(app, &idp, &admin, &IdpUser::new("carol")).await;
    let body = link_finish(app, &admin, &code, &state).await;
    assert_eq!(error_code(&body), "POLICY_DENIED", "{body}");

    let anonymous = app.graphql("mutation { ssoLinkStart { authorizationUrl } }", json!({}), None).await.1;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
}

on_both_backends! {
    the_first_admin_links_and_then_logs_in_by_sso_with_their_key,
    a_link_works_once_and_only_for_the_session_that_began_it,
    a_link_finishes_only_in_the_browser_that_began_it,
    taken_accounts_and_non_admin_accounts_are_refused,
}
