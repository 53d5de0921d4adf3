//! Approval tokens made by the test: signed with the app's real key (claims the issuer would never
//! produce, such as a missing `exp`), with a stranger's key, unsigned, or HMAC'd with the public key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keyward_domain::repo::SigningKeyRepo;
use keyward_gateway::secrets::Sealer;
use keyward_gateway::tokens::keys;
use serde_json::{Value, json};

use crate::common::TestApp;

/// Claims of an approval for `run`/`stage`/`environment`/`digest`, valid for an hour from now.
pub fn claims(digest: &str, run: &str, stage: &str, environment: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": "http://localhost:8080", "sub": uuid::Uuid::new_v4().to_string(), "org": uuid::Uuid::new_v4().to_string(),
        "token_use": "approval", "digest": digest, "pipeline": "infra/deploy", "run": run, "stage": stage,
        "environment": environment, "commit": "0123456789abcdef0123456789abcdef01234567",
        "approvers": [{ "member": uuid::Uuid::new_v4().to_string(), "credential": "Y3JlZA" }], "amr": ["hwk"],
        "iat": now, "exp": now + 3600, "jti": uuid::Uuid::new_v4().to_string(), "policy_version": 0,
    })
}

fn header(alg: Algorithm, kid: &str) -> Header {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header.typ = Some("kw-approval+jwt".into());
    header
}

/// The app's current signing key: (kid, private key).
pub async fn app_key(app: &TestApp) -> (String, EncodingKey) {
    app.tokens().jwks().await.unwrap();
    let stored = app.db.signing_keys().await.unwrap();
    let current = stored.iter().max_by_key(|k| k.generation).expect("a signing key");
    (current.kid.clone(), keys::encoding_key(&Sealer::new(None).unwrap(), current).unwrap())
}

/// `claims` signed by the app's key, as a real token is.
pub async fn signed(app: &TestApp, claims: &Value) -> String {
    let (kid, key) = app_key(app).await;
    jsonwebtoken::encode(&header(Algorithm::ES256, &kid), claims, &key).unwrap()
}

/// `claims` signed by a key Keyward never had: under its own kid, and under the app's kid.
pub async fn foreign(app: &TestApp, claims: &Value) -> (String, String) {
    let sealer = Sealer::new(None).unwrap();
    let stranger = keys::generate(&sealer, 1, chrono::Utc::now()).unwrap();
    let key = keys::encoding_key(&sealer, &stranger).unwrap();
    let own = jsonwebtoken::encode(&header(Algorithm::ES256, &stranger.kid), claims, &key).unwrap();
    let (kid, _) = app_key(app).await;
    let borrowed = jsonwebtoken::encode(&header(Algorithm::ES256, &kid), claims, &key).unwrap();
    (own, borrowed)
}

fn part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// `alg: none`, no signature.
pub async fn unsigned(app: &TestApp, claims: &Value) -> String {
    let (kid, _) = app_key(app).await;
    format!("{}.{}.", part(&json!({ "alg": "none", "typ": "kw-approval+jwt", "kid": kid })), part(claims))
}

/// The classic confusion: HS256 with the verifier's public key (PEM) as the HMAC secret.
pub fn hs256_with_public_key(set: &JwkSet, claims: &Value) -> String {
    use p256::pkcs8::{EncodePublicKey, LineEnding};
    let jwk = &set.keys[0];
    let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else { panic!("an EC key") };
    let mut point = vec![4u8];
    point.extend(URL_SAFE_NO_PAD.decode(&ec.x).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(&ec.y).unwrap());
    let pem = p256::PublicKey::from_sec1_bytes(&point).unwrap().to_public_key_pem(LineEnding::LF).unwrap();
    let kid = jwk.common.key_id.clone().unwrap();
    jsonwebtoken::encode(&header(Algorithm::HS256, &kid), claims, &EncodingKey::from_secret(pem.as_bytes())).unwrap()
}
