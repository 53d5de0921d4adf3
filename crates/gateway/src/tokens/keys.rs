//! Key material: new P-256 keys, their public JWKs, and the private keys as the signer uses them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keyward_domain::step_up_token::{ALGORITHM, SigningKey};
pub use p256::ecdsa::SigningKey as EcdsaKey;
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePrivateKey, LineEnding};

use super::TokenError;
use crate::secrets::Sealer;

/// A fresh P-256 key of generation `generation`, created at `now`, its private half sealed.
pub fn generate(sealer: &Sealer, generation: i64, now: DateTime<Utc>) -> Result<SigningKey, TokenError> {
    let secret = p256::SecretKey::generate();
    let pem = secret.to_pkcs8_pem(LineEnding::LF).map_err(|e| TokenError::Signing(format!("PKCS#8: {e}")))?;
    let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| TokenError::Signing(e.to_string()))?;
    let mut jwk =
        Jwk::from_encoding_key(&encoding, Algorithm::ES256).map_err(|e| TokenError::Signing(e.to_string()))?;
    let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(|e| TokenError::Signing(e.to_string()))?;
    jwk.common.key_id = Some(kid.clone());
    jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let public_jwk = serde_json::to_string(&jwk).map_err(|e| TokenError::Signing(e.to_string()))?;
    Ok(SigningKey {
        kid,
        generation,
        algorithm: ALGORITHM.to_owned(),
        public_jwk,
        private_key: sealer.seal(&pem),
        created_at: now,
        retired_at: None,
    })
}

/// The stored public JWK of `key`.
pub fn public_jwk(key: &SigningKey) -> Result<Jwk, TokenError> {
    serde_json::from_str(&key.public_jwk)
        .map_err(|e| TokenError::Key { kid: key.kid.clone(), why: format!("corrupt public JWK: {e}") })
}

/// The private key of `key`, opened with `sealer`.
pub fn encoding_key(sealer: &Sealer, key: &SigningKey) -> Result<EncodingKey, TokenError> {
    let pem = private_pem(sealer, key)?;
    EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| corrupt(key, e))
}

/// The private key of `key`, opened with `sealer`, parsed once for [`sign`].
pub fn signer(sealer: &Sealer, key: &SigningKey) -> Result<EcdsaKey, TokenError> {
    use p256::pkcs8::DecodePrivateKey;
    EcdsaKey::from_pkcs8_pem(&private_pem(sealer, key)?).map_err(|e| corrupt(key, e))
}

/// The PKCS#8 PEM of `key`'s private half, once it is known to be a key of [`ALGORITHM`].
fn private_pem(sealer: &Sealer, key: &SigningKey) -> Result<String, TokenError> {
    if key.algorithm != ALGORITHM {
        return Err(TokenError::Key {
            kid: key.kid.clone(),
            why: format!("algorithm {} is not {ALGORITHM}", key.algorithm),
        });
    }
    sealer.open(&key.private_key).map_err(|why| TokenError::Key { kid: key.kid.clone(), why })
}

fn corrupt(key: &SigningKey, err: impl std::fmt::Display) -> TokenError {
    TokenError::Key { kid: key.kid.clone(), why: format!("corrupt private key: {err}") }
}

/// A compact JWS of `claims` under `header` (ES256), exactly as `jsonwebtoken::encode` makes it,
/// with a key parsed once: jsonwebtoken parses the PKCS#8 document and derives the public point
/// again on every call, which costs more than the signature itself.
pub fn sign<T: serde::Serialize>(header: &Header, claims: &T, key: &EcdsaKey) -> Result<String, TokenError> {
    use p256::ecdsa::signature::Signer;
    if header.alg != Algorithm::ES256 {
        return Err(TokenError::Signing(format!("{:?} is not ES256", header.alg)));
    }
    let message = format!("{}.{}", encoded_part(header)?, encoded_part(claims)?);
    let signature: p256::ecdsa::Signature = key.sign(message.as_bytes());
    Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
}

/// base64url (no padding) of `value`'s JSON: one part of a compact JWS.
fn encoded_part<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, TokenError> {
    let json = serde_json::to_vec(value).map_err(|e| TokenError::Signing(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_sealed_and_its_kid_is_the_thumbprint() {
        let sealer = Sealer::new(Some(&base64::engine::general_purpose::STANDARD.encode([3u8; 32]))).unwrap();
        let key = generate(&sealer, 1, Utc::now()).unwrap();
        assert!(key.private_key.starts_with("v1:") && !key.private_key.contains("PRIVATE KEY"));
        let jwk = public_jwk(&key).unwrap();
        assert_eq!(jwk.common.key_id.as_deref(), Some(key.kid.as_str()));
        assert_eq!(jwk.thumbprint(ThumbprintHash::SHA256).unwrap(), key.kid);
        let json: serde_json::Value = serde_json::from_str(&key.public_jwk).unwrap();
        assert_eq!((json["kty"].as_str(), json["crv"].as_str()), (Some("EC"), Some("P-256")));
        assert_eq!((json["alg"].as_str(), json["use"].as_str()), (Some("ES256"), Some("sig")));
        assert!(json.get("d").is_none(), "the public JWK has no private part");
        assert!(encoding_key(&sealer, &key).is_ok());
        let other = Sealer::new(Some(&base64::engine::general_purpose::STANDARD.encode([4u8; 32]))).unwrap();
        assert!(matches!(encoding_key(&other, &key), Err(TokenError::Key { .. })));
        assert_ne!(generate(&sealer, 2, Utc::now()).unwrap().kid, key.kid);
    }

    #[test]
    fn a_token_signed_here_is_byte_for_byte_jsonwebtokens() {
        let sealer = Sealer::new(Some(&base64::engine::general_purpose::STANDARD.encode([3u8; 32]))).unwrap();
        let key = generate(&sealer, 1, Utc::now()).unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        header.typ = Some("keyward-approval+jwt".into());
        let claims = serde_json::json!({ "sub": "run-1", "exp": 4_102_444_800u64, "list": ["a", "b"] });
        let ours = sign(&header, &claims, &signer(&sealer, &key).unwrap()).unwrap();
        // ES256 here signs deterministically (RFC 6979), so the two must agree exactly.
        let theirs = jsonwebtoken::encode(&header, &claims, &encoding_key(&sealer, &key).unwrap()).unwrap();
        assert_eq!(ours, theirs);
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&public_jwk(&key).unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.set_required_spec_claims(&["exp"]);
        let decoded = jsonwebtoken::decode::<serde_json::Value>(&ours, &decoding, &validation).unwrap();
        assert_eq!(decoded.claims, claims);
        assert!(sign(&Header::new(Algorithm::HS256), &claims, &signer(&sealer, &key).unwrap()).is_err());
        let other = Sealer::new(Some(&base64::engine::general_purpose::STANDARD.encode([4u8; 32]))).unwrap();
        assert!(matches!(signer(&other, &key), Err(TokenError::Key { .. })));
    }
}
