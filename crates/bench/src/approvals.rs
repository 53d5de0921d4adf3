//! Pipeline approvals: the whole round trip a pipeline and two approvers make (create a request
//! with an API key, two key-touch approvals, read the token, verify it offline), one at a time,
//! per core of server CPU against the bare P-256 verify floor of the login scenario; and the
//! offline verify alone against a bare ES256 JWT decode of the same token
//! ([`crate::approval_token`]).

use std::time::{Duration, Instant};

use chrono::Utc;
use jsonwebtoken::jwk::JwkSet;
use keyward_domain::api_key::{ApiKey, ApiKeyScope, hash_secret};
use keyward_domain::approval::ExpectedApproval;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::ApiKeyId;
use keyward_domain::pipeline_repo::ApiKeyRepo;
use keyward_domain::repo::{PolicyKind, PolicyRepo, StoredPolicy};
use keyward_domain::session::SessionStage;
use keyward_gateway::tokens::approval::verify_approval_offline;
use serde_json::{Value, json};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::login_verify::{self, new_member};
use crate::report::{Better, Figure};
use crate::stack::{Backend, ServerCpu, Stack};
use crate::{Scale, approval_token, client_ip};

/// The approval policy: production wants two approvers (as the gateway tests' `TWO_APPROVERS`).
const POLICY: &str = r#"package keyward.approval

import rego.v1

decision := {"outcome": "APPROVED", "reason": "staging"} if input.environment == "staging"

decision := {"outcome": "PENDING", "requirements": {"count": 2}, "reason": "production needs two"} if {
	input.environment != "staging"
}
"#;

/// Approvers in the pool. Each may finish 20 key ceremonies per 5 minutes and spent one on
/// registering their key, so the pool bounds how many round trips one run can make.
const APPROVERS: usize = 64;
const VOTES_PER_APPROVER: usize = 19;

const CREATE: &str =
    "mutation($i: ApprovalRequestInput!) { approvalRequestCreate(input: $i) { request { id digest status } } }";
const BEGIN: &str = "mutation($id: ID!) { approvalBegin(id: $id) { ceremonyId options } }";
const FINISH: &str =
    "mutation($id: ID!, $c: ID!, $r: JSON!) { approvalFinish(id: $id, ceremonyId: $c, response: $r) { status } }";
const TOKEN: &str = "query($id: ID!) { approvalRequest(id: $id) { token } }";

/// Runs the scenario; returns its figures.
pub async fn run(scale: Scale) -> Vec<Figure> {
    let floor = login_verify::bare_verify_rate(Duration::from_secs(if scale.quick { 1 } else { 3 }));
    let trips = round_trips(Duration::from_secs(if scale.quick { 3 } else { 10 })).await;
    let verify = approval_token::compare(&trips.sample, if scale.quick { 1_000 } else { 5_000 });
    // A round trip's own crypto: 2 assertion verifies, 1 ES256 sign, 1 ES256 verify.
    let crypto_only = floor / 4.0;
    vec![
        Figure::new(
            "approval round trip per core (PostgreSQL + Redis) vs bare P-256 verify / 4",
            crypto_only,
            trips.per_core(),
            "op/s",
            Better::Higher,
            Some(0.10),
        )
        .note(format!(
            "target: 6 requests (5 transactions), each at most a `mfaLoginFinish` (>= 0.25x, ~4 verifies of CPU), \
             ~26 verifies against 4, so ~0.15x less margin for Rego and the digest; {} round trips (create with an API \
             key, 2 x approvalBegin + approvalFinish, read the token, verify offline); CPU per round trip: {}, \
             offline verify {:.0} µs; client signing not counted",
            trips.count,
            trips.cpu.per_op(trips.count),
            trips.verifying.as_secs_f64() * 1e6 / trips.count as f64,
        )),
        Figure::new(
            "approval round trip one at a time (PostgreSQL + Redis), wall clock",
            crypto_only,
            trips.count as f64 / trips.wall.as_secs_f64(),
            "op/s",
            Better::Higher,
            None,
        )
        .note("round trips and commit waits included; client signing not timed"),
        Figure::new(
            "approval token verify vs bare ES256 JWT verify",
            verify.bare,
            verify.offline,
            "op/s",
            Better::Higher,
            Some(0.8),
        )
        .note(format!(
            "target: the extra work is a header parse, a JWKS lookup and claim comparisons; {} iterations of \
             `verify_approval_offline` vs `jsonwebtoken::decode` of the same token and key, one core",
            verify.iterations
        )),
    ]
}

/// A token as a runner holds it, with what it expects and the JWKS to check it against.
pub struct Sample {
    /// The approval token.
    pub token: String,
    /// The request digest it must carry.
    pub digest: String,
    /// The run it must be for.
    pub run: String,
    /// The gateway's issuer (its public URL).
    pub issuer: String,
    /// The gateway's published keys.
    pub jwks: JwkSet,
}

impl Sample {
    /// What the runner expects (the bench's requests all deploy `apply` to production).
    pub fn expected(&self) -> ExpectedApproval<'_> {
        ExpectedApproval {
            digest: &self.digest,
            stage: "apply",
            environment: "production",
            run: Some(&self.run),
            issuer: Some(&self.issuer),
        }
    }

    /// Verifies the token offline at `now`, as `keyward approval verify` does.
    pub fn verify(&self, now: i64) {
        verify_approval_offline(&self.token, self.expected(), &self.jwks, now, None).expect("the token verifies");
    }
}

/// What the timed round trips cost.
struct RoundTrips {
    count: usize,
    /// Server CPU (gateway, PostgreSQL, Redis).
    cpu: ServerCpu,
    /// The runner's offline verifies (in this process, one core).
    verifying: Duration,
    /// Wall clock without the client's signing.
    wall: Duration,
    /// The last round trip's token.
    sample: Sample,
}

impl RoundTrips {
    /// Round trips per second of CPU, the runner's verify included.
    fn per_core(&self) -> f64 {
        self.count as f64 / (self.cpu.total() + self.verifying.as_secs_f64())
    }
}

/// An approver: a member with a registered key and a logged-in session.
struct Approver {
    token: String,
    key: SoftPasskey,
}

/// Runs round trips one after another for `duration` (or until the approvers' ceremony limits
/// would trip), after one untimed warm-up round trip.
async fn round_trips(duration: Duration) -> RoundTrips {
    let stack = Stack::start(Backend::Postgres).await;
    save_policy(&stack).await;
    let api_key = api_key(&stack).await;
    let mut approvers = Vec::with_capacity(APPROVERS);
    for i in 0..APPROVERS {
        let member = new_member(&stack, &format!("approver-{i}")).await;
        let token = stack.session(&member, SessionStage::Authenticated).await;
        let mut key = SoftPasskey::new(true);
        let token = stack.register_key(&token, &mut key, &client_ip(1_000_000 + i)).await;
        approvers.push(Approver { token, key });
    }
    let warm = round_trip(&stack, &api_key, &mut approvers, 0).await;
    let jwks = keyward_gateway::tokens::load_jwks(&format!("http://{}/.well-known/jwks.json", stack.server.addr))
        .await
        .expect("the JWKS");
    let mut sample = Sample { token: warm.token, digest: warm.digest, run: warm.run, issuer: stack.origin(), jwks };
    sample.verify(Utc::now().timestamp());

    let cap = APPROVERS * VOTES_PER_APPROVER / 2;
    let (mut count, mut verifying, mut signing) = (0, Duration::ZERO, Duration::ZERO);
    let redis_pid = crate::stack::redis_pid().await;
    let cpu_before = ServerCpu::now(stack.server.pid(), redis_pid);
    let started = Instant::now();
    while started.elapsed() < duration && count + 1 < cap {
        count += 1;
        let trip = round_trip(&stack, &api_key, &mut approvers, count).await;
        signing += trip.signing;
        (sample.token, sample.digest, sample.run) = (trip.token, trip.digest, trip.run);
        let verified = Instant::now();
        sample.verify(Utc::now().timestamp());
        verifying += verified.elapsed();
    }
    let wall = started.elapsed().saturating_sub(signing);
    let cpu = ServerCpu::now(stack.server.pid(), redis_pid).since(cpu_before);
    stack.stop().await;
    RoundTrips { count, cpu, verifying, wall, sample }
}

/// What one round trip hands the runner.
struct Trip {
    token: String,
    digest: String,
    run: String,
    /// Time the approvers' authenticators spent signing.
    signing: Duration,
}

/// Round trip `n`: a new request (on its own pipeline, so the per-pipeline throttle of 10 a
/// minute does not trip), approvers `2n` and `2n + 1` approve, the pipeline reads the token.
async fn round_trip(stack: &Stack, api_key: &str, approvers: &mut [Approver], n: usize) -> Trip {
    let pipeline_ip = client_ip(2_000_000 + n);
    let run = n.to_string();
    let input = json!({
        "pipeline": format!("bench/service-{n}"),
        "runId": run,
        "stage": "apply",
        "environment": "production",
        "commitSha": "0123456789abcdef0123456789abcdef01234567",
        "commitAuthor": "carol",
        "requester": "ci-bot",
        "changeSummary": { "resources": ["aws_db_instance.main"], "sensitiveFlags": ["database"] },
        "planDigest": "sha256:abc",
        "runUrl": format!("https://ci.example.com/runs/{n}")
    });
    let created = stack.ok(CREATE, json!({ "i": input }), Some(api_key), &pipeline_ip).await;
    let request = &created["approvalRequestCreate"]["request"];
    assert_eq!(request["status"], "PENDING", "{created}");
    let id = text(&request["id"]);
    let mut signing = Duration::ZERO;
    for (j, expected) in ["PENDING", "APPROVED"].into_iter().enumerate() {
        let count = approvers.len();
        let approver = &mut approvers[(2 * n + j) % count];
        let ip = client_ip(2 * n + j);
        let begun = stack.ok(BEGIN, json!({ "id": id }), Some(&approver.token), &ip).await;
        let signed = Instant::now();
        let response = login_verify::get(&mut approver.key, &begun["approvalBegin"]["options"], &stack.origin());
        signing += signed.elapsed();
        let variables = json!({ "id": id, "c": begun["approvalBegin"]["ceremonyId"], "r": response });
        let finished = stack.ok(FINISH, variables, Some(&approver.token), &ip).await;
        assert_eq!(finished["approvalFinish"]["status"], expected, "{finished}");
    }
    let read = stack.ok(TOKEN, json!({ "id": id }), Some(api_key), &pipeline_ip).await;
    Trip { token: text(&read["approvalRequest"]["token"]), digest: text(&request["digest"]), run, signing }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("expected a string, got {value}")).to_owned()
}

/// An `APPROVALS_REQUEST` API key written straight to the database; returns its secret.
async fn api_key(stack: &Stack) -> String {
    let body: String = (0..2).map(|_| uuid::Uuid::new_v4().simple().to_string()).collect();
    let secret = format!("kwk_{}", &body[..keyward_domain::api_key::SECRET_BODY_CHARS]);
    let key = ApiKey {
        id: ApiKeyId::new(),
        org_id: stack.org,
        name: "bench pipeline".into(),
        prefix: secret[..keyward_domain::api_key::SHOWN_PREFIX_CHARS].to_owned(),
        scopes: vec![ApiKeyScope::ApprovalsRequest],
        created_by: None,
        created_at: Utc::now(),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
    };
    let audit = AuditRecord::new(Actor::System, "api_key.created");
    stack.fresh.db.create_api_key(key, hash_secret(&secret), audit).await.expect("create an API key");
    secret
}

/// Saves [`POLICY`] as the organization's version 1, as `approvalPolicySet` does.
async fn save_policy(stack: &Stack) {
    let stored = StoredPolicy {
        kind: PolicyKind::Approval,
        body: POLICY.into(),
        updated_at: Utc::now(),
        updated_by: None,
        version: 1,
    };
    let record = AuditRecord::new(Actor::System, "org.approval_policy.set");
    stack.fresh.db.put_policy(stack.org, stored, 0, record).await.expect("save the policy");
}
