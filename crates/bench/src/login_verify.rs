//! Login verify: the server-side cost of `mfaLoginFinish` (session lookup, rate limits, ceremony
//! GETDEL, WebAuthn verification, the database update and audit, session rotation), one request at
//! a time so it runs on one core, against a bare P-256 ECDSA verify loop on the same crypto crate
//! (`p256`, which webauthn-rs-core uses). Also the ceremony alone (webauthn-rs-core's
//! `authenticate_credential`) against the same loop.

use std::time::{Duration, Instant};

use chrono::Utc;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::member::{Member, NewMember, Role};
use keyward_domain::repo::MemberRepo;
use keyward_domain::session::SessionStage;
use keyward_domain::webauthn_policy::WebauthnPolicy;
use keyward_gateway::webauthn::{self, RelyingParty};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_core::proto::{PublicKeyCredential, RegisterPublicKeyCredential};

use crate::report::{Better, Figure};
use crate::stack::{Backend, ServerCpu, Stack};
use crate::{Scale, client_ip};

/// Members whose logins are measured: the per-member ceremony limit (20 per 5 minutes) must not
/// trip, and spreading logins is what production looks like anyway.
const MEMBERS: usize = 40;

/// Runs the scenario; returns its figures.
pub async fn run(scale: Scale) -> Vec<Figure> {
    let logins = if scale.quick { 80 } else { 400 };
    let verify = bare_verify_rate(Duration::from_secs(if scale.quick { 1 } else { 3 }));
    let assembly = assembly_verify_rate(Duration::from_secs(if scale.quick { 1 } else { 3 }));
    let ceremony = ceremony_alone_rate(logins * 2);
    let mut figures = vec![
        Figure::new(
            "crypto floor: bare P-256 verify, pure Rust (`p256`) vs assembly (`ring`)",
            assembly,
            verify,
            "op/s",
            Better::Higher,
            None,
        )
        .note("the second floor: the same DER signature and SHA-256 through ring's BoringSSL-derived assembly"),
        Figure::new(
            "login verify: ceremony alone vs bare P-256 verify",
            verify,
            ceremony,
            "op/s",
            Better::Higher,
            Some(0.8),
        )
        .note("webauthn-rs-core authenticate_credential on pre-signed assertions, one core"),
    ];
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let cost = finish_cost(backend, logins).await;
        figures.push(
            Figure::new(
                format!("login verify: `mfaLoginFinish` per core ({} + Redis) vs bare P-256 verify", backend.name()),
                verify,
                cost.per_core,
                "op/s",
                Better::Higher,
                Some(0.25),
            )
            .note(format!("{logins} logins, only finishes running; {}", cost.split())),
        );
        figures.push(
            Figure::new(
                format!("login verify: `mfaLoginFinish` one at a time ({} + Redis), wall clock", backend.name()),
                verify,
                cost.sequential,
                "op/s",
                Better::Higher,
                None,
            )
            .note("round trips and commit waits included; client signing not timed"),
        );
        figures.push(
            Figure::new(
                format!(
                    "login verify: `mfaLoginFinish` per core ({} + Redis) vs assembly P-256 verify",
                    backend.name()
                ),
                assembly,
                cost.per_core,
                "op/s",
                Better::Higher,
                None,
            )
            .note("the same logins against the second floor (ring); webauthn-rs-core verifies with `p256`"),
        );
    }
    figures
}

/// authenticatorData (37 bytes) followed by SHA-256(clientDataJSON): what an assertion signs.
const MESSAGE: [u8; 69] = [0x5a; 69];

/// A fixed key and its DER signature over [`MESSAGE`].
fn signed() -> (VerifyingKey, DerSignature) {
    let signing = SigningKey::from_slice(&[7u8; 32]).expect("a valid scalar");
    let signature: Signature = signing.sign(&MESSAGE);
    (VerifyingKey::from(&signing), signature.to_der())
}

/// Calls of `verify` per second on one core, for about `duration`.
fn per_second(duration: Duration, mut verify: impl FnMut()) -> f64 {
    let (started, mut count) = (Instant::now(), 0u64);
    while started.elapsed() < duration && count < 10_000_000 {
        for _ in 0..64 {
            verify();
        }
        count += 64;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// P-256 verifications per second on one core, DER parsing included (as in WebAuthn): the floor
/// the login and approval scenarios are measured against.
pub fn bare_verify_rate(duration: Duration) -> f64 {
    let (verifying, der) = signed();
    per_second(duration, || {
        let parsed = Signature::from_der(std::hint::black_box(der.as_bytes())).expect("DER");
        verifying.verify(std::hint::black_box(&MESSAGE), &parsed).expect("verifies");
    })
}

/// The same verification (DER signature, SHA-256 of the message, P-256) through ring's assembly
/// implementation, BoringSSL's code: what the hardware allows, as a second floor beside
/// [`bare_verify_rate`].
pub fn assembly_verify_rate(duration: Duration) -> f64 {
    use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
    let (verifying, der) = signed();
    let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, verifying.to_sec1_point(false).as_bytes().to_vec());
    per_second(duration, || {
        key.verify(std::hint::black_box(&MESSAGE), std::hint::black_box(der.as_bytes())).expect("verifies");
    })
}

const ORIGIN: &str = "http://localhost:8080";

/// Has `key` answer registration options (W3C JSON); returns the response JSON.
pub fn create(key: &mut SoftPasskey, options: &Value, origin: &str) -> Value {
    keyward_testkit::browser::create(key, options, origin)
}

/// Has `key` answer authentication options (W3C JSON); returns the response JSON.
pub fn get(key: &mut SoftPasskey, options: &Value, origin: &str) -> Value {
    keyward_testkit::browser::get(key, options, origin)
}

/// Verified assertions per second through the gateway's own webauthn wrapper, on one core.
fn ceremony_alone_rate(count: usize) -> f64 {
    let rp = RelyingParty {
        id: "localhost".into(),
        name: "Keyward bench".into(),
        origins: vec![Url::parse(ORIGIN).expect("origin")],
        attestation_roots: None,
    };
    let policy = WebauthnPolicy::default();
    let mut key = SoftPasskey::new(true);
    let (options, state) =
        webauthn::start_registration(&rp, &policy, uuid::Uuid::new_v4(), "bench", "Bench", vec![]).expect("begin");
    let response: RegisterPublicKeyCredential =
        serde_json::from_value(create(&mut key, &options, ORIGIN)).expect("JSON");
    let credential = webauthn::finish_registration(&rp, &policy, &response, &state).expect("registered");
    let signed: Vec<(PublicKeyCredential, _)> = (0..count)
        .map(|_| {
            let (options, state) =
                webauthn::start_authentication(&rp, &policy, vec![credential.clone()]).expect("begin");
            let response: PublicKeyCredential = serde_json::from_value(get(&mut key, &options, ORIGIN)).expect("JSON");
            (response, state)
        })
        .collect();
    let started = Instant::now();
    for (response, state) in &signed {
        webauthn::finish_authentication(&rp, &policy, response, state).expect("verifies");
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// What `mfaLoginFinish` costs, in logins per second.
struct FinishCost {
    /// Per core of server-side CPU (gateway, PostgreSQL and Redis together).
    per_core: f64,
    /// One request at a time, by the wall clock (round trips and commits included).
    sequential: f64,
    /// Where the CPU time went.
    cpu: ServerCpu,
    /// How many logins it covers.
    logins: usize,
}

impl FinishCost {
    /// CPU microseconds per login of each part, for the report.
    fn split(&self) -> String {
        format!("server CPU per login: {}", self.cpu.per_op(self.logins))
    }
}

/// Runs `logins` key logins; only the `mfaLoginFinish` requests are measured.
async fn finish_cost(backend: Backend, logins: usize) -> FinishCost {
    let stack = Stack::start(backend).await;
    let origin = stack.origin();
    let mut key = SoftPasskey::new(true);
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let member = new_member(&stack, &format!("member-{i}")).await;
        let token = stack.session(&member, SessionStage::Authenticated).await;
        stack.register_key(&token, &mut key, &client_ip(1_000_000 + i)).await;
        members.push(member);
    }
    // Every ceremony is begun and signed first, so that only the finishes run while the server
    // side's CPU time is counted.
    let mut prepared = Vec::with_capacity(logins);
    for i in 0..logins {
        let member = &members[i % MEMBERS];
        let ip = client_ip(i);
        let token = stack.session(member, SessionStage::MfaRequired).await;
        let begin = stack.ok("mutation { mfaLoginBegin { ceremonyId options } }", json!({}), Some(&token), &ip).await;
        let response = get(&mut key, &begin["mfaLoginBegin"]["options"], &origin);
        prepared.push((token, ip, json!({ "c": begin["mfaLoginBegin"]["ceremonyId"], "r": response })));
    }
    let redis_pid = crate::stack::redis_pid().await;
    let cpu_before = ServerCpu::now(stack.server.pid(), redis_pid);
    let mut timed = Duration::ZERO;
    for (token, ip, variables) in prepared {
        let sent = Instant::now();
        let body = stack
            .graphql(
                "mutation($c: ID!, $r: JSON!) { mfaLoginFinish(ceremonyId: $c, response: $r) { stage } }",
                variables,
                Some(&token),
                &ip,
            )
            .await;
        timed += sent.elapsed();
        assert_eq!(body["data"]["mfaLoginFinish"]["stage"], "AUTHENTICATED", "{body}");
    }
    let cpu = ServerCpu::now(stack.server.pid(), redis_pid).since(cpu_before);
    stack.stop().await;
    FinishCost { per_core: logins as f64 / cpu.total(), sequential: logins as f64 / timed.as_secs_f64(), cpu, logins }
}

/// A new member of the stack's organization.
pub async fn new_member(stack: &Stack, username: &str) -> Member {
    let new = NewMember {
        org_id: stack.org,
        username: username.to_owned(),
        display_name: username.to_owned(),
        email: None,
        role: Role::Member,
        oidc: None,
    };
    let record = AuditRecord::new(Actor::System, "member.provisioned").target(format!("bench:{username}"));
    stack.fresh.db.create_member(new, Utc::now(), record).await.expect("create a member")
}
