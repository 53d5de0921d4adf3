//! Approval tokens: ES256 JWTs, signed with the step-up signing keys, that tell a runner "this
//! exact request (digest) for this run, stage and environment was approved by these people with
//! these keys". Their claims can never pass for a step-up token's, nor the other way round:
//! `token_use` differs and each verifier insists on its own.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::model::ApprovalRequest;
use crate::step_up_token::{AMR_HARDWARE_KEY, CLOCK_LEEWAY_SECONDS};

/// `token_use` of every approval token.
pub const TOKEN_USE: &str = "approval";
/// The JWT header's `typ`.
pub const TOKEN_TYPE: &str = "kw-approval+jwt";
/// The default lifetime (`approvals.token_ttl`).
pub const DEFAULT_TTL_SECONDS: i64 = 3600;

/// One approver as the token names them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenApprover {
    /// Member ID.
    pub member: String,
    /// The credential ID they signed with, base64url.
    pub credential: String,
}

/// The claims of an approval token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalClaims {
    /// Issuer: Keyward's `public_url`.
    pub iss: String,
    /// The approval request's ID.
    pub sub: String,
    /// The organization.
    pub org: String,
    /// Always [`TOKEN_USE`].
    pub token_use: String,
    /// The request digest.
    pub digest: String,
    /// The pipeline.
    pub pipeline: String,
    /// The run ID.
    pub run: String,
    /// The stage.
    pub stage: String,
    /// The environment.
    pub environment: String,
    /// The commit SHA.
    pub commit: String,
    /// Who approved, with which credential (empty when the policy approved without people).
    pub approvers: Vec<TokenApprover>,
    /// `["hwk"]` when people approved with keys; empty otherwise.
    pub amr: Vec<String>,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch). Required: a token without it is refused.
    pub exp: i64,
    /// Unique token ID, for replay caches.
    pub jti: String,
    /// The approval policy version that decided (0: built-in).
    pub policy_version: u64,
}

impl ApprovalClaims {
    /// The claims for `request` approved by `approvers`, issued at `now` for `ttl`.
    pub fn build(
        issuer: &str,
        request: &ApprovalRequest,
        approvers: Vec<TokenApprover>,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Self {
        let amr = if approvers.is_empty() { vec![] } else { vec![AMR_HARDWARE_KEY.to_owned()] };
        Self {
            iss: issuer.to_owned(),
            sub: request.id.to_string(),
            org: request.org_id.to_string(),
            token_use: TOKEN_USE.to_owned(),
            digest: request.digest.clone(),
            pipeline: request.input.pipeline.clone(),
            run: request.input.run_id.clone(),
            stage: request.input.stage.clone(),
            environment: request.input.environment.clone(),
            commit: request.input.commit_sha.clone(),
            approvers,
            amr,
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            policy_version: request.policy_version,
        }
    }
}

/// What the runner expects the token to approve.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExpectedApproval<'a> {
    /// The request digest the runner computed: must equal `digest`.
    pub digest: &'a str,
    /// The stage about to run.
    pub stage: &'a str,
    /// The environment it deploys to.
    pub environment: &'a str,
    /// The run, when the runner knows it.
    pub run: Option<&'a str>,
    /// The issuer to insist on.
    pub issuer: Option<&'a str>,
}

/// Why correctly signed claims are refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ApprovalClaimError {
    /// Not an approval token (a step-up token, or `exp` not after `iat`).
    #[error("not an approval token: {0}")]
    NotApproval(&'static str),
    /// Another issuer.
    #[error("issued by {found:?}, expected {expected:?}")]
    WrongIssuer {
        /// Expected.
        expected: String,
        /// Found.
        found: String,
    },
    /// Expired (beyond the leeway).
    #[error("expired at {exp} (now {now})")]
    Expired {
        /// `exp`.
        exp: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// Issued in the future.
    #[error("issued in the future ({iat}, now {now})")]
    IssuedInFuture {
        /// `iat`.
        iat: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// A claim differs from what the runner expects.
    #[error("the token is for {claim} {found:?}, not {expected:?}")]
    Mismatch {
        /// Which claim.
        claim: &'static str,
        /// Expected.
        expected: String,
        /// Found.
        found: String,
    },
}

/// Checks decoded, correctly signed claims: shape, issuer, time, then digest, stage, environment
/// and run.
pub fn check_approval_claims(
    claims: &ApprovalClaims,
    expected: ExpectedApproval<'_>,
    now: i64,
) -> Result<(), ApprovalClaimError> {
    if claims.token_use != TOKEN_USE {
        return Err(ApprovalClaimError::NotApproval("token_use is not \"approval\""));
    }
    if claims.exp <= claims.iat {
        return Err(ApprovalClaimError::NotApproval("exp is not after iat"));
    }
    if claims.jti.is_empty() {
        return Err(ApprovalClaimError::NotApproval("jti is empty"));
    }
    if let Some(issuer) = expected.issuer
        && claims.iss != issuer
    {
        return Err(ApprovalClaimError::WrongIssuer { expected: issuer.into(), found: claims.iss.clone() });
    }
    if now > claims.exp.saturating_add(CLOCK_LEEWAY_SECONDS) {
        return Err(ApprovalClaimError::Expired { exp: claims.exp, now });
    }
    if claims.iat > now.saturating_add(CLOCK_LEEWAY_SECONDS) {
        return Err(ApprovalClaimError::IssuedInFuture { iat: claims.iat, now });
    }
    let pairs = [
        ("digest", expected.digest, &claims.digest),
        ("stage", expected.stage, &claims.stage),
        ("environment", expected.environment, &claims.environment),
    ];
    for (claim, want, found) in pairs.into_iter().chain(expected.run.map(|run| ("run", run, &claims.run))) {
        if want != found {
            return Err(ApprovalClaimError::Mismatch { claim, expected: want.into(), found: found.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::model::{ApprovalStatus, RequestedBy};
    use crate::approval::request::tests::sample;
    use crate::ids::{ApprovalRequestId, MemberId, OrgId};

    fn claims(now: DateTime<Utc>) -> ApprovalClaims {
        let request = ApprovalRequest {
            id: ApprovalRequestId::new(),
            org_id: OrgId::new(),
            digest: sample().digest(),
            input: sample(),
            status: ApprovalStatus::Approved,
            reason: None,
            requirements: None,
            policy_version: 3,
            fired_rules: vec![],
            created_by: RequestedBy::Member(MemberId::new()),
            requester_member: None,
            commit_author_member: None,
            created_at: now,
            expires_at: now,
            decided_at: Some(now),
            token: None,
            token_jti: None,
            version: 1,
            votes: vec![],
        };
        let approver = TokenApprover { member: "m".into(), credential: "c".into() };
        ApprovalClaims::build("https://kw", &request, vec![approver], now, Duration::hours(1))
    }

    fn expected(c: &ApprovalClaims) -> ExpectedApproval<'_> {
        ExpectedApproval {
            digest: &c.digest,
            stage: "apply",
            environment: "production",
            run: Some("1234"),
            issuer: None,
        }
    }

    #[test]
    fn a_token_for_this_run_passes() {
        let now = Utc::now();
        let c = claims(now);
        assert_eq!(c.amr, vec!["hwk"]);
        assert_eq!(c.policy_version, 3);
        assert!(check_approval_claims(&c, expected(&c), now.timestamp()).is_ok());
    }

    #[test]
    fn every_mismatch_is_named() {
        let now = Utc::now();
        let c = claims(now);
        let t = now.timestamp();
        let other = |claim: &'static str, e: ExpectedApproval<'_>| {
            assert!(
                matches!(check_approval_claims(&c, e, t), Err(ApprovalClaimError::Mismatch { claim: found, .. }) if found == claim),
                "{claim}"
            )
        };
        other("stage", ExpectedApproval { stage: "plan", ..expected(&c) });
        other("environment", ExpectedApproval { environment: "staging", ..expected(&c) });
        other("digest", ExpectedApproval { digest: "00", ..expected(&c) });
        other("run", ExpectedApproval { run: Some("1235"), ..expected(&c) });
        assert!(check_approval_claims(&c, ExpectedApproval { run: None, ..expected(&c) }, t).is_ok());
        let late = t + 3600 + CLOCK_LEEWAY_SECONDS + 1;
        assert!(matches!(check_approval_claims(&c, expected(&c), late), Err(ApprovalClaimError::Expired { .. })));
        let wrong_iss = ExpectedApproval { issuer: Some("https://other"), ..expected(&c) };
        assert!(matches!(check_approval_claims(&c, wrong_iss, t), Err(ApprovalClaimError::WrongIssuer { .. })));
        let mut step_up_like = c.clone();
        step_up_like.token_use = "step_up".into();
        assert!(matches!(
            check_approval_claims(&step_up_like, expected(&c), t),
            Err(ApprovalClaimError::NotApproval(_))
        ));
    }
}
