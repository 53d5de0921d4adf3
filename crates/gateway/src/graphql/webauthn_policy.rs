//! The WebAuthn policy as the API shows and takes it, and what saving one would do.

use async_graphql::{Enum, InputObject, SimpleObject};
use keyward_domain::DomainError;
use keyward_domain::webauthn_policy::{
    AttestationPreference as DomainAttestation, UserVerification as DomainUv, WebauthnPolicy as DomainPolicy,
};

use super::org::AtRiskMember;

/// User verification requirement.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum UserVerification {
    /// Every ceremony must verify the user (PIN or biometric).
    Required,
    /// Asked for, not enforced.
    Preferred,
    /// Not asked for.
    Discouraged,
}

/// Attestation conveyance preference.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum AttestationPreference {
    /// No attestation.
    None,
    /// Attestation when offered.
    Indirect,
    /// Attestation from the authenticator.
    Direct,
}

/// The organization's WebAuthn policy, enforced on the result of every ceremony.
#[derive(SimpleObject, InputObject, Clone, Debug)]
#[graphql(input_name = "WebauthnPolicyInput")]
pub struct WebauthnPolicy {
    /// User verification.
    pub user_verification: UserVerification,
    /// Attestation preference.
    pub attestation: AttestationPreference,
    /// When non-empty, only these authenticator models (AAGUIDs) may be used. A model counts only
    /// when a verified attestation proves it: the list needs `attestation` (DIRECT) and attestation
    /// roots configured on the server (`webauthn.attestation_roots`).
    #[graphql(default)]
    pub allowed_aaguids: Vec<String>,
    /// Authenticator models (AAGUIDs) that may never be used. Like the allow list, it needs a
    /// verified attestation: keys whose model is not proven are refused while it is set.
    #[graphql(default)]
    pub denied_aaguids: Vec<String>,
    /// Refuse synced passkeys (backup-eligible credentials).
    pub device_bound_only: bool,
    /// How long the browser waits for the key (10-600 seconds).
    pub ceremony_timeout_seconds: u32,
    /// Refuse a login whose signature counter went backwards (always audited).
    #[graphql(default)]
    pub reject_counter_regression: bool,
}

impl From<DomainPolicy> for WebauthnPolicy {
    fn from(p: DomainPolicy) -> Self {
        Self {
            user_verification: match p.user_verification {
                DomainUv::Required => UserVerification::Required,
                DomainUv::Preferred => UserVerification::Preferred,
                DomainUv::Discouraged => UserVerification::Discouraged,
            },
            attestation: match p.attestation {
                DomainAttestation::None => AttestationPreference::None,
                DomainAttestation::Indirect => AttestationPreference::Indirect,
                DomainAttestation::Direct => AttestationPreference::Direct,
            },
            allowed_aaguids: p.allowed_aaguids.iter().map(ToString::to_string).collect(),
            denied_aaguids: p.denied_aaguids.iter().map(ToString::to_string).collect(),
            device_bound_only: p.device_bound_only,
            ceremony_timeout_seconds: p.ceremony_timeout_seconds,
            reject_counter_regression: p.reject_counter_regression,
        }
    }
}

fn parse_aaguids(field: &str, values: &[String]) -> Result<Vec<uuid::Uuid>, DomainError> {
    values
        .iter()
        .map(|v| v.trim().parse().map_err(|_| DomainError::bad_input(field, format!("{v:?} is not an AAGUID"))))
        .collect()
}

impl TryFrom<WebauthnPolicy> for DomainPolicy {
    type Error = DomainError;
    fn try_from(p: WebauthnPolicy) -> Result<Self, DomainError> {
        Ok(DomainPolicy {
            user_verification: match p.user_verification {
                UserVerification::Required => DomainUv::Required,
                UserVerification::Preferred => DomainUv::Preferred,
                UserVerification::Discouraged => DomainUv::Discouraged,
            },
            attestation: match p.attestation {
                AttestationPreference::None => DomainAttestation::None,
                AttestationPreference::Indirect => DomainAttestation::Indirect,
                AttestationPreference::Direct => DomainAttestation::Direct,
            },
            allowed_aaguids: parse_aaguids("allowedAaguids", &p.allowed_aaguids)?,
            denied_aaguids: parse_aaguids("deniedAaguids", &p.denied_aaguids)?,
            device_bound_only: p.device_bound_only,
            ceremony_timeout_seconds: p.ceremony_timeout_seconds,
            reject_counter_regression: p.reject_counter_regression,
        })
    }
}

/// One field a WebAuthn policy change touches.
#[derive(SimpleObject)]
pub struct WebauthnPolicyChange {
    /// The input field (`userVerification`, `allowedAaguids`, ...).
    pub field: String,
    /// Its stored value, as text.
    pub from: String,
    /// The new value, as text.
    pub to: String,
}

/// What saving a WebAuthn policy would do.
#[derive(SimpleObject)]
pub struct WebauthnPolicyPreview {
    /// Fields that change.
    pub changes: Vec<WebauthnPolicyChange>,
    /// Active members with keys whose every key the new policy refuses, with each key's reason.
    pub members_left_without_key: Vec<AtRiskMember>,
    /// Why the server refuses to save it (it would leave you, or every admin, without an accepted
    /// key); null when it may be saved.
    pub refusal: Option<String>,
}
