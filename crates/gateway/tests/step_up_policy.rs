//! Step-up policies through the API: validated on save, versioned, audited, reaching live
//! sessions at once, dry-run with `policyEvaluate`, and never able to lock an organization out.

mod common;

use chrono::Duration;
use common::authn::ORIGIN;
use common::{TestApp, error_code};
use keyward_domain::repo::{AuditQuery, AuditRepo};
use serde_json::{Value, json};

const SET: &str = "mutation($r: String!) { stepUpPolicySet(rego: $r) { version builtIn rego updatedBy } }";
const ROTATE: &str = "mutation { backupCredentialsRotate { secret } }";

async fn save(app: &TestApp, token: &str, rego: &str) -> Value {
    app.graphql(SET, json!({ "r": rego }), Some(token)).await.1
}

fn policy(body: &str) -> String {
    format!("package keyward.step_up\n\nimport rego.v1\n\n{body}\n")
}

async fn saves_are_validated_versioned_and_audited(app: &TestApp) {
    let (fresh, _key) = app.admin_with_key().await;
    let current = app.ok("{ stepUpPolicy { version builtIn rego } }", json!({}), Some(&fresh)).await;
    assert_eq!(current["stepUpPolicy"]["version"], 0);
    assert_eq!(current["stepUpPolicy"]["builtIn"], true);
    assert!(current["stepUpPolicy"]["rego"].as_str().unwrap().contains("package keyward.step_up"));

    let broken = save(app, &fresh, &policy("decision := {\"max_age_seconds\": } if true")).await;
    let ext = &broken["errors"][0]["extensions"];
    assert_eq!(
        (ext["code"].as_str(), ext["field"].as_str(), ext["line"].as_u64()),
        (Some("BAD_USER_INPUT"), Some("rego"), Some(5)),
        "{broken}"
    );
    let wrong_shape = save(app, &fresh, &policy("decision := \"allow\"")).await;
    assert_eq!(error_code(&wrong_shape), "BAD_USER_INPUT", "{wrong_shape}");
    let huge = save(app, &fresh, &format!("{}# {}", policy(""), "x".repeat(40 * 1024))).await;
    assert_eq!(error_code(&huge), "BAD_USER_INPUT");

    let first = save(app, &fresh, &policy("decision := {\"max_age_seconds\": 120}")).await;
    assert_eq!(first["data"]["stepUpPolicySet"]["version"], 1, "{first}");
    assert_eq!(first["data"]["stepUpPolicySet"]["builtIn"], false);
    assert_eq!(first["data"]["stepUpPolicySet"]["updatedBy"], "admin");
    let second = save(app, &fresh, &policy("decision := {\"max_age_seconds\": 60}")).await;
    assert_eq!(second["data"]["stepUpPolicySet"]["version"], 2);
    let query = AuditQuery { first: 10, action: Some("org.step_up_policy.updated".into()), ..Default::default() };
    let events = app.db.audit_events(app.org, query).await.unwrap().items;
    let versions: Vec<_> =
        events.iter().map(|e| (e.details["fromVersion"].clone(), e.details["toVersion"].clone())).collect();
    assert!(versions.contains(&(json!(0), json!(1))) && versions.contains(&(json!(1), json!(2))), "{versions:?}");
}

async fn a_saved_policy_reaches_live_sessions_at_once(app: &TestApp) {
    let (fresh, _key) = app.admin_with_key().await;
    let stale = app.key_session_for(&app.admin().await, Duration::hours(2)).await;
    assert_eq!(error_code(&app.graphql(ROTATE, json!({}), Some(&stale)).await.1), "STEP_UP_REQUIRED");
    let relaxed = policy("decision := {\"require_mfa\": false} if input.action == \"backup_credentials.rotate\"");
    assert!(save(app, &fresh, &relaxed).await.get("errors").is_none());
    app.ok(ROTATE, json!({}), Some(&stale)).await;
    let frozen = policy(
        "decision := {\"deny\": true, \"reason\": \"change freeze until Monday\"} if input.action == \"backup_credentials.rotate\"",
    );
    assert!(save(app, &fresh, &frozen).await.get("errors").is_none());
    let (_, denied) = app.graphql(ROTATE, json!({}), Some(&stale)).await;
    assert_eq!(error_code(&denied), "POLICY_DENIED");
    assert_eq!(denied["errors"][0]["extensions"]["action"], "backup_credentials.rotate", "clients tell step-up denials apart");
    assert_eq!(denied["errors"][0]["message"], "change freeze until Monday");
    let query = AuditQuery { first: 10, action: Some("step_up.denied".into()), ..Default::default() };
    let events = app.db.audit_events(app.org, query).await.unwrap().items;
    assert_eq!(events[0].details["policyVersion"], 2);
    assert_eq!(events[0].details["action"], "backup_credentials.rotate");
}

async fn no_policy_can_lock_the_organization_out(app: &TestApp) {
    let (fresh, mut key) = app.admin_with_key().await;
    let locked = policy("decision := {\"deny\": true, \"reason\": \"locked\"}");
    assert!(save(app, &fresh, &locked).await.get("errors").is_none());
    assert_eq!(error_code(&app.graphql(ROTATE, json!({}), Some(&fresh)).await.1), "POLICY_DENIED");
    // Changing the policy follows the built-in rule: a stale session is asked for a touch, not denied.
    let mut stale = app.key_session_for(&app.admin().await, Duration::hours(2)).await;
    let (_, refused) = app.graphql(SET, json!({ "r": locked }), Some(&stale)).await;
    assert_eq!(refused["errors"][0]["extensions"]["action"], "org.step_up_policy.set");
    assert_eq!(refused["errors"][0]["extensions"]["maxAgeSeconds"], 300);
    let begin = "mutation { stepUpBegin(action: \"org.step_up_policy.set\", resource: \"x\") { ceremonyId options } }";
    let begun = app.ok(begin, json!({}), Some(&stale)).await["stepUpBegin"].clone();
    let response = TestApp::get(&mut key, &begun["options"], ORIGIN);
    let finish = "mutation($c: ID!, $r: JSON!) { stepUpFinish(ceremonyId: $c, response: $r) { sessionToken } }";
    stale = app.ok(finish, json!({ "c": begun["ceremonyId"], "r": response }), Some(&stale)).await["stepUpFinish"]["sessionToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let _ = stale;
    // The fresh admin repairs the policy; everything works again.
    assert!(save(app, &fresh, &policy("decision := {\"max_age_seconds\": 300}")).await.get("errors").is_none());
    app.ok(ROTATE, json!({}), Some(&fresh)).await;
}

async fn policy_evaluate_is_a_dry_run(app: &TestApp) {
    let (fresh, _key) = app.admin_with_key().await;
    let evaluate = "query($p: String, $i: JSON!) { policyEvaluate(policy: $p, input: $i) { decision { requireMfa maxAgeSeconds reuse deny reason } firedRules evaluationMicros } }";
    let input = json!({ "action": "db.restart", "resource": { "type": "", "id": "prod/db", "environment": "prod", "labels": {} } });
    let prod_only = policy(
        "prod if input.resource.environment == \"prod\"\ndecision := {\"deny\": true, \"reason\": \"no prod\"} if prod",
    );
    let data = app.ok(evaluate, json!({ "p": prod_only, "i": input }), Some(&fresh)).await;
    let result = &data["policyEvaluate"];
    assert_eq!(result["decision"]["deny"], true);
    assert_eq!(result["decision"]["reason"], "no prod");
    let fired: Vec<&str> = result["firedRules"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(fired.contains(&"prod") && fired.contains(&"decision"), "{fired:?}");
    assert!(result["evaluationMicros"].as_u64().is_some());
    let stored = app.ok(evaluate, json!({ "p": null, "i": input }), Some(&fresh)).await;
    assert_eq!(stored["policyEvaluate"]["decision"]["maxAgeSeconds"], 300, "the built-in policy");
    assert_eq!(stored["policyEvaluate"]["decision"]["reuse"], "ACTION");
    let (_, not_object) = app.graphql(evaluate, json!({ "p": null, "i": [1] }), Some(&fresh)).await;
    assert_eq!(error_code(&not_object), "BAD_USER_INPUT");
    let (_, broken) =
        app.graphql(evaluate, json!({ "p": "package keyward.step_up\ndecision := {", "i": input }), Some(&fresh)).await;
    assert_eq!(error_code(&broken), "BAD_USER_INPUT");
    let current = app.ok("{ stepUpPolicy { version } }", json!({}), Some(&fresh)).await;
    assert_eq!(current["stepUpPolicy"]["version"], 0, "nothing was saved");
}

on_both_backends! {
    saves_are_validated_versioned_and_audited,
    a_saved_policy_reaches_live_sessions_at_once,
    no_policy_can_lock_the_organization_out,
    policy_evaluate_is_a_dry_run,
}
