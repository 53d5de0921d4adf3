//! The runner's side of an approval: `verify_approval_offline` on a real token against a bare
//! ES256 JWT verify (`jsonwebtoken::decode` of the same token with the same public key), in
//! process on one core, so the approval-specific checks are seen to cost little.

use std::hint::black_box;
use std::time::Instant;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keyward_gateway::tokens::verify::header_kid;

use crate::approvals::Sample;

/// Verifies per second, each side's best of two rounds.
pub struct Rates {
    /// `jsonwebtoken::decode` with an ES256 validation, exp not checked.
    pub bare: f64,
    /// `verify_approval_offline`.
    pub offline: f64,
    /// Iterations per round.
    pub iterations: usize,
}

/// Runs both loops `iterations` times, twice, interleaved.
pub fn compare(sample: &Sample, iterations: usize) -> Rates {
    let kid = header_kid(&sample.token).expect("the token names its key");
    let jwk = sample.jwks.find(&kid).expect("the JWKS holds the token's key");
    let key = DecodingKey::from_jwk(jwk).expect("an ES256 public key");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    let now = Utc::now().timestamp();
    let rate = |started: Instant| iterations as f64 / started.elapsed().as_secs_f64();
    let (mut bare, mut offline) = (0f64, 0f64);
    for _ in 0..2 {
        let started = Instant::now();
        for _ in 0..iterations {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&sample.token), &key, &validation)
                .expect("the token verifies");
        }
        bare = bare.max(rate(started));
        let started = Instant::now();
        for _ in 0..iterations {
            black_box(&sample).verify(now);
        }
        offline = offline.max(rate(started));
    }
    Rates { bare, offline, iterations }
}
