//! Offline verification of step-up tokens against a JWKS (what `keyward step-up verify` and any
//! tool behind Keyward do), and loading a JWKS from a file or a URL.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use keyward_domain::step_up_token::{ALGORITHM, ClaimError, Expected, StepUpClaims, check_claims, replay_window_end};

use super::replay::ReplayCache;

/// Why a step-up token is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// Not a JWS compact token, or its header or claims are not what a step-up token has.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header names another algorithm than ES256 (`none`, `HS256`, ...).
    #[error("algorithm {0:?} is not accepted: Keyward signs its tokens with ES256 only")]
    AlgorithmNotAllowed(String),
    /// No key with the header's `kid` in the JWKS: never Keyward's, or retired long enough ago
    /// that its tokens have all expired.
    #[error("no key {0:?} in the JWKS")]
    UnknownKid(String),
    /// The JWKS entry for the `kid` is not a P-256 key for ES256.
    #[error("key {0:?} in the JWKS is not a P-256 key for ES256")]
    UnusableKey(String),
    /// The signature does not verify with the key named.
    #[error("the signature does not verify")]
    BadSignature,
    /// `exp` (plus the leeway) has passed.
    #[error("the token expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// `iat` is in the future beyond the leeway.
    #[error("the token was issued in the future ({iat}; now {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// The token approves another action.
    #[error("the token is for action {found:?}, not {expected:?}")]
    WrongAction {
        /// Expected.
        expected: String,
        /// In the token.
        found: String,
    },
    /// The token approves the action on another resource.
    #[error("the token is for resource {found:?}, not {expected:?}")]
    WrongResource {
        /// Expected.
        expected: String,
        /// In the token.
        found: String,
    },
    /// Another issuer signed it.
    #[error("the token was issued by {found:?}, not {expected:?}")]
    WrongIssuer {
        /// Expected.
        expected: String,
        /// In the token.
        found: String,
    },
    /// The replay cache has seen this `jti`: the token was used already.
    #[error("the token {0} was already used")]
    Replayed(String),
    /// An approval token for another digest, stage, environment or run.
    #[error("the token is for {claim} {found:?}, not {expected:?}")]
    Mismatch {
        /// Which claim.
        claim: &'static str,
        /// Expected.
        expected: String,
        /// In the token.
        found: String,
    },
    /// Only from [`super::TokenIssuer::verify`]: the instance could not read its keys.
    #[error("the signing keys are unavailable: {0}")]
    KeysUnavailable(String),
}

impl From<ClaimError> for VerifyError {
    fn from(err: ClaimError) -> Self {
        match err {
            ClaimError::WrongIssuer { expected, found } => Self::WrongIssuer { expected, found },
            ClaimError::Expired { exp, now } => Self::Expired { exp, now },
            ClaimError::IssuedInFuture { iat, now } => Self::IssuedInFuture { iat, now },
            ClaimError::WrongAction { expected, found } => Self::WrongAction { expected, found },
            ClaimError::WrongResource { expected, found } => Self::WrongResource { expected, found },
            ClaimError::NotStepUp(why) => Self::Malformed(format!("not a step-up token: {why}")),
        }
    }
}

fn header_json(token: &str) -> Result<serde_json::Map<String, serde_json::Value>, VerifyError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(VerifyError::Malformed("expected three dot-separated parts".into()));
    };
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| VerifyError::Malformed("header is not base64url".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| VerifyError::Malformed("header is not a JSON object".into()))
}

/// The `kid` in a token's header (no verification).
pub fn header_kid(token: &str) -> Result<String, VerifyError> {
    match header_json(token)?.get("kid") {
        Some(serde_json::Value::String(kid)) => Ok(kid.clone()),
        _ => Err(VerifyError::Malformed("the header has no kid".into())),
    }
}

/// Verifies a step-up token offline: ES256 only, signed by the key its `kid` names in `jwks`,
/// `iss` equal to `expected_issuer` when given, not expired at `now` (seconds; 30 s leeway), for
/// exactly `expected_action` on exactly `expected_resource`, and, with a replay cache, never seen
/// before (the `jti` is then recorded until the token expires).
pub fn verify_offline(
    token: &str,
    expected_action: &str,
    expected_resource: &str,
    expected_issuer: Option<&str>,
    jwks: &JwkSet,
    now: i64,
    replay: Option<&mut dyn ReplayCache>,
) -> Result<StepUpClaims, VerifyError> {
    let claims: StepUpClaims = decode_verified(token, jwks)?;
    let expected = Expected { action: expected_action, resource: expected_resource, issuer: expected_issuer };
    check_claims(&claims, expected, now)?;
    check_replay(replay, &claims.jti, claims.exp, now)?;
    Ok(claims)
}

/// Records `jti` in the replay cache, if any, refusing one seen before.
pub(crate) fn check_replay(
    replay: Option<&mut dyn ReplayCache>,
    jti: &str,
    exp: i64,
    now: i64,
) -> Result<(), VerifyError> {
    if let Some(cache) = replay
        && !cache.check_and_record(jti, replay_window_end(exp), now)
    {
        return Err(VerifyError::Replayed(jti.to_owned()));
    }
    Ok(())
}

/// Checks a token's header (ES256 only, no `crit`, a `kid` the JWKS holds as a P-256 key) and its
/// signature, then decodes its claims as `T`. Time and claims are the caller's to check.
pub(crate) fn decode_verified<T: serde::de::DeserializeOwned>(token: &str, jwks: &JwkSet) -> Result<T, VerifyError> {
    let header = header_json(token)?;
    // Decided on the raw header, before any library sees it: `none` and HMAC never get near a key.
    match header.get("alg") {
        Some(serde_json::Value::String(alg)) if alg == ALGORITHM => {}
        Some(serde_json::Value::String(alg)) => return Err(VerifyError::AlgorithmNotAllowed(alg.clone())),
        _ => return Err(VerifyError::Malformed("the header has no alg".into())),
    }
    if header.contains_key("crit") {
        return Err(VerifyError::Malformed("the header has critical extensions".into()));
    }
    let kid = header_kid(token)?;
    let jwk = jwks.find(&kid).ok_or_else(|| VerifyError::UnknownKid(kid.clone()))?;
    let p256 = matches!(&jwk.algorithm, AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256);
    if !p256 || jwk.common.key_algorithm.is_some_and(|alg| alg != KeyAlgorithm::ES256) {
        return Err(VerifyError::UnusableKey(kid));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| VerifyError::UnusableKey(kid.clone()))?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let decoded = jsonwebtoken::decode::<T>(token, &key, &validation).map_err(|err| match err.kind() {
        ErrorKind::InvalidSignature => VerifyError::BadSignature,
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidKeyFormat => VerifyError::UnusableKey(kid.clone()),
        _ => VerifyError::Malformed(format!("claims: {err}")),
    })?;
    Ok(decoded.claims)
}

/// Why a JWKS could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JwksSourceError {
    /// Plain http to a host other than this machine: the keys could be swapped on the way.
    #[error("{0}: fetch the JWKS over https (plain http only from localhost)")]
    InsecureUrl(String),
    /// The URL did not answer with a JWKS.
    #[error("fetching {url}: {why}")]
    Fetch {
        /// The URL.
        url: String,
        /// What went wrong.
        why: String,
    },
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The content is not a JWK set.
    #[error("{from} is not a JWK set: {why}")]
    Parse {
        /// The file or URL.
        from: String,
        /// What went wrong.
        why: String,
    },
}

/// Loads a JWKS from an `https://` URL (or `http://` on localhost), or from a file path.
pub async fn load_jwks(url_or_file: &str) -> Result<JwkSet, JwksSourceError> {
    let parse = |text: &str| {
        serde_json::from_str::<JwkSet>(text)
            .map_err(|e| JwksSourceError::Parse { from: url_or_file.to_owned(), why: e.to_string() })
    };
    let Some(url) = url::Url::parse(url_or_file).ok().filter(|u| matches!(u.scheme(), "http" | "https")) else {
        let text = tokio::fs::read_to_string(url_or_file)
            .await
            .map_err(|source| JwksSourceError::Read { path: url_or_file.to_owned(), source })?;
        return parse(&text);
    };
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if url.scheme() == "http" && !loopback {
        return Err(JwksSourceError::InsecureUrl(url_or_file.to_owned()));
    }
    let fetch = |why: String| JwksSourceError::Fetch { url: url_or_file.to_owned(), why };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| fetch(e.to_string()))?;
    let response = client.get(url).send().await.map_err(|e| fetch(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fetch(format!("HTTP {}", response.status())));
    }
    let text = response.text().await.map_err(|e| fetch(e.to_string()))?;
    parse(&text)
}
