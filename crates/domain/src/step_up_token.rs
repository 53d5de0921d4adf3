//! Step-up tokens: short-lived ES256 JWTs that say "this member touched a security key for this
//! action on this resource", for tools that verify them offline against the JWKS. This module holds
//! the claims, the offline checks over decoded claims, and the signing-key lifecycle; signing and
//! parsing live in the gateway.
//!
//! Key lifecycle (every instance applies the same rules to the shared `signing_keys` table):
//! - a new key is due when there is none or the newest is older than the rotation period;
//! - a new key is published at once but signs only [`JWKS_MAX_AGE_SECONDS`] later, so verifiers
//!   that cached the JWKS just before it appeared already hold it when its first token arrives;
//!   the key it replaces is retired at that moment (`retired_at`) and signs until then;
//! - a retired key stays published until its last token can have expired everywhere
//!   (`retired_at + token_ttl + KEY_PUBLICATION_MARGIN_SECONDS`), then it may be deleted.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{MemberId, OrgId};

/// The only signature algorithm step-up tokens use.
pub const ALGORITHM: &str = "ES256";
/// `acr` of every step-up token: a hardware-key assertion.
pub const ACR_HARDWARE_KEY: &str = "urn:keyward:acr:hwk";
/// `amr` entry for a hardware-key assertion.
pub const AMR_HARDWARE_KEY: &str = "hwk";
/// `amr` entry added when the authenticator verified the user (PIN or biometrics).
pub const AMR_USER_VERIFIED: &str = "user";
/// How far clocks may disagree: a token is accepted up to this many seconds after `exp`, and its
/// `iat` may lie this far in the future.
pub const CLOCK_LEEWAY_SECONDS: i64 = 30;
/// How long verifiers may cache the JWKS (`Cache-Control: max-age`), and so how long a new key is
/// published before it signs.
pub const JWKS_MAX_AGE_SECONDS: i64 = 300;
/// Extra time a retired key stays published beyond its last token's `exp`: one leeway for
/// verifiers that accept a token shortly after `exp`, one for an instance whose clock lags and
/// that signed shortly after the key's retirement.
pub const KEY_PUBLICATION_MARGIN_SECONDS: i64 = 2 * CLOCK_LEEWAY_SECONDS;

/// The claims of a step-up token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpClaims {
    /// Issuer: Keyward's `public_url`.
    pub iss: String,
    /// The member who touched the key.
    pub sub: String,
    /// Their organization.
    pub org: String,
    /// The action approved (e.g. `member.deactivate`).
    pub action: String,
    /// The resource it was approved for (e.g. `member:<id>`).
    pub resource: String,
    /// Always [`ACR_HARDWARE_KEY`].
    pub acr: String,
    /// `["hwk"]`, plus `"user"` when the authenticator verified the user.
    pub amr: Vec<String>,
    /// When the key was touched (seconds since the epoch).
    pub auth_time: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// Unique token ID (UUID v4), for replay caches.
    pub jti: String,
}

/// What a step-up token is issued for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepUpTokenInput {
    /// The member who touched the key.
    pub member: MemberId,
    /// Their organization.
    pub org: OrgId,
    /// The action.
    pub action: String,
    /// The resource, spelled as the gate table spells it (`org:<id>`, `member:<id>`, ...).
    pub resource: String,
    /// Whether the assertion carried user verification.
    pub user_verified: bool,
    /// When the key was touched.
    pub touched_at: DateTime<Utc>,
}

impl StepUpClaims {
    /// The claims for `input`, issued by `issuer` at `now` and valid for `ttl`, with a fresh `jti`.
    pub fn build(issuer: &str, input: &StepUpTokenInput, now: DateTime<Utc>, ttl: Duration) -> Self {
        let mut amr = vec![AMR_HARDWARE_KEY.to_owned()];
        if input.user_verified {
            amr.push(AMR_USER_VERIFIED.to_owned());
        }
        Self {
            iss: issuer.to_owned(),
            sub: input.member.to_string(),
            org: input.org.to_string(),
            action: input.action.clone(),
            resource: input.resource.clone(),
            acr: ACR_HARDWARE_KEY.to_owned(),
            amr,
            auth_time: input.touched_at.timestamp(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// What the verifier expects of a token.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The action being performed: must equal `action` exactly.
    pub action: &'a str,
    /// The resource it is performed on: must equal `resource` exactly.
    pub resource: &'a str,
    /// The issuer to insist on (`None`: any issuer whose key is in the JWKS used).
    pub issuer: Option<&'a str>,
}

/// Why decoded, correctly signed claims are refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ClaimError {
    /// `iss` is not the expected issuer.
    #[error("issued by {found:?}, expected {expected:?}")]
    WrongIssuer {
        /// Expected.
        expected: String,
        /// Found.
        found: String,
    },
    /// `exp` plus the leeway has passed.
    #[error("expired at {exp} (now {now}, leeway {CLOCK_LEEWAY_SECONDS}s)")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// `iat` lies in the future beyond the leeway.
    #[error("issued in the future ({iat}, now {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// The token approves another action.
    #[error("token is for action {found:?}, not {expected:?}")]
    WrongAction {
        /// Expected.
        expected: String,
        /// Found.
        found: String,
    },
    /// The token approves the action on another resource.
    #[error("token is for resource {found:?}, not {expected:?}")]
    WrongResource {
        /// Expected.
        expected: String,
        /// Found.
        found: String,
    },
    /// The claims are not those of a step-up token (wrong `acr`, no `hwk`, `exp` before `iat`).
    #[error("not a step-up token: {0}")]
    NotStepUp(&'static str),
}

/// The offline checks over decoded claims, in order: shape, issuer, time, action, resource.
pub fn check_claims(claims: &StepUpClaims, expected: Expected<'_>, now: i64) -> Result<(), ClaimError> {
    if claims.acr != ACR_HARDWARE_KEY {
        return Err(ClaimError::NotStepUp("acr is not urn:keyward:acr:hwk"));
    }
    if !claims.amr.iter().any(|m| m == AMR_HARDWARE_KEY) {
        return Err(ClaimError::NotStepUp("amr lacks hwk"));
    }
    if claims.exp <= claims.iat {
        return Err(ClaimError::NotStepUp("exp is not after iat"));
    }
    if claims.jti.is_empty() {
        return Err(ClaimError::NotStepUp("jti is empty"));
    }
    if let Some(issuer) = expected.issuer
        && claims.iss != issuer
    {
        return Err(ClaimError::WrongIssuer { expected: issuer.to_owned(), found: claims.iss.clone() });
    }
    if now > claims.exp.saturating_add(CLOCK_LEEWAY_SECONDS) {
        return Err(ClaimError::Expired { exp: claims.exp, now });
    }
    if claims.iat > now.saturating_add(CLOCK_LEEWAY_SECONDS) {
        return Err(ClaimError::IssuedInFuture { iat: claims.iat, now });
    }
    if claims.action != expected.action {
        return Err(ClaimError::WrongAction { expected: expected.action.to_owned(), found: claims.action.clone() });
    }
    if claims.resource != expected.resource {
        return Err(ClaimError::WrongResource {
            expected: expected.resource.to_owned(),
            found: claims.resource.clone(),
        });
    }
    Ok(())
}

/// Until when a replay cache must remember a token's `jti`: as long as the token is accepted.
pub fn replay_window_end(exp: i64) -> i64 {
    exp.saturating_add(CLOCK_LEEWAY_SECONDS)
}

/// A signing key as stored (shared by every gateway instance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKey {
    /// Key ID: the RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// 1 for the first key, one more for each successor; unique, so two instances rotating at once
    /// cannot both add a successor.
    pub generation: i64,
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// The public key as a JWK (JSON text, with `kid`, `alg` and `use`).
    pub public_jwk: String,
    /// The private key (PKCS#8 PEM), sealed with the instance's `secrets_key`.
    pub private_key: String,
    /// When it was created (and published).
    pub created_at: DateTime<Utc>,
    /// When it stops (or stopped) signing; `None` while it has no successor.
    pub retired_at: Option<DateTime<Utc>>,
}

/// How long a new key is published before it signs.
pub fn publication_lead() -> Duration {
    Duration::seconds(JWKS_MAX_AGE_SECONDS)
}

/// The newest key (highest generation).
pub fn newest(keys: &[SigningKey]) -> Option<&SigningKey> {
    keys.iter().max_by_key(|k| k.generation)
}

/// Whether a new key must be created: there is none, or the newest is `rotation` old.
pub fn rotation_due(keys: &[SigningKey], now: DateTime<Utc>, rotation: Duration) -> bool {
    newest(keys).is_none_or(|key| key.created_at + rotation <= now)
}

/// The generation a new key takes.
pub fn next_generation(keys: &[SigningKey]) -> i64 {
    newest(keys).map_or(1, |key| key.generation + 1)
}

/// When the keys a new key (created at `now`) replaces stop signing.
pub fn retire_predecessors_at(now: DateTime<Utc>) -> DateTime<Utc> {
    now + publication_lead()
}

fn retired(key: &SigningKey, now: DateTime<Utc>) -> bool {
    key.retired_at.is_some_and(|at| at <= now)
}

/// The key that signs at `now`: the newest key that has been published for the publication lead
/// and is not retired; failing that (the very first key), the newest key not retired.
pub fn signing_key(keys: &[SigningKey], now: DateTime<Utc>) -> Option<&SigningKey> {
    let live = || keys.iter().filter(|k| !retired(k, now));
    live()
        .filter(|k| k.created_at + publication_lead() <= now)
        .max_by_key(|k| k.generation)
        .or_else(|| live().max_by_key(|k| k.generation))
}

/// Keys retired at or before this instant are no longer published and may be deleted.
pub fn publication_cutoff(now: DateTime<Utc>, token_ttl: Duration) -> DateTime<Utc> {
    now - token_ttl - Duration::seconds(KEY_PUBLICATION_MARGIN_SECONDS)
}

/// Whether `key` is in the JWKS at `now`: until its last token can have expired everywhere.
pub fn is_published(key: &SigningKey, now: DateTime<Utc>, token_ttl: Duration) -> bool {
    key.retired_at.is_none_or(|at| at > publication_cutoff(now, token_ttl))
}

/// The keys in the JWKS at `now`, oldest first.
pub fn published_keys(keys: &[SigningKey], now: DateTime<Utc>, token_ttl: Duration) -> Vec<&SigningKey> {
    let mut published: Vec<_> = keys.iter().filter(|k| is_published(k, now, token_ttl)).collect();
    published.sort_by_key(|k| k.generation);
    published
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
    }

    fn input(user_verified: bool) -> StepUpTokenInput {
        StepUpTokenInput {
            member: MemberId::new(),
            org: OrgId::new(),
            action: "member.deactivate".into(),
            resource: "member:42".into(),
            user_verified,
            touched_at: t(-5),
        }
    }

    fn claims() -> StepUpClaims {
        StepUpClaims::build("https://kw.example", &input(true), t(0), Duration::seconds(300))
    }

    fn expected() -> Expected<'static> {
        Expected { action: "member.deactivate", resource: "member:42", issuer: Some("https://kw.example") }
    }

    #[test]
    fn claims_carry_the_touch_and_expire_after_the_ttl() {
        let input = input(false);
        let c = StepUpClaims::build("https://kw.example", &input, t(0), Duration::seconds(300));
        assert_eq!(c.iss, "https://kw.example");
        assert_eq!(c.sub, input.member.to_string());
        assert_eq!(c.org, input.org.to_string());
        assert_eq!((c.action.as_str(), c.resource.as_str()), ("member.deactivate", "member:42"));
        assert_eq!(c.acr, "urn:keyward:acr:hwk");
        assert_eq!(c.amr, vec!["hwk"]);
        assert_eq!((c.auth_time, c.iat, c.exp), (t(-5).timestamp(), t(0).timestamp(), t(300).timestamp()));
        assert_eq!(uuid::Uuid::parse_str(&c.jti).unwrap().get_version_num(), 4);
        let again = StepUpClaims::build("https://kw.example", &input, t(0), Duration::seconds(300));
        assert_ne!(again.jti, c.jti, "every token has its own jti");
        let verified = StepUpClaims::build("https://kw.example", &self::input(true), t(0), Duration::seconds(300));
        assert_eq!(verified.amr, vec!["hwk", "user"]);
    }

    #[test]
    fn a_matching_token_passes_until_exp_plus_the_leeway() {
        let c = claims();
        assert_eq!(check_claims(&c, expected(), c.iat), Ok(()));
        assert_eq!(check_claims(&c, expected(), c.exp + CLOCK_LEEWAY_SECONDS), Ok(()));
        assert_eq!(
            check_claims(&c, expected(), c.exp + CLOCK_LEEWAY_SECONDS + 1),
            Err(ClaimError::Expired { exp: c.exp, now: c.exp + CLOCK_LEEWAY_SECONDS + 1 })
        );
        assert_eq!(check_claims(&c, expected(), c.iat - CLOCK_LEEWAY_SECONDS), Ok(()));
        assert!(matches!(
            check_claims(&c, expected(), c.iat - CLOCK_LEEWAY_SECONDS - 1),
            Err(ClaimError::IssuedInFuture { .. })
        ));
        assert_eq!(replay_window_end(c.exp), c.exp + CLOCK_LEEWAY_SECONDS);
    }

    #[test]
    fn action_resource_and_issuer_must_match_exactly() {
        let c = claims();
        let now = c.iat;
        for action in ["member.deactivat", "member.deactivate ", "Member.deactivate", "member"] {
            let e = Expected { action, ..expected() };
            assert!(matches!(check_claims(&c, e, now), Err(ClaimError::WrongAction { .. })), "{action}");
        }
        for resource in ["member:4", "member:420", "member:*", ""] {
            let e = Expected { resource, ..expected() };
            assert!(matches!(check_claims(&c, e, now), Err(ClaimError::WrongResource { .. })), "{resource}");
        }
        let e = Expected { issuer: Some("https://kw.example/"), ..expected() };
        assert!(matches!(check_claims(&c, e, now), Err(ClaimError::WrongIssuer { .. })));
        assert_eq!(check_claims(&c, Expected { issuer: None, ..expected() }, now), Ok(()));
    }

    #[test]
    fn claims_that_are_not_a_key_touch_are_refused() {
        let now = claims().iat;
        let mut c = claims();
        c.acr = "urn:other".into();
        assert!(matches!(check_claims(&c, expected(), now), Err(ClaimError::NotStepUp(_))));
        let mut c = claims();
        c.amr = vec!["pwd".into()];
        assert!(matches!(check_claims(&c, expected(), now), Err(ClaimError::NotStepUp(_))));
        let mut c = claims();
        c.exp = c.iat;
        assert!(matches!(check_claims(&c, expected(), now), Err(ClaimError::NotStepUp(_))));
        let mut c = claims();
        c.jti.clear();
        assert!(matches!(check_claims(&c, expected(), now), Err(ClaimError::NotStepUp(_))));
    }

    fn key(generation: i64, created: i64, retired: Option<i64>) -> SigningKey {
        SigningKey {
            kid: format!("k{generation}"),
            generation,
            algorithm: ALGORITHM.into(),
            public_jwk: "{}".into(),
            private_key: "sealed".into(),
            created_at: t(created),
            retired_at: retired.map(t),
        }
    }

    const DAY: i64 = 86_400;

    #[test]
    fn a_key_is_due_when_none_exists_or_the_newest_is_a_rotation_old() {
        let rotation = Duration::seconds(DAY);
        assert!(rotation_due(&[], t(0), rotation));
        assert_eq!(next_generation(&[]), 1);
        let keys = [key(1, 0, Some(DAY + 300)), key(2, DAY, None)];
        assert!(!rotation_due(&keys, t(2 * DAY - 1), rotation), "the newest key counts, not the oldest");
        assert!(rotation_due(&keys, t(2 * DAY), rotation));
        assert_eq!(next_generation(&keys), 3);
        assert_eq!(retire_predecessors_at(t(0)), t(JWKS_MAX_AGE_SECONDS));
    }

    #[test]
    fn a_new_key_signs_only_after_the_jwks_cache_lifetime() {
        let only = [key(1, 0, None)];
        assert_eq!(signing_key(&only, t(0)).unwrap().kid, "k1", "the first key signs at once");
        // Rotation at DAY: k2 is published, k1 signs until DAY + 300.
        let keys = [key(1, 0, Some(DAY + 300)), key(2, DAY, None)];
        assert_eq!(signing_key(&keys, t(DAY)).unwrap().kid, "k1");
        assert_eq!(signing_key(&keys, t(DAY + 299)).unwrap().kid, "k1");
        assert_eq!(signing_key(&keys, t(DAY + 300)).unwrap().kid, "k2");
        assert_eq!(signing_key(&keys, t(10 * DAY)).unwrap().kid, "k2");
        let all_retired = [key(1, 0, Some(10))];
        assert_eq!(signing_key(&all_retired, t(10)), None);
    }

    #[test]
    fn a_retired_key_stays_published_until_its_last_token_expired() {
        let ttl = Duration::seconds(300);
        let retired_at = DAY + 300;
        let keys = [key(1, 0, Some(retired_at)), key(2, DAY, None)];
        let last = retired_at + 300 + KEY_PUBLICATION_MARGIN_SECONDS;
        let kids = |now| published_keys(&keys, t(now), ttl).iter().map(|k| k.kid.clone()).collect::<Vec<_>>();
        assert_eq!(kids(DAY), ["k1", "k2"]);
        assert_eq!(kids(last - 1), ["k1", "k2"]);
        assert_eq!(kids(last), ["k2"]);
        assert!(!is_published(&keys[0], t(last), ttl));
        assert_eq!(publication_cutoff(t(last), ttl), t(retired_at), "deletable exactly when unpublished");
        assert!(is_published(&keys[1], t(100 * DAY), ttl), "a key without successor is always published");
    }
}
