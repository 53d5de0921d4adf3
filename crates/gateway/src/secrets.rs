//! Random secrets and their argon2id hashes.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// 32 random bytes, base64url: what backup credentials and other one-time secrets are made of.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// 32 random bytes for a session token.
pub fn random_token_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// The argon2id PHC string of `secret` (CPU-heavy: call from a blocking task).
pub fn hash_secret(secret: &str) -> String {
    Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|hash| hash.to_string())
        .expect("argon2 with default parameters cannot fail on a short secret")
}

/// Whether `secret` matches the PHC string `hash`. A malformed hash never matches.
pub fn verify_secret(hash: &str, secret: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_verify_only_against_their_hash() {
        let secret = random_secret();
        assert_eq!(secret.len(), 43);
        let hash = hash_secret(&secret);
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_secret(&hash, &secret));
        assert!(!verify_secret(&hash, "wrong"));
        assert!(!verify_secret("not a hash", &secret));
        assert_ne!(random_secret(), secret);
    }
}
