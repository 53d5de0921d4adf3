//! The audit trail through the API: every event says which request wrote it and whom it was
//! about by name, and `auditVerify` notices the newest events being deleted.

mod common;

use common::authn::{soft_key, token_of};
use common::{TestApp, error_code};
use keyward_domain::session::SessionStage;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const EVENT_FIELDS: &str = "seq action actor actorName target targetName summary userAgent requestId hashVersion";

async fn events(app: &TestApp, token: &str, action: &str) -> Vec<Value> {
    let query =
        format!("query($a: String) {{ auditEvents(filter: {{ action: $a }}) {{ nodes {{ {EVENT_FIELDS} }} }} }}");
    let data = app.ok(&query, json!({ "a": action }), Some(token)).await;
    data["auditEvents"]["nodes"].as_array().unwrap().clone()
}

async fn the_trail_names_people_and_keys_and_the_request(app: &TestApp) {
    let mut admin = token_of(&app.backup_login().await);
    let mut admin_key = soft_key(true);
    app.register_key(&mut admin, &mut admin_key, "Admin key").await;
    let bob = app.member("bob").await;
    let mut bob_token = app.session_for(&bob, SessionStage::Authenticated).await;
    let key = app.register_key(&mut bob_token, &mut soft_key(true), "YubiKey 5C").await["key"]["id"].clone();

    let response = app
        .client
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&admin)
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
        .header("x-request-id", "req-audit-1")
        .json(&json!({
            "query": "mutation($id: ID!) { memberSecurityKeyDelete(id: $id) { remainingKeys } }",
            "variables": { "id": key },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-audit-1");
    let body: Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");

    let deleted = &events(app, &admin, "member.security_key.deleted").await[0];
    assert_eq!(deleted["summary"], "admin deleted key YubiKey 5C of bob");
    assert_eq!((&deleted["actorName"], &deleted["targetName"]), (&json!("admin"), &json!("bob")));
    assert_eq!(deleted["userAgent"], "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0");
    assert_eq!(deleted["requestId"], "req-audit-1");
    assert_eq!(deleted["hashVersion"], 2);
    // The same request ended bob's sessions: one request ID ties both events together.
    let revoked = &events(app, &admin, "member.sessions.revoked").await[0];
    assert_eq!((&revoked["requestId"], &revoked["targetName"]), (&json!("req-audit-1"), &json!("bob")));

    // Without a client-chosen ID the gateway assigns one, and it is what the response carried.
    let registered = events(app, &admin, "security_key.registered").await;
    let bobs = registered.iter().find(|e| e["actorName"] == "bob").unwrap();
    assert_eq!(
        (&bobs["targetName"], &bobs["summary"]),
        (&json!("YubiKey 5C"), &json!("bob registered key YubiKey 5C"))
    );
    assert!(bobs["requestId"].as_str().is_some_and(|id| id.len() == 36), "{bobs}");
    assert_eq!(bobs["userAgent"], Value::Null, "this client sends none");

    // A full key login names the member from the row the login updates.
    let again = token_of(&app.backup_login().await);
    app.mfa_login(&again, &mut admin_key).await;
    let login = &events(app, &admin, "mfa.login").await[0];
    assert_eq!((&login["actorName"], &login["targetName"]), (&json!("admin"), &json!("admin")));
    assert_eq!(login["summary"], "admin logged in with a security key");
    let verify = app.ok("{ auditVerify { ok } }", json!({}), Some(&admin)).await;
    assert_eq!(verify["auditVerify"]["ok"], true);
}

const VERIFY: &str =
    "query($e: String) { auditVerify(expectHead: $e) { ok checked firstBrokenSeq problem verifiedHead { seq hash } } }";

async fn deleting_the_newest_events_is_reported(app: &TestApp) {
    let admin = token_of(&app.backup_login().await);
    app.ok("mutation { recoveryCodesGenerate { codes } }", json!({}), Some(&admin)).await;
    let verified = app.ok(VERIFY, json!({}), Some(&admin)).await["auditVerify"].clone();
    assert_eq!(verified["ok"], true, "{verified}");
    let head = &verified["verifiedHead"];
    let (seq, hash) = (head["seq"].as_u64().unwrap(), head["hash"].as_str().unwrap().to_owned());
    let recorded = format!("{seq}:{hash}");

    let db = app.db.connection();
    db.execute_unprepared(&format!("DELETE FROM audit_events WHERE seq = {seq}")).await.unwrap();
    let broken = app.ok(VERIFY, json!({}), Some(&admin)).await["auditVerify"].clone();
    assert_eq!((&broken["ok"], &broken["firstBrokenSeq"]), (&json!(false), &json!(seq)), "{broken}");
    let problem = broken["problem"].as_str().unwrap();
    assert!(problem.starts_with(&format!("event {seq} is missing: the stored head is at event {seq}")), "{problem}");

    // Moving the stored head back as well hides the gap from the database alone, not from a
    // head recorded outside it.
    let before = broken["verifiedHead"].clone();
    let sql = format!("UPDATE audit_heads SET seq = {}, hash = '{}'", before["seq"], before["hash"].as_str().unwrap());
    db.execute_unprepared(&sql).await.unwrap();
    assert_eq!(app.ok(VERIFY, json!({}), Some(&admin)).await["auditVerify"]["ok"], true);
    let anchored = app.ok(VERIFY, json!({ "e": recorded }), Some(&admin)).await["auditVerify"].clone();
    assert_eq!(anchored["ok"], false);
    assert!(anchored["problem"].as_str().unwrap().contains("the expected head is at event"), "{anchored}");

    let (_, body) = app.graphql(VERIFY, json!({ "e": "latest" }), Some(&admin)).await;
    assert_eq!(
        (error_code(&body), &body["errors"][0]["extensions"]["field"]),
        ("BAD_USER_INPUT", &json!("expectHead"))
    );
}

on_both_backends! {
    the_trail_names_people_and_keys_and_the_request,
    deleting_the_newest_events_is_reported,
}
