//! Checks on a ceremony response before any signature is verified: shape, `id` = `rawId`,
//! credential-ID length, `crossOrigin`, and the user handle.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use keyward_domain::DomainError;
use keyward_domain::security_key::CREDENTIAL_ID_MAX_BYTES;
use serde_json::Value;

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

/// Runs the pre-checks on a response as the client sent it. `member` is the session's member,
/// whose ID is the WebAuthn user handle.
pub fn precheck(response: &Value, kind: Kind, member: &uuid::Uuid) -> Result<Checked, DomainError> {
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
    if client_data.get("crossOrigin").and_then(Value::as_bool) == Some(true) {
        return Err(refuse("cross-origin ceremonies are not accepted"));
    }
    if kind == Kind::Assertion
        && let Some(handle) = inner.get("userHandle").and_then(Value::as_str).filter(|h| !h.is_empty())
        && b64(handle).as_deref() != Some(member.as_bytes().as_slice())
    {
        return Err(refuse("this key belongs to another account"));
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

    fn assertion(member: &uuid::Uuid) -> Value {
        json!({
            "id": encode(b"cred"),
            "rawId": encode(b"cred"),
            "type": "public-key",
            "response": {
                "clientDataJSON": encode(br#"{"type":"webauthn.get","crossOrigin":false}"#),
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
        cross["response"]["clientDataJSON"] = json!(encode(br#"{"type":"webauthn.get","crossOrigin":true}"#));
        assert!(matches!(precheck(&cross, Kind::Assertion, &member), Err(DomainError::CeremonyFailed(_))));

        let other = uuid::Uuid::new_v4();
        assert!(matches!(precheck(&assertion(&member), Kind::Assertion, &other), Err(DomainError::CeremonyFailed(_))));

        let mut registration = assertion(&member);
        registration["response"]["attestationObject"] = json!("AA");
        assert!(matches!(precheck(&registration, Kind::Assertion, &member), Err(DomainError::CeremonyFailed(_))));

        assert!(matches!(precheck(&json!("nope"), Kind::Assertion, &member), Err(DomainError::BadInput { .. })));
        assert!(matches!(precheck(&json!({"id": "x"}), Kind::Assertion, &member), Err(DomainError::BadInput { .. })));
    }
}
