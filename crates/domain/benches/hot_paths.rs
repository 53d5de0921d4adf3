//! Criterion micro-benchmarks of the domain's hot paths, each beside a baseline in the same run:
//! - `stage_decision/*`: what the choke point decides per request (live check, effective stage,
//!   gate), against one clock read, which every decision needs anyway;
//! - `audit_hash/*`: sealing one audit event (canonical JSON and SHA-256), against SHA-256 over
//!   the same number of bytes.
//!
//! `keyward-bench` reads the estimates these leave under `target/criterion` into its report.

use std::hint::black_box;
use std::time::Duration;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use keyward_domain::access::{Caller, Gate, authorize};
use keyward_domain::audit::{Actor, AuditEvent, AuditRecord, GENESIS_HASH};
use keyward_domain::ids::{MemberId, OrgId};
use keyward_domain::member::Role;
use keyward_domain::org::Enforcement;
use keyward_domain::session::{AuthMethod, Epochs, Session, SessionStage, TokenHash, initial_stage};
use serde_json::json;
use sha2::{Digest, Sha256};

fn session() -> Session {
    let now = Utc::now();
    Session {
        token_hash: TokenHash("0".repeat(64)),
        org_id: OrgId::new(),
        member_id: MemberId::new(),
        role: Role::Admin,
        stage: SessionStage::Authenticated,
        methods: vec![AuthMethod::Sso, AuthMethod::SecurityKey],
        created_at: now,
        last_seen_at: now,
        absolute_expires_at: now + chrono::Duration::hours(12),
        idle_timeout_secs: 1800,
        mfa_verified_at: Some(now),
        key_id: None,
        grace_period_ends_at: Some(now + chrono::Duration::days(7)),
        org_epoch: 3,
        member_epoch: 1,
        keyless_epoch: 0,
        facts: Default::default(),
        grants: Vec::new(),
        policy_version: Some(0),
        webauthn_policy_version: Some(0),
    }
}

fn stage_decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("stage_decision");
    group.bench_function("baseline_clock_read", |b| b.iter(|| black_box(Utc::now())));
    let session = session();
    let caller = Caller::Session(Box::new(session.clone()));
    let enforcement = Enforcement { enabled: true, grace_period_ends_at: None };
    group.bench_function("decide", |b| {
        b.iter(|| {
            let now = Utc::now();
            let live = black_box(&session).is_live(now, &Epochs { org: 3, member: 1, keyless: 0 });
            let stage = black_box(&session).effective_stage(now);
            let touch = black_box(&session).needs_touch(now);
            let allowed = authorize(black_box(&caller), Gate::Admin).is_ok();
            let fresh = initial_stage(false, black_box(&enforcement), now);
            black_box((live, stage, touch, allowed, fresh))
        })
    });
    group.finish();
}

fn record() -> AuditRecord {
    AuditRecord::new(Actor::Member(MemberId::new()), "security_key.registered")
        .target(format!("member:{}", MemberId::new()))
        .ip(Some("203.0.113.7".into()))
        .details(json!({ "keyId": "b64url-credential-id-0123456789", "name": "Desk key", "aaguid": null }))
}

fn audit_hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("audit_hash");
    let org = OrgId::new();
    let at = Utc::now();
    let sealed = AuditEvent::seal(org, 42, GENESIS_HASH, at, record());
    let bytes = format!("{}{}", sealed.prev_hash, sealed.canonical_json()).into_bytes();
    group.bench_function("baseline_sha256_same_bytes", |b| {
        b.iter(|| black_box(hex::encode(Sha256::digest(black_box(&bytes)))))
    });
    let template = record();
    group.bench_function("seal_event", |b| {
        b.iter(|| black_box(AuditEvent::seal(org, 42, GENESIS_HASH, at, black_box(template.clone()))))
    });
    group.finish();
}

criterion_group! {
    name = hot_paths;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = stage_decision, audit_hash
}
criterion_main!(hot_paths);
