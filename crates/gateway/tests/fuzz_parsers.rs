//! Property tests ("fuzzing" on stable Rust) of every gateway parser of untrusted bytes: the
//! WebAuthn pre-check, registration and assertion responses down through the verifier, the AAGUID
//! and attestation-root parsers, configuration values, and over HTTP the `JSON` scalar, cursors,
//! ceremony IDs, SSO state and session tokens. Each property: no panic, and `Ok` or a typed
//! refusal (never `INTERNAL`); where input could blow memory up (deep or huge JSON), a limit
//! refuses it. `PROPTEST_CASES` sets the case count (`make fuzz` runs many more).

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::authn::soft_key;
use common::{Store, TestApp};
use keyward_domain::DomainError;
use keyward_domain::session::SessionStage;
use keyward_domain::webauthn_policy::WebauthnPolicy;
use keyward_gateway::config::Config;
use keyward_gateway::webauthn::{self, RelyingParty, aaguid, attestation, precheck};
use keyward_testkit::{TestDb, browser};
use proptest::prelude::*;
use proptest::test_runner::{Config as Cases, TestRunner};
use serde_json::{Value, json};
use url::Url;
use webauthn_rs_core::proto::{
    AuthenticationState, Credential, PublicKeyCredential, RegisterPublicKeyCredential, RegistrationState,
};

const ORIGIN: &str = "http://localhost:8080";

/// `PROPTEST_CASES` cases (else `default`), nothing persisted.
fn cases(default: u32) -> Cases {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default);
    Cases { cases, failure_persistence: None, ..Cases::default() }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A base64url field: of random bytes, of bytes that are JSON, or not base64 at all.
fn b64_field() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80).prop_map(|b| Value::from(URL_SAFE_NO_PAD.encode(b))),
        json_value().prop_map(|v| Value::from(URL_SAFE_NO_PAD.encode(v.to_string()))),
        "\\PC{0,40}".prop_map(Value::from),
        json_value(),
    ]
}

/// Client data as a browser, an attacker or a broken client might write it.
fn client_data() -> impl Strategy<Value = Value> {
    let origin = prop_oneof![
        Just(json!(ORIGIN)),
        Just(json!(format!("{ORIGIN}/"))),
        "\\PC{0,30}".prop_map(Value::from),
        json_value()
    ];
    let flag = prop_oneof![Just(None), Just(Some(json!(true))), Just(Some(json!(false))), json_value().prop_map(Some)];
    (origin, flag.clone(), flag, json_value()).prop_map(|(origin, cross, top, challenge)| {
        let mut data = json!({ "type": "webauthn.get", "origin": origin, "challenge": challenge });
        if let Some(cross) = cross {
            data["crossOrigin"] = cross;
        }
        if let Some(top) = top {
            data["topOrigin"] = top;
        }
        Value::from(URL_SAFE_NO_PAD.encode(data.to_string()))
    })
}

/// A ceremony response: well-shaped with arbitrary parts, or any JSON at all.
fn response() -> impl Strategy<Value = Value> {
    let shaped =
        (b64_field(), b64_field(), prop_oneof![client_data(), b64_field()], b64_field(), b64_field(), any::<u8>())
            .prop_map(|(id, raw_id, client, data, signature, shape)| {
                let same = if shape & 1 == 0 { id.clone() } else { raw_id };
                let mut inner = json!({ "clientDataJSON": client, "signature": signature });
                let key = if shape & 2 == 0 { "authenticatorData" } else { "attestationObject" };
                inner[key] = data;
                if shape & 4 == 0 {
                    inner["userHandle"] =
                        Value::from(URL_SAFE_NO_PAD.encode(uuid::Uuid::from_u128(u128::from(shape)).as_bytes()));
                }
                json!({ "id": id, "rawId": same, "type": "public-key", "response": inner })
            });
    prop_oneof![3 => shaped, 1 => json_value()]
}

fn rp() -> RelyingParty {
    RelyingParty {
        id: "localhost".into(),
        name: "Keyward".into(),
        origins: vec![Url::parse(ORIGIN).unwrap()],
        attestation_roots: None,
    }
}

fn is_refusal(err: &DomainError) -> bool {
    matches!(
        err,
        DomainError::BadInput { .. }
            | DomainError::CeremonyFailed(_)
            | DomainError::PolicyDenied(_)
            | DomainError::KeyNotRegistered
    )
}

/// The gateway's path for an assertion: pre-check, parse, verify.
fn assert_path(response: &Value, state: &AuthenticationState, member: &uuid::Uuid) -> Result<(), DomainError> {
    precheck::precheck(response, precheck::Kind::Assertion, member, &rp().origins)?;
    let parsed: PublicKeyCredential =
        serde_json::from_value(response.clone()).map_err(|e| DomainError::bad_input("response", e.to_string()))?;
    webauthn::finish_authentication(&rp(), &WebauthnPolicy::default(), &parsed, state).map(|_| ())
}

/// The gateway's path for a registration: pre-check, parse, verify.
fn register_path(response: &Value, state: &RegistrationState, member: &uuid::Uuid) -> Result<Credential, DomainError> {
    precheck::precheck(response, precheck::Kind::Registration, member, &rp().origins)?;
    let parsed: RegisterPublicKeyCredential =
        serde_json::from_value(response.clone()).map_err(|e| DomainError::bad_input("response", e.to_string()))?;
    webauthn::finish_registration(&rp(), &WebauthnPolicy::default(), &parsed, state)
}

/// Flips, truncates or replaces the bytes of one base64url field.
fn mutate(value: &mut Value, edit: (u8, usize, u8, Vec<u8>)) {
    let (how, at, bits, junk) = edit;
    let Some(mut bytes) = value.as_str().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok()) else { return };
    match how % 4 {
        0 if !bytes.is_empty() => {
            let i = at % bytes.len();
            bytes[i] ^= bits.max(1);
        }
        1 => bytes.truncate(at % (bytes.len() + 1)),
        2 => bytes.extend(junk),
        _ => bytes = junk,
    }
    *value = Value::from(URL_SAFE_NO_PAD.encode(bytes));
}

fn edit() -> impl Strategy<Value = (u8, u8, usize, u8, Vec<u8>)> {
    (any::<u8>(), any::<u8>(), any::<usize>(), any::<u8>(), prop::collection::vec(any::<u8>(), 0..64))
}

#[test]
fn precheck_refuses_or_passes_any_response() {
    let member = uuid::Uuid::from_u128(7);
    TestRunner::new(cases(512))
        .run(&(response(), any::<bool>()), |(response, registration)| {
            let kind = if registration { precheck::Kind::Registration } else { precheck::Kind::Assertion };
            match precheck::precheck(&response, kind, &member, &rp().origins) {
                Ok(checked) => prop_assert!(!checked.credential_id.is_empty() && checked.credential_id.len() <= 1023),
                Err(err) => prop_assert!(is_refusal(&err), "{err:?}"),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn assertions_are_verified_or_refused_whatever_their_bytes() {
    let member = uuid::Uuid::from_u128(7);
    let policy = WebauthnPolicy::default();
    let mut key = soft_key(true);
    let (options, state) = webauthn::start_registration(&rp(), &policy, member, "m", "M", vec![]).unwrap();
    let credential = register_path(&browser::create(&mut key, &options, ORIGIN), &state, &member).unwrap();
    let (options, state) = webauthn::start_authentication(&rp(), &policy, vec![credential]).unwrap();
    let valid = browser::get(&mut key, &options, ORIGIN);
    assert_path(&valid, &state, &member).expect("the untouched assertion verifies");
    let fields = ["clientDataJSON", "authenticatorData", "signature", "userHandle"];
    TestRunner::new(cases(256))
        .run(&(edit(), prop::option::of(response())), |((field, how, at, bits, junk), replacement)| {
            let mut response = valid.clone();
            if let Some(other) = replacement {
                response = other;
            } else {
                mutate(&mut response["response"][fields[usize::from(field) % fields.len()]], (how, at, bits, junk));
            }
            if let Err(err) = assert_path(&response, &state, &member) {
                prop_assert!(is_refusal(&err), "{err:?}");
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn registrations_are_verified_or_refused_whatever_their_bytes() {
    let member = uuid::Uuid::from_u128(7);
    let (options, state) =
        webauthn::start_registration(&rp(), &WebauthnPolicy::default(), member, "m", "M", vec![]).unwrap();
    let valid = browser::create(&mut soft_key(true), &options, ORIGIN);
    register_path(&valid, &state, &member).expect("the untouched registration verifies");
    TestRunner::new(cases(256))
        .run(&(edit(), any::<bool>()), |((field, how, at, bits, junk), cbor)| {
            let mut response = valid.clone();
            let target = if field % 2 == 0 { "attestationObject" } else { "clientDataJSON" };
            mutate(&mut response["response"][target], (how, at, bits, junk.clone()));
            if cbor {
                // Well-formed CBOR of the wrong shape, rather than random bytes.
                let odd = serde_cbor_2::Value::Map(BTreeMap::from([(
                    serde_cbor_2::Value::Text("authData".into()),
                    serde_cbor_2::Value::Bytes(junk),
                )]));
                response["response"]["attestationObject"] =
                    Value::from(URL_SAFE_NO_PAD.encode(serde_cbor_2::to_vec(&odd).unwrap()));
            }
            if let Err(err) = register_path(&response, &state, &member) {
                prop_assert!(is_refusal(&err), "{err:?}");
            }
            let bytes = response["response"]["attestationObject"].as_str().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
            let _ = aaguid::from_attestation_object(&bytes.unwrap_or_default());
            Ok(())
        })
        .unwrap();
}

#[test]
fn attestation_root_bundles_parse_or_are_refused() {
    let block = prop_oneof![
        "\\PC{0,200}",
        prop::collection::vec(any::<u8>(), 0..300).prop_map(|der| {
            let body = base64::engine::general_purpose::STANDARD.encode(der);
            format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
        }),
        Just("-----BEGIN CERTIFICATE-----\n".to_owned()),
    ];
    TestRunner::new(cases(256))
        .run(&prop::collection::vec(block, 0..4), |blocks| {
            let _ = attestation::parse_roots(&blocks.concat());
            Ok(())
        })
        .unwrap();
}

/// Configuration values from the environment, where a typo or a hostile deployment tool can put
/// anything: each loads or is refused with a message naming the key.
#[test]
fn configuration_values_load_or_are_refused() {
    // Keys that name files are left out: the file would be read, and `/dev/zero` never ends.
    let key = prop::sample::select(vec![
        "KEYWARD_LISTEN",
        "KEYWARD_PUBLIC_URL",
        "KEYWARD_DATABASE_URL",
        "KEYWARD_REDIS_URL",
        "KEYWARD_GRAPHIQL",
        "KEYWARD_TRUSTED_PROXIES",
        "KEYWARD_SECRETS_KEY",
        "KEYWARD_INTROSPECTION",
        "KEYWARD_WEBAUTHN__RP_ID",
        "KEYWARD_WEBAUTHN__RP_NAME",
        "KEYWARD_WEBAUTHN__ORIGINS",
        "KEYWARD_SESSION__ABSOLUTE_TTL",
        "KEYWARD_SESSION__IDLE_TTL",
        "KEYWARD_CEREMONY__TTL",
        "KEYWARD_LOG__FORMAT",
        "KEYWARD_LOG__LEVEL",
        "KEYWARD_BOOTSTRAP__ORGANIZATION_SLUG",
        "KEYWARD_LIMITS__BODY_BYTES",
        "KEYWARD_LIMITS__QUERY_DEPTH",
        "KEYWARD_WEBAUTHN",
        "KEYWARD_SESSION",
    ]);
    let value = prop_oneof![
        "\\PC{0,40}",
        "[0-9]{1,30}[a-zµ ]{0,6}",
        "[0-9]{1,25}(ns|us|ms|s|m|h|d|w|y)",
        "(https?|redis|postgres|sqlite|ftp)://[a-z0-9.:@\\[\\]/?#%-]{0,30}",
        "[0-9.:\\[\\]a-f]{0,30}",
        "\\[[^\\]]{0,30}\\]",
        "\\{[^}]{0,30}\\}",
        "-?[0-9]{1,40}(\\.[0-9]{0,10})?(e-?[0-9]{1,4})?",
    ];
    TestRunner::new(cases(256))
        .run(&prop::collection::vec((key, value), 0..4), |vars| {
            let vars: Vec<(String, String)> = vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            if let Err(err) = Config::from_sources(None, &vars) {
                prop_assert!(err.0.iter().all(|problem| !problem.is_empty()), "{err}");
            }
            Ok(())
        })
        .unwrap();
}

/// A running gateway on SQLite and the in-process store, driven from proptest's synchronous
/// runner: an admin session, and a member session waiting for its key.
struct Live {
    rt: tokio::runtime::Runtime,
    app: TestApp,
    admin: String,
    pending: String,
}

impl Live {
    fn start() -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (app, admin, pending) = rt.block_on(async {
            let app = TestApp::start(TestDb::sqlite().await, Store::Memory).await;
            let admin = app.session_for(&app.admin().await, SessionStage::Authenticated).await;
            let pending = app.session_for(&app.member("m").await, SessionStage::MfaRequired).await;
            (app, admin, pending)
        });
        Self { rt, app, admin, pending }
    }

    /// POSTs `body` as JSON to `/graphql` with `token`; returns the status and the body as JSON
    /// (`Null` when it is not JSON).
    fn post(&self, body: String, token: Option<&str>) -> (u16, Value) {
        let over_limit = body.len() > self.app.running.state.config.limits.body_bytes;
        self.rt.block_on(async {
            let mut request = self
                .app
                .client
                .post(format!("{}/graphql", self.app.url))
                .header("content-type", "application/json")
                // A body over the limit makes the server answer 413 and close the connection; a
                // pooled connection it closed would fail the next case with IncompleteMessage.
                .header("connection", "close")
                .body(body);
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let response = match request.send().await {
                Ok(response) => response,
                // The server answers 413 and closes the connection before reading a body over the
                // limit; a client still sending sees the connection end first. Refused unread
                // either way.
                Err(err) if over_limit && err.is_request() => return (413, Value::Null),
                Err(err) => panic!("the gateway answers: {err:?}"),
            };
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        })
    }

    fn stop(self) {
        self.rt.block_on(self.app.stop());
    }
}

const REFUSALS: [&str; 9] = [
    "BAD_USER_INPUT",
    "UNAUTHENTICATED",
    "CEREMONY_EXPIRED",
    "CEREMONY_FAILED",
    "RATE_LIMITED",
    "NOT_FOUND",
    "SSO_NOT_CONFIGURED",
    "FORBIDDEN",
    "MFA_REQUIRED",
];

/// The answer is data, or errors that each carry a typed refusal: never `INTERNAL`, never a 5xx.
fn typed(status: u16, body: &Value) -> Result<(), TestCaseError> {
    prop_assert!(matches!(status, 200 | 400 | 413), "status {status}: {body}");
    if status == 413 {
        return Ok(());
    }
    if let Some(errors) = body["errors"].as_array() {
        for error in errors {
            let code = error["extensions"]["code"].as_str().unwrap_or("<none>");
            prop_assert!(REFUSALS.contains(&code), "{code}: {body}");
        }
    } else {
        prop_assert!(body["data"].is_object(), "{body}");
    }
    Ok(())
}

/// Nested values as text, `depth` levels of lists or objects (`key` is `"a"` for JSON, `a` for
/// GraphQL literals): built as a string so the test itself never holds a value that deep.
fn nested(depth: usize, objects: bool, key: &str) -> String {
    if objects {
        format!("{}1{}", format!("{{{key}:").repeat(depth), "}".repeat(depth))
    } else {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }
}

/// A regression the properties below found: list and object literals nested a few thousand deep
/// in the query text overflowed the parser's stack and aborted the whole process.
#[test]
fn deeply_nested_literals_are_refused_before_parsing() {
    let live = Live::start();
    for (objects, key) in [(false, "a"), (true, "a"), (true, "\"a\"")] {
        let value = nested(5000, objects, key);
        let query = format!("mutation {{ mfaLoginFinish(ceremonyId: \"x\", response: {value}) {{ stage }} }}");
        let (status, answer) = live.post(json!({ "query": query }).to_string(), Some(&live.pending));
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    let (status, answer) = live.post(json!({ "query": "{ viewer { id } }" }).to_string(), Some(&live.admin));
    assert_eq!((status, answer["data"]["viewer"].is_object()), (200, true), "{answer}");
    live.stop();
}

#[test]
fn the_json_scalar_and_request_bodies_are_bounded() {
    let live = Live::start();
    let finish = "mutation($c: ID!, $r: JSON!) { mfaLoginFinish(ceremonyId: $c, response: $r) { stage } }";
    let input = prop_oneof![
        json_value().prop_map(|v| (v.to_string(), 0usize)),
        (1usize..2000, any::<bool>()).prop_map(|(depth, objects)| (nested(depth, objects, "\"a\""), depth)),
        (1usize..2000, any::<bool>()).prop_map(|(depth, objects)| (nested(depth, objects, "a"), depth)),
        (0usize..200_000).prop_map(|len| (format!("\"{}\"", "a".repeat(len)), 0)),
    ];
    TestRunner::new(cases(64))
        .run(&(input, any::<bool>(), "\\PC{0,40}"), |((json, depth), inline, ceremony)| {
            let body = if inline {
                // The same value as a literal in the query text (GraphQL syntax is close enough:
                // where it is not, the parser refuses it).
                let query = format!("mutation {{ mfaLoginFinish(ceremonyId: \"x\", response: {json}) {{ stage }} }}");
                json!({ "query": query }).to_string()
            } else {
                format!("{{\"query\":{},\"variables\":{{\"c\":{},\"r\":{json}}}}}", json!(finish), json!(ceremony))
            };
            let (status, answer) = live.post(body.clone(), Some(&live.pending));
            typed(status, &answer)?;
            if body.len() > live.app.running.state.config.limits.body_bytes {
                prop_assert_eq!(status, 413, "bodies over the limit are refused unread");
            } else if depth > 128 {
                prop_assert!(answer["errors"].is_array(), "JSON {depth} deep must be refused: {answer}");
            }
            Ok(())
        })
        .unwrap();
    // Still serving after all of it.
    let (status, answer) = live.post(json!({ "query": "{ viewer { id } }" }).to_string(), Some(&live.admin));
    assert_eq!((status, answer["data"]["viewer"].is_object()), (200, true), "{answer}");
    live.stop();
}

#[test]
fn cursors_ceremony_ids_sso_state_and_tokens_are_refused_cleanly() {
    let live = Live::start();
    let text = prop_oneof![
        "\\PC{0,60}",
        "[0-9a-f-]{36}",
        "[0-9]{1,30}",
        "-[0-9]{1,20}",
        "[0-9a-f]{32}\\.[0-9a-f-]{36}\\.[A-Za-z0-9_-]{0,44}(\\.link)?",
        "kw1\\.[0-9a-f]{32}\\.[A-Za-z0-9_-]{43}",
    ];
    let which = 0u8..6;
    TestRunner::new(cases(128))
        .run(&(which, text), |(which, raw)| {
            let v = json!(raw);
            let (query, variables, token) = match which {
                0 => ("query($a: String) { auditEvents(after: $a) { nodes { seq } } }", json!({ "a": v }), Some(live.admin.as_str())),
                1 => ("query($a: String) { organization { members(after: $a) { nodes { keyCount } } } }", json!({ "a": v }), Some(live.admin.as_str())),
                2 => ("mutation($c: ID!) { mfaLoginFinish(ceremonyId: $c, response: {}) { stage } }", json!({ "c": v }), Some(live.pending.as_str())),
                3 => ("mutation($c: ID!) { securityKeyRegistrationFinish(ceremonyId: $c, response: {}) { sessionToken } }", json!({ "c": v }), Some(live.admin.as_str())),
                4 => ("mutation($s: String!) { ssoLoginFinish(code: \"c\", state: $s) { stage } }", json!({ "s": v }), None),
                _ => ("{ viewer { id } }", json!({}), Some(raw.as_str())),
            };
            // Header values cannot carry every character; the client refuses those before sending.
            if which == 5 && raw.chars().any(|c| c.is_control() || !c.is_ascii()) {
                return Ok(());
            }
            let (status, answer) = live.post(json!({ "query": query, "variables": variables }).to_string(), token);
            typed(status, &answer)?;
            if which == 5 && raw != live.admin {
                prop_assert!(answer["data"]["viewer"].is_null(), "a token we did not issue is nobody: {answer}");
            }
            Ok(())
        })
        .unwrap();
    live.stop();
}
