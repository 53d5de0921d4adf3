//! WebAuthn and SSO ceremonies in progress: typed by purpose, bound to a session, used once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{CeremonyId, OrgId};
use crate::session::TokenHash;

/// What a ceremony is for. A response is only ever checked against a ceremony of its own purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CeremonyPurpose {
    /// OIDC login: state, nonce and PKCE verifier.
    SsoLogin,
    /// Linking an IdP account to the member whose session began it.
    SsoLink,
    /// An admin's test sign-in with SSO settings not saved yet (kept in the ceremony's state).
    SsoTest,
    /// Registering a new security key.
    RegisterKey,
    /// The security-key step of login.
    Login,
    /// A fresh key check for one sensitive action.
    StepUp {
        /// The action, e.g. `security_key.delete`.
        action: String,
        /// The resource it acts on.
        resource: Option<String>,
        /// The server nonce the challenge was derived from, base64url.
        nonce: String,
        /// The terminal hand-off this step-up completes, if any.
        handoff: Option<String>,
    },
    /// Approving one pipeline request.
    Approval {
        /// The approval request's ID.
        request: String,
        /// The request's digest that the signature covers.
        digest: String,
        /// The server nonce the challenge was derived from, base64url.
        nonce: String,
    },
}

impl CeremonyPurpose {
    /// The purpose's name without its parameters.
    pub fn kind(&self) -> &'static str {
        match self {
            CeremonyPurpose::SsoLogin => "SSO_LOGIN",
            CeremonyPurpose::SsoLink => "SSO_LINK",
            CeremonyPurpose::SsoTest => "SSO_TEST",
            CeremonyPurpose::RegisterKey => "REGISTER_KEY",
            CeremonyPurpose::Login => "LOGIN",
            CeremonyPurpose::StepUp { .. } => "STEP_UP",
            CeremonyPurpose::Approval { .. } => "APPROVAL",
        }
    }
}

/// A ceremony's server-side state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ceremony {
    /// Identifier the client echoes back.
    pub id: CeremonyId,
    /// The organization.
    pub org_id: OrgId,
    /// The session that began it (`None` for ceremonies that start before any session, like SSO).
    pub session: Option<TokenHash>,
    /// What it is for.
    pub purpose: CeremonyPurpose,
    /// The verifier's own state (webauthn-rs or OIDC), opaque here.
    pub state: serde_json::Value,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When it stops being usable.
    pub expires_at: DateTime<Utc>,
}

impl Ceremony {
    /// Checks a ceremony just taken from the store before its response is verified: it must not be
    /// expired, must have the expected purpose kind, and must belong to the caller's session.
    pub fn claim(
        self,
        expected_kind: &str,
        session: Option<&TokenHash>,
        now: DateTime<Utc>,
    ) -> Result<Ceremony, DomainError> {
        if now >= self.expires_at {
            return Err(DomainError::CeremonyExpired);
        }
        if self.purpose.kind() != expected_kind {
            return Err(DomainError::CeremonyFailed(format!(
                "this response belongs to a {} ceremony, not {}",
                self.purpose.kind(),
                expected_kind
            )));
        }
        if self.session.as_ref() != session {
            return Err(DomainError::CeremonyFailed("this ceremony was started from another session".into()));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn ceremony(now: DateTime<Utc>) -> Ceremony {
        Ceremony {
            id: CeremonyId::new(),
            org_id: OrgId::new(),
            session: Some(TokenHash("mine".into())),
            purpose: CeremonyPurpose::Login,
            state: serde_json::json!({"challenge": "abc"}),
            created_at: now,
            expires_at: now + Duration::minutes(5),
        }
    }

    #[test]
    fn the_owner_may_claim_a_fresh_ceremony_of_the_right_kind() {
        let now = Utc::now();
        let mine = TokenHash("mine".into());
        assert!(ceremony(now).claim("LOGIN", Some(&mine), now).is_ok());
    }

    #[test]
    fn wrong_kind_other_session_and_expiry_are_refused() {
        let now = Utc::now();
        let mine = TokenHash("mine".into());
        let theirs = TokenHash("theirs".into());
        assert!(matches!(ceremony(now).claim("REGISTER_KEY", Some(&mine), now), Err(DomainError::CeremonyFailed(_))));
        assert!(matches!(ceremony(now).claim("LOGIN", Some(&theirs), now), Err(DomainError::CeremonyFailed(_))));
        assert!(matches!(ceremony(now).claim("LOGIN", None, now), Err(DomainError::CeremonyFailed(_))));
        assert_eq!(
            ceremony(now).claim("LOGIN", Some(&mine), now + Duration::minutes(5)),
            Err(DomainError::CeremonyExpired)
        );
    }

    #[test]
    fn purposes_serialize_with_their_kind() {
        let purpose = CeremonyPurpose::StepUp {
            action: "security_key.delete".into(),
            resource: None,
            nonce: "n".into(),
            handoff: None,
        };
        let json = serde_json::to_value(&purpose).unwrap();
        assert_eq!(json["kind"], "STEP_UP");
        assert_eq!(serde_json::from_value::<CeremonyPurpose>(json).unwrap(), purpose);
    }
}
