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
    /// When non-empty, only these authenticator models may be used. A model is known only from a
    /// verified attestation, so a list needs attestation and trusted roots (see [`Self::validate`]).
    pub allowed_aaguids: Vec<Uuid>,
    /// These authenticator models may never be used; like the allow list, it needs a verified
    /// attestation (a key can claim any model it likes in unverified data).
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
    /// The authenticator model, only when a verified attestation proves it (never the model a key
    /// merely claims).
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
        if !self.needs_attestation() {
            return Ok(());
        }
        // A model that no verified attestation proves is unknown: neither list can be applied to
        // it, and a key could claim any model it likes.
        let Some(model) = facts.aaguid else {
            return Err("your organization accepts only security keys whose model is proven by a verified \
                        attestation, and this key's is not"
                .into());
        };
        if self.denied_aaguids.contains(&model) {
            return Err(format!("your organization does not allow this authenticator model ({model})"));
        }
        if !self.allowed_aaguids.is_empty() && !self.allowed_aaguids.contains(&model) {
            return Err(format!("this authenticator model ({model}) is not on your organization's allow list"));
        }
        Ok(())
    }

    /// Whether the policy names authenticator models, which only a verified attestation can prove.
    pub fn needs_attestation(&self) -> bool {
        !self.allowed_aaguids.is_empty() || !self.denied_aaguids.is_empty()
    }

    /// Checks the policy's own values; the error names the field. `attestation_roots` says whether
    /// the server trusts any attestation roots, without which no model can be verified.
    pub fn validate(&self, attestation_roots: bool) -> Result<(), crate::DomainError> {
        if !(10..=600).contains(&self.ceremony_timeout_seconds) {
            return Err(crate::DomainError::bad_input("ceremonyTimeoutSeconds", "use 10 to 600 seconds"));
        }
        if let Some(both) = self.allowed_aaguids.iter().find(|a| self.denied_aaguids.contains(a)) {
            return Err(crate::DomainError::bad_input("deniedAaguids", format!("{both} is both allowed and denied")));
        }
        if self.needs_attestation() {
            let field = if self.allowed_aaguids.is_empty() { "deniedAaguids" } else { "allowedAaguids" };
            if self.attestation == AttestationPreference::None {
                return Err(crate::DomainError::bad_input(
                    "attestation",
                    "AAGUID allow and deny lists need attestation (DIRECT): a key's model is known only from a \
                     verified attestation",
                ));
            }
            if !attestation_roots {
                return Err(crate::DomainError::bad_input(
                    field,
                    "this server trusts no attestation roots (webauthn.attestation_roots), so it cannot verify \
                     any key's model: configure them before listing AAGUIDs",
                ));
            }
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
        assert!(allow.check(&facts(true, false, Some(Uuid::from_u128(7)))).is_err());
        assert!(allow.check(&facts(true, false, None)).is_err(), "unverified models are not on the list");
        let deny = WebauthnPolicy { denied_aaguids: vec![YUBIKEY], ..Default::default() };
        assert!(deny.check(&facts(true, false, Some(YUBIKEY))).is_err());
        assert!(deny.check(&facts(true, false, Some(Uuid::from_u128(7)))).is_ok());
        // A denied model could hide behind a missing or unverified attestation: refused too.
        let unverified = deny.check(&facts(true, false, None)).unwrap_err();
        assert!(unverified.contains("verified attestation"), "{unverified}");
    }

    #[test]
    fn policies_validate_their_fields() {
        assert!(WebauthnPolicy::default().validate(false).is_ok());
        let slow = WebauthnPolicy { ceremony_timeout_seconds: 5, ..Default::default() };
        assert!(slow.validate(true).is_err());
        let both = WebauthnPolicy {
            allowed_aaguids: vec![YUBIKEY],
            denied_aaguids: vec![YUBIKEY],
            attestation: AttestationPreference::Direct,
            ..Default::default()
        };
        assert!(both.validate(true).is_err());
    }

    fn field_of(err: crate::DomainError) -> String {
        match err {
            crate::DomainError::BadInput { field, .. } => field,
            other => panic!("expected BadInput, got {other:?}"),
        }
    }

    #[test]
    fn model_lists_need_attestation_and_trusted_roots() {
        let allow = WebauthnPolicy { allowed_aaguids: vec![YUBIKEY], ..Default::default() };
        assert_eq!(field_of(allow.validate(true).unwrap_err()), "attestation", "no attestation asked for");
        let deny = WebauthnPolicy { denied_aaguids: vec![YUBIKEY], ..Default::default() };
        assert_eq!(field_of(deny.validate(true).unwrap_err()), "attestation");
        let attested = WebauthnPolicy { attestation: AttestationPreference::Direct, ..allow };
        assert_eq!(field_of(attested.validate(false).unwrap_err()), "allowedAaguids", "no roots to verify with");
        assert!(attested.validate(true).is_ok());
        let attested_deny = WebauthnPolicy { attestation: AttestationPreference::Direct, ..deny };
        assert_eq!(field_of(attested_deny.validate(false).unwrap_err()), "deniedAaguids");
        assert!(attested_deny.validate(true).is_ok());
        // Without lists, attestation is only a preference: nothing to verify, nothing required.
        let direct = WebauthnPolicy { attestation: AttestationPreference::Direct, ..Default::default() };
        assert!(direct.validate(false).is_ok());
    }

    #[test]
    fn stored_policies_may_omit_fields() {
        let policy: WebauthnPolicy = serde_json::from_str(r#"{"deviceBoundOnly": true}"#).unwrap();
        assert!(policy.device_bound_only);
        assert_eq!(policy.ceremony_timeout_seconds, 300);
    }
}
