//! WebAuthn Level 3 §7 conformance beyond what the verifier checks: the exact origin, no
//! `topOrigin`, backup flags (BE fixed, BS followed and audited), the counter under concurrent
//! logins, and AAGUID lists applied only to a verified attestation.

mod common;

use common::authn::{ORIGIN, soft_key};
use common::flagkey::FlagKey;
use common::{Store, TestApp, error_code};
use crypto_glue::traits::{EncodePem, LineEndingPem};
use keyward_domain::member::Member;
use keyward_domain::repo::{AuditQuery, AuditRepo, SecurityKeyRepo};
use keyward_domain::session::SessionStage;
use keyward_testkit::{TestDb, browser};
use serde_json::{Value, json};
use uuid::Uuid;
use webauthn_authenticator_rs::softtoken::{self, SoftToken};

fn assert_refused(body: &Value, code: &str, words: &str) {
    assert_eq!(error_code(body), code, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "expected {words:?} in: {body}");
    assert_eq!(body["data"], Value::Null, "no data on failure: {body}");
}

/// The admin with a fresh session at `stage` (no backup-credential logins: they are rate limited).
async fn admin_at(app: &TestApp, stage: SessionStage) -> (Member, String) {
    let admin = app.admin().await;
    let token = app.session_for(&admin, stage).await;
    (admin, token)
}

async fn events(app: &TestApp, action: &str) -> Vec<keyward_domain::audit::AuditEvent> {
    let query = AuditQuery { first: 50, action: Some(action.into()), ..Default::default() };
    app.db.audit_events(app.org, query).await.unwrap().items
}

/// `clientDataJSON.origin` is compared as the exact serialized origin: a URL that merely parses
/// to the same origin (trailing slash, a path) is not what a browser sends.
async fn the_origin_must_match_exactly(app: &TestApp) {
    let (_, mut token) = admin_at(app, SessionStage::Authenticated).await;
    let mut key = soft_key(true);
    app.register_key(&mut token, &mut key, "Key").await;
    let (_, pending) = admin_at(app, SessionStage::MfaRequired).await;
    for origin in [format!("{ORIGIN}/"), format!("{ORIGIN}/login")] {
        let (ceremony, options) = app.mfa_begin(&pending).await;
        let body = app.mfa_finish(&pending, &ceremony, browser::get(&mut key, &options, &origin)).await;
        assert_refused(&body, "CEREMONY_FAILED", "origin");
    }
    let (ceremony, options) = app.registration_begin(&token, "Spare").await;
    let response = browser::create(&mut soft_key(true), &options, &format!("{ORIGIN}/"));
    assert_refused(&app.registration_finish(&token, &ceremony, response).await, "CEREMONY_FAILED", "origin");
    // The exact origin passes.
    assert_eq!(app.mfa_login(&pending, &mut key).await["stage"], "AUTHENTICATED");
}

/// A ceremony run in a frame of another site carries `topOrigin`: refused like `crossOrigin`.
async fn a_top_origin_is_refused(app: &TestApp) {
    let (_, mut token) = admin_at(app, SessionStage::Authenticated).await;
    let mut key = soft_key(true);
    let (ceremony, options) = app.registration_begin(&token, "Framed").await;
    let mut framed = browser::client_data("webauthn.create", &options, ORIGIN);
    framed["topOrigin"] = json!("https://evil.example");
    let body = app.registration_finish(&token, &ceremony, browser::create_with(&mut key, &options, &framed)).await;
    assert_refused(&body, "CEREMONY_FAILED", "topOrigin");

    app.register_key(&mut token, &mut key, "Key").await;
    let (_, pending) = admin_at(app, SessionStage::MfaRequired).await;
    let (ceremony, options) = app.mfa_begin(&pending).await;
    let mut framed = browser::client_data("webauthn.get", &options, ORIGIN);
    framed["topOrigin"] = json!(ORIGIN);
    let body = app.mfa_finish(&pending, &ceremony, browser::get_with(&mut key, &options, &framed)).await;
    assert_refused(&body, "CEREMONY_FAILED", "topOrigin");
}

/// BE is fixed at registration: a signed assertion that flips it, either way, is refused and the
/// failure is audited with the reason.
async fn backup_eligibility_can_never_change(app: &TestApp) {
    let (_, mut token) = admin_at(app, SessionStage::Authenticated).await;
    let mut bound = FlagKey::new(Uuid::new_v4());
    app.register_key(&mut token, &mut bound, "Device-bound").await;
    let mut synced = FlagKey::new(Uuid::new_v4());
    synced.backup_eligible = true;
    app.register_key(&mut token, &mut synced, "Passkey").await;

    for (key, flipped) in [(&mut bound, true), (&mut synced, false)] {
        let (_, pending) = admin_at(app, SessionStage::MfaRequired).await;
        key.backup_eligible = flipped;
        let (ceremony, options) = app.mfa_begin(&pending).await;
        let body = app.mfa_finish(&pending, &ceremony, TestApp::get(key, &options, ORIGIN)).await;
        assert_refused(&body, "CEREMONY_FAILED", "BE flag");
        // With its flag as registered, the same key gets in.
        key.backup_eligible = !flipped;
        assert_eq!(app.mfa_login(&pending, key).await["stage"], "AUTHENTICATED");
    }
    let failures: Vec<_> = events(app, "mfa.login").await.into_iter().filter(|e| e.outcome == "FAILURE").collect();
    assert_eq!(failures.len(), 2);
    assert!(failures.iter().all(|e| e.details["reason"].as_str().unwrap().contains("backup eligibility")));
}

/// BS may change (a passkey gets synced, or stops being): the new state is stored, and each change
/// is audited in the login's own transaction.
async fn backup_state_changes_are_stored_and_audited(app: &TestApp) {
    let (admin, mut token) = admin_at(app, SessionStage::Authenticated).await;
    let mut key = FlagKey::new(Uuid::new_v4());
    key.backup_eligible = true;
    app.register_key(&mut token, &mut key, "Passkey").await;
    let stored = || async { app.db.keys_of(app.org, admin.id).await.unwrap()[0].clone() };
    assert!(!stored().await.backed_up);

    for backed_up in [true, true, false] {
        key.backed_up = backed_up;
        let (_, pending) = admin_at(app, SessionStage::MfaRequired).await;
        app.mfa_login(&pending, &mut key).await;
        assert_eq!(stored().await.backed_up, backed_up);
    }
    let changes = events(app, "security_key.backup_state_changed").await;
    let seen: Vec<(Value, Value)> =
        changes.iter().rev().map(|e| (e.details["from"].clone(), e.details["to"].clone())).collect();
    assert_eq!(seen, vec![(json!(false), json!(true)), (json!(true), json!(false))], "only real changes");
    assert_eq!(changes[0].target.as_deref(), Some(format!("security_key:{}", stored().await.id).as_str()));
}

/// Two logins with the same key finishing at once: whichever commits first, the stored counter
/// ends at the higher of the two, and both logins are judged as if they had come one by one.
async fn concurrent_logins_never_move_the_counter_backwards(app: &TestApp) {
    let (admin, mut token) = admin_at(app, SessionStage::Authenticated).await;
    let mut key = FlagKey::new(Uuid::new_v4());
    app.register_key(&mut token, &mut key, "Key").await;
    for round in 0..3u32 {
        let (_, first) = admin_at(app, SessionStage::MfaRequired).await;
        let (_, second) = admin_at(app, SessionStage::MfaRequired).await;
        let (c1, o1) = app.mfa_begin(&first).await;
        let (c2, o2) = app.mfa_begin(&second).await;
        let low = TestApp::get(&mut key, &o1, ORIGIN);
        let high = TestApp::get(&mut key, &o2, ORIGIN);
        let (a, b) = tokio::join!(app.mfa_finish(&first, &c1, low), app.mfa_finish(&second, &c2, high));
        for body in [&a, &b] {
            assert!(body.get("errors").is_none(), "a regression is only audited by default: {body}");
        }
        assert_eq!(app.db.keys_of(app.org, admin.id).await.unwrap()[0].sign_count, key.counter - 1, "round {round}");
    }
}

on_both_backends! {
    the_origin_must_match_exactly,
    a_top_origin_is_refused,
    backup_eligibility_can_never_change,
    backup_state_changes_are_stored_and_audited,
    concurrent_logins_never_move_the_counter_backwards,
}

/// An app whose attestation roots are one software token's CA, and that token.
async fn app_trusting_a_token(db: TestDb, store: Store) -> (TestApp, SoftToken, tempfile::TempDir) {
    let (token, ca) = SoftToken::new(true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("roots.pem");
    std::fs::write(&roots, ca.to_pem(LineEndingPem::LF).unwrap()).unwrap();
    let mut config = common::test_config();
    config.webauthn.attestation_roots = Some(roots);
    (TestApp::start_with_config(db, store, config).await, token, dir)
}

/// AAGUID lists apply only to a model proven by a verified attestation: a key that merely claims
/// an allowed model (`none` attestation) is refused, an attested one is accepted and keeps being
/// judged by its verified model at every login.
async fn aaguid_lists_need_a_verified_attestation(db: TestDb, store: Store) {
    let (app, mut attested, _dir) = app_trusting_a_token(db, store).await;
    let (_, mut token) = admin_at(&app, SessionStage::Authenticated).await;
    let model = softtoken::AAGUID.to_string();
    let mut allow = json!({ "userVerification": "PREFERRED", "attestation": "NONE", "allowedAaguids": [model], "deviceBoundOnly": false, "ceremonyTimeoutSeconds": 120 });
    let body = app.update_webauthn_policy(&token, allow.clone()).await;
    assert_eq!(
        (error_code(&body), &body["errors"][0]["extensions"]["field"]),
        ("BAD_USER_INPUT", &json!("attestation"))
    );
    allow["attestation"] = json!("DIRECT");
    let body = app.update_webauthn_policy(&token, allow).await;
    assert!(body.get("errors").is_none(), "{body}");

    let (ceremony, options) = app.registration_begin(&token, "Liar").await;
    assert_eq!(options["attestation"], "direct");
    let claims = TestApp::create(&mut FlagKey::new(softtoken::AAGUID), &options, ORIGIN);
    assert_refused(&app.registration_finish(&token, &ceremony, claims).await, "POLICY_DENIED", "verified attestation");
    let (ceremony, options) = app.registration_begin(&token, "Self-attested").await;
    let selfish = TestApp::create(&mut soft_key(true), &options, ORIGIN);
    assert_refused(&app.registration_finish(&token, &ceremony, selfish).await, "POLICY_DENIED", "verified attestation");

    let registered = app.register_key(&mut token, &mut attested, "Attested").await;
    assert!(registered.get("key").is_some(), "{registered}");
    let (_, pending) = admin_at(&app, SessionStage::MfaRequired).await;
    assert_eq!(app.mfa_login(&pending, &mut attested).await["stage"], "AUTHENTICATED");

    // Denying that model would refuse the admin's only key: the API refuses to lock them out. A
    // policy stored anyway (before that rule existed) refuses the same key at login.
    let deny = json!({ "userVerification": "PREFERRED", "attestation": "DIRECT", "deniedAaguids": [softtoken::AAGUID.to_string()], "deviceBoundOnly": false, "ceremonyTimeoutSeconds": 120 });
    let body = app.update_webauthn_policy(&token, deny).await;
    assert_refused(&body, "POLICY_DENIED", "every one of your security keys");
    app.store_webauthn_policy(&keyward_domain::webauthn_policy::WebauthnPolicy {
        attestation: keyward_domain::webauthn_policy::AttestationPreference::Direct,
        denied_aaguids: vec![softtoken::AAGUID],
        ceremony_timeout_seconds: 120,
        ..Default::default()
    })
    .await;
    let (_, pending) = admin_at(&app, SessionStage::MfaRequired).await;
    let (ceremony, options) = app.mfa_begin(&pending).await;
    let body = app.mfa_finish(&pending, &ceremony, TestApp::get(&mut attested, &options, ORIGIN)).await;
    assert_refused(&body, "POLICY_DENIED", "does not allow this authenticator model");
    app.stop().await;
}

#[tokio::test]
async fn aaguid_lists_need_a_verified_attestation_sqlite_memory() {
    aaguid_lists_need_a_verified_attestation(TestDb::sqlite().await, Store::Memory).await;
}

#[tokio::test]
async fn aaguid_lists_need_a_verified_attestation_postgres_redis() {
    aaguid_lists_need_a_verified_attestation(TestDb::postgres().await, Store::Redis).await;
}
