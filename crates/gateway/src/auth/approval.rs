//! Pipeline approval requests (DESIGN §9): creating one (idempotent by digest, throttled per
//! pipeline, decided by the approval policy), reading them, and expiring them.

use chrono::{DateTime, Duration, Utc};
use keyward_domain::api_key::ApiKeyCaller;
use keyward_domain::approval::decision::{Outcome, PolicyDecision};
use keyward_domain::approval::input::{MemberView, policy_input};
use keyward_domain::approval::{ApprovalRequest, ApprovalRequestInput, ApprovalStatus, RequestedBy};
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::ids::{ApprovalRequestId, OrgId};
use keyward_domain::pipeline_repo::{ApprovalQuery, ApprovalRepo};
use keyward_domain::rate_limit::Limit;
use keyward_domain::repo::MemberRepo;
use keyward_domain::session::Session;
use keyward_domain::{DomainError, StoreError};
use serde_json::{Value, json};

use crate::policy::approval as policy;
use crate::state::AppState;

/// Who asks: a member from their session, or a pipeline with an API key.
#[derive(Clone, Copy)]
pub enum Requester<'a> {
    /// A member.
    Member(&'a Session),
    /// An API key.
    ApiKey(&'a ApiKeyCaller),
}

impl Requester<'_> {
    /// The organization.
    pub fn org_id(&self) -> OrgId {
        match self {
            Requester::Member(session) => session.org_id,
            Requester::ApiKey(key) => key.org_id,
        }
    }

    fn created_by(&self) -> RequestedBy {
        match self {
            Requester::Member(session) => RequestedBy::Member(session.member_id),
            Requester::ApiKey(key) => RequestedBy::ApiKey(key.id),
        }
    }

    /// A new audit record with this requester as its actor.
    pub fn record(&self, action: &str) -> AuditRecord {
        match self {
            Requester::Member(session) => AuditRecord::new(Actor::Member(session.member_id), action),
            Requester::ApiKey(key) => {
                let mut record = AuditRecord::new(Actor::ApiKey(key.id), action);
                record.actor_name = Some(format!("API key {}", key.name));
                record
            }
        }
    }

    /// Whether the requester may read `request`: members read every request of their
    /// organization, an API key only those it created.
    pub fn may_read(&self, request: &ApprovalRequest) -> bool {
        match self {
            Requester::Member(session) => request.org_id == session.org_id,
            Requester::ApiKey(key) => request.created_by == RequestedBy::ApiKey(key.id),
        }
    }
}

/// The page where people approve a request.
pub fn approval_url(app: &AppState, id: ApprovalRequestId) -> String {
    format!("{}/approvals/{id}", app.config.public_url.as_str().trim_end_matches('/'))
}

/// The details every approval audit event carries (the webhook payload is built from them).
pub fn audit_details(app: &AppState, request: &ApprovalRequest, extra: Value) -> Value {
    let mut details = json!({
        "requestId": request.id.to_string(),
        "pipeline": request.input.pipeline,
        "runId": request.input.run_id,
        "stage": request.input.stage,
        "environment": request.input.environment,
        "commitSha": request.input.commit_sha,
        "digest": request.digest,
        "status": request.status.as_str(),
        "approvalUrl": approval_url(app, request.id),
    });
    if let (Value::Object(target), Value::Object(more)) = (&mut details, extra) {
        target.extend(more);
    }
    details
}

/// An audit record about `request`.
pub fn record_about(app: &AppState, record: AuditRecord, request: &ApprovalRequest, extra: Value) -> AuditRecord {
    record.target(format!("approval_request:{}", request.id)).details(audit_details(app, request, extra))
}

/// Creates a request, or returns the identical one that exists (`false`).
pub async fn create(
    app: &AppState,
    requester: Requester<'_>,
    input: ApprovalRequestInput,
    ip: Option<String>,
) -> Result<(ApprovalRequest, bool), DomainError> {
    input.validate()?;
    let org = requester.org_id();
    let digest = input.digest();
    if let Some(existing) = app.db.approval_request_by_digest(org, &digest).await? {
        return Ok((existing, false));
    }
    let now = Utc::now();
    let per_minute = app.config.approvals.requests_per_pipeline_per_minute;
    let bucket = format!("approval-request:{org}:{}", input.pipeline);
    super::limit(app, &[(bucket, Limit { max: per_minute, window_seconds: 60 })], now).await?;
    let named = app.db.members_by_login(org, &[&input.requester, &input.commit_author]).await?;
    let [requester_member, author_member]: [Option<_>; 2] = named
        .try_into()
        .map_err(|_| StoreError::Unexpected("members_by_login answered for a different count".into()))?;
    let view = |m: &keyward_domain::member::Member| MemberView::of(m, groups_known(requester, m.id));
    let policy_doc = policy_input(
        &input,
        requester_member.as_ref().map(view).as_ref(),
        author_member.as_ref().map(view).as_ref(),
        now,
    );
    let (decision, version, fired) = decide(app, org, &policy_doc).await?;
    let mut request = ApprovalRequest {
        id: ApprovalRequestId::new(),
        org_id: org,
        digest,
        input,
        status: ApprovalStatus::Pending,
        reason: decision.reason.clone(),
        requirements: None,
        policy_version: version,
        fired_rules: fired,
        created_by: requester.created_by(),
        requester_member: requester_member.map(|m| m.id),
        commit_author_member: author_member.map(|m| m.id),
        created_at: now,
        expires_at: now + Duration::seconds(decision.requirements.expires_in_seconds as i64),
        decided_at: None,
        token: None,
        token_jti: None,
        version: 0,
        votes: Vec::new(),
    };
    let mut audit = Vec::new();
    match decision.outcome {
        Outcome::Pending => request.requirements = Some(decision.requirements.clone()),
        Outcome::Rejected => {
            request.status = ApprovalStatus::Rejected;
            request.decided_at = Some(now);
        }
        Outcome::Approved => {
            request.status = ApprovalStatus::Approved;
            request.decided_at = Some(now);
            let (token, claims) = app.tokens.issue_approval(&request, Vec::new(), now).await?;
            request.token = Some(app.sealer.seal(&token));
            request.token_jti = Some(claims.jti.clone());
            audit.push(token_record(app, &request, claims.jti, claims.exp));
        }
    }
    let requested = json!({
        "outcome": decision.outcome,
        "requirements": request.requirements,
        "policyVersion": version,
        "reason": decision.reason,
    });
    audit.insert(0, record_about(app, requester.record("approval.requested").ip(ip.clone()), &request, requested));
    match request.status {
        ApprovalStatus::Approved => {
            let approved = json!({ "approvers": [], "jti": request.token_jti, "by": "policy" });
            audit
                .insert(1, record_about(app, AuditRecord::new(Actor::System, "approval.approved"), &request, approved));
        }
        ApprovalStatus::Rejected => {
            let rejected = json!({ "reason": decision.reason, "by": "policy" });
            audit.push(record_about(app, AuditRecord::new(Actor::System, "approval.rejected"), &request, rejected));
        }
        _ => {}
    }
    Ok(app.db.create_approval_request(request, audit).await?)
}

/// The groups Keyward knows for `member`: those of the caller's own session when the caller is
/// that member (groups come from the IdP at login and are not stored).
fn groups_known(requester: Requester<'_>, member: keyward_domain::ids::MemberId) -> Vec<String> {
    match requester {
        Requester::Member(session) if session.member_id == member => session.facts.groups.clone(),
        _ => Vec::new(),
    }
}

/// The audit record of an issued token.
pub fn token_record(app: &AppState, request: &ApprovalRequest, jti: String, exp: i64) -> AuditRecord {
    record_about(
        app,
        AuditRecord::new(Actor::System, "approval.token_issued"),
        request,
        json!({ "jti": jti, "exp": exp }),
    )
}

/// The policy's decision, its version and the rules that fired. A saved policy that fails on this
/// request rejects it (fail closed), with the reason on the record.
async fn decide(app: &AppState, org: OrgId, input: &Value) -> Result<(PolicyDecision, u64, Vec<String>), DomainError> {
    let Some((version, compiled)) = policy::active(app, org).await? else {
        return Ok((PolicyDecision::built_in(), 0, Vec::new()));
    };
    match compiled.explain(input) {
        Ok((decision, fired, _)) => Ok((decision, version, fired)),
        Err(err) => {
            tracing::warn!(error = %err, %org, version, "approval policy evaluation failed; rejecting");
            let reason = format!("the approval policy could not decide this request ({err}); an admin must fix it");
            let decision =
                PolicyDecision { outcome: Outcome::Rejected, reason: Some(reason), ..PolicyDecision::built_in() };
            Ok((decision, version, Vec::new()))
        }
    }
}

/// One request the requester may read.
pub async fn get(app: &AppState, requester: Requester<'_>, id: &str) -> Result<ApprovalRequest, DomainError> {
    let id: ApprovalRequestId = id.parse().map_err(|_| DomainError::NotFound)?;
    let request = app.db.approval_request(requester.org_id(), id).await?.ok_or(DomainError::NotFound)?;
    if !requester.may_read(&request) {
        return Err(DomainError::NotFound);
    }
    Ok(request)
}

/// Requests the requester may read, newest first.
pub async fn list(
    app: &AppState,
    requester: Requester<'_>,
    status: Option<ApprovalStatus>,
    first: u64,
) -> Result<Vec<ApprovalRequest>, DomainError> {
    let created_by_key = match requester {
        Requester::ApiKey(key) => Some(key.id),
        Requester::Member(_) => None,
    };
    let now = Utc::now();
    // A pending request past its expiry is listed as expired, whether or not the sweeper ran.
    let stored_status = match status {
        Some(ApprovalStatus::Expired) => None,
        other => other,
    };
    let query = ApprovalQuery { status: stored_status, created_by_key, limit: first.clamp(1, 200) };
    let requests = app.db.approval_requests(requester.org_id(), query).await?;
    Ok(requests.into_iter().filter(|r| status.is_none_or(|s| r.status_at(now) == s)).collect())
}

/// The token of an approved request, for the requester that created it.
pub fn token_for(app: &AppState, requester: Requester<'_>, request: &ApprovalRequest) -> Option<String> {
    let own = match requester {
        Requester::Member(session) => request.created_by == RequestedBy::Member(session.member_id),
        Requester::ApiKey(key) => request.created_by == RequestedBy::ApiKey(key.id),
    };
    let sealed = request.token.as_ref().filter(|_| own && request.status == ApprovalStatus::Approved)?;
    app.sealer.open(sealed).ok()
}

/// Marks every pending request whose time ran out as expired (audited once, by whichever instance
/// gets there first). Returns how many this call expired.
pub async fn expire_due(app: &AppState, now: DateTime<Utc>) -> Result<usize, DomainError> {
    let due = app.db.due_approval_requests(now, 100).await?;
    let mut expired = 0;
    for (org, id) in due {
        let Some(request) = app.db.approval_request(org, id).await? else { continue };
        let mut after = request.clone();
        after.status = ApprovalStatus::Expired;
        let record = record_about(app, AuditRecord::new(Actor::System, "approval.expired"), &after, json!({}));
        match app.db.expire_approval_request(org, id, now, record).await {
            Ok(true) => expired += 1,
            Ok(false) => {}
            Err(StoreError::Unavailable(why)) => return Err(StoreError::Unavailable(why).into()),
            Err(err) => tracing::warn!(error = %err, %id, "could not expire an approval request"),
        }
    }
    Ok(expired)
}

/// Runs [`expire_due`] every few seconds until `stop` turns true.
pub fn spawn_expiry(app: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            if let Err(err) = expire_due(&app, Utc::now()).await {
                tracing::warn!(error = %err, "expiring approval requests failed; retrying");
            }
        }
    });
}
