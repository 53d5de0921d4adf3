//! Bad ceremony input: each gets a stable code, and none gives a 500 or access.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::authn::{ORIGIN, soft_key, token_of};
use common::{TestApp, error_code};
use keyward_domain::repo::{AuditQuery, AuditRepo};
use keyward_domain::webauthn_policy::{UserVerification, WebauthnPolicy};
use serde_json::{Value, json};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// An admin with one key, and a fresh session waiting for the key step.
async fn pending_admin(app: &TestApp) -> (SoftPasskey, String) {
    let mut token = token_of(&app.backup_login().await);
    let mut key = soft_key(true);
    app.register_key(&mut token, &mut key, "Key").await;
    app.ok("mutation { logout }", json!({}), Some(&token)).await;
    let pending = token_of(&app.backup_login().await);
    (key, pending)
}

/// Runs the admin's key login up to its finish, then starts `proxy` counting from zero and
/// finishes it (successfully).
async fn finish_a_login_counted_by(app: &TestApp, proxy: &keyward_testkit::proxy::TcpProxy) {
    let (mut key, pending) = pending_admin(app).await;
    let (ceremony, options) = app.mfa_begin(&pending).await;
    let response = TestApp::get(&mut key, &options, ORIGIN);
    proxy.reset();
    let body = app.mfa_finish(&pending, &ceremony, response).await;
    assert!(body.get("errors").is_none(), "{body}");
}

fn b64_edit(value: &mut Value, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = URL_SAFE_NO_PAD.decode(value.as_str().unwrap()).unwrap();
    edit(&mut bytes);
    *value = json!(URL_SAFE_NO_PAD.encode(bytes));
}

fn assert_code(body: &Value, code: &str) {
    assert_eq!(error_code(body), code, "{body}");
    assert_eq!(body["data"], Value::Null, "no data on failure: {body}");
}

async fn assertions_are_single_use_and_bound(app: &TestApp) {
    let (mut key, pending) = pending_admin(app).await;

    // Finished from another session of the same member.
    let other = token_of(&app.backup_login().await);
    let (ceremony, options) = app.mfa_begin(&pending).await;
    let response = TestApp::get(&mut key, &options, ORIGIN);
    assert_code(&app.mfa_finish(&other, &ceremony, response.clone()).await, "CEREMONY_FAILED");
    // The ceremony was taken by that attempt: it is gone for everyone.
    assert_code(&app.mfa_finish(&pending, &ceremony, response.clone()).await, "CEREMONY_EXPIRED");

    // Finished twice, and a replayed assertion against a new ceremony.
    let (ceremony, options) = app.mfa_begin(&pending).await;
    let response = TestApp::get(&mut key, &options, ORIGIN);
    let done = app.mfa_finish(&pending, &ceremony, response.clone()).await;
    assert!(done.get("errors").is_none(), "{done}");
    let fresh = token_of(&done["data"]["mfaLoginFinish"]);
    assert_code(&app.mfa_finish(&pending, &ceremony, response.clone()).await, "UNAUTHENTICATED");
    app.ok("mutation { logout }", json!({}), Some(&fresh)).await;
    let again = token_of(&app.backup_login().await);
    let (second, _) = app.mfa_begin(&again).await;
    assert_code(&app.mfa_finish(&again, &ceremony, response.clone()).await, "CEREMONY_EXPIRED");
    assert_code(&app.mfa_finish(&again, &second, response).await, "CEREMONY_FAILED");
}

async fn tampered_responses_fail(app: &TestApp) {
    let (mut key, pending) = pending_admin(app).await;
    type Edit = Box<dyn Fn(&mut Value)>;
    let nothing = || -> Edit { Box::new(|_| {}) };
    let cases: Vec<(&str, Edit, Edit)> = vec![
        ("wrong challenge", Box::new(|o| b64_edit(&mut o["challenge"], |b| b[0] ^= 1)), nothing()),
        (
            "tampered signature",
            nothing(),
            Box::new(|r| {
                b64_edit(&mut r["response"]["signature"], |b| {
                    let n = b.len() - 3;
                    b[n] ^= 1
                })
            }),
        ),
        ("wrong RP ID", nothing(), Box::new(|r| b64_edit(&mut r["response"]["authenticatorData"], |b| b[0] ^= 1))),
        (
            "crossOrigin",
            nothing(),
            Box::new(|r| {
                let raw = URL_SAFE_NO_PAD.decode(r["response"]["clientDataJSON"].as_str().unwrap()).unwrap();
                let mut client: Value = serde_json::from_slice(&raw).unwrap();
                client["crossOrigin"] = json!(true);
                r["response"]["clientDataJSON"] = json!(URL_SAFE_NO_PAD.encode(client.to_string()));
            }),
        ),
        (
            "id differs from rawId",
            nothing(),
            Box::new(|r| r["id"] = json!(URL_SAFE_NO_PAD.encode(b"another-credential"))),
        ),
        (
            "oversized credential ID",
            nothing(),
            Box::new(|r| {
                let long = URL_SAFE_NO_PAD.encode([9u8; 1024]);
                r["id"] = json!(long);
                r["rawId"] = json!(long);
            }),
        ),
        (
            "userHandle of someone else",
            nothing(),
            Box::new(|r| r["response"]["userHandle"] = json!(URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()))),
        ),
    ];
    for (case, edit_options, edit_response) in cases {
        let (ceremony, mut options) = app.mfa_begin(&pending).await;
        edit_options(&mut options);
        let mut response = TestApp::get(&mut key, &options, ORIGIN);
        edit_response(&mut response);
        let body = app.mfa_finish(&pending, &ceremony, response).await;
        let expected = if case.starts_with("userHandle") { "KEY_NOT_REGISTERED" } else { "CEREMONY_FAILED" };
        assert_eq!(error_code(&body), expected, "{case}: {body}");
    }
    // A wrong origin (another port of the same host).
    let (ceremony, options) = app.mfa_begin(&pending).await;
    let response = TestApp::get(&mut key, &options, "http://localhost:9999");
    assert_code(&app.mfa_finish(&pending, &ceremony, response).await, "CEREMONY_FAILED");
    // Not JSON of the right shape.
    let (ceremony, _) = app.mfa_begin(&pending).await;
    assert_code(&app.mfa_finish(&pending, &ceremony, json!("{ not an object")).await, "BAD_USER_INPUT");
    let (ceremony, _) = app.mfa_begin(&pending).await;
    assert_code(&app.mfa_finish(&pending, &ceremony, json!({ "id": "x" })).await, "BAD_USER_INPUT");
    // A registration response sent to a login ceremony.
    let token = token_of(&app.backup_login().await);
    let mut spare = soft_key(true);
    let authed = app.mfa_login(&token, &mut key).await;
    let (_, creation) = app.registration_begin(&token_of(&authed), "Spare").await;
    let registration = TestApp::create(&mut spare, &creation, ORIGIN);
    let (ceremony, _) = app.mfa_begin(&pending).await;
    assert_code(&app.mfa_finish(&pending, &ceremony, registration).await, "CEREMONY_FAILED");
    // Still nobody got in.
    let (_, body) = app.graphql("{ securityKeys { id } }", json!({}), Some(&pending)).await;
    assert_eq!(error_code(&body), "MFA_REQUIRED");
    let failures = app
        .db
        .audit_events(app.org, AuditQuery { first: 100, action: Some("mfa.login".into()), ..Default::default() })
        .await
        .unwrap();
    assert!(failures.items.iter().filter(|e| e.outcome == "FAILURE").count() >= 9);
}

async fn another_members_key_is_refused(app: &TestApp) {
    let (mut admin_key, _) = pending_admin(app).await;
    let admin_cred = {
        let token = token_of(&app.backup_login().await);
        let (ceremony, options) = app.mfa_begin(&token).await;
        let response = TestApp::get(&mut admin_key, &options, ORIGIN);
        let done = app.mfa_finish(&token, &ceremony, response).await;
        let admin = token_of(&done["data"]["mfaLoginFinish"]);
        app.ok("{ securityKeys { keyId } }", json!({}), Some(&admin)).await["securityKeys"][0]["keyId"].clone()
    };
    // Bob registers his own key, then tries to log in with the admin's.
    let member = app.member("bob").await;
    let mut bob = app.session_for(&member, keyward_domain::session::SessionStage::Authenticated).await;
    let mut bob_key = soft_key(true);
    app.register_key(&mut bob, &mut bob_key, "Bob's").await;
    let bob_pending = app.session_for(&member, keyward_domain::session::SessionStage::MfaRequired).await;
    let (ceremony, mut options) = app.mfa_begin(&bob_pending).await;
    options["allowCredentials"] = json!([{ "type": "public-key", "id": admin_cred }]);
    let response = TestApp::get(&mut admin_key, &options, ORIGIN);
    let refused = app.mfa_finish(&bob_pending, &ceremony, response).await;
    assert_code(&refused, "KEY_NOT_REGISTERED");
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("admin"), "the refusal names no account: {message}");
}

/// Makes the authenticator skip user verification, as a key without a PIN would.
fn without_uv(options: &Value) -> Value {
    let mut options = options.clone();
    if options.get("authenticatorSelection").is_some() {
        options["authenticatorSelection"]["userVerification"] = json!("discouraged");
    } else {
        options["userVerification"] = json!("discouraged");
    }
    options
}

async fn policy_is_enforced_on_the_result(app: &TestApp) {
    let mut token = token_of(&app.backup_login().await);
    let mut key = soft_key(true);
    app.register_key(&mut token, &mut key, "Key").await;
    let policy = WebauthnPolicy { user_verification: UserVerification::Required, ..Default::default() };
    app.store_webauthn_policy(&policy).await;
    // Registering a key that does not verify the user is refused, whatever the options said.
    let (ceremony, options) = app.registration_begin(&token, "No PIN").await;
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
    let response = TestApp::create(&mut soft_key(true), &without_uv(&options), ORIGIN);
    assert_code(&app.registration_finish(&token, &ceremony, response).await, "POLICY_DENIED");
    // An assertion without the UV flag is refused too, saying why.
    app.ok("mutation { logout }", json!({}), Some(&token)).await;
    let pending = token_of(&app.backup_login().await);
    let (ceremony, options) = app.mfa_begin(&pending).await;
    let response = TestApp::get(&mut key, &without_uv(&options), ORIGIN);
    let body = app.mfa_finish(&pending, &ceremony, response).await;
    assert_code(&body, "POLICY_DENIED");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("user verification"));
    // With the flag, the same key gets in.
    app.mfa_login(&pending, &mut key).await;
}

async fn registration_errors(app: &TestApp) {
    let token = token_of(&app.backup_login().await);
    let mut key = soft_key(true);
    let (first, options) = app.registration_begin(&token, "One").await;
    let response = TestApp::create(&mut key, &options, ORIGIN);
    let body = app.registration_finish(&token, &first, response.clone()).await;
    assert!(body.get("errors").is_none(), "{body}");
    // Registering rotated the session: the old token is gone, the new one carries on.
    let token = token_of(&body["data"]["securityKeyRegistrationFinish"]);
    let (second, _) = app.registration_begin(&token, "Two").await;
    assert_code(&app.registration_finish(&token, &second, response.clone()).await, "KEY_ALREADY_REGISTERED");
    assert_code(&app.registration_finish(&token, &first, response).await, "CEREMONY_EXPIRED");
    let (_, options) = app.registration_begin(&token, "Three").await;
    assert!(options["excludeCredentials"].as_array().is_some_and(|e| e.len() == 1), "{options}");
}

async fn ceremonies_expire(_app: &TestApp) {
    let mut config = common::test_config();
    config.ceremony.ttl = Duration::from_secs(1);
    let app = TestApp::start_with_config(keyward_testkit::TestDb::sqlite().await, common::Store::Memory, config).await;
    let (mut key, pending) = pending_admin(&app).await;
    let (ceremony, options) = app.mfa_begin(&pending).await;
    let response = TestApp::get(&mut key, &options, ORIGIN);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_code(&app.mfa_finish(&pending, &ceremony, response).await, "CEREMONY_EXPIRED");
    app.stop().await;
}

async fn counter_regressions_are_audited_and_refused_by_policy(app: &TestApp) {
    use sea_orm::ConnectionTrait;
    let (mut key, pending) = pending_admin(app).await;
    let raise = "UPDATE security_keys SET sign_count = 100000";
    app.db.connection().execute_unprepared(raise).await.unwrap();
    let done = app.mfa_login(&pending, &mut key).await;
    assert_eq!(done["stage"], "AUTHENTICATED", "by default a regressed counter is audited, not refused");
    let anomalies = app
        .db
        .audit_events(
            app.org,
            AuditQuery { first: 10, action: Some("security_key.counter_anomaly".into()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(anomalies.items.len(), 1);
    assert_eq!(anomalies.items[0].details["stored"], 100000);

    let policy = WebauthnPolicy { reject_counter_regression: true, ..Default::default() };
    app.store_webauthn_policy(&policy).await;
    app.db.connection().execute_unprepared(raise).await.unwrap();
    let pending = token_of(&app.backup_login().await);
    let (ceremony, options) = app.mfa_begin(&pending).await;
    let response = TestApp::get(&mut key, &options, ORIGIN);
    assert_code(&app.mfa_finish(&pending, &ceremony, response).await, "POLICY_DENIED");
}

/// Pins the SQL of `mfaLoginFinish` on PostgreSQL: two statements. One reads the key with the
/// organization's audit head and the owner's name; one records the key's use, the login time
/// and the chained audit event, checking under row locks that what it read is still current.
/// Statements are counted, not round trips, so whether a pooled connection had them prepared
/// already does not matter (the count needs the connection in the clear).
#[tokio::test]
async fn mfa_login_finish_runs_two_sql_statements() {
    let proxy = keyward_testkit::proxy::TcpProxy::start(&keyward_testkit::postgres_url()).await;
    let url = format!("{}?sslmode=disable", proxy.rewrite(&keyward_testkit::postgres_url()));
    let app = TestApp::start(keyward_testkit::TestDb::postgres_at(&url).await, common::Store::Redis).await;
    finish_a_login_counted_by(&app, &proxy).await;
    assert_eq!(proxy.pg_statements(), 2, "{:?}", proxy.log());
    let events = app.db.audit_events(app.org, AuditQuery { first: 1, ..Default::default() }).await.unwrap();
    assert_eq!(events.items[0].action, "mfa.login");
    app.stop().await;
}

on_both_backends! {
    counter_regressions_are_audited_and_refused_by_policy,
    assertions_are_single_use_and_bound,
    tampered_responses_fail,
    another_members_key_is_refused,
    policy_is_enforced_on_the_result,
    registration_errors,
    ceremonies_expire,
}

/// Documents (and pins) how many Redis round trips `mfaLoginFinish` costs: the session lookup
/// every request pays (one `MGET` of the record, the epochs and the policy versions: the gateway
/// created this session, so it knows whose it is), then the login's own two: one script that counts both
/// rate limits (per member and per address) and takes the ceremony, and the session rotation. No
/// fewer is possible without giving up a guarantee: the ceremony must be taken before the
/// verification, and the new token may exist only after it.
/// Only the request's own commands count: the session-rotation script is first run here, so on a
/// Redis that has never seen it (a fresh server, or one whose script cache was flushed) the call
/// is refused with NOSCRIPT and redone after a SCRIPT LOAD, two round trips that say nothing
/// about the code.
#[tokio::test]
async fn mfa_login_finish_costs_the_lookup_and_two_redis_round_trips() {
    let (app, proxy) = TestApp::behind_redis_proxy(keyward_testkit::TestDb::sqlite().await).await;
    finish_a_login_counted_by(&app, &proxy).await;
    let work = proxy.work();
    let expected = [["MGET"], ["EVALSHA"], ["EVALSHA"]];
    assert_eq!(work, expected, "lookup, count and take the ceremony, rotate: {:?}", proxy.log());
    app.stop().await;
}
