//! The organization's WebAuthn policy, checked on the *result* of every ceremony (DESIGN §5).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How strongly user verification (PIN, biometric) is asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserVerification {
    /// Every registration and assertion must carry the UV flag.
    Required,
    /// Asked for, not enforced.
    #[default]
    Preferred,
    /// Not asked for.
    Discouraged,
}

/// Whether to ask authenticators for attestation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AttestationPreference {
    /// No attestation (privacy-preserving; the AAGUID may be zero).
    #[default]
    None,
    /// Attestation when the authenticator offers it.
    Indirect,
    /// Attestation straight from the authenticator.
    Direct,
}

/// An organization's rules for security keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WebauthnPolicy {
    /// User verification requirement.
    pub user_verification: UserVerification,
    /// Attestation conveyance preference.
    pub attestation: AttestationPreference,
    /// When non-empty, only these authenticator models may be used.
    pub allowed_aaguids: Vec<Uuid>,
    /// These authenticator models may never be used.
    pub denied_aaguids: Vec<Uuid>,
    /// Reject credentials that may be synced to other devices (passkeys).
    pub device_bound_only: bool,
    /// How long the browser waits for the key, in seconds.
    pub ceremony_timeout_seconds: u32,
    /// Refuse a login whose signature counter went backwards (always audited either way).
    pub reject_counter_regression: bool,
}

impl Default for WebauthnPolicy {
    fn default() -> Self {
        Self {
            user_verification: UserVerification::Preferred,
            attestation: AttestationPreference::None,
            allowed_aaguids: Vec::new(),
            denied_aaguids: Vec::new(),
            device_bound_only: false,
            ceremony_timeout_seconds: 300,
            reject_counter_regression: false,
        }
    }
}

/// What a ceremony's result says about the credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CredentialFacts {
    /// The authenticator model, if known.
    pub aaguid: Option<Uuid>,
    /// The credential may be synced.
    pub backup_eligible: bool,
    /// The user was verified in this ceremony.
    pub user_verified: bool,
}

impl WebauthnPolicy {
    /// Checks a ceremony result; the error says why it is refused, in words for the user.
    pub fn check(&self, facts: &CredentialFacts) -> Result<(), String> {
        if self.user_verification == UserVerification::Required && !facts.user_verified {
            return Err("your organization requires user verification (PIN or biometric) on security keys".into());
        }
        if self.device_bound_only && facts.backup_eligible {
            return Err("your organization accepts only device-bound security keys, not synced passkeys".into());
        }
        let model = facts.aaguid.unwrap_or(Uuid::nil());
        if self.denied_aaguids.contains(&model) {
            return Err(format!("your organization does not allow this authenticator model ({model})"));
        }
        if !self.allowed_aaguids.is_empty() && !self.allowed_aaguids.contains(&model) {
            return Err(format!("this authenticator model ({model}) is not on your organization's allow list"));
        }
        Ok(())
    }

    /// Checks the policy's own values; the error names the field.
    pub fn validate(&self) -> Result<(), crate::DomainError> {
        if !(10..=600).contains(&self.ceremony_timeout_seconds) {
            return Err(crate::DomainError::bad_input("ceremonyTimeoutSeconds", "use 10 to 600 seconds"));
        }
        if let Some(both) = self.allowed_aaguids.iter().find(|a| self.denied_aaguids.contains(a)) {
            return Err(crate::DomainError::bad_input("deniedAaguids", format!("{both} is both allowed and denied")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YUBIKEY: Uuid = Uuid::from_u128(0xcb69481e_8ff7_4039_93ec_0a2729a154a8);

    fn facts(uv: bool, backup: bool, aaguid: Option<Uuid>) -> CredentialFacts {
        CredentialFacts { aaguid, backup_eligible: backup, user_verified: uv }
    }

    #[test]
    fn the_default_accepts_any_key() {
        assert!(WebauthnPolicy::default().check(&facts(false, true, None)).is_ok());
    }

    #[test]
    fn required_uv_needs_the_flag() {
        let policy = WebauthnPolicy { user_verification: UserVerification::Required, ..Default::default() };
        assert!(policy.check(&facts(false, false, None)).unwrap_err().contains("user verification"));
        assert!(policy.check(&facts(true, false, None)).is_ok());
    }

    #[test]
    fn device_bound_only_rejects_synced_credentials() {
        let policy = WebauthnPolicy { device_bound_only: true, ..Default::default() };
        assert!(policy.check(&facts(true, true, None)).is_err());
        assert!(policy.check(&facts(true, false, None)).is_ok());
    }

    #[test]
    fn allow_and_deny_lists_apply_to_the_model() {
        let allow = WebauthnPolicy { allowed_aaguids: vec![YUBIKEY], ..Default::default() };
        assert!(allow.check(&facts(true, false, Some(YUBIKEY))).is_ok());
        assert!(allow.check(&facts(true, false, None)).is_err(), "unknown models are not on the list");
        let deny = WebauthnPolicy { denied_aaguids: vec![YUBIKEY], ..Default::default() };
        assert!(deny.check(&facts(true, false, Some(YUBIKEY))).is_err());
        assert!(deny.check(&facts(true, false, None)).is_ok());
    }

    #[test]
    fn policies_validate_their_fields() {
        assert!(WebauthnPolicy::default().validate().is_ok());
        let slow = WebauthnPolicy { ceremony_timeout_seconds: 5, ..Default::default() };
        assert!(slow.validate().is_err());
        let both =
            WebauthnPolicy { allowed_aaguids: vec![YUBIKEY], denied_aaguids: vec![YUBIKEY], ..Default::default() };
        assert!(both.validate().is_err());
    }

    #[test]
    fn stored_policies_may_omit_fields() {
        let policy: WebauthnPolicy = serde_json::from_str(r#"{"deviceBoundOnly": true}"#).unwrap();
        assert!(policy.device_bound_only);
        assert_eq!(policy.ceremony_timeout_seconds, 300);
    }
}
