//! A change to what a member may do reaches every live session of theirs at once (DESIGN §4):
//! role changes, keys registered or deleted, grace changes, policies that refuse a key in use,
//! recovery and deactivation. The session that made the change is rotated, never ended.

mod common;

use chrono::{Duration, Utc};
use common::authn::{soft_key, token_of};
use common::oidc::{IdpUser, TestIdp};
use common::{TestApp, error_code};
use keyward_domain::member::Role;
use keyward_domain::repo::{AuditQuery, AuditRepo, MemberRepo};
use keyward_domain::session::{MAX_SESSIONS_PER_MEMBER, SessionStage};
use serde_json::json;

const ENFORCE: &str = "mutation($i: MfaEnforcementInput!) { mfaEnforcementSet(input: $i) { revokedSessions } }";

async fn viewer_stage(app: &TestApp, token: &str) -> String {
    let (_, body) = app.graphql("{ viewer { stage } }", json!({}), Some(token)).await;
    body["data"]["viewer"]["stage"].as_str().unwrap_or("<none>").to_owned()
}

async fn registering_a_key_ends_the_members_other_keyless_sessions(app: &TestApp) {
    let alice = app.member("alice").await;
    let mut first = app.session_for(&alice, SessionStage::Authenticated).await;
    let second = app.session_for(&alice, SessionStage::Authenticated).await;
    let before = first.clone();
    let bob = app.session_for(&app.member("bob").await, SessionStage::Authenticated).await;
    let registered = app.register_key(&mut first, &mut soft_key(true), "Alice's key").await;
    assert_eq!(registered["viewer"]["stage"], "AUTHENTICATED");
    assert!(app.is_live(&first).await, "the registering session lives on under its new token");
    assert!(!app.is_live(&before).await, "and its old token stops working");
    assert!(!app.is_live(&second).await, "a session that never touched the key ends");
    assert!(app.is_live(&bob).await, "other members are untouched");
    // A session that never touched the member's key cannot bind another one (NIST SP 800-63B).
    let keyless = app.session_for(&alice, SessionStage::Authenticated).await;
    let (_, body) = app
        .graphql("mutation { securityKeyRegistrationBegin(name: \"Mine\") { ceremonyId } }", json!({}), Some(&keyless))
        .await;
    assert_eq!(error_code(&body), "MFA_REQUIRED", "{body}");
}

async fn deleting_your_key_ends_your_other_sessions(app: &TestApp) {
    let (mut admin, mut first) = app.admin_with_key().await;
    app.register_key(&mut admin, &mut soft_key(true), "Spare").await;
    let pending = token_of(&app.backup_login().await);
    let other = token_of(&app.mfa_login(&pending, &mut first).await);
    let keys = app.ok("{ securityKeys { id name } }", json!({}), Some(&admin)).await;
    let first_id = keys["securityKeys"][0]["id"].as_str().unwrap().to_owned();
    let deleted = app
        .ok(
            "mutation($id: ID!) { securityKeyDelete(id: $id) { remainingKeys sessionToken } }",
            json!({ "id": first_id }),
            Some(&admin),
        )
        .await;
    let rotated = token_of(&deleted["securityKeyDelete"]);
    assert!(!app.is_live(&other).await, "the session the deleted key confirmed ends");
    assert!(!app.is_live(&admin).await, "the acting session's old token stops working");
    assert!(app.is_live(&rotated).await, "the acting session lives on");
}

async fn an_admin_deleting_their_own_key_keeps_their_session(app: &TestApp) {
    let (mut admin, _) = app.admin_with_key().await;
    app.register_key(&mut admin, &mut soft_key(true), "Spare").await;
    let keys = app.ok("{ securityKeys { id } }", json!({}), Some(&admin)).await;
    let id = keys["securityKeys"][0]["id"].as_str().unwrap().to_owned();
    let deleted = app
        .ok(
            "mutation($id: ID!) { memberSecurityKeyDelete(id: $id) { sessionToken } }",
            json!({ "id": id }),
            Some(&admin),
        )
        .await;
    assert!(app.is_live(&token_of(&deleted["memberSecurityKeyDelete"])).await);
}

async fn an_idp_demotion_ends_the_admins_other_sessions(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    let idp = TestIdp::start().await;
    app.configure_sso(&admin, &idp).await;
    let boss = IdpUser::admin("boss");
    let first = token_of(&app.sso_login(&idp, &boss).await);
    let second = token_of(&app.sso_login(&idp, &boss).await);
    let (_, body) = app.graphql("{ organization { slug } }", json!({}), Some(&first)).await;
    assert!(body.get("errors").is_none(), "an admin for now: {body}");
    // The IdP drops boss from the admin group; the next SSO login syncs the role.
    let demoted = app.sso_login(&idp, &IdpUser::new("boss")).await;
    assert_eq!(demoted["viewer"]["role"], "MEMBER");
    assert!(!app.is_live(&first).await && !app.is_live(&second).await, "sessions with the old role end");
    let (_, body) = app.graphql("{ organization { slug } }", json!({}), Some(&token_of(&demoted))).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
}

async fn ending_the_grace_period_ends_keyless_sessions(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    let deadline = (Utc::now() + Duration::days(7)).to_rfc3339();
    app.ok(ENFORCE, json!({ "i": { "enabled": true, "gracePeriodEndsAt": deadline } }), Some(&admin)).await;
    let idp = TestIdp::start().await;
    app.configure_sso(&admin, &idp).await;
    let alice = IdpUser::new("alice");
    let keyless = token_of(&app.sso_login(&idp, &alice).await);
    assert_eq!(viewer_stage(app, &keyless).await, "AUTHENTICATED", "working under the grace period");
    app.ok(ENFORCE, json!({ "i": { "enabled": true } }), Some(&admin)).await;
    assert!(!app.is_live(&keyless).await, "the grace period is over for sessions that cached it");
    assert!(app.is_live(&admin).await, "a key-confirmed session is untouched");
    let again = token_of(&app.sso_login(&idp, &alice).await);
    assert_eq!(viewer_stage(app, &again).await, "MFA_REGISTRATION_REQUIRED");
}

async fn set_user_verification(app: &TestApp, admin: &str, user_verification: &str) {
    app.ok(
        "mutation($p: WebauthnPolicyInput!) { webauthnPolicyUpdate(input: $p) { userVerification } }",
        json!({ "p": {
            "userVerification": user_verification,
            "attestation": "NONE",
            "deviceBoundOnly": false,
            "ceremonyTimeoutSeconds": 60,
        } }),
        Some(admin),
    )
    .await;
}

async fn a_policy_refusing_a_key_in_use_ends_its_sessions(app: &TestApp) {
    let mut admin = token_of(&app.backup_login().await);
    set_user_verification(app, &admin, "REQUIRED").await;
    app.register_key(&mut admin, &mut soft_key(true), "Admin key with PIN").await;
    set_user_verification(app, &admin, "PREFERRED").await;
    let alice = app.member("alice").await;
    let mut token = app.session_for(&alice, SessionStage::Authenticated).await;
    app.register_key(&mut token, &mut soft_key(false), "No PIN").await;
    assert!(app.is_live(&token).await);
    set_user_verification(app, &admin, "REQUIRED").await;
    assert!(!app.is_live(&token).await, "the key that confirmed it is no longer accepted");
    assert!(app.is_live(&admin).await, "the admin's key verifies its user");
}

async fn deactivated_members_are_out_everywhere(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    let bootstrap_admin = app.admin().await;
    let mut boss = app.member("boss").await;
    let change = keyward_domain::audit::AuditRecord::new(keyward_domain::audit::Actor::System, "member.role.changed");
    boss = app.db.set_role(app.org, boss.id, Role::Admin, change).await.unwrap();
    let boss_token = app.session_for(&boss, SessionStage::Authenticated).await;
    let deactivate = "mutation($id: ID!) { memberDeactivate(id: $id) { id deactivatedAt } }";
    let reactivate = "mutation($id: ID!) { memberReactivate(id: $id) { id deactivatedAt } }";
    let (_, body) = app.graphql(deactivate, json!({ "id": boss.id.to_string() }), Some(&boss_token)).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "nobody deactivates themselves: {body}");

    let data = app.ok(deactivate, json!({ "id": bootstrap_admin.id.to_string() }), Some(&boss_token)).await;
    assert!(data["memberDeactivate"]["deactivatedAt"].is_string());
    assert!(!app.is_live(&admin).await, "their sessions end at once");
    let secret = app.running.credentials.as_ref().unwrap().secret.clone();
    let login = "mutation($s: String!) { backupCredentialsLogin(organization: \"default\", username: \"admin\", secret: $s) { stage } }";
    let (_, body) = app.graphql(login, json!({ "s": secret }), None).await;
    assert_eq!(error_code(&body), "MEMBER_DEACTIVATED", "{body}");
    let listed = app
        .ok(
            "{ organization { members { nodes { member { username deactivatedAt } } } } }",
            json!({}),
            Some(&boss_token),
        )
        .await;
    let nodes = listed["organization"]["members"]["nodes"].as_array().unwrap().clone();
    assert!(nodes.iter().any(|n| n["member"]["username"] == "admin" && n["member"]["deactivatedAt"].is_string()));

    let carol = app.member("carol").await;
    app.ok(deactivate, json!({ "id": carol.id.to_string() }), Some(&boss_token)).await;
    let preview = app
        .ok("{ enforcementPreview { membersWithoutKey { member { username } } } }", json!({}), Some(&boss_token))
        .await;
    let keyless: Vec<&str> = preview["enforcementPreview"]["membersWithoutKey"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["member"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(keyless, vec!["boss"], "a deactivated member is nobody enforcement could lock out");

    let data = app.ok(reactivate, json!({ "id": bootstrap_admin.id.to_string() }), Some(&boss_token)).await;
    assert!(data["memberReactivate"]["deactivatedAt"].is_null());
    let (_, body) = app.graphql(login, json!({ "s": secret }), None).await;
    assert_eq!(body["data"]["backupCredentialsLogin"]["stage"], "MFA_REQUIRED", "{body}");
    let log = app.ok("{ auditEvents(first: 20) { nodes { action } } }", json!({}), Some(&boss_token)).await;
    let actions: Vec<&str> =
        log["auditEvents"]["nodes"].as_array().unwrap().iter().map(|n| n["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"member.deactivated") && actions.contains(&"member.reactivated"), "{actions:?}");
}

async fn a_session_waiting_for_its_key_is_short_lived(app: &TestApp) {
    let (_, mut key) = app.admin_with_key().await;
    let pending = app.backup_login().await;
    assert_eq!(pending["stage"], "MFA_REQUIRED");
    let token = token_of(&pending);
    let (_, body) = app.graphql("{ viewer { sessionExpiresAt } }", json!({}), Some(&token)).await;
    let expires: chrono::DateTime<Utc> = body["data"]["viewer"]["sessionExpiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires <= Utc::now() + Duration::minutes(10), "session.pending_ttl, not 12 hours: {expires}");
    let done = app.mfa_login(&token, &mut key).await;
    let (_, body) = app.graphql("{ viewer { sessionExpiresAt } }", json!({}), Some(&token_of(&done))).await;
    let expires: chrono::DateTime<Utc> = body["data"]["viewer"]["sessionExpiresAt"].as_str().unwrap().parse().unwrap();
    assert!(expires > Utc::now() + Duration::hours(11), "the full lifetime once the key is done: {expires}");
}

/// A login that takes a member past the session cap ends their oldest session, and says so in
/// the audit trail.
async fn a_login_at_the_session_cap_audits_the_session_it_ended(app: &TestApp) {
    let admin = app.admin().await;
    let mut tokens = Vec::new();
    for _ in 0..MAX_SESSIONS_PER_MEMBER {
        tokens.push(app.session_for(&admin, SessionStage::Authenticated).await);
    }
    let evictions = || async {
        let query = AuditQuery { first: 5, action: Some("session.evicted".into()), ..Default::default() };
        app.db.audit_events(app.org, query).await.unwrap().items
    };
    assert!(evictions().await.is_empty());
    app.backup_login().await;
    let events = evictions().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].details["endedSessions"], 1);
    assert_eq!(
        events[0].summary(),
        format!("admin logged in with {MAX_SESSIONS_PER_MEMBER} sessions open: the oldest 1 ended")
    );
    assert!(!app.is_live(&tokens[0]).await, "the oldest ended");
    assert!(app.is_live(&tokens[1]).await, "and only the oldest");
}

on_both_backends! {
    a_login_at_the_session_cap_audits_the_session_it_ended,
    registering_a_key_ends_the_members_other_keyless_sessions,
    deleting_your_key_ends_your_other_sessions,
    an_admin_deleting_their_own_key_keeps_their_session,
    an_idp_demotion_ends_the_admins_other_sessions,
    ending_the_grace_period_ends_keyless_sessions,
    a_policy_refusing_a_key_in_use_ends_its_sessions,
    deactivated_members_are_out_everywhere,
    a_session_waiting_for_its_key_is_short_lived,
}
