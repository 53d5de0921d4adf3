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

/// Seals secrets stored in the database (SSO client secrets) with AES-256-GCM under the
/// configured `secrets_key`. Without a key, values are stored as they are (and a warning says so
/// at start); sealed values carry a `v1:` prefix, so existing plain values keep working.
#[derive(Clone)]
pub struct Sealer {
    cipher: Option<aes_gcm::Aes256Gcm>,
}

impl Sealer {
    /// A sealer for a 32-byte key (base64, standard or URL-safe), or a pass-through one.
    pub fn new(key_base64: Option<&str>) -> Result<Self, String> {
        use aes_gcm::KeyInit;
        let Some(encoded) = key_base64 else { return Ok(Self { cipher: None }) };
        let trimmed = encoded.trim().trim_end_matches('=');
        let key = URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
            .map_err(|_| "expected base64".to_owned())?;
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key).map_err(|_| "expected 32 bytes".to_owned())?;
        Ok(Self { cipher: Some(cipher) })
    }

    /// Whether secrets are encrypted at rest.
    pub fn is_sealing(&self) -> bool {
        self.cipher.is_some()
    }

    /// The stored form of `plaintext`.
    pub fn seal(&self, plaintext: &str) -> String {
        use aes_gcm::aead::Aead;
        let Some(cipher) = &self.cipher else { return plaintext.to_owned() };
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(&aes_gcm::Nonce::from(nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption of a short secret cannot fail");
        format!("v1:{}:{}", URL_SAFE_NO_PAD.encode(nonce), URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The plaintext of a stored value; `Err` when it is sealed and the key is missing or wrong.
    pub fn open(&self, stored: &str) -> Result<String, String> {
        use aes_gcm::aead::Aead;
        let Some(rest) = stored.strip_prefix("v1:") else { return Ok(stored.to_owned()) };
        let cipher = self.cipher.as_ref().ok_or("this secret is sealed, but no secrets_key is configured")?;
        let (nonce, sealed) = rest.split_once(':').ok_or("malformed sealed secret")?;
        let nonce: [u8; 12] =
            URL_SAFE_NO_PAD.decode(nonce).ok().and_then(|n| n.try_into().ok()).ok_or("malformed sealed secret")?;
        let sealed = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| "malformed sealed secret")?;
        let plain = cipher
            .decrypt(&aes_gcm::Nonce::from(nonce), sealed.as_slice())
            .map_err(|_| "the sealed secret does not open with this secrets_key")?;
        String::from_utf8(plain).map_err(|_| "malformed sealed secret".to_owned())
    }
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
    fn sealed_secrets_open_only_with_their_key() {
        let key = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let sealer = Sealer::new(Some(&key)).unwrap();
        let sealed = sealer.seal("client-secret");
        assert!(sealed.starts_with("v1:") && !sealed.contains("client-secret"));
        assert_ne!(sealer.seal("client-secret"), sealed, "a fresh nonce every time");
        assert_eq!(sealer.open(&sealed).unwrap(), "client-secret");
        let other = Sealer::new(Some(&URL_SAFE_NO_PAD.encode([8u8; 32]))).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(Sealer::new(None).unwrap().open(&sealed).is_err());
        assert_eq!(Sealer::new(None).unwrap().seal("plain"), "plain");
        assert_eq!(sealer.open("plain-from-before").unwrap(), "plain-from-before");
        assert!(Sealer::new(Some("too-short")).is_err());
    }

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
