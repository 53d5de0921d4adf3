//! Offline verification of approval tokens: what a runner does before it applies, and what
//! `keyward approval verify` runs.

use jsonwebtoken::jwk::JwkSet;
use keyward_domain::approval::token::ApprovalClaimError;
use keyward_domain::approval::{ApprovalClaims, ExpectedApproval, check_approval_claims};

use super::replay::ReplayCache;
use super::verify::{VerifyError, check_replay, decode_verified};

impl From<ApprovalClaimError> for VerifyError {
    fn from(err: ApprovalClaimError) -> Self {
        match err {
            ApprovalClaimError::NotApproval(why) => Self::Malformed(format!("not an approval token: {why}")),
            ApprovalClaimError::WrongIssuer { expected, found } => Self::WrongIssuer { expected, found },
            ApprovalClaimError::Expired { exp, now } => Self::Expired { exp, now },
            ApprovalClaimError::IssuedInFuture { iat, now } => Self::IssuedInFuture { iat, now },
            ApprovalClaimError::Mismatch { claim, expected, found } => Self::Mismatch { claim, expected, found },
        }
    }
}

/// Verifies an approval token offline: ES256 only, signed by the key its `kid` names in `jwks`,
/// with an `exp` (a token without one is refused) not passed at `now` (30 s leeway), for exactly
/// the digest, stage and environment (and run, when given) expected, and, with a replay cache,
/// never seen before.
pub fn verify_approval_offline(
    token: &str,
    expected: ExpectedApproval<'_>,
    jwks: &JwkSet,
    now: i64,
    replay: Option<&mut dyn ReplayCache>,
) -> Result<ApprovalClaims, VerifyError> {
    let claims: ApprovalClaims = decode_verified(token, jwks).map_err(|err| match err {
        VerifyError::Malformed(why) if why.contains("missing field `exp`") => {
            VerifyError::Malformed("the token has no exp: approval tokens must expire".into())
        }
        other => other,
    })?;
    check_approval_claims(&claims, expected, now)?;
    check_replay(replay, &claims.jti, claims.exp, now)?;
    Ok(claims)
}
