//! Property tests ("fuzzing" on stable Rust) of the domain's parsers of untrusted input: session
//! tokens, IDs, roles, key names and stored WebAuthn policies. Each property: no panic, and either
//! a value that round-trips or a refusal. `PROPTEST_CASES` sets the case count (`make fuzz` runs
//! many more); failures are not persisted, so CI runs are deterministic in what they keep.

use keyward_domain::ids::{CeremonyId, MemberId, OrgId};
use keyward_domain::member::Role;
use keyward_domain::security_key::{KEY_NAME_MAX_CHARS, normalize_key_name};
use keyward_domain::session::SessionToken;
use keyward_domain::webauthn_policy::{CredentialFacts, WebauthnPolicy};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value};

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Strings that look like a session token in part: right or wrong prefix, hex or not, base64url
/// or not, and stray separators.
fn token_like() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![Just("kw1".to_owned()), "kw[0-9]", "\\PC{0,4}"];
    let org = prop_oneof!["[0-9a-f]{32}", "[0-9a-fA-F-]{30,40}", "\\PC{0,40}"];
    let secret = prop_oneof!["[A-Za-z0-9_-]{43}", "[A-Za-z0-9_=+/-]{0,64}", "\\PC{0,64}"];
    let extra = prop_oneof![Just(String::new()), "\\.\\PC{0,8}"];
    (prefix, org, secret, extra).prop_map(|(p, o, s, e)| format!("{p}.{o}.{s}{e}"))
}

/// A leaf JSON value of any type.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        prop_oneof![Just("REQUIRED"), Just("DIRECT"), Just("NONE"), Just("INDIRECT"), Just("PREFERRED")]
            .prop_map(Value::from),
    ]
}

/// A stored policy as the database might hold it after any history: known fields with values of
/// any type (lists of UUIDs or of anything), unknown fields, missing fields.
fn policy_json() -> impl Strategy<Value = Value> {
    let field = prop_oneof![
        Just("userVerification".to_owned()),
        Just("attestation".to_owned()),
        Just("allowedAaguids".to_owned()),
        Just("deniedAaguids".to_owned()),
        Just("deviceBoundOnly".to_owned()),
        Just("ceremonyTimeoutSeconds".to_owned()),
        Just("rejectCounterRegression".to_owned()),
        "\\PC{0,12}",
    ];
    let uuid = any::<u128>().prop_map(|n| Value::from(uuid::Uuid::from_u128(n % 4).to_string()));
    let value = prop_oneof![leaf(), prop::collection::vec(prop_oneof![uuid, leaf()], 0..4).prop_map(Value::Array)];
    prop::collection::vec((field, value), 0..8)
        .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>()))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn session_tokens_parse_or_are_refused(raw in prop_oneof![token_like(), any::<String>()]) {
        if let Some(token) = SessionToken::parse(&raw) {
            // Whatever parses is a token we could have issued, and means exactly that.
            prop_assert_eq!(SessionToken::parse(&token.expose()), Some(token.clone()));
            prop_assert_eq!(token.hash(), SessionToken::parse(&token.expose()).unwrap().hash());
        }
    }

    #[test]
    fn issued_tokens_always_parse_back(org in any::<u128>(), secret in any::<[u8; 32]>()) {
        let token = SessionToken::from_random(OrgId(uuid::Uuid::from_u128(org)), secret);
        prop_assert_eq!(SessionToken::parse(&token.expose()), Some(token));
    }

    #[test]
    fn ids_and_roles_parse_or_are_refused(raw in prop_oneof!["[0-9a-fA-F-]{30,40}", any::<String>()]) {
        if let Ok(id) = raw.parse::<CeremonyId>() {
            prop_assert_eq!(id.to_string().parse::<CeremonyId>().ok(), Some(id));
        }
        let _ = raw.parse::<OrgId>();
        let _ = raw.parse::<MemberId>();
        if let Ok(role) = raw.parse::<Role>() {
            prop_assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
        }
    }

    #[test]
    fn key_names_are_normalized_or_refused(raw in any::<String>()) {
        if let Ok(name) = normalize_key_name(&raw) {
            prop_assert!(!name.is_empty() && name.chars().count() <= KEY_NAME_MAX_CHARS);
            prop_assert!(!name.chars().any(char::is_control));
            prop_assert_eq!(normalize_key_name(&name).ok(), Some(name.clone()));
        }
    }

    #[test]
    fn stored_policies_parse_and_judge_without_panicking(
        json in policy_json(),
        aaguid in prop::option::of(any::<u128>()),
        flags in any::<(bool, bool)>(),
    ) {
        if let Ok(policy) = serde_json::from_value::<WebauthnPolicy>(json) {
            let _ = policy.validate(true);
            let _ = policy.validate(false);
            let facts = CredentialFacts {
                aaguid: aaguid.map(|n| uuid::Uuid::from_u128(n % 4)),
                backup_eligible: flags.0,
                user_verified: flags.1,
            };
            if policy.check(&facts).is_ok() && policy.needs_attestation() {
                // A listed model can only ever pass when it is known.
                prop_assert!(facts.aaguid.is_some());
            }
        }
    }
}
