//! Checks on a ceremony response before any signature is verified: shape, `id` = `rawId`,
//! credential-ID length, the client data's `origin` (exactly), `crossOrigin` and `topOrigin`, and
//! the user handle.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use keyward_domain::DomainError;
use keyward_domain::security_key::CREDENTIAL_ID_MAX_BYTES;
use serde_json::Value;
use url::Url;

fn b64(value: &str) -> Option<Vec<u8>> {
    let trimmed = value.trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(trimmed).ok().or_else(|| URL_SAFE.decode(value).ok())
}

fn refuse(reason: &str) -> DomainError {
    DomainError::CeremonyFailed(reason.to_owned())
}

fn field<'a>(value: &'a Value, name: &str) -> Result<&'a str, DomainError> {
    value.get(name).and_then(Value::as_str).ok_or_else(|| DomainError::bad_input("response", format!("missing {name}")))
}

/// What the pre-checks found, for later steps.
#[derive(Debug)]
pub struct Checked {
    /// The raw credential ID.
    pub credential_id: Vec<u8>,
}

/// Which ceremony a response answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `navigator.credentials.create`.
    Registration,
    /// `navigator.credentials.get`.
    Assertion,
}

/// Checks the client data's `origin`, `crossOrigin` and `topOrigin` (WebAuthn L3 §7.1 step 9,
/// §7.2 step 13). The origin is compared as the exact string a browser serializes
/// (`https://host[:port]`): the verifier parses it as a URL, which would let
/// `https://host/` or `https://host/any/path` pass for `https://host`.
fn check_client_origin(client_data: &Value, origins: &[Url]) -> Result<(), DomainError> {
    let origin = client_data
        .get("origin")
        .and_then(Value::as_str)
        .ok_or_else(|| DomainError::bad_input("response", "clientDataJSON has no origin"))?;
    if !origins.iter().any(|allowed| allowed.origin().ascii_serialization() == origin) {
        return Err(refuse("the response came from an origin this server does not accept"));
    }
    if client_data.get("crossOrigin").and_then(Value::as_bool) == Some(true) {
        return Err(refuse("cross-origin ceremonies are not accepted"));
    }
    // Present only when the ceremony ran in a cross-origin iframe, which we never allow.
    if client_data.get("topOrigin").is_some() {
        return Err(refuse("ceremonies embedded in another site (topOrigin) are not accepted"));
    }
    Ok(())
}

/// Runs the pre-checks on a response as the client sent it. `member` is the session's member,
/// whose ID is the WebAuthn user handle; `origins` are the relying party's.
pub fn precheck(response: &Value, kind: Kind, member: &uuid::Uuid, origins: &[Url]) -> Result<Checked, DomainError> {
    if !response.is_object() {
        return Err(DomainError::bad_input("response", "expected a PublicKeyCredential JSON object"));
    }
    let id = field(response, "id")?;
    let raw_id = field(response, "rawId")?;
    if id.trim_end_matches('=') != raw_id.trim_end_matches('=') {
        return Err(refuse("the credential's id and rawId differ"));
    }
    let credential_id = b64(raw_id).ok_or_else(|| DomainError::bad_input("response", "rawId is not base64url"))?;
    if credential_id.len() > CREDENTIAL_ID_MAX_BYTES {
        return Err(refuse("the credential ID is longer than WebAuthn allows (1023 bytes)"));
    }
    if credential_id.is_empty() {
        return Err(DomainError::bad_input("response", "rawId is empty"));
    }
    let inner = response
        .get("response")
        .filter(|v| v.is_object())
        .ok_or_else(|| DomainError::bad_input("response", "missing response"))?;
    match (kind, inner.get("attestationObject").is_some()) {
        (Kind::Assertion, true) => return Err(refuse("this is a registration response, not an assertion")),
        (Kind::Registration, false) if inner.get("authenticatorData").is_some() => {
            return Err(refuse("this is an assertion, not a registration response"));
        }
        _ => {}
    }
    let client_data = b64(field(inner, "clientDataJSON")?)
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .ok_or_else(|| DomainError::bad_input("response", "clientDataJSON is not base64url JSON"))?;
    check_client_origin(&client_data, origins)?;
    if kind == Kind::Assertion
        && let Some(handle) = inner.get("userHandle").and_then(Value::as_str).filter(|h| !h.is_empty())
        && b64(handle).as_deref() != Some(member.as_bytes().as_slice())
    {
        return Err(DomainError::KeyNotRegistered);
    }
    Ok(Checked { credential_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn origins() -> Vec<Url> {
        vec![Url::parse("https://keyward.example.com").unwrap(), Url::parse("http://localhost:8080/").unwrap()]
    }

    fn client(data: Value) -> Value {
        json!(encode(data.to_string().as_bytes()))
    }

    fn precheck(response: &Value, kind: Kind, member: &uuid::Uuid) -> Result<Checked, DomainError> {
        super::precheck(response, kind, member, &origins())
    }

    fn assertion(member: &uuid::Uuid) -> Value {
        json!({
            "id": encode(b"cred"),
            "rawId": encode(b"cred"),
            "type": "public-key",
            "response": {
                "clientDataJSON": client(json!({"type":"webauthn.get","origin":"http://localhost:8080","crossOrigin":false})),
                "authenticatorData": "AA",
                "signature": "AA",
                "userHandle": encode(member.as_bytes()),
            }
        })
    }

    #[test]
    fn a_well_formed_assertion_passes() {
        let member = uuid::Uuid::new_v4();
        assert_eq!(precheck(&assertion(&member), Kind::Assertion, &member).unwrap().credential_id, b"cred");
    }

    #[test]
    fn each_bad_shape_is_refused_before_verification() {
        let member = uuid::Uuid::new_v4();
        let mut differ = assertion(&member);
        differ["id"] = json!(encode(b"other"));
        assert!(matches!(precheck(&differ, Kind::Assertion, &member), Err(DomainError::CeremonyFailed(_))));

        let mut long = assertion(&member);
        long["id"] = json!(encode(&[7u8; 1024]));
        long["rawId"] = long["id"].clone();
        assert!(matches!(precheck(&long, Kind::Assertion, &member), Err(DomainError::CeremonyFailed(_))));

        let mut cross = assertion(&member);
        cross["response"]["clientDataJSON"] =
            client(json!({"type":"webauthn.get","origin":"http://localhost:8080","crossOrigin":true}));
        assert!(matches!(precheck(&cross, Kind::Assertion, &member), Err(DomainError::CeremonyFailed(_))));

        let other = uuid::Uuid::new_v4();
        assert!(matches!(precheck(&assertion(&member), Kind::Assertion, &other), Err(DomainError::KeyNotRegistered)));

        let mut registration = assertion(&member);
        registration["response"]["attestationObject"] = json!("AA");
        assert!(matches!(precheck(&registration, Kind::Assertion, &member), Err(DomainError::CeremonyFailed(_))));

        assert!(matches!(precheck(&json!("nope"), Kind::Assertion, &member), Err(DomainError::BadInput { .. })));
        let mut no_origin = assertion(&member);
        no_origin["response"]["clientDataJSON"] = client(json!({"type":"webauthn.get"}));
        assert!(matches!(precheck(&no_origin, Kind::Assertion, &member), Err(DomainError::BadInput { .. })));
        assert!(matches!(precheck(&json!({"id": "x"}), Kind::Assertion, &member), Err(DomainError::BadInput { .. })));
    }

    fn with_client_data(member: &uuid::Uuid, kind: Kind, data: Value) -> Result<Checked, DomainError> {
        let mut response = assertion(member);
        if kind == Kind::Registration {
            let inner = response["response"].as_object_mut().unwrap();
            inner.remove("authenticatorData");
            inner.insert("attestationObject".into(), json!("AA"));
        }
        response["response"]["clientDataJSON"] = client(data);
        precheck(&response, kind, member)
    }

    #[test]
    fn the_origin_must_be_exactly_a_serialized_origin_we_serve() {
        let member = uuid::Uuid::new_v4();
        for kind in [Kind::Registration, Kind::Assertion] {
            for origin in ["http://localhost:8080", "https://keyward.example.com"] {
                assert!(with_client_data(&member, kind, json!({ "origin": origin })).is_ok(), "{origin}");
            }
            for origin in [
                "http://localhost:8080/",
                "https://keyward.example.com/",
                "https://keyward.example.com/login",
                "https://keyward.example.com:443",
                "HTTPS://keyward.example.com",
                "https://KEYWARD.example.com",
                "http://localhost:9999",
                "https://evil.keyward.example.com",
                "null",
                "",
            ] {
                let refused = with_client_data(&member, kind, json!({ "origin": origin }));
                assert!(matches!(refused, Err(DomainError::CeremonyFailed(_))), "{origin}: {refused:?}");
            }
            let not_a_string = with_client_data(&member, kind, json!({ "origin": ["http://localhost:8080"] }));
            assert!(matches!(not_a_string, Err(DomainError::BadInput { .. })));
        }
    }

    #[test]
    fn a_top_origin_is_refused_like_cross_origin() {
        let member = uuid::Uuid::new_v4();
        for kind in [Kind::Registration, Kind::Assertion] {
            for top in [json!("https://evil.example"), json!("http://localhost:8080"), json!(null), json!("")] {
                let data = json!({ "origin": "http://localhost:8080", "crossOrigin": false, "topOrigin": top });
                let refused = with_client_data(&member, kind, data);
                assert!(
                    matches!(&refused, Err(DomainError::CeremonyFailed(m)) if m.contains("topOrigin")),
                    "{top}: {refused:?}"
                );
            }
        }
    }
}
