//! Step-up tokens end to end: issued by the running app, keys fetched from
//! `GET /.well-known/jwks.json`, verified by an independent JOSE library (Node's `jose`) and by
//! `verify_offline`; every bad input refused with its reason; key rotation and pruning with an
//! injected clock; instances rotating at once agree on one key.

mod common;

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use common::TestApp;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use keyward_domain::repo::SigningKeyRepo;
use keyward_domain::step_up_token::StepUpTokenInput;
use keyward_gateway::secrets::Sealer;
use keyward_gateway::tokens::{
    MemoryReplayCache, ReplayCache, TokenError, TokenIssuer, TokenSettings, VerifyError, keys, load_jwks,
    verify_offline,
};
use serde_json::Value;

const ACTION: &str = "member.deactivate";

fn input(app: &TestApp, resource: &str) -> StepUpTokenInput {
    StepUpTokenInput {
        member: keyward_domain::ids::MemberId::new(),
        org: app.org,
        action: ACTION.into(),
        resource: resource.into(),
        user_verified: true,
        touched_at: Utc::now() - Duration::seconds(3),
    }
}

fn issuer_url(app: &TestApp) -> String {
    app.tokens().settings().issuer.clone()
}

fn jwks_url(app: &TestApp) -> String {
    format!("{}/.well-known/jwks.json", app.url)
}

async fn http_jwks(app: &TestApp) -> JwkSet {
    let response = app.client.get(jwks_url(app)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(header("cache-control"), "public, max-age=300");
    assert!(header("content-type").starts_with("application/json"), "{}", header("content-type"));
    response.json().await.unwrap()
}

fn kids(set: &JwkSet) -> Vec<String> {
    set.keys.iter().map(|k| k.common.key_id.clone().unwrap()).collect()
}

fn part(token: &str, index: usize) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(index).unwrap()).unwrap()).unwrap()
}

fn encode_part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// `node e2e/scripts/verify-step-up-token.mjs`: Ok(output JSON) or Err(the reason jose gave).
async fn jose_verify(app: &TestApp, token: &str) -> Result<Value, String> {
    let e2e = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../e2e");
    assert!(
        e2e.join("node_modules/jose/package.json").exists(),
        "e2e/node_modules/jose is missing: run `cd e2e && npm ci` (make test does it in its e2e-deps step)"
    );
    // tokio's process, not std's: the app answering jose's JWKS fetch runs on this runtime.
    let output = tokio::process::Command::new("node")
        .arg(e2e.join("scripts/verify-step-up-token.mjs"))
        .args([jwks_url(app), token.to_owned(), issuer_url(app)])
        .output()
        .await
        .expect("node must be installed (make test's e2e-tools step installs it)");
    match output.status.code() {
        Some(0) => Ok(serde_json::from_slice(&output.stdout).unwrap()),
        Some(2) => Err(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
        other => panic!("node failed ({other:?}): {}", String::from_utf8_lossy(&output.stderr)),
    }
}

async fn issued_tokens_verify_with_an_independent_jose_library(app: &TestApp) {
    let input = input(app, "member:42");
    let token = app.tokens().issue(&input).await.unwrap();
    let set = http_jwks(app).await;
    assert_eq!(set.keys.len(), 1);
    let header = part(&token, 0);
    assert_eq!((header["alg"].as_str(), header["typ"].as_str()), (Some("ES256"), Some("JWT")));
    assert_eq!(header["kid"].as_str().unwrap(), kids(&set)[0]);

    let verified = jose_verify(app, &token).await.expect("jose accepts the token");
    assert_eq!(verified["protectedHeader"], header);
    let payload = &verified["payload"];
    assert_eq!(payload["iss"], "http://localhost:8080");
    assert_eq!(payload["sub"], input.member.to_string());
    assert_eq!(payload["org"], app.org.to_string());
    assert_eq!((payload["action"].as_str(), payload["resource"].as_str()), (Some(ACTION), Some("member:42")));
    assert_eq!(payload["acr"], "urn:keyward:acr:hwk");
    assert_eq!(payload["amr"], serde_json::json!(["hwk", "user"]));
    assert_eq!(payload["auth_time"], input.touched_at.timestamp());
    assert_eq!(payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(), 300);
    assert_eq!(uuid::Uuid::parse_str(payload["jti"].as_str().unwrap()).unwrap().get_version_num(), 4);

    // jose is not a rubber stamp: a changed claim and the HS256 key swap fail there too.
    let mut claims = part(&token, 1);
    claims["resource"] = "member:43".into();
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], encode_part(&claims), parts[2]);
    let refused = jose_verify(app, &tampered).await.unwrap_err();
    assert!(refused.contains("ERR_JWS_SIGNATURE_VERIFICATION_FAILED"), "{refused}");
    let swapped = hs256_with_public_key(&set, &part(&token, 1));
    let refused = jose_verify(app, &swapped).await.unwrap_err();
    assert!(refused.contains("ERR_JOSE_ALG_NOT_ALLOWED"), "{refused}");

    // The same token through our own verifier, with the JWKS loaded from the URL.
    let loaded = load_jwks(&jwks_url(app)).await.unwrap();
    assert_eq!(loaded, set);
    let now = Utc::now().timestamp();
    let ours = verify_offline(&token, ACTION, "member:42", Some(&issuer_url(app)), &loaded, now, None).unwrap();
    assert_eq!(serde_json::to_value(&ours).unwrap(), *payload);
}

/// The classic confusion: HS256 "signed" with the verifier's public key as the HMAC secret.
fn hs256_with_public_key(set: &JwkSet, claims: &Value) -> String {
    use p256::pkcs8::{EncodePublicKey, LineEnding};
    let jwk = &set.keys[0];
    let AlgorithmParameters::EllipticCurve(ec) = &jwk.algorithm else { panic!("an EC key") };
    let mut point = vec![4u8];
    point.extend(URL_SAFE_NO_PAD.decode(&ec.x).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(&ec.y).unwrap());
    let public = p256::PublicKey::from_sec1_bytes(&point).unwrap();
    let pem = public.to_public_key_pem(LineEnding::LF).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = jwk.common.key_id.clone();
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(pem.as_bytes())).unwrap()
}

async fn bad_tokens_are_refused_with_their_reason(app: &TestApp) {
    let iss = issuer_url(app);
    let token = app.tokens().issue(&input(app, "member:42")).await.unwrap();
    let set = http_jwks(app).await;
    let now = Utc::now().timestamp();
    let check = |token: &str, action: &str, resource: &str, issuer: Option<&str>| {
        verify_offline(token, action, resource, issuer, &set, now, None)
    };
    assert!(check(&token, ACTION, "member:42", Some(&iss)).is_ok());

    let (header, claims) = (part(&token, 0), part(&token, 1));
    let mut none = header.clone();
    none["alg"] = "none".into();
    let unsigned = format!("{}.{}.", encode_part(&none), encode_part(&claims));
    assert_eq!(check(&unsigned, ACTION, "member:42", Some(&iss)), Err(VerifyError::AlgorithmNotAllowed("none".into())));
    let swapped = hs256_with_public_key(&set, &claims);
    assert_eq!(check(&swapped, ACTION, "member:42", Some(&iss)), Err(VerifyError::AlgorithmNotAllowed("HS256".into())));

    // A key that is not in the JWKS, and a real kid over another key's signature.
    let stranger = keys::generate(&Sealer::new(None).unwrap(), 1, Utc::now()).unwrap();
    let stranger_key = keys::encoding_key(&Sealer::new(None).unwrap(), &stranger).unwrap();
    let mut es256 = Header::new(Algorithm::ES256);
    es256.kid = Some(stranger.kid.clone());
    let foreign = jsonwebtoken::encode(&es256, &claims, &stranger_key).unwrap();
    assert_eq!(check(&foreign, ACTION, "member:42", Some(&iss)), Err(VerifyError::UnknownKid(stranger.kid.clone())));
    es256.kid = header["kid"].as_str().map(str::to_owned);
    let forged = jsonwebtoken::encode(&es256, &claims, &stranger_key).unwrap();
    assert_eq!(check(&forged, ACTION, "member:42", Some(&iss)), Err(VerifyError::BadSignature));
    let mut changed = claims.clone();
    changed["resource"] = "member:43".into();
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], encode_part(&changed), parts[2]);
    assert_eq!(check(&tampered, ACTION, "member:43", Some(&iss)), Err(VerifyError::BadSignature));

    assert!(matches!(
        check(&token, "member.reactivate", "member:42", Some(&iss)),
        Err(VerifyError::WrongAction { .. })
    ));
    assert!(matches!(check(&token, ACTION, "member:4", Some(&iss)), Err(VerifyError::WrongResource { .. })));
    assert!(matches!(check(&token, ACTION, "member:42", Some("https://evil")), Err(VerifyError::WrongIssuer { .. })));
    for garbage in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.", &format!("{}.e30.sig", encode_part(&Value::Null))] {
        assert!(matches!(check(garbage, ACTION, "member:42", None), Err(VerifyError::Malformed(_))), "{garbage:?}");
    }

    // Expired: issued 400 s ago with the 300 s lifetime (30 s leeway).
    let old = app.tokens().issue_at(&input(app, "member:42"), Utc::now() - Duration::seconds(400)).await.unwrap();
    let exp = part(&old, 1)["exp"].as_i64().unwrap();
    assert_eq!(check(&old, ACTION, "member:42", Some(&iss)), Err(VerifyError::Expired { exp, now }));
    assert!(verify_offline(&old, ACTION, "member:42", Some(&iss), &set, exp + 30, None).is_ok(), "within leeway");

    // Replay: a token works once per cache; a refused attempt does not burn its jti.
    let mut cache = MemoryReplayCache::new();
    let verify = |action: &str, cache: &mut dyn ReplayCache| {
        verify_offline(&token, action, "member:42", Some(&iss), &set, now, Some(cache))
    };
    assert!(matches!(verify("member.reactivate", &mut cache), Err(VerifyError::WrongAction { .. })));
    assert!(verify(ACTION, &mut cache).is_ok());
    let jti = claims["jti"].as_str().unwrap().to_owned();
    assert_eq!(verify(ACTION, &mut cache), Err(VerifyError::Replayed(jti)));
    assert_eq!(cache.len(), 1);
    let other = app.tokens().issue(&input(app, "member:42")).await.unwrap();
    assert!(verify_offline(&other, ACTION, "member:42", Some(&iss), &set, now, Some(&mut cache)).is_ok());
}

async fn rotation_publishes_both_keys_until_the_old_ones_tokens_expired(app: &TestApp) {
    let issuer = app.tokens();
    let day = Duration::days(1);
    // Arranged so that the real clock (the HTTP JWKS) falls inside the rotation window.
    let t0 = Utc::now() - day - Duration::seconds(100);
    let first = issuer.issue_at(&input(app, "org:1"), t0).await.unwrap();
    let k1 = part(&first, 0)["kid"].as_str().unwrap().to_owned();
    assert_eq!(kids(&issuer.jwks_at(t0).await.unwrap()), [k1.as_str()]);
    assert_eq!(kids(&issuer.jwks_at(t0 + day - Duration::seconds(1)).await.unwrap()), [k1.as_str()]);

    let t1 = t0 + day;
    let during = issuer.issue_at(&input(app, "org:1"), t1).await.unwrap();
    assert_eq!(part(&during, 0)["kid"], k1, "the old key signs until the new one is in every cached JWKS");
    let both = issuer.jwks_at(t1).await.unwrap();
    assert_eq!(both.keys.len(), 2);
    let k2 = kids(&both)[1].clone();
    assert_eq!(kids(&http_jwks(app).await), [k1.clone(), k2.clone()]);

    let t2 = t1 + Duration::seconds(300);
    let after = issuer.issue_at(&input(app, "org:1"), t2).await.unwrap();
    assert_eq!(part(&after, 0)["kid"], k2);
    let set = issuer.jwks_at(t2).await.unwrap();
    let verify = |token: &str, set: &JwkSet, now: DateTime<Utc>| {
        let iss = issuer_url(app);
        verify_offline(token, ACTION, "org:1", Some(&iss), set, now.timestamp(), None)
    };
    assert!(verify(&during, &set, t2).is_ok(), "a retired key's token verifies while the key is published");
    assert!(verify(&after, &set, t2).is_ok());

    // The old key's last token (approval tokens live longest: an hour) expired at t2 + that
    // lifetime (+30 s leeway, +30 s for lagging clocks).
    let longest = issuer.settings().publication_ttl().num_seconds();
    assert_eq!(longest, 3600, "approval tokens outlive step-up tokens");
    let t3 = t2 + Duration::seconds(longest + 60);
    assert_eq!(kids(&issuer.jwks_at(t3 - Duration::seconds(1)).await.unwrap()), [k1.clone(), k2.clone()]);
    let only_new = issuer.jwks_at(t3).await.unwrap();
    assert_eq!(kids(&only_new), [k2.as_str()]);
    let iat = part(&during, 1)["iat"].as_i64().unwrap();
    let iss = issuer_url(app);
    assert_eq!(
        verify_offline(&during, ACTION, "org:1", Some(&iss), &only_new, iat, None),
        Err(VerifyError::UnknownKid(k1.clone())),
        "once its key is gone, the old token fails even at its own issue time"
    );
    let stored: Vec<_> = app.db.signing_keys().await.unwrap().into_iter().map(|k| k.kid).collect();
    assert_eq!(stored, [k2], "the unpublished key was deleted from the database");
}

fn second_instance(app: &TestApp, sealer: Sealer) -> TokenIssuer {
    let settings = TokenSettings { issuer: issuer_url(app), ..app.tokens().settings().clone() };
    TokenIssuer::new(app.db.clone(), sealer, settings)
}

async fn instances_rotating_at_once_agree_on_one_key(app: &TestApp) {
    let (a, b) = (app.tokens(), second_instance(app, Sealer::new(None).unwrap()));
    let t0 = Utc::now() - Duration::days(2);
    let one = input(app, "org:1");
    let (x, y) = tokio::join!(a.issue_at(&one, t0), b.issue_at(&one, t0));
    assert_eq!(part(&x.unwrap(), 0)["kid"], part(&y.unwrap(), 0)["kid"], "one first key");
    let t1 = t0 + Duration::days(1);
    let (x, y) = tokio::join!(a.issue_at(&one, t1), b.issue_at(&one, t1));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(app.db.signing_keys().await.unwrap().len(), 2, "one successor, not two");
    let (sa, sb) = (a.jwks_at(t1).await.unwrap(), b.jwks_at(t1).await.unwrap());
    assert_eq!(sa, sb);
    let iss = issuer_url(app);
    for token in [&x, &y] {
        assert!(verify_offline(token, ACTION, "org:1", Some(&iss), &sa, t1.timestamp(), None).is_ok());
    }
}

async fn an_unknown_kid_sends_the_issuer_to_the_database(app: &TestApp) {
    let a = app.tokens();
    let hour = Duration::hours(1);
    let settings = TokenSettings { rotation: hour, ..a.settings().clone() };
    let b = TokenIssuer::new(app.db.clone(), Sealer::new(None).unwrap(), settings);
    let l = Utc::now() - Duration::days(1);
    a.issue_at(&input(app, "org:1"), l - hour * 2).await.unwrap();
    assert_eq!(a.jwks_at(l).await.unwrap().keys.len(), 1, "a has read the table at l");
    // b's clock lags a's by 290 s and b rotates hourly: it adds a key a has not seen, which signs
    // from l + 10 s on.
    b.jwks_at(l - Duration::seconds(290)).await.unwrap();
    let token = b.issue_at(&input(app, "org:1"), l + Duration::seconds(20)).await.unwrap();
    let kid = part(&token, 0)["kid"].as_str().unwrap().to_owned();
    assert_eq!(app.db.signing_keys().await.unwrap().len(), 2);
    // 20 s after its last read, a has no reason to look again but this token's unknown kid.
    let claims = a.verify_at(&token, ACTION, "org:1", None, l + Duration::seconds(20)).await.unwrap();
    assert_eq!(claims.resource, "org:1");
    assert!(kids(&a.jwks_at(l + Duration::seconds(20)).await.unwrap()).contains(&kid));
}

async fn private_keys_are_sealed_with_the_secrets_key(app: &TestApp) {
    let key = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    let sealed = second_instance(app, Sealer::new(Some(&key(1))).unwrap());
    sealed.issue(&input(app, "org:1")).await.unwrap();
    let stored = app.db.signing_keys().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].private_key.starts_with("v1:"), "sealed like SSO client secrets");
    assert!(!stored[0].private_key.contains("PRIVATE KEY"));
    let wrong = second_instance(app, Sealer::new(Some(&key(2))).unwrap());
    let err = wrong.issue(&input(app, "org:1")).await.unwrap_err();
    assert!(matches!(&err, TokenError::Key { kid, .. } if *kid == stored[0].kid), "{err}");
    assert!(err.to_string().contains("does not open with this secrets_key"), "{err}");
}

on_both_backends! {
    issued_tokens_verify_with_an_independent_jose_library,
    bad_tokens_are_refused_with_their_reason,
    rotation_publishes_both_keys_until_the_old_ones_tokens_expired,
    instances_rotating_at_once_agree_on_one_key,
    an_unknown_kid_sends_the_issuer_to_the_database,
    private_keys_are_sealed_with_the_secrets_key,
}
