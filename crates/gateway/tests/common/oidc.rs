//! An in-test OIDC issuer: discovery, JWKS, and a token endpoint that signs real RS256 ID tokens,
//! with switches to misbehave (tampered signature, wrong audience, wrong nonce, expired, rotated
//! key).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "keyward-test";
pub const CLIENT_SECRET: &str = "keyward-test-secret";

/// A person at the IdP.
#[derive(Clone, Debug)]
pub struct IdpUser {
    pub sub: String,
    pub email: String,
    pub username: String,
    pub groups: Vec<String>,
}

impl IdpUser {
    pub fn new(name: &str) -> Self {
        Self { sub: format!("sub-{name}"), email: format!("{name}@example.com"), username: name.into(), groups: vec![] }
    }

    pub fn admin(name: &str) -> Self {
        Self { groups: vec!["keyward-admins".into()], ..Self::new(name) }
    }
}

/// Ways the next token can be wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    BadSignature,
    WrongAudience,
    WrongNonce,
    Expired,
    WrongIssuer,
}

struct Grant {
    user: IdpUser,
    nonce: String,
    challenge: String,
}

struct IdpState {
    issuer: String,
    grants: HashMap<String, Grant>,
    signing_key: u8,
    published: Vec<u8>,
    tamper: Option<Tamper>,
    discovery_overrides: serde_json::Map<String, Value>,
}

pub struct TestIdp {
    pub issuer: String,
    state: Arc<Mutex<IdpState>>,
}

fn jwk(n: u8) -> Value {
    let text = match n {
        1 => include_str!("../fixtures/oidc-jwks-1.json"),
        _ => include_str!("../fixtures/oidc-jwks-2.json"),
    };
    serde_json::from_str::<Value>(text).unwrap()["keys"][0].clone()
}

fn pem(n: u8) -> &'static [u8] {
    match n {
        1 => include_bytes!("../fixtures/oidc-rsa-1.pem"),
        _ => include_bytes!("../fixtures/oidc-rsa-2.pem"),
    }
}

impl TestIdp {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let issuer = format!("http://127.0.0.1:{}", addr.port());
        let state = Arc::new(Mutex::new(IdpState {
            issuer: issuer.clone(),
            grants: HashMap::new(),
            signing_key: 1,
            published: vec![1],
            tamper: None,
            discovery_overrides: Default::default(),
        }));
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { issuer, state }
    }

    /// The user "logs in" at the authorization URL; returns the code and the state to finish with.
    pub fn authorize(&self, authorization_url: &str, user: &IdpUser) -> (String, String) {
        let url = url::Url::parse(authorization_url).unwrap();
        let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(params["response_type"], "code");
        assert_eq!(params["code_challenge_method"], "S256", "PKCE S256 is always used");
        assert_eq!(params["client_id"], CLIENT_ID);
        assert!(params["scope"].split(' ').any(|s| s == "openid"));
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        self.state.lock().unwrap().grants.insert(
            code.clone(),
            Grant { user: user.clone(), nonce: params["nonce"].clone(), challenge: params["code_challenge"].clone() },
        );
        (code, params["state"].clone())
    }

    pub fn tamper_next(&self, tamper: Tamper) {
        self.state.lock().unwrap().tamper = Some(tamper);
    }

    /// Serves `value` as `field` of the discovery document from now on.
    pub fn serve_in_discovery(&self, field: &str, value: &str) {
        self.state.lock().unwrap().discovery_overrides.insert(field.into(), json!(value));
    }

    /// Signs with a second key from now on and publishes both (a key rotation).
    pub fn rotate_key(&self) {
        let mut state = self.state.lock().unwrap();
        state.signing_key = 2;
        state.published = vec![1, 2];
    }
}

async fn discovery(State(state): State<Arc<Mutex<IdpState>>>) -> Json<Value> {
    let (issuer, overrides) = {
        let state = state.lock().unwrap();
        (state.issuer.clone(), state.discovery_overrides.clone())
    };
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "groups"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    });
    document.as_object_mut().unwrap().extend(overrides);
    Json(document)
}

async fn jwks(State(state): State<Arc<Mutex<IdpState>>>) -> Json<Value> {
    let published = state.lock().unwrap().published.clone();
    Json(json!({ "keys": published.into_iter().map(jwk).collect::<Vec<_>>() }))
}

fn client_authenticated(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let expected = format!("{CLIENT_ID}:{CLIENT_SECRET}");
    basic.as_deref() == Some(expected.as_str())
        || (form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET))
}

async fn token(
    State(state): State<Arc<Mutex<IdpState>>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let refuse = |error: &str| (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response();
    if !client_authenticated(&headers, &form) {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "invalid_client" }))).into_response();
    }
    let mut state = state.lock().unwrap();
    let Some(grant) = form.get("code").and_then(|code| state.grants.remove(code)) else {
        return refuse("invalid_grant");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return refuse("invalid_grant");
    }
    let now = chrono::Utc::now().timestamp();
    let tamper = state.tamper.take();
    let mut claims = json!({
        "iss": state.issuer,
        "sub": grant.user.sub,
        "aud": CLIENT_ID,
        "exp": now + 300,
        "iat": now,
        "nonce": grant.nonce,
        "email": grant.user.email,
        "email_verified": true,
        "preferred_username": grant.user.username,
        "name": grant.user.username,
        "groups": grant.user.groups,
    });
    match tamper {
        Some(Tamper::WrongAudience) => claims["aud"] = json!("someone-else"),
        Some(Tamper::WrongNonce) => claims["nonce"] = json!("not-the-nonce"),
        Some(Tamper::Expired) => {
            claims["exp"] = json!(now - 600);
            claims["iat"] = json!(now - 900);
        }
        Some(Tamper::WrongIssuer) => claims["iss"] = json!("https://evil.example"),
        _ => {}
    }
    let key = state.signing_key;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(format!("test-key-{key}"));
    let mut id_token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(pem(key)).unwrap()).unwrap();
    if tamper == Some(Tamper::BadSignature) {
        // Change the payload after signing: the signature no longer matches.
        let mut parts: Vec<String> = id_token.split('.').map(str::to_owned).collect();
        claims["sub"] = json!("sub-mallory");
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        id_token = parts.join(".");
    }
    Json(json!({ "access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token }))
        .into_response()
}
