//! WebAuthn ceremonies on webauthn-rs-core: options out as W3C JSON, responses checked first by
//! our own pre-checks, then by the verifier, then against the organization's policy.
//!
//! We use webauthn-rs-core (the engine under webauthn-rs) directly because webauthn-rs's
//! high-level calls hard-code user verification and attestation, which the organization's
//! WebAuthn policy must decide.

pub mod aaguid;
pub mod attestation;
pub mod precheck;

use std::time::{Duration, SystemTime};

use keyward_domain::DomainError;
use keyward_domain::webauthn_policy::{AttestationPreference, UserVerification, WebauthnPolicy};
use serde_json::Value;
use url::Url;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationCaList, AttestationConveyancePreference, AuthenticationResult, AuthenticationState, Credential,
    PublicKeyCredential, RegisterPublicKeyCredential, RegistrationState, UserVerificationPolicy,
};

/// The relying party: who we are to authenticators.
#[derive(Clone, Debug)]
pub struct RelyingParty {
    /// RP ID (a domain).
    pub id: String,
    /// Name shown by authenticators.
    pub name: String,
    /// Origins accepted in client data (compared as serialized origins, exactly).
    pub origins: Vec<Url>,
    /// Attestation roots trusted to prove a key's model (`webauthn.attestation_roots`); without
    /// them no AAGUID list can be applied.
    pub attestation_roots: Option<AttestationCaList>,
}

fn core(rp: &RelyingParty, policy: &WebauthnPolicy) -> WebauthnCore {
    WebauthnCore::new_unsafe_experts_only(
        &rp.name,
        &rp.id,
        rp.origins.clone(),
        Duration::from_secs(u64::from(policy.ceremony_timeout_seconds)),
        Some(false),
        Some(false),
    )
}

fn uv_policy(policy: &WebauthnPolicy) -> UserVerificationPolicy {
    match policy.user_verification {
        UserVerification::Required => UserVerificationPolicy::Required,
        UserVerification::Preferred => UserVerificationPolicy::Preferred,
        UserVerification::Discouraged => UserVerificationPolicy::Discouraged_DO_NOT_USE,
    }
}

/// Words for a verifier error; never the verifier's internals.
pub fn describe(err: &WebauthnError) -> String {
    let reason = match err {
        WebauthnError::InvalidRPOrigin => "the response came from an origin this server does not accept",
        WebauthnError::InvalidRPIDHash => "the response was made for a different relying party (RP ID)",
        WebauthnError::MismatchedChallenge => "the response answers a different challenge",
        WebauthnError::UserNotVerified => "the authenticator did not verify the user (PIN or biometric)",
        WebauthnError::UserNotPresent => "the authenticator did not confirm user presence",
        WebauthnError::CredentialExcludedFromRequest | WebauthnError::CredentialAlreadyExists => {
            "this security key is already registered"
        }
        WebauthnError::CredentialNotFound => "this security key is not registered to your account",
        WebauthnError::InvalidClientDataType => "the response is of the wrong type for this ceremony",
        WebauthnError::CredentialBackupEligibilityInconsistent => {
            "this key's backup eligibility (BE flag) changed since it was registered, which no genuine \
             authenticator does: register the key again"
        }
        _ => "the security key's response did not verify",
    };
    reason.to_owned()
}

/// Why a key without a verified model is refused where the policy lists models.
const UNVERIFIED_MODEL: &str = "your organization accepts only security keys whose model is proven by a verified \
                                attestation, and this key's attestation could not be verified";

fn failed(err: WebauthnError) -> DomainError {
    match err {
        // The verifier enforces the policy's UV requirement itself; report it as the policy's.
        WebauthnError::UserNotVerified => DomainError::PolicyDenied(
            "your organization requires user verification (PIN or biometric) on security keys".into(),
        ),
        // With trust roots given, the verifier refuses `none`, self and untrusted attestations.
        WebauthnError::AttestationNotVerifiable
        | WebauthnError::AttestationChainNotTrusted(_)
        | WebauthnError::AttestationTrustFailure
        | WebauthnError::AttestationUntrustedAaguid
        | WebauthnError::AttestationFormatMissingAaguid
        | WebauthnError::AttestationLeafCertMissing
        | WebauthnError::AttestationNotSupported => DomainError::PolicyDenied(UNVERIFIED_MODEL.into()),
        other => DomainError::CeremonyFailed(describe(&other)),
    }
}

/// The trust roots a ceremony under `policy` must verify attestation against: `None` when the
/// policy names no models; refused when it does but the server has no roots.
fn roots_for<'a>(rp: &'a RelyingParty, policy: &WebauthnPolicy) -> Result<Option<&'a AttestationCaList>, DomainError> {
    if !policy.needs_attestation() {
        return Ok(None);
    }
    rp.attestation_roots.as_ref().map(Some).ok_or_else(|| {
        DomainError::PolicyDenied(
            "your organization lists authenticator models, but this server trusts no attestation roots to verify \
             them: ask an administrator to configure webauthn.attestation_roots"
                .into(),
        )
    })
}

/// The model `credential`'s attestation proves under `policy`, judged as of `registered_at`:
/// `None` when the policy names no models (nothing to prove) or the attestation proves none.
pub fn verified_model(
    rp: &RelyingParty,
    policy: &WebauthnPolicy,
    credential: &Credential,
    registered_at: SystemTime,
) -> Result<Option<uuid::Uuid>, DomainError> {
    Ok(roots_for(rp, policy)?.and_then(|roots| attestation::verified_model(credential, roots, registered_at)))
}

/// Begins a registration: options (the `publicKey` member, W3C JSON) and the state to keep.
pub fn start_registration(
    rp: &RelyingParty,
    policy: &WebauthnPolicy,
    user_id: uuid::Uuid,
    user_name: &str,
    display_name: &str,
    exclude: Vec<Vec<u8>>,
) -> Result<(Value, RegistrationState), DomainError> {
    roots_for(rp, policy)?;
    let core = core(rp, policy);
    let attestation = match policy.attestation {
        AttestationPreference::None => AttestationConveyancePreference::None,
        AttestationPreference::Indirect => AttestationConveyancePreference::Indirect,
        AttestationPreference::Direct => AttestationConveyancePreference::Direct,
    };
    let builder = core
        .new_challenge_register_builder(user_id.as_bytes(), user_name, display_name)
        .map_err(failed)?
        .attestation(attestation)
        .user_verification_policy(uv_policy(policy))
        .exclude_credentials(Some(exclude))
        .require_resident_key(false)
        .reject_synchronised_authenticators(policy.device_bound_only);
    let (challenge, state) = core.generate_challenge_register(builder).map_err(failed)?;
    let options = serde_json::to_value(&challenge.public_key)
        .map_err(|e| DomainError::CeremonyFailed(format!("cannot encode options: {e}")))?;
    Ok((options, state))
}

/// Verifies a registration response against its state. When the policy lists models, the
/// attestation must verify against the trusted roots (a `none` or self attestation is refused).
pub fn finish_registration(
    rp: &RelyingParty,
    policy: &WebauthnPolicy,
    response: &RegisterPublicKeyCredential,
    state: &RegistrationState,
) -> Result<Credential, DomainError> {
    core(rp, policy).register_credential(response, state, roots_for(rp, policy)?).map_err(failed)
}

/// Begins an assertion over `credentials`. Their counters are zeroed in the state: the verifier
/// would refuse a regressed counter outright, and whether to refuse is the organization's policy
/// (the counter is compared with the stored one after verification).
pub fn start_authentication(
    rp: &RelyingParty,
    policy: &WebauthnPolicy,
    mut credentials: Vec<Credential>,
) -> Result<(Value, AuthenticationState), DomainError> {
    for credential in &mut credentials {
        credential.counter = 0;
    }
    let core = core(rp, policy);
    let builder = core
        .new_challenge_authenticate_builder(credentials, Some(uv_policy(policy)))
        .map_err(failed)?
        // Backup eligibility is fixed at registration (WebAuthn L3 §7.2): a change is refused.
        .allow_backup_eligible_upgrade(false);
    let (challenge, state) = core.generate_challenge_authenticate(builder).map_err(failed)?;
    let options = serde_json::to_value(&challenge.public_key)
        .map_err(|e| DomainError::CeremonyFailed(format!("cannot encode options: {e}")))?;
    Ok((options, state))
}

/// Verifies an assertion against its state.
pub fn finish_authentication(
    rp: &RelyingParty,
    policy: &WebauthnPolicy,
    response: &PublicKeyCredential,
    state: &AuthenticationState,
) -> Result<AuthenticationResult, DomainError> {
    core(rp, policy).authenticate_credential(response, state).map_err(failed)
}
