//! Helpers for pipeline-approval tests: API keys, approvers with keys, requests and votes.

use chrono::Duration;
use serde_json::{Value, json};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use super::TestApp;
use super::authn::{ORIGIN, soft_key};

/// `approvalRequestCreate`'s selection.
pub const CREATE: &str = "mutation($i: ApprovalRequestInput!) { approvalRequestCreate(input: $i) { created request { id digest status reason approvalsNeeded expiresAt token tokenJti approvalUrl requirements { count } } } }";
/// One request with its votes and token.
pub const GET: &str = "query($id: ID!) { approvalRequest(id: $id) { id status reason approvalsNeeded token tokenJti approvals { username keyName decision reason credentialId } decisionLog { kind message } viewerMayApprove viewerBlockedReason } }";
/// `approvalBegin`.
pub const BEGIN: &str = "mutation($id: ID!) { approvalBegin(id: $id) { ceremonyId options } }";
/// `approvalFinish`.
pub const FINISH: &str = "mutation($id: ID!, $c: ID!, $r: JSON!) { approvalFinish(id: $id, ceremonyId: $c, response: $r) { id status approvalsNeeded } }";
/// `approvalReject`.
pub const REJECT: &str = "mutation($id: ID!, $c: ID!, $r: JSON!, $why: String!) { approvalReject(id: $id, ceremonyId: $c, response: $r, reason: $why) { id status reason } }";

/// A member with a registered key and a logged-in session: (token, key, member).
pub struct Approver {
    /// Their session token.
    pub token: String,
    /// Their key.
    pub key: SoftPasskey,
    /// Who.
    pub member: keyward_domain::member::Member,
}

impl TestApp {
    /// Creates an API key with `scopes` as a fresh admin; returns its secret.
    pub async fn api_key(&self, admin: &str, scopes: &[&str]) -> String {
        let data = self
            .ok(
                "mutation($i: ApiKeyCreateInput!) { apiKeyCreate(input: $i) { secret apiKey { id prefix } } }",
                json!({ "i": { "name": "ci", "scopes": scopes } }),
                Some(admin),
            )
            .await;
        data["apiKeyCreate"]["secret"].as_str().unwrap().to_owned()
    }

    /// An API key with `scopes` written straight to the store (for tests that must not change the
    /// admin's keys); returns its secret.
    pub async fn api_key_direct(&self, scopes: &[keyward_domain::api_key::ApiKeyScope]) -> String {
        use keyward_domain::api_key::{ApiKey, hash_secret};
        let secret = format!("kwk_{}", "k".repeat(39) + &format!("{:04}", rand::random::<u16>() % 10000));
        let key = ApiKey {
            id: keyward_domain::ids::ApiKeyId::new(),
            org_id: self.org,
            name: "direct".into(),
            prefix: secret[..12].to_owned(),
            scopes: scopes.to_vec(),
            created_by: None,
            created_at: chrono::Utc::now(),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
        };
        let audit = keyward_domain::audit::AuditRecord::new(keyward_domain::audit::Actor::System, "api_key.created");
        keyward_domain::pipeline_repo::ApiKeyRepo::create_api_key(self.db.as_ref(), key, hash_secret(&secret), audit)
            .await
            .unwrap();
        secret
    }

    /// A new member with a registered key.
    pub async fn approver(&self, username: &str) -> Approver {
        let member = self.member(username).await;
        let mut token = self.key_session_for(&member, Duration::zero()).await;
        let mut key = soft_key(true);
        self.register_key(&mut token, &mut key, &format!("{username}'s key")).await;
        Approver { token, key, member }
    }

    /// Creates a request with `changes` applied to the sample; returns the payload.
    pub async fn request_approval(&self, api_key: &str, changes: Value) -> Value {
        let mut input = sample_input();
        if let (Value::Object(target), Value::Object(more)) = (&mut input, changes) {
            target.extend(more);
        }
        self.ok(CREATE, json!({ "i": input }), Some(api_key)).await["approvalRequestCreate"].clone()
    }

    /// Runs `approvalBegin` and the key's answer for `approver`: (ceremony ID, response).
    pub async fn approval_touch(&self, approver: &mut Approver, id: &str) -> (String, Value) {
        let begun = self.ok(BEGIN, json!({ "id": id }), Some(&approver.token)).await["approvalBegin"].clone();
        let response = TestApp::get(&mut approver.key, &begun["options"], ORIGIN);
        (begun["ceremonyId"].as_str().unwrap().to_owned(), response)
    }

    /// `approver` approves request `id`; returns the whole GraphQL body.
    pub async fn approve(&self, approver: &mut Approver, id: &str) -> Value {
        let (ceremony, response) = self.approval_touch(approver, id).await;
        self.graphql(FINISH, json!({ "id": id, "c": ceremony, "r": response }), Some(&approver.token)).await.1
    }
}

/// The sample request (camelCase, as the API takes it): a production deploy by `ci-bot` of a
/// commit by `carol`.
pub fn sample_input() -> Value {
    json!({
        "pipeline": "infra/deploy",
        "runId": "1234",
        "stage": "apply",
        "environment": "production",
        "commitSha": "0123456789abcdef0123456789abcdef01234567",
        "commitAuthor": "carol",
        "requester": "ci-bot",
        "changeSummary": { "resources": ["aws_db_instance.main"], "sensitiveFlags": ["database"] },
        "planDigest": "sha256:abc",
        "runUrl": "https://ci.example.com/runs/1234"
    })
}

/// A policy that wants two approvers for production (and nothing for staging).
pub const TWO_APPROVERS: &str = r#"package keyward.approval

import rego.v1

decision := {"outcome": "APPROVED", "reason": "staging"} if input.environment == "staging"

decision := {"outcome": "PENDING", "requirements": {"count": 2}, "reason": "production needs two"} if {
	input.environment != "staging"
}
"#;
