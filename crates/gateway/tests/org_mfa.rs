//! Organization MFA end to end: admin views and actions, enforcement with its instant flush,
//! the preview, the last-key rule under concurrency, recovery codes and the audit trail.

mod common;

use chrono::{Duration, Utc};
use common::authn::{soft_key, token_of};
use common::{TestApp, error_code};
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::OrgId;
use keyward_domain::org::{Enforcement, Organization};
use keyward_domain::repo::OrganizationRepo;
use keyward_domain::session::SessionStage;
use serde_json::json;

const ENFORCE: &str = "mutation($i: MfaEnforcementInput!) { mfaEnforcementSet(input: $i) { revokedSessions membersWithoutKey organization { mfaEnforced gracePeriodEndsAt } } }";

async fn enforcement_flushes_every_other_session(app: &TestApp) {
    let token = token_of(&app.backup_login().await);
    let (_, body) = app.graphql(ENFORCE, json!({ "i": { "enabled": true } }), Some(&token)).await;
    assert_eq!(error_code(&body), "POLICY_DENIED", "an admin without a key cannot enforce: {body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("register a security key"));

    let (admin, _) = app.admin_with_key().await;
    let alice = app.member("alice").await;
    let bob = app.member("bob").await;
    let mut others = Vec::new();
    for member in [&alice, &alice, &bob] {
        others.push(app.session_for(member, SessionStage::Authenticated).await);
    }
    let admin_other = app.session_for(&app.admin().await, SessionStage::Authenticated).await;
    for (days, expected) in [(-1, "past"), (91, "90 days")] {
        let deadline = (Utc::now() + Duration::days(days)).to_rfc3339();
        let (_, body) = app
            .graphql(ENFORCE, json!({ "i": { "enabled": true, "gracePeriodEndsAt": deadline } }), Some(&admin))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(expected), "{body}");
    }

    let data = app.ok(ENFORCE, json!({ "i": { "enabled": true } }), Some(&admin)).await;
    let result = &data["mfaEnforcementSet"];
    assert_eq!(
        result["revokedSessions"], 4,
        "three member sessions and the admin's other one (registering the key ended the first)"
    );
    assert_eq!(result["membersWithoutKey"], 2);
    assert_eq!(result["organization"]["mfaEnforced"], true);
    assert!(app.is_live(&admin).await, "the acting admin's session survives");
    for token in others.iter().chain([&admin_other, &token]) {
        let (_, body) = app.graphql("{ securityKeys { id } }", json!({}), Some(token)).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    let again = app.ok(ENFORCE, json!({ "i": { "enabled": true } }), Some(&admin)).await;
    assert_eq!(again["mfaEnforcementSet"]["revokedSessions"], 0, "enforcing twice is idempotent");

    // Members without a key must register at their next login, then they are in.
    let idp = common::oidc::TestIdp::start().await;
    app.configure_sso(&admin, &idp).await;
    let carol = app.sso_login(&idp, &common::oidc::IdpUser::new("carol")).await;
    assert_eq!(carol["stage"], "MFA_REGISTRATION_REQUIRED");
    let mut pending = token_of(&carol);
    for query in ["{ securityKeys { id } }", "mutation { recoveryCodesGenerate { codes } }"] {
        let (_, body) = app.graphql(query, json!({}), Some(&pending)).await;
        assert_eq!(error_code(&body), "MFA_REGISTRATION_REQUIRED", "{query}");
    }
    let before = pending.clone();
    let registered = app.register_key(&mut pending, &mut soft_key(true), "Carol's key").await;
    assert_eq!(registered["viewer"]["stage"], "AUTHENTICATED");
    let rotated = registered["sessionToken"].as_str().expect("the token rotates").to_owned();
    assert!(!app.is_live(&before).await);
    assert!(app.is_live(&rotated).await);

    // Lifting enforcement is audited; a grace period lets keyless members work, with a reminder.
    let deadline = (Utc::now() + Duration::days(7)).to_rfc3339();
    app.ok(ENFORCE, json!({ "i": { "enabled": false } }), Some(&admin)).await;
    let data = app.ok(ENFORCE, json!({ "i": { "enabled": true, "gracePeriodEndsAt": deadline } }), Some(&admin)).await;
    assert!(data["mfaEnforcementSet"]["organization"]["gracePeriodEndsAt"].is_string());
    let dave = app.sso_login(&idp, &common::oidc::IdpUser::new("dave")).await;
    assert_eq!(dave["stage"], "AUTHENTICATED");
    assert!(dave["gracePeriodEndsAt"].is_string(), "told at login: {dave}");
    let viewer = app.ok("{ viewer { gracePeriodEndsAt } }", json!({}), Some(&token_of(&dave))).await;
    assert!(viewer["viewer"]["gracePeriodEndsAt"].is_string());
    let events = app
        .ok(
            "{ auditEvents(filter: { action: \"org.mfa_enforcement.disabled\" }) { nodes { seq actor } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(events["auditEvents"]["nodes"].as_array().unwrap().len(), 1);
}

async fn the_preview_is_exact(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    let alice = app.member("alice").await;
    app.session_for(&alice, SessionStage::Authenticated).await;
    app.session_for(&alice, SessionStage::Authenticated).await;
    let bob = app.member("bob").await;
    let mut bob_token = app.session_for(&bob, SessionStage::Authenticated).await;
    app.register_key(&mut bob_token, &mut soft_key(true), "Bob's key").await;
    // Only one (unknown) model is allowed from now on: every existing key is refused. A model is
    // known only from a verified attestation, which this server (no attestation roots) cannot
    // verify, so the API refuses such a policy; one stored before that rule still applies.
    let mut policy = json!({ "userVerification": "PREFERRED", "attestation": "NONE", "allowedAaguids": [uuid::Uuid::new_v4().to_string()], "deviceBoundOnly": false, "ceremonyTimeoutSeconds": 120 });
    let body = app.update_webauthn_policy(&admin, policy.clone()).await;
    assert_eq!(
        (error_code(&body), &body["errors"][0]["extensions"]["field"]),
        ("BAD_USER_INPUT", &json!("attestation"))
    );
    policy["attestation"] = json!("DIRECT");
    let body = app.update_webauthn_policy(&admin, policy).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "allowedAaguids", "no roots to verify with: {body}");
    app.store_webauthn_policy(&keyward_domain::webauthn_policy::WebauthnPolicy {
        attestation: keyward_domain::webauthn_policy::AttestationPreference::Direct,
        allowed_aaguids: vec![uuid::Uuid::new_v4()],
        ..Default::default()
    })
    .await;
    let preview = app
        .ok(
            "{ enforcementPreview { sessionsToEnd membersWithoutKey { member { username } liveSessions } membersWithOnlyRefusedKeys { member { username } refusedKeys { key { name } reason } } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let preview = &preview["enforcementPreview"];
    assert_eq!(preview["membersWithoutKey"], json!([{ "member": { "username": "alice" }, "liveSessions": 2 }]));
    let refused = preview["membersWithOnlyRefusedKeys"].as_array().unwrap();
    let names: Vec<&str> = refused.iter().map(|r| r["member"]["username"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["admin", "bob"]);
    assert!(refused[1]["refusedKeys"][0]["reason"].as_str().unwrap().contains("verified attestation"));
    assert_eq!(
        preview["sessionsToEnd"], 3,
        "alice's two and bob's one (the policy was stored directly); not the caller's"
    );
    let (_, body) = app
        .graphql("mutation($p: WebauthnPolicyInput!) { webauthnPolicyUpdate(input: $p) { deviceBoundOnly } }", json!({ "p": { "userVerification": "REQUIRED", "attestation": "NONE", "deviceBoundOnly": true, "ceremonyTimeoutSeconds": 5 } }), Some(&admin))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "ceremonyTimeoutSeconds");
}

async fn admins_manage_member_keys_and_sessions(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    let alice = app.member("alice").await;
    let mut alice_token = app.session_for(&alice, SessionStage::Authenticated).await;
    let key = app.register_key(&mut alice_token, &mut soft_key(true), "Alice's only key").await["key"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let spare = app.session_for(&alice, SessionStage::Authenticated).await;
    let members = app.ok("{ organization { members(first: 10) { nodes { member { username } keyCount liveSessions } pageInfo { hasNextPage } } } }", json!({}), Some(&admin)).await;
    for query in [
        "{ organization { members(first: 0) { nodes { keyCount } } } }",
        "{ auditEvents(first: 201) { nodes { seq } } }",
    ] {
        let (_, body) = app.graphql(query, json!({}), Some(&admin)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{query}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "first");
    }
    let rows = members["organization"]["members"]["nodes"].as_array().unwrap();
    assert_eq!(rows[1], json!({ "member": { "username": "alice" }, "keyCount": 1, "liveSessions": 2 }));
    let keyless = app
        .ok("{ organization { members(withoutKey: true) { nodes { member { username } } } } }", json!({}), Some(&admin))
        .await;
    assert_eq!(keyless["organization"]["members"]["nodes"], json!([]));
    let detail = app
        .ok(
            "query($id: ID!) { member(id: $id) { member { username } keys { name model } liveSessions } }",
            json!({ "id": alice.id.to_string() }),
            Some(&admin),
        )
        .await;
    assert_eq!(detail["member"]["keys"][0]["name"], "Alice's only key");

    app.ok(ENFORCE, json!({ "i": { "enabled": true } }), Some(&admin)).await;
    let alice_token = app.session_for(&alice, SessionStage::Authenticated).await;
    let (_, body) = app
        .graphql(
            "mutation($id: ID!) { securityKeyDelete(id: $id) { remainingKeys } }",
            json!({ "id": key }),
            Some(&alice_token),
        )
        .await;
    assert_eq!(error_code(&body), "LAST_KEY_ENFORCED");
    let deleted = app
        .ok(
            "mutation($id: ID!) { memberSecurityKeyDelete(id: $id) { remainingKeys revokedSessions memberId } }",
            json!({ "id": key }),
            Some(&admin),
        )
        .await;
    assert_eq!(deleted["memberSecurityKeyDelete"]["remainingKeys"], 0);
    assert_eq!(deleted["memberSecurityKeyDelete"]["revokedSessions"], 1);
    assert!(!app.is_live(&alice_token).await && !app.is_live(&spare).await);
    let fresh = app.session_for(&alice, SessionStage::Authenticated).await;
    let revoked = app
        .ok(
            "mutation($m: ID!) { memberSessionsRevoke(memberId: $m) }",
            json!({ "m": alice.id.to_string() }),
            Some(&admin),
        )
        .await;
    assert_eq!(revoked["memberSessionsRevoke"], 1);
    assert!(!app.is_live(&fresh).await);

    // Another organization's keys and members do not exist for this admin.
    let other = Organization {
        id: OrgId::new(),
        slug: "other".into(),
        name: "Other".into(),
        enforcement: Enforcement::default(),
        created_at: Utc::now(),
    };
    app.db.create_organization(other.clone(), AuditRecord::new(Actor::System, "org.created")).await.unwrap();
    let stranger = keyward_testkit::member(&app.db, other.id, "stranger").await;
    let (_, body) = app
        .graphql(
            "query($id: ID!) { member(id: $id) { member { id } } }",
            json!({ "id": stranger.id.to_string() }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let (_, body) = app
        .graphql(
            "mutation($m: ID!) { memberSessionsRevoke(memberId: $m) }",
            json!({ "m": stranger.id.to_string() }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let log = app
        .ok(
            "{ auditEvents(filter: { action: \"member.security_key.deleted\" }) { nodes { details target } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let event = &log["auditEvents"]["nodes"][0];
    assert_eq!(event["details"]["keyName"], "Alice's only key");
    assert_eq!(event["target"], format!("member:{}", alice.id));
}

async fn the_last_key_survives_concurrent_deletions(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    app.ok(ENFORCE, json!({ "i": { "enabled": true } }), Some(&admin)).await;
    let alice = app.member("alice").await;
    for round in 0..3 {
        let mut token = app.session_for(&alice, SessionStage::Authenticated).await;
        let mut ids = Vec::new();
        for name in ["A", "B"] {
            ids.push(
                app.register_key(&mut token, &mut soft_key(true), &format!("{name}{round}")).await["key"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        let delete = "mutation($id: ID!) { securityKeyDelete(id: $id) { remainingKeys } }";
        let (a, b) = tokio::join!(
            app.graphql(delete, json!({ "id": ids[0] }), Some(&token)),
            app.graphql(delete, json!({ "id": ids[1] }), Some(&token)),
        );
        let codes: Vec<&str> = [&a.1, &b.1].iter().map(|b| error_code(b)).collect();
        assert_eq!(codes.iter().filter(|c| **c == "<none>").count(), 1, "exactly one deletion wins: {codes:?}");
        // The loser is refused by the rule, or (when it arrives after the winner rotated the
        // session) by the choke point; either way the member keeps one key.
        assert!(codes.iter().all(|c| ["<none>", "LAST_KEY_ENFORCED", "UNAUTHENTICATED"].contains(c)), "{codes:?}");
        let keys = app
            .ok(
                "query($id: ID!) { member(id: $id) { keys { id } } }",
                json!({ "id": alice.id.to_string() }),
                Some(&admin),
            )
            .await;
        assert_eq!(keys["member"]["keys"].as_array().unwrap().len(), 1);
        let remaining = keys["member"]["keys"][0]["id"].as_str().unwrap().to_owned();
        app.ok(
            "mutation($id: ID!) { memberSecurityKeyDelete(id: $id) { remainingKeys } }",
            json!({ "id": remaining }),
            Some(&admin),
        )
        .await;
    }
}

const RECOVER: &str =
    "mutation($c: String!) { mfaRecoveryCodeFinish(code: $c) { sessionToken stage viewer { methods } } }";

async fn recovery_codes_get_a_member_back_in(app: &TestApp) {
    let (admin, mut key) = app.admin_with_key().await;
    let codes =
        app.ok("mutation { recoveryCodesGenerate { codes } }", json!({}), Some(&admin)).await["recoveryCodesGenerate"]
            ["codes"]
            .clone();
    let codes: Vec<String> = serde_json::from_value(codes).unwrap();
    assert_eq!(codes.len(), 10);
    // A code never stands in for the first factor: it needs a session waiting for its key.
    let (_, body) = app.graphql(RECOVER, json!({ "c": codes[0] }), None).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    let (_, body) = app.graphql(RECOVER, json!({ "c": codes[0] }), Some(&admin)).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "an authenticated session has no key step: {body}");

    let other = app.session_for(&app.admin().await, SessionStage::Authenticated).await;
    let pending = token_of(&app.backup_login().await);
    let (_, body) = app.graphql(RECOVER, json!({ "c": "aaaa-bbbb-cccc-dddd" }), Some(&pending)).await;
    assert_eq!(
        (error_code(&body), body["errors"][0]["extensions"]["field"].as_str()),
        ("BAD_USER_INPUT", Some("code"))
    );
    let data = app.ok(RECOVER, json!({ "c": codes[0].to_uppercase() }), Some(&pending)).await;
    let recovered = &data["mfaRecoveryCodeFinish"];
    assert_eq!(recovered["stage"], "MFA_REGISTRATION_REQUIRED");
    assert_eq!(recovered["viewer"]["methods"], json!(["BACKUP_CREDENTIALS", "RECOVERY_CODE"]));
    assert!(!app.is_live(&admin).await && !app.is_live(&other).await, "the member's other sessions end");
    assert!(!app.is_live(&pending).await, "the session moved to a new token");
    let mut recovered = token_of(recovered);
    let (_, body) = app.graphql("{ securityKeys { id } }", json!({}), Some(&recovered)).await;
    assert_eq!(error_code(&body), "MFA_REGISTRATION_REQUIRED", "a recovered session may only register a key");

    let again = token_of(&app.backup_login().await);
    let (_, body) = app.graphql(RECOVER, json!({ "c": codes[0] }), Some(&again)).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "a code works once");
    let registered = app.register_key(&mut recovered, &mut soft_key(true), "New key").await;
    assert_eq!(registered["viewer"]["stage"], "AUTHENTICATED");
    app.ok("mutation { recoveryCodesGenerate { codes } }", json!({}), Some(&recovered)).await;
    let pending = token_of(&app.backup_login().await);
    let (_, body) = app.graphql(RECOVER, json!({ "c": codes[1] }), Some(&pending)).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "generating again voids the old codes");
    // The old key still works at the next login.
    assert_eq!(app.mfa_login(&pending, &mut key).await["stage"], "AUTHENTICATED");
}

/// Guessing recovery codes takes a new first-factor login every few tries, and only failures
/// count: the member's own correct code is never refused because someone else guessed.
async fn recovery_code_guesses_are_limited_per_login(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    let codes = app.ok("mutation { recoveryCodesGenerate { codes } }", json!({}), Some(&admin)).await;
    let code = codes["recoveryCodesGenerate"]["codes"][0].as_str().unwrap().to_owned();
    let guesser = token_of(&app.backup_login().await);
    for _ in 0..5 {
        let (_, body) = app.graphql(RECOVER, json!({ "c": "aaaa-bbbb-cccc-dddd" }), Some(&guesser)).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT");
    }
    let (_, body) = app.graphql(RECOVER, json!({ "c": code }), Some(&guesser)).await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "this login session has used up its guesses: {body}");
    let owner = token_of(&app.backup_login().await);
    let data = app.ok(RECOVER, json!({ "c": code }), Some(&owner)).await;
    assert_eq!(data["mfaRecoveryCodeFinish"]["stage"], "MFA_REGISTRATION_REQUIRED");
}

async fn the_audit_trail_pages_verifies_and_names_tampering(app: &TestApp) {
    use sea_orm::ConnectionTrait;
    let (admin, _) = app.admin_with_key().await;
    for _ in 0..3 {
        app.ok("mutation { recoveryCodesGenerate { codes } }", json!({}), Some(&admin)).await;
    }
    let page = app
        .ok(
            "{ auditEvents(first: 2) { nodes { seq action hash prevHash } pageInfo { hasNextPage endCursor } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let nodes = page["auditEvents"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["prevHash"], nodes[1]["hash"], "newest first, chained");
    let cursor = page["auditEvents"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let next = app
        .ok(
            "query($a: String) { auditEvents(first: 2, after: $a) { nodes { seq } } }",
            json!({ "a": cursor }),
            Some(&admin),
        )
        .await;
    assert_eq!(next["auditEvents"]["nodes"][0]["seq"].as_u64().unwrap(), nodes[1]["seq"].as_u64().unwrap() - 1);
    let verify = app.ok("{ auditVerify { ok checked firstBrokenSeq } }", json!({}), Some(&admin)).await;
    assert_eq!(verify["auditVerify"]["ok"], true);
    app.db.connection().execute_unprepared("UPDATE audit_events SET actor = 'forged' WHERE seq = 2").await.unwrap();
    let verify = app.ok("{ auditVerify { ok firstBrokenSeq } }", json!({}), Some(&admin)).await;
    assert_eq!(verify["auditVerify"], json!({ "ok": false, "firstBrokenSeq": 2 }));
}

on_both_backends! {
    enforcement_flushes_every_other_session,
    the_preview_is_exact,
    admins_manage_member_keys_and_sessions,
    the_last_key_survives_concurrent_deletions,
    recovery_codes_get_a_member_back_in,
    recovery_code_guesses_are_limited_per_login,
    the_audit_trail_pages_verifies_and_names_tampering,
}

/// If Redis is down during enforcement, the flag is not set and the call says so.
#[tokio::test]
async fn enforcement_never_half_happens() {
    let (app, proxy) = TestApp::behind_redis_proxy(keyward_testkit::TestDb::postgres().await).await;
    let (admin, _) = app.admin_with_key().await;
    // The caller's own session is looked up before the outage; the outage hits the flush.
    let state = app.running.state.clone();
    let session = {
        let parsed = keyward_domain::session::SessionToken::parse(&admin).unwrap();
        state.sessions.lookup(app.org, &parsed.hash(), Utc::now()).await.unwrap().unwrap()
    };
    proxy.set_down(true);
    let result = keyward_gateway::auth::admin::set_enforcement(
        &state,
        &session,
        Enforcement { enabled: true, grace_period_ends_at: None },
        Default::default(),
        None,
    )
    .await;
    assert!(
        matches!(result, Err(keyward_domain::DomainError::Store(keyward_domain::StoreError::Unavailable(_)))),
        "{:?}",
        result.err()
    );
    let (_, body) = app.graphql(ENFORCE, json!({ "i": { "enabled": true } }), Some(&admin)).await;
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE");
    assert!(!app.db.organization(app.org).await.unwrap().unwrap().enforcement.enabled, "the flag is not set");
    proxy.set_down(false);
    app.stop().await;
}
