//! Approval requests and their votes, on both databases: a request lands once per digest with its
//! events, each vote lands once and only on the version it was decided on, and writes racing each
//! other and other events never fork the audit chain (PostgreSQL writes a request and a vote each in
//! one statement and retries it when the chain moved first).

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use keyward_domain::StoreError;
use keyward_domain::approval::decision::PolicyDecision;
use keyward_domain::approval::{
    ApprovalRequest, ApprovalStatus, Evidence, RequestedBy, Transition, Vote, VoteDecision,
};
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::{ApiKeyId, ApprovalRequestId, MemberId, OrgId, SecurityKeyId};
use keyward_domain::pipeline_repo::{ApprovalRepo, VoteWrite};
use keyward_domain::repo::AuditRepo;
use keyward_storage::db::verify_chain;
use keyward_testkit::{TestDb, bootstrap, member, on_both_databases};

fn new_request(org: OrgId, run: &str) -> ApprovalRequest {
    let input = serde_json::from_value(serde_json::json!({
        "pipeline": "infra/deploy", "runId": run, "stage": "apply", "environment": "production",
        "commitSha": "0123456789abcdef0123456789abcdef01234567", "commitAuthor": "carol", "requester": "ci-bot",
        "changeSummary": {}, "planDigest": "sha256:abc"
    }))
    .unwrap();
    let now = micros(Utc::now());
    ApprovalRequest {
        id: ApprovalRequestId::new(),
        org_id: org,
        digest: keyward_domain::approval::ApprovalRequestInput::digest(&input),
        input,
        status: ApprovalStatus::Pending,
        reason: None,
        requirements: Some(PolicyDecision::built_in().requirements),
        policy_version: 0,
        fired_rules: vec![],
        created_by: RequestedBy::ApiKey(ApiKeyId::new()),
        requester_member: None,
        commit_author_member: None,
        created_at: now,
        expires_at: now + Duration::hours(1),
        decided_at: None,
        token: None,
        token_jti: None,
        version: 0,
        votes: vec![],
    }
}

/// `at` as the databases keep it.
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

fn ballot(member: MemberId) -> Vote {
    Vote {
        member_id: member,
        key_id: SecurityKeyId::new(),
        credential_id: format!("cred-{member}"),
        groups: vec!["ops".into()],
        decision: VoteDecision::Approve,
        reason: None,
        at: micros(Utc::now()),
        evidence: Evidence {
            credential_id: format!("cred-{member}"),
            authenticator_data: "ad".into(),
            client_data_json: "cd".into(),
            signature: "sig".into(),
            user_handle: None,
            nonce: "n".into(),
        },
    }
}

/// A vote's write on `request` as it is now; its event names the voter from the database.
fn write_on(request: &ApprovalRequest, vote: Vote, transition: Option<Transition>) -> VoteWrite {
    let audit = AuditRecord::new(Actor::Member(vote.member_id), "approval.vote_recorded")
        .target(format!("approval_request:{}", request.id));
    VoteWrite { expected_version: request.version, vote, transition, audit: vec![audit], now: Utc::now() }
}

/// Four tasks appending `each` events of their own to `org`'s chain, to race a write against.
fn other_events(t: &TestDb, org: OrgId, each: usize) -> Vec<tokio::task::JoinHandle<()>> {
    (0..4)
        .map(|worker| {
            let db = Arc::clone(&t.db);
            tokio::spawn(async move {
                for i in 0..each {
                    let record = AuditRecord::new(Actor::System, "other").target(format!("x:{worker}:{i}"));
                    db.append_audit(org, record).await.unwrap();
                }
            })
        })
        .collect()
}

async fn stored(t: &TestDb, request: &ApprovalRequest) -> ApprovalRequest {
    t.db.approval_request(request.org_id, request.id).await.unwrap().unwrap()
}

/// A vote lands only on the version it was decided on; the same member cannot vote twice; a
/// decided request takes no more votes. What is stored is what `with_vote` says it is.
async fn a_vote_lands_once_on_its_version(t: TestDb) {
    let (org, _admin) = bootstrap(&t.db).await;
    let (alice, bob) = (member(&t.db, org.id, "alice").await, member(&t.db, org.id, "bob").await);
    let request = new_request(org.id, "1");
    t.db.create_approval_request(request.clone(), vec![]).await.unwrap();

    let first = write_on(&request, ballot(alice.id), None);
    t.db.record_vote(org.id, request.id, first.clone()).await.unwrap();
    let after = stored(&t, &request).await;
    assert_eq!(after, request.clone().with_vote(first.vote.clone(), None));

    let stale = write_on(&request, ballot(bob.id), None);
    let err = t.db.record_vote(org.id, request.id, stale).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict("changed".into()), "decided on version 0, which is gone");
    let again = write_on(&after, ballot(alice.id), None);
    let err = t.db.record_vote(org.id, request.id, again).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict("already_voted".into()));

    let approved = Transition {
        status: ApprovalStatus::Approved,
        at: micros(Utc::now()),
        reason: None,
        token: Some("sealed".into()),
        token_jti: Some("jti-1".into()),
    };
    let deciding = write_on(&after, ballot(bob.id), Some(approved.clone()));
    t.db.record_vote(org.id, request.id, deciding.clone()).await.unwrap();
    let decided = stored(&t, &request).await;
    assert_eq!(decided, after.with_vote(deciding.vote.clone(), Some(&approved)));
    let carol = member(&t.db, org.id, "carol").await;
    let late = write_on(&decided, ballot(carol.id), None);
    let err = t.db.record_vote(org.id, request.id, late).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict("not_pending".into()));

    let events = t.db.audit_chain(org.id, 0, 100).await.unwrap();
    let voters: Vec<_> = events
        .iter()
        .filter(|e| e.action == "approval.vote_recorded")
        .map(|e| e.actor_name.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(voters, ["alice", "bob"], "only the votes that landed are on the record, named");
    assert!(verify_chain(t.db.as_ref(), org.id).await.unwrap().ok());
}

/// Eight members vote at once, each deciding again on what is there when theirs lost, while other
/// events keep moving the chain: every vote lands once, in some order, and the chain holds.
async fn racing_votes_and_events_never_fork_the_chain(t: TestDb) {
    let (org, _admin) = bootstrap(&t.db).await;
    let request = new_request(org.id, "2");
    t.db.create_approval_request(request.clone(), vec![]).await.unwrap();
    let mut voters = Vec::new();
    for i in 0..8 {
        voters.push(member(&t.db, org.id, &format!("voter-{i}")).await.id);
    }
    let appenders = other_events(&t, org.id, 15);
    let votes: Vec<_> = voters
        .iter()
        .map(|&voter| {
            let (db, id) = (Arc::clone(&t.db), request.id);
            tokio::spawn(async move {
                let vote = ballot(voter);
                loop {
                    let current = db.approval_request(org.id, id).await.unwrap().unwrap();
                    match db.record_vote(org.id, id, write_on(&current, vote.clone(), None)).await {
                        Ok(()) => return,
                        Err(StoreError::Conflict(why)) if why == "changed" => continue,
                        Err(other) => panic!("vote of {voter}: {other}"),
                    }
                }
            })
        })
        .collect();
    for task in votes {
        task.await.unwrap();
    }
    for task in appenders {
        task.await.unwrap();
    }
    let done = stored(&t, &request).await;
    assert_eq!(done.version, 8);
    let mut landed: Vec<_> = done.votes.iter().map(|v| v.member_id).collect();
    landed.sort();
    voters.sort();
    assert_eq!(landed, voters);
    let verdict = verify_chain(t.db.as_ref(), org.id).await.unwrap();
    assert!(verdict.ok(), "{verdict:?}");
    let chain = t.db.audit_chain(org.id, 0, 1000).await.unwrap();
    assert_eq!(chain.iter().filter(|e| e.action == "approval.vote_recorded").count(), 8);
    assert_eq!(chain.iter().filter(|e| e.action == "other").count(), 60);
}

fn requested(request: &ApprovalRequest) -> AuditRecord {
    AuditRecord::new(Actor::System, "approval.requested").target(format!("approval_request:{}", request.id))
}

/// A request lands with its event; the same digest again writes nothing (neither the request nor
/// its event) and answers with the first one. Eight creates of one digest race four appenders:
/// one request, one `approval.requested`, and the chain holds.
async fn a_request_lands_once_per_digest_with_its_events(t: TestDb) {
    let (org, _admin) = bootstrap(&t.db).await;
    let request = new_request(org.id, "1");
    let (created, new) = t.db.create_approval_request(request.clone(), vec![requested(&request)]).await.unwrap();
    assert!(new);
    assert_eq!(created, request);
    assert_eq!(stored(&t, &request).await, request);
    let mut again = new_request(org.id, "1");
    again.id = ApprovalRequestId::new();
    let (existing, new) = t.db.create_approval_request(again.clone(), vec![requested(&again)]).await.unwrap();
    assert!(!new);
    assert_eq!(existing.id, request.id, "the first one wins");
    let chain = t.db.audit_chain(org.id, 0, 100).await.unwrap();
    let targets: Vec<_> = chain.iter().filter(|e| e.action == "approval.requested").map(|e| e.target.clone()).collect();
    assert_eq!(targets, [Some(format!("approval_request:{}", request.id))], "no event for the duplicate");

    let racing = new_request(org.id, "2");
    let appenders = other_events(&t, org.id, 10);
    let creates: Vec<_> = (0..8)
        .map(|_| {
            let db = Arc::clone(&t.db);
            let mut attempt = racing.clone();
            attempt.id = ApprovalRequestId::new();
            tokio::spawn(async move {
                let record = requested(&attempt);
                db.create_approval_request(attempt, vec![record]).await.unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in creates {
        let (found, new) = task.await.unwrap();
        if new {
            winners.push(found.id);
        }
        assert_eq!(found.digest, racing.digest);
    }
    for task in appenders {
        task.await.unwrap();
    }
    assert_eq!(winners.len(), 1, "one request per digest");
    let chain = t.db.audit_chain(org.id, 0, 1000).await.unwrap();
    let second: Vec<_> = chain
        .iter()
        .filter(|e| e.action == "approval.requested")
        .filter_map(|e| e.target.clone())
        .filter(|target| *target != format!("approval_request:{}", request.id))
        .collect();
    assert_eq!(second, [format!("approval_request:{}", winners[0])], "the winner's event, and only it");
    assert_eq!(chain.iter().filter(|e| e.action == "other").count(), 40);
    let verdict = verify_chain(t.db.as_ref(), org.id).await.unwrap();
    assert!(verdict.ok(), "{verdict:?}");
}

on_both_databases! {
    a_request_lands_once_per_digest_with_its_events,
    a_vote_lands_once_on_its_version,
    racing_votes_and_events_never_fork_the_chain,
}
