//! The GraphQL shapes of approval requests.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use keyward_domain::approval::log::decision_log;
use keyward_domain::approval::{self as domain, Candidate, VoteDecision, check_approver, tally};
use keyward_domain::ids::{MemberId, SecurityKeyId};
use keyward_domain::repo::{MemberRepo, SecurityKeyRepo};

use super::context::{ApprovalRequester, ContextExt};
use crate::auth::approval::{self, Requester};
use crate::error::ApiResult;

/// Where a request stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "keyward_domain::approval::ApprovalStatus")]
pub enum ApprovalStatus {
    /// Waiting for approvals.
    Pending,
    /// Approved: the requester can fetch the token.
    Approved,
    /// Rejected by the policy or a person.
    Rejected,
    /// Nobody decided in time; it can never be approved.
    Expired,
}

/// A vote's direction.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "keyward_domain::approval::VoteDecision")]
pub enum ApprovalVoteDecision {
    /// Approve.
    Approve,
    /// Reject.
    Reject,
}

/// What a change touches.
#[derive(InputObject)]
pub struct ChangeSummaryInput {
    /// Resources created, changed or destroyed.
    #[graphql(default)]
    pub resources: Vec<String>,
    /// Names of environment variables changed.
    #[graphql(default)]
    pub env_vars_changed: Vec<String>,
    /// Names of secrets rotated.
    #[graphql(default)]
    pub secrets_rotated: Vec<String>,
    /// Flags such as `destroys-data`.
    #[graphql(default)]
    pub sensitive_flags: Vec<String>,
}

/// What a pipeline asks to have approved. Its digest is SHA-256 over the RFC 8785 canonical JSON of
/// these fields (camelCase, `runUrl` left out when null).
#[derive(InputObject)]
pub struct ApprovalRequestInput {
    /// The pipeline (`infra/deploy`).
    pub pipeline: String,
    /// The CI run's ID.
    pub run_id: String,
    /// The stage asking (`apply`).
    pub stage: String,
    /// The target environment (`production`).
    pub environment: String,
    /// The commit SHA.
    pub commit_sha: String,
    /// The commit's author (username or e-mail).
    pub commit_author: String,
    /// Who started the run (username or e-mail).
    pub requester: String,
    /// What the change touches.
    pub change_summary: ChangeSummaryInput,
    /// The digest of the plan that will be applied.
    pub plan_digest: String,
    /// A link back to the CI run.
    pub run_url: Option<String>,
}

impl From<ApprovalRequestInput> for domain::ApprovalRequestInput {
    fn from(i: ApprovalRequestInput) -> Self {
        let s = i.change_summary;
        domain::ApprovalRequestInput {
            pipeline: i.pipeline,
            run_id: i.run_id,
            stage: i.stage,
            environment: i.environment,
            commit_sha: i.commit_sha,
            commit_author: i.commit_author,
            requester: i.requester,
            change_summary: domain::ChangeSummary {
                resources: s.resources,
                env_vars_changed: s.env_vars_changed,
                secrets_rotated: s.secrets_rotated,
                sensitive_flags: s.sensitive_flags,
            },
            plan_digest: i.plan_digest,
            run_url: i.run_url,
        }
    }
}

/// What a change touches.
#[derive(SimpleObject)]
pub struct ChangeSummary {
    /// Resources.
    pub resources: Vec<String>,
    /// Environment variables changed.
    pub env_vars_changed: Vec<String>,
    /// Secrets rotated.
    pub secrets_rotated: Vec<String>,
    /// Sensitive flags.
    pub sensitive_flags: Vec<String>,
}

/// What approvals a pending request needs (enforced by Keyward, whatever the policy's Rego says).
#[derive(SimpleObject)]
pub struct ApprovalRequirements {
    /// Distinct people who must approve.
    pub count: u32,
    /// Every one of these groups must be among the approvers.
    pub groups_all: Vec<String>,
    /// Approvers must be in one of these groups (none: anyone).
    pub groups_any: Vec<String>,
    /// The requester may not approve.
    pub exclude_requester: bool,
    /// The commit's author may not approve.
    pub exclude_commit_author: bool,
    /// Each approval needs its own credential.
    pub distinct_keys: bool,
    /// Only device-bound (not synced) keys count.
    pub device_bound_only: bool,
    /// Approvals older than this when the last arrives do not count.
    pub max_mfa_age_seconds: Option<u64>,
    /// How long the request waited before expiring.
    pub expires_in_seconds: u64,
}

impl From<domain::Requirements> for ApprovalRequirements {
    fn from(r: domain::Requirements) -> Self {
        Self {
            count: r.count,
            groups_all: r.groups_all,
            groups_any: r.groups_any,
            exclude_requester: r.exclude_requester,
            exclude_commit_author: r.exclude_commit_author,
            distinct_keys: r.distinct_keys,
            device_bound_only: r.device_bound_only,
            max_mfa_age_seconds: r.max_mfa_age_seconds,
            expires_in_seconds: r.expires_in_seconds,
        }
    }
}

/// One person's vote.
#[derive(SimpleObject)]
pub struct ApprovalVote {
    /// Who.
    pub member_id: ID,
    /// Their username.
    pub username: String,
    /// The key they used.
    pub key_id: ID,
    /// Its name (none once deleted).
    pub key_name: Option<String>,
    /// Its credential ID, base64url.
    pub credential_id: String,
    /// Approve or reject.
    pub decision: ApprovalVoteDecision,
    /// A rejection's reason.
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// One line of a request's decision log.
#[derive(SimpleObject)]
pub struct ApprovalDecisionLogEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// `POLICY`, `APPROVAL`, `REJECTION`, `STATE` or `TOKEN`.
    pub kind: String,
    /// What happened.
    pub message: String,
}

/// A pipeline's approval request.
pub struct ApprovalRequest(pub domain::ApprovalRequest);

async fn member_name(ctx: &Context<'_>, org: keyward_domain::ids::OrgId, id: MemberId) -> ApiResult<String> {
    Ok(ctx.app().db.member(org, id).await?.map_or_else(|| id.to_string(), |m| m.username))
}

async fn key_name(ctx: &Context<'_>, org: keyward_domain::ids::OrgId, id: SecurityKeyId) -> ApiResult<Option<String>> {
    Ok(ctx.app().db.key(org, id).await?.map(|k| k.key.name))
}

fn requester<'a>(r: &ApprovalRequester<'a>) -> Requester<'a> {
    match r {
        ApprovalRequester::Member(session) => Requester::Member(session),
        ApprovalRequester::ApiKey(key) => Requester::ApiKey(key),
    }
}

/// The requester handle of the caller, for resolvers.
pub fn caller<'a>(ctx: &Context<'a>) -> ApiResult<Requester<'a>> {
    Ok(requester(&ctx.approval_requester()?))
}

#[Object]
impl ApprovalRequest {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// SHA-256 (hex) of the request's canonical JSON.
    async fn digest(&self) -> &str {
        &self.0.digest
    }
    async fn pipeline(&self) -> &str {
        &self.0.input.pipeline
    }
    async fn run_id(&self) -> &str {
        &self.0.input.run_id
    }
    async fn stage(&self) -> &str {
        &self.0.input.stage
    }
    async fn environment(&self) -> &str {
        &self.0.input.environment
    }
    async fn commit_sha(&self) -> &str {
        &self.0.input.commit_sha
    }
    async fn commit_author(&self) -> &str {
        &self.0.input.commit_author
    }
    async fn requester(&self) -> &str {
        &self.0.input.requester
    }
    async fn change_summary(&self) -> ChangeSummary {
        let s = self.0.input.change_summary.clone();
        ChangeSummary {
            resources: s.resources,
            env_vars_changed: s.env_vars_changed,
            secrets_rotated: s.secrets_rotated,
            sensitive_flags: s.sensitive_flags,
        }
    }
    async fn plan_digest(&self) -> &str {
        &self.0.input.plan_digest
    }
    async fn run_url(&self) -> Option<&str> {
        self.0.input.run_url.as_deref()
    }
    /// Where it stands now (a pending request past its expiry is `EXPIRED`).
    async fn status(&self) -> ApprovalStatus {
        self.0.status_at(Utc::now()).into()
    }
    /// The policy's reason, or the rejecter's.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// What approvals it needs; null when the policy decided alone.
    async fn requirements(&self) -> Option<ApprovalRequirements> {
        self.0.requirements.clone().map(Into::into)
    }
    /// The votes, oldest first.
    async fn approvals(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApprovalVote>> {
        let mut votes = Vec::new();
        for v in &self.0.votes {
            votes.push(ApprovalVote {
                member_id: ID(v.member_id.to_string()),
                username: member_name(ctx, self.0.org_id, v.member_id).await?,
                key_id: ID(v.key_id.to_string()),
                key_name: key_name(ctx, self.0.org_id, v.key_id).await?,
                credential_id: v.credential_id.clone(),
                decision: v.decision.into(),
                reason: v.reason.clone(),
                at: v.at,
            });
        }
        Ok(votes)
    }
    /// How many more approvals it needs at least (0 once decided).
    async fn approvals_needed(&self, ctx: &Context<'_>) -> ApiResult<u32> {
        let (Some(req), domain::ApprovalStatus::Pending) = (&self.0.requirements, self.0.status_at(Utc::now())) else {
            return Ok(0);
        };
        let standing = crate::auth::approval_vote::standing_votes(ctx.app(), &self.0).await?;
        Ok(tally(req, &self.0.votes, Utc::now(), |v| standing.contains(&(v.member_id, v.key_id))).needed)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
    /// The approval policy version that decided (0: built-in).
    async fn policy_version(&self) -> u64 {
        self.0.policy_version
    }
    /// The issued token's `jti`.
    async fn token_jti(&self) -> Option<&str> {
        self.0.token_jti.as_deref()
    }
    /// The approval token (ES256 JWT), only for whoever created the request, once approved.
    async fn token(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        Ok(approval::token_for(ctx.app(), caller(ctx)?, &self.0))
    }
    /// The page where people approve it.
    async fn approval_url(&self, ctx: &Context<'_>) -> String {
        approval::approval_url(ctx.app(), self.0.id)
    }
    /// Whether you could approve it now (before touching your key).
    async fn viewer_may_approve(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.viewer_blocked(ctx).await?.is_none())
    }
    /// Why you cannot approve it: an `APPROVER_NOT_ELIGIBLE` reason code (`REQUESTER`,
    /// `COMMIT_AUTHOR`, `ALREADY_VOTED`, `NOT_IN_GROUP`), otherwise a sentence (no key registered,
    /// an API key, a decided request); null when you can.
    async fn viewer_blocked_reason(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        self.viewer_blocked(ctx).await
    }
    /// What the policy decided, who voted with which key, the state changes and the token.
    async fn decision_log(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApprovalDecisionLogEntry>> {
        let mut names = std::collections::HashMap::new();
        let mut keys = std::collections::HashMap::new();
        for v in &self.0.votes {
            names.insert(v.member_id, member_name(ctx, self.0.org_id, v.member_id).await?);
            keys.insert(v.key_id, key_name(ctx, self.0.org_id, v.key_id).await?.unwrap_or_else(|| "(deleted)".into()));
        }
        let log = decision_log(
            &self.0,
            |m| names.get(&m).cloned().unwrap_or_default(),
            |k| keys.get(&k).cloned().unwrap_or_default(),
        );
        Ok(log
            .into_iter()
            .map(|e| ApprovalDecisionLogEntry { at: e.at, kind: e.kind.to_owned(), message: e.message })
            .collect())
    }
}

impl ApprovalRequest {
    async fn viewer_blocked(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        let Requester::Member(session) = caller(ctx)? else {
            return Ok(Some("API keys cannot approve".into()));
        };
        match self.0.status_at(Utc::now()) {
            domain::ApprovalStatus::Pending => {}
            status => return Ok(Some(format!("this request is {}", status.as_str()))),
        }
        let candidate = Candidate {
            member: session.member_id,
            groups: &session.facts.groups,
            key_id: SecurityKeyId::new(),
            credential_id: "",
            backup_eligible: false,
        };
        if let Err(why) = check_approver(&self.0, &candidate) {
            return Ok(Some(why.code().to_owned()));
        }
        if ctx.app().db.keys_of(session.org_id, session.member_id).await?.is_empty() {
            return Ok(Some("register a security key to approve".into()));
        }
        let _ = VoteDecision::Approve;
        Ok(None)
    }
}
