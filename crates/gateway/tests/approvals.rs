//! Pipeline approvals end to end: requests bound to their digest, the approval policy, approver
//! diversity enforced by the engine, assertions bound to one request, expiry, and the token.

mod common;

use chrono::Utc;
use common::approvals::{FINISH, GET, REJECT, TWO_APPROVERS, sample_input};
use common::{TestApp, error_code};
use keyward_domain::approval::ExpectedApproval;
use keyward_domain::repo::{AuditQuery, AuditRepo};
use keyward_gateway::tokens::approval::verify_approval_offline;
use keyward_gateway::tokens::{MemoryReplayCache, VerifyError};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const SET_POLICY: &str = "mutation($r: String!) { approvalPolicySet(rego: $r) { version builtIn } }";

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let query = AuditQuery { first: 200, ..Default::default() };
    let mut events = app.db.audit_events(app.org, query).await.unwrap().items;
    events.reverse();
    events.into_iter().map(|e| e.action).filter(|a| a.starts_with("approval.")).collect()
}

/// (fresh admin token, API key with APPROVALS_REQUEST)
async fn pipeline(app: &TestApp, policy: Option<&str>) -> (String, String) {
    let (admin, _key) = app.admin_with_key().await;
    if let Some(rego) = policy {
        app.ok(SET_POLICY, json!({ "r": rego }), Some(&admin)).await;
    }
    let key = app.api_key(&admin, &["APPROVALS_REQUEST"]).await;
    (admin, key)
}

async fn two_members_approve_and_the_token_verifies_offline(app: &TestApp) {
    let (_admin, ci) = pipeline(app, Some(TWO_APPROVERS)).await;
    let (mut alice, mut bob) = (app.approver("alice").await, app.approver("bob").await);
    let created = app.request_approval(&ci, json!({})).await;
    assert_eq!(created["created"], true);
    let request = &created["request"];
    let id = request["id"].as_str().unwrap().to_owned();
    assert_eq!((request["status"].as_str(), request["approvalsNeeded"].as_u64()), (Some("PENDING"), Some(2)));
    assert_eq!(request["approvalUrl"], format!("http://localhost:8080/approvals/{id}"));
    let again = app.request_approval(&ci, json!({})).await;
    assert_eq!((again["created"].as_bool(), again["request"]["id"].as_str()), (Some(false), Some(id.as_str())));
    let changed = app.request_approval(&ci, json!({ "planDigest": "sha256:other" })).await;
    assert_ne!(changed["request"]["id"], request["id"], "any change is a new request");
    let body = app.approve(&mut alice, &id).await;
    assert_eq!(body["data"]["approvalFinish"]["status"], "PENDING", "{body}");
    assert_eq!(body["data"]["approvalFinish"]["approvalsNeeded"], 1);
    let pending = app.ok(GET, json!({ "id": id }), Some(&ci)).await;
    assert!(pending["approvalRequest"]["token"].is_null());
    let body = app.approve(&mut bob, &id).await;
    assert_eq!(body["data"]["approvalFinish"]["status"], "APPROVED", "{body}");
    let done = app.ok(GET, json!({ "id": id }), Some(&ci)).await["approvalRequest"].clone();
    let token = done["token"].as_str().expect("the pipeline's key reads its token").to_owned();
    let seen_by_alice = app.ok(GET, json!({ "id": id }), Some(&alice.token)).await;
    assert!(seen_by_alice["approvalRequest"]["token"].is_null(), "only the requester gets the token");
    let kinds: Vec<&str> =
        done["decisionLog"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["POLICY", "APPROVAL", "APPROVAL", "STATE", "TOKEN"]);
    let jwks = app.tokens().jwks().await.unwrap();
    let digest = request["digest"].as_str().unwrap();
    let expected =
        ExpectedApproval { digest, stage: "apply", environment: "production", run: Some("1234"), issuer: None };
    let now = Utc::now().timestamp();
    let mut cache = MemoryReplayCache::new();
    let claims = verify_approval_offline(&token, expected, &jwks, now, Some(&mut cache)).unwrap();
    assert_eq!(claims.jti, done["tokenJti"].as_str().unwrap());
    assert_eq!(claims.amr, vec!["hwk"]);
    let approvers: Vec<&str> = claims.approvers.iter().map(|a| a.member.as_str()).collect();
    assert_eq!(approvers, [alice.member.id.to_string(), bob.member.id.to_string()]);
    assert_eq!(claims.policy_version, 1);
    assert!(matches!(
        verify_approval_offline(&token, expected, &jwks, now, Some(&mut cache)),
        Err(VerifyError::Replayed(_))
    ));
    for (wrong, claim) in [
        (ExpectedApproval { stage: "plan", ..expected }, "stage"),
        (ExpectedApproval { environment: "staging", ..expected }, "environment"),
        (ExpectedApproval { run: Some("1235"), ..expected }, "run"),
        (ExpectedApproval { digest: changed["request"]["digest"].as_str().unwrap(), ..expected }, "digest"),
    ] {
        let err = verify_approval_offline(&token, wrong, &jwks, now, None).unwrap_err();
        assert!(matches!(&err, VerifyError::Mismatch { claim: c, .. } if *c == claim), "{err}");
    }
    let step_up = keyward_gateway::tokens::verify_offline(&token, "approval", &id, None, &jwks, now, None);
    assert!(step_up.is_err(), "an approval token is no step-up token");
    assert_eq!(
        audit_actions(app).await,
        [
            "approval.requested",
            "approval.requested",
            "approval.vote_recorded",
            "approval.vote_recorded",
            "approval.approved",
            "approval.token_issued"
        ]
    );
}

async fn the_engine_enforces_who_may_approve(app: &TestApp) {
    let (_admin, ci) = pipeline(app, Some(TWO_APPROVERS)).await;
    let mut carol = app.approver("carol").await;
    let mut ci_bot = app.approver("ci-bot").await;
    let mut dave = app.approver("dave").await;
    let id = app.request_approval(&ci, json!({})).await["request"]["id"].as_str().unwrap().to_owned();
    let blocked = app.ok(GET, json!({ "id": id }), Some(&ci_bot.token)).await;
    assert_eq!(blocked["approvalRequest"]["viewerMayApprove"], false);
    let body = app.approve(&mut ci_bot, &id).await;
    assert_eq!(error_code(&body), "APPROVER_NOT_ELIGIBLE", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "REQUESTER");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("someone else"));
    let body = app.approve(&mut carol, &id).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "COMMIT_AUTHOR", "{body}");
    assert!(app.approve(&mut dave, &id).await.get("errors").is_none());
    let (_, body) = app.graphql(common::approvals::BEGIN, json!({ "id": id }), Some(&dave.token)).await;
    assert_eq!(body["errors"][0]["extensions"]["reason"], "ALREADY_VOTED", "{body}");
    let refused = audit_actions(app).await.iter().filter(|a| *a == "approval.vote_refused").count();
    assert_eq!(refused, 2, "refused votes are on the record");
}

async fn an_assertion_counts_only_for_its_own_request(app: &TestApp) {
    let (_admin, ci) = pipeline(app, Some(TWO_APPROVERS)).await;
    let mut alice = app.approver("alice").await;
    let first = app.request_approval(&ci, json!({})).await["request"]["id"].as_str().unwrap().to_owned();
    let second =
        app.request_approval(&ci, json!({ "runId": "1235" })).await["request"]["id"].as_str().unwrap().to_owned();
    let (ceremony, response) = app.approval_touch(&mut alice, &first).await;
    let onto_other = json!({ "id": second, "c": ceremony, "r": response });
    let (_, body) = app.graphql(FINISH, onto_other, Some(&alice.token)).await;
    assert_eq!(error_code(&body), "CEREMONY_FAILED", "{body}");
    let replay = json!({ "id": first, "c": ceremony, "r": response });
    let (_, body) = app.graphql(FINISH, replay, Some(&alice.token)).await;
    assert_eq!(error_code(&body), "CEREMONY_EXPIRED", "a ceremony works once: {body}");
    let state = app.ok(GET, json!({ "id": first }), Some(&ci)).await;
    assert_eq!(state["approvalRequest"]["approvals"], json!([]));
}

async fn expired_requests_can_never_be_approved(app: &TestApp) {
    let (_admin, ci) = pipeline(app, None).await;
    let mut alice = app.approver("alice").await;
    let id = app.request_approval(&ci, json!({})).await["request"]["id"].as_str().unwrap().to_owned();
    let (ceremony, response) = app.approval_touch(&mut alice, &id).await;
    let past = "UPDATE approval_requests SET expires_at = created_at";
    app.db.connection().execute_unprepared(past).await.unwrap();
    let (_, body) = app.graphql(FINISH, json!({ "id": id, "c": ceremony, "r": response }), Some(&alice.token)).await;
    assert_eq!(error_code(&body), "APPROVAL_EXPIRED", "expired while the key was being touched: {body}");
    let seen = app.ok(GET, json!({ "id": id }), Some(&ci)).await;
    assert_eq!(seen["approvalRequest"]["status"], "EXPIRED", "expired even before the sweeper ran");
    let swept = keyward_gateway::auth::approval::expire_due(&app.running.state, Utc::now()).await.unwrap();
    assert_eq!(swept, 1);
    assert_eq!(keyward_gateway::auth::approval::expire_due(&app.running.state, Utc::now()).await.unwrap(), 0);
    assert!(audit_actions(app).await.contains(&"approval.expired".to_owned()));
    let (_, body) = app.graphql(common::approvals::BEGIN, json!({ "id": id }), Some(&alice.token)).await;
    assert_eq!(error_code(&body), "APPROVAL_EXPIRED");
}

async fn a_removed_approver_or_deleted_key_no_longer_counts(app: &TestApp) {
    let (admin, ci) = pipeline(app, Some(TWO_APPROVERS)).await;
    let (mut alice, mut bob, mut erin) =
        (app.approver("alice").await, app.approver("bob").await, app.approver("erin").await);
    let id = app.request_approval(&ci, json!({})).await["request"]["id"].as_str().unwrap().to_owned();
    assert!(app.approve(&mut alice, &id).await.get("errors").is_none());
    app.ok(
        "mutation($id: ID!) { memberDeactivate(id: $id) { id } }",
        json!({ "id": alice.member.id.to_string() }),
        Some(&admin),
    )
    .await;
    let body = app.approve(&mut bob, &id).await;
    assert_eq!(body["data"]["approvalFinish"]["status"], "PENDING", "alice left: {body}");
    let bob_keys = app.ok("{ securityKeys { id } }", json!({}), Some(&bob.token)).await;
    let bob_key = bob_keys["securityKeys"][0]["id"].clone();
    app.ok(
        "mutation($id: ID!) { memberSecurityKeyDelete(id: $id) { deletedKeyId } }",
        json!({ "id": bob_key }),
        Some(&admin),
    )
    .await;
    let body = app.approve(&mut erin, &id).await;
    assert_eq!(body["data"]["approvalFinish"]["status"], "PENDING", "bob's key is gone: {body}");
    assert_eq!(body["data"]["approvalFinish"]["approvalsNeeded"], 1, "{body}");
}

async fn a_rejection_needs_a_reason_and_ends_the_request(app: &TestApp) {
    let (_admin, ci) = pipeline(app, None).await;
    let mut bob = app.approver("bob").await;
    let id = app.request_approval(&ci, json!({})).await["request"]["id"].as_str().unwrap().to_owned();
    let (ceremony, response) = app.approval_touch(&mut bob, &id).await;
    let vars = json!({ "id": id, "c": ceremony, "r": response, "why": "  " });
    let (_, body) = app.graphql(REJECT, vars, Some(&bob.token)).await;
    assert_eq!(
        (error_code(&body), body["errors"][0]["extensions"]["field"].as_str()),
        ("BAD_USER_INPUT", Some("reason"))
    );
    let (ceremony, response) = app.approval_touch(&mut bob, &id).await;
    let vars = json!({ "id": id, "c": ceremony, "r": response, "why": "the plan drops the users table" });
    let rejected = app.ok(REJECT, vars, Some(&bob.token)).await;
    assert_eq!(rejected["approvalReject"]["status"], "REJECTED");
    assert_eq!(rejected["approvalReject"]["reason"], "the plan drops the users table");
    let mut alice = app.approver("alice").await;
    let (_, body) = app.graphql(common::approvals::BEGIN, json!({ "id": id }), Some(&alice.token)).await;
    assert_eq!(
        (error_code(&body), body["errors"][0]["extensions"]["status"].as_str()),
        ("APPROVAL_NOT_PENDING", Some("REJECTED"))
    );
    let _ = &mut alice;
}

async fn the_policy_decides_without_humans_when_it_says_so(app: &TestApp) {
    let (admin, ci) = pipeline(app, Some(TWO_APPROVERS)).await;
    let staging = app.request_approval(&ci, json!({ "environment": "staging" })).await["request"].clone();
    assert_eq!(staging["status"], "APPROVED");
    assert!(staging["requirements"].is_null());
    let token = staging["token"].as_str().unwrap();
    let jwks = app.tokens().jwks().await.unwrap();
    let expected = ExpectedApproval {
        digest: staging["digest"].as_str().unwrap(),
        stage: "apply",
        environment: "staging",
        run: None,
        issuer: None,
    };
    let claims = verify_approval_offline(token, expected, &jwks, Utc::now().timestamp(), None).unwrap();
    assert!(claims.approvers.is_empty() && claims.amr.is_empty(), "no human, no hwk");
    let bad = "package keyward.approval\n\nimport rego.v1\n\ndecision := {\"outcome\": } if {\n\ttrue\n}\n";
    let (_, body) = app.graphql(SET_POLICY, json!({ "r": bad }), Some(&admin)).await;
    assert_eq!(
        (error_code(&body), body["errors"][0]["extensions"]["line"].as_u64()),
        ("BAD_USER_INPUT", Some(5)),
        "{body}"
    );
    let reject_all = "package keyward.approval\nimport rego.v1\ndecision := {\"outcome\": \"REJECTED\", \"reason\": \"change freeze\"}\n";
    app.ok(SET_POLICY, json!({ "r": reject_all }), Some(&admin)).await;
    let frozen = app.request_approval(&ci, json!({ "runId": "9" })).await["request"].clone();
    assert_eq!((frozen["status"].as_str(), frozen["reason"].as_str()), (Some("REJECTED"), Some("change freeze")));
    let dry = app
        .ok(
            "query($i: JSON!) { approvalPolicyEvaluate(input: $i) { outcome reason firedRules } }",
            json!({ "i": sample_input() }),
            Some(&admin),
        )
        .await;
    assert_eq!(dry["approvalPolicyEvaluate"]["outcome"], "REJECTED");
}

async fn requests_are_checked_and_throttled_per_pipeline(app: &TestApp) {
    let (_admin, ci) = pipeline(app, None).await;
    let mut bad = sample_input();
    bad["commitSha"] = Value::from("not-a-sha");
    let (_, body) = app.graphql(common::approvals::CREATE, json!({ "i": bad }), Some(&ci)).await;
    assert_eq!(
        (error_code(&body), body["errors"][0]["extensions"]["field"].as_str()),
        ("BAD_USER_INPUT", Some("commitSha"))
    );
    for run in 0..10 {
        app.request_approval(&ci, json!({ "runId": format!("r{run}") })).await;
    }
    let again = app.request_approval(&ci, json!({ "runId": "r3" })).await;
    assert_eq!(again["created"], false, "an identical request is not a new one");
    let mut eleventh = sample_input();
    eleventh["runId"] = Value::from("r10");
    let (_, body) = app.graphql(common::approvals::CREATE, json!({ "i": eleventh }), Some(&ci)).await;
    assert_eq!(error_code(&body), "RATE_LIMITED", "{body}");
    let other = app.request_approval(&ci, json!({ "pipeline": "app/deploy" })).await;
    assert_eq!(other["created"], true, "the limit is per pipeline");
}

on_both_backends! {
    two_members_approve_and_the_token_verifies_offline,
    the_engine_enforces_who_may_approve,
    an_assertion_counts_only_for_its_own_request,
    expired_requests_can_never_be_approved,
    a_removed_approver_or_deleted_key_no_longer_counts,
    a_rejection_needs_a_reason_and_ends_the_request,
    the_policy_decides_without_humans_when_it_says_so,
    requests_are_checked_and_throttled_per_pipeline,
}

/// PostgreSQL statements of a vote on a request, whether or not it approves it (then it writes
/// three events: the vote, the approval and the token): the request with its votes, the key,
/// the key's use, which approvals still stand, then the audit head with the events' names, and
/// one statement that checks both and writes the request's change, the vote and the events.
const PINNED_VOTE_STATEMENTS: usize = 6;

/// PostgreSQL statements of a new request from a pipeline's API key: the key, an identical
/// request by digest, both people the pipeline names, the approval policy, then the audit head
/// with the events' names, and one statement that checks it and writes the request and its event.
const PINNED_CREATE_STATEMENTS: usize = 6;

/// Pins what a new request and `approvalFinish` cost the database, after a first approval made
/// the signing key.
#[tokio::test]
async fn a_request_and_a_vote_run_six_sql_statements_each() {
    const VOTE: &str =
        "mutation($id: ID!, $c: ID!, $r: JSON!) { approvalFinish(id: $id, ceremonyId: $c, response: $r) { status } }";
    let proxy = keyward_testkit::proxy::TcpProxy::start(&keyward_testkit::postgres_url()).await;
    let url = format!("{}?sslmode=disable", proxy.rewrite(&keyward_testkit::postgres_url()));
    let mut config = common::test_config();
    // Only the approval sweeper still polls (every 2 s), and the count starts right after it.
    config.webhooks.poll_interval = std::time::Duration::from_secs(3600);
    let test_db = keyward_testkit::TestDb::postgres_at(&url).await;
    let app = TestApp::start_with_config(test_db, common::Store::Redis, config).await;
    let (_admin, ci) = pipeline(&app, Some(TWO_APPROVERS)).await;
    let (mut alice, mut bob) = (app.approver("alice").await, app.approver("bob").await);
    let first = app.request_approval(&ci, json!({ "runId": "1" })).await["request"]["id"].as_str().unwrap().to_owned();
    for approver in [&mut alice, &mut bob] {
        let body = app.approve(approver, &first).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    right_after_a_sweep(&proxy).await;
    let id = app.request_approval(&ci, json!({ "runId": "2" })).await["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(proxy.pg_statements(), PINNED_CREATE_STATEMENTS, "{:?}", proxy.log());
    let mut statements = Vec::new();
    for (approver, status) in [(&mut alice, "PENDING"), (&mut bob, "APPROVED")] {
        let (ceremony, response) = app.approval_touch(approver, &id).await;
        right_after_a_sweep(&proxy).await;
        let body = app.graphql(VOTE, json!({ "id": id, "c": ceremony, "r": response }), Some(&approver.token)).await.1;
        assert_eq!(body["data"]["approvalFinish"]["status"], status, "{body}");
        statements.push(proxy.pg_statements());
    }
    let pinned = PINNED_VOTE_STATEMENTS;
    assert_eq!(statements, [pinned, pinned], "{:?}", proxy.log());
    let mut actions = audit_actions(&app).await;
    let second_request = actions.split_off(actions.len() - 5);
    let expected = [
        "approval.requested",
        "approval.vote_recorded",
        "approval.vote_recorded",
        "approval.approved",
        "approval.token_issued",
    ];
    assert_eq!(second_request, expected);
    assert!(keyward_storage::db::verify_chain(app.db.as_ref(), app.org).await.unwrap().ok());
    app.stop().await;
}

/// Waits for the approval sweeper's next pass (its one statement, while the test sends none),
/// then counts from zero: the next two seconds carry only the test's own statements.
async fn right_after_a_sweep(proxy: &keyward_testkit::proxy::TcpProxy) {
    proxy.reset();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while proxy.pg_statements() == 0 {
        assert!(std::time::Instant::now() < deadline, "the approval sweeper never ran");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    proxy.reset();
}
