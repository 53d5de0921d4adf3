//! Step-up end to end: the choke point asks the policy, the ceremony earns a grant on one
//! session, policies are validated, versioned and reach every session at once.

mod common;

use chrono::Duration;
use common::authn::{ORIGIN, soft_key};
use common::flagkey::FlagKey;
use common::{TestApp, error_code};
use keyward_domain::repo::{AuditQuery, AuditRepo};
use serde_json::{Value, json};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const ROTATE: &str = "mutation { backupCredentialsRotate { secret } }";
const BEGIN: &str = "mutation($a: String!, $r: String) { stepUpBegin(action: $a, resource: $r) { ceremonyId options action resource description } }";
const FINISH: &str = "mutation($c: ID!, $r: JSON!) { stepUpFinish(ceremonyId: $c, response: $r) { grant { action resource reuse expiresAt } sessionToken } }";

/// An admin with a registered key, and a second session of theirs whose key touch is two hours
/// old (stale for every built-in window): (stale token, key).
async fn stale_admin(app: &TestApp) -> (String, SoftPasskey) {
    let (_fresh, key) = app.admin_with_key().await;
    let stale = app.key_session_for(&app.admin().await, Duration::hours(2)).await;
    (stale, key)
}

/// Runs the step-up ceremony for the extensions of a `STEP_UP_REQUIRED` body; returns the
/// finish payload and switches `token` to the rotated one.
async fn step_up(app: &TestApp, token: &mut String, key: &mut SoftPasskey, refused: &Value) -> Value {
    let ext = &refused["errors"][0]["extensions"];
    assert_eq!(ext["code"], "STEP_UP_REQUIRED", "{refused}");
    let vars = json!({ "a": ext["action"], "r": ext["resource"] });
    let begun = app.ok(BEGIN, vars, Some(token)).await["stepUpBegin"].clone();
    let response = TestApp::get(key, &begun["options"], ORIGIN);
    let data = app.ok(FINISH, json!({ "c": begun["ceremonyId"], "r": response }), Some(token)).await;
    let payload = data["stepUpFinish"].clone();
    *token = payload["sessionToken"].as_str().unwrap().to_owned();
    payload
}

async fn audit(app: &TestApp, action: &str) -> Vec<keyward_domain::audit::AuditEvent> {
    let query = AuditQuery { first: 50, action: Some(action.into()), ..Default::default() };
    app.db.audit_events(app.org, query).await.unwrap().items
}

async fn a_stale_session_steps_up_and_retries(app: &TestApp) {
    let (mut stale, mut key) = stale_admin(app).await;
    let (_, refused) = app.graphql(ROTATE, json!({}), Some(&stale)).await;
    let ext = &refused["errors"][0]["extensions"];
    assert_eq!(ext["action"], "backup_credentials.rotate");
    assert_eq!(ext["resource"], format!("org:{}", app.org));
    assert_eq!(ext["maxAgeSeconds"], 300);
    let before = stale.clone();
    let payload = step_up(app, &mut stale, &mut key, &refused).await;
    assert_eq!(payload["grant"]["action"], "backup_credentials.rotate");
    assert_eq!(payload["grant"]["reuse"], "ACTION");
    assert!(!app.is_live(&before).await, "a step-up rotates the session");
    app.ok(ROTATE, json!({}), Some(&stale)).await;
    let granted = audit(app, "step_up.granted").await;
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].details["policyVersion"], 0);
    assert_eq!(granted[0].details["action"], "backup_credentials.rotate");
}

async fn a_grant_serves_only_its_action_and_resource(app: &TestApp) {
    let (mut stale, mut key) = stale_admin(app).await;
    let revoke = "mutation($m: ID!) { memberSessionsRevoke(memberId: $m) }";
    let (alice, bob) = (app.member("alice").await, app.member("bob").await);
    let (_, refused) = app.graphql(revoke, json!({ "m": alice.id.to_string() }), Some(&stale)).await;
    step_up(app, &mut stale, &mut key, &refused).await;
    app.ok(revoke, json!({ "m": alice.id.to_string() }), Some(&stale)).await;
    let (_, other_resource) = app.graphql(revoke, json!({ "m": bob.id.to_string() }), Some(&stale)).await;
    assert_eq!(error_code(&other_resource), "STEP_UP_REQUIRED", "{other_resource}");
    let (_, other_action) = app.graphql(ROTATE, json!({}), Some(&stale)).await;
    assert_eq!(error_code(&other_action), "STEP_UP_REQUIRED", "{other_action}");
}

async fn a_class_grant_serves_every_row_of_a_bulk_edit(app: &TestApp) {
    let (mut fresh, mut key) = app.admin_with_key().await;
    let second = app.register_key(&mut fresh, &mut soft_key(true), "Spare").await["key"]["id"].clone();
    let third = app.register_key(&mut fresh, &mut soft_key(true), "Old").await["key"]["id"].clone();
    let mut stale = app.key_session_for(&app.admin().await, Duration::hours(2)).await;
    let rename = "mutation($id: ID!) { securityKeyRename(id: $id, name: \"Spare (desk)\") { id } }";
    let (_, refused) = app.graphql(rename, json!({ "id": second }), Some(&stale)).await;
    assert_eq!(refused["errors"][0]["extensions"]["maxAgeSeconds"], 900, "own keys get 15 minutes");
    let payload = step_up(app, &mut stale, &mut key, &refused).await;
    assert_eq!(
        (payload["grant"]["action"].as_str(), payload["grant"]["reuse"].as_str()),
        (Some("security_key"), Some("CLASS"))
    );
    app.ok(rename, json!({ "id": second }), Some(&stale)).await;
    let delete = "mutation($id: ID!) { securityKeyDelete(id: $id) { remainingKeys sessionToken } }";
    let deleted = app.ok(delete, json!({ "id": third }), Some(&stale)).await;
    // Deleting a key rotates the acting session; its grants go with it.
    stale = deleted["securityKeyDelete"]["sessionToken"].as_str().unwrap().to_owned();
    let rename_again = "mutation($id: ID!) { securityKeyRename(id: $id, name: \"Spare\") { id } }";
    app.ok(rename_again, json!({ "id": second }), Some(&stale)).await;
    let (_, other_class) = app.graphql(ROTATE, json!({}), Some(&stale)).await;
    assert_eq!(error_code(&other_class), "STEP_UP_REQUIRED");
}

async fn a_step_up_elevates_only_the_session_that_ran_it(app: &TestApp) {
    let (mut first, mut key) = stale_admin(app).await;
    let second = app.key_session_for(&app.admin().await, Duration::hours(2)).await;
    let (_, refused) = app.graphql(ROTATE, json!({}), Some(&first)).await;
    step_up(app, &mut first, &mut key, &refused).await;
    let (_, other) = app.graphql(ROTATE, json!({}), Some(&second)).await;
    assert_eq!(error_code(&other), "STEP_UP_REQUIRED", "{other}");
    app.ok(ROTATE, json!({}), Some(&first)).await;
}

async fn ceremonies_are_single_use_bound_and_expire(app: &TestApp) {
    let (stale, mut key) = stale_admin(app).await;
    let other = app.key_session_for(&app.admin().await, Duration::hours(2)).await;
    let vars = json!({ "a": "backup_credentials.rotate", "r": format!("org:{}", app.org) });
    // Finished from another session of the same member: refused (and spent).
    let begun = app.ok(BEGIN, vars.clone(), Some(&stale)).await["stepUpBegin"].clone();
    let response = TestApp::get(&mut key, &begun["options"], ORIGIN);
    let (_, body) = app.graphql(FINISH, json!({ "c": begun["ceremonyId"], "r": response }), Some(&other)).await;
    assert_eq!(error_code(&body), "CEREMONY_FAILED", "{body}");
    // Replayed: the first finish spends it.
    let begun = app.ok(BEGIN, vars.clone(), Some(&stale)).await["stepUpBegin"].clone();
    let response = TestApp::get(&mut key, &begun["options"], ORIGIN);
    let finish = json!({ "c": begun["ceremonyId"], "r": response });
    let first = app.ok(FINISH, finish.clone(), Some(&stale)).await;
    let rotated = first["stepUpFinish"]["sessionToken"].as_str().unwrap().to_owned();
    let (_, replay) = app.graphql(FINISH, finish, Some(&rotated)).await;
    assert_eq!(error_code(&replay), "CEREMONY_EXPIRED", "{replay}");
    // Past its TTL: stored again with an expiry in the past, as time would leave it.
    let begun = app.ok(BEGIN, vars, Some(&rotated)).await["stepUpBegin"].clone();
    let id: keyward_domain::ids::CeremonyId = begun["ceremonyId"].as_str().unwrap().parse().unwrap();
    let ceremonies = &app.running.state.ceremonies;
    let mut ceremony = ceremonies.take(app.org, id).await.unwrap().unwrap();
    ceremony.expires_at = chrono::Utc::now() - Duration::seconds(1);
    ceremonies.put(&ceremony, ceremony.created_at).await.unwrap();
    let response = TestApp::get(&mut key, &begun["options"], ORIGIN);
    let (_, late) = app.graphql(FINISH, json!({ "c": begun["ceremonyId"], "r": response }), Some(&rotated)).await;
    assert_eq!(error_code(&late), "CEREMONY_EXPIRED", "{late}");
    assert!(!audit(app, "step_up.denied").await.is_empty(), "failed ceremonies are audited");
}

async fn the_challenge_is_bound_to_the_action(app: &TestApp) {
    let (stale, _key) = stale_admin(app).await;
    let vars = json!({ "a": "backup_credentials.rotate", "r": format!("org:{}", app.org) });
    let one = app.ok(BEGIN, vars.clone(), Some(&stale)).await["stepUpBegin"].clone();
    let two = app.ok(BEGIN, vars, Some(&stale)).await["stepUpBegin"].clone();
    assert_ne!(one["options"]["challenge"], two["options"]["challenge"], "a fresh nonce each time");
    assert_eq!(one["description"], "Rotate the organization's backup credentials");
    let (_, bad) = app.graphql(BEGIN, json!({ "a": "Not An Action" }), Some(&stale)).await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
}

/// The organization's WebAuthn policy judges step-up assertions exactly as it judges logins: a
/// synced passkey is refused once the policy wants device-bound keys only.
async fn the_webauthn_policy_applies_to_step_up(app: &TestApp) {
    let (mut fresh, _key) = app.admin_with_key().await;
    let mut passkey = FlagKey::new(uuid::Uuid::new_v4());
    passkey.backup_eligible = true;
    app.register_key(&mut fresh, &mut passkey, "Synced passkey").await;
    let policy = keyward_domain::webauthn_policy::WebauthnPolicy { device_bound_only: true, ..Default::default() };
    app.store_webauthn_policy(&policy).await;
    let stale = app.key_session_for(&app.admin().await, Duration::hours(2)).await;
    let vars = json!({ "a": "backup_credentials.rotate", "r": format!("org:{}", app.org) });
    let begun = app.ok(BEGIN, vars, Some(&stale)).await["stepUpBegin"].clone();
    let response = TestApp::get(&mut passkey, &begun["options"], ORIGIN);
    let (_, body) = app.graphql(FINISH, json!({ "c": begun["ceremonyId"], "r": response }), Some(&stale)).await;
    assert_eq!(error_code(&body), "POLICY_DENIED", "{body}");
    let (_, still) = app.graphql(ROTATE, json!({}), Some(&stale)).await;
    assert_eq!(error_code(&still), "STEP_UP_REQUIRED", "no grant came of it");
}

on_both_backends! {
    the_webauthn_policy_applies_to_step_up,
    a_stale_session_steps_up_and_retries,
    a_grant_serves_only_its_action_and_resource,
    a_class_grant_serves_every_row_of_a_bulk_edit,
    a_step_up_elevates_only_the_session_that_ran_it,
    ceremonies_are_single_use_bound_and_expire,
    the_challenge_is_bound_to_the_action,
}
