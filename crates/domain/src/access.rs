//! The one decision of what a caller may do, from the server-side session alone.
//!
//! Every entry point (each GraphQL field, the OIDC callback, every HTTP route) names a [`Gate`] and
//! asks [`authorize`]. Nothing else decides access.

use crate::api_key::{ApiKeyCaller, ApiKeyScope};
use crate::error::{DomainError, StoreError};
use crate::member::Role;
use crate::session::{Session, SessionStage};

/// What an entry point requires of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gate {
    /// Anyone, with or without a session (login starts, `__typename`).
    Open,
    /// Anyone; a session is used when present, so the session store must answer (`viewer`).
    OptionalSession,
    /// Any live session, whatever its stage (`logout`).
    AnySession,
    /// A session waiting for its security-key assertion (`mfaLoginBegin`/`Finish`).
    MfaPending,
    /// A session allowed to register a key: fully logged in, or forced to register.
    KeyRegistration,
    /// A fully logged-in member.
    Member,
    /// A fully logged-in organization admin.
    Admin,
    /// Read-only admin queries: an admin, or an API key with `ORG_READ`.
    OrgRead,
    /// Creating and following approval requests: a member, or an API key with
    /// `APPROVALS_REQUEST`.
    ApprovalRequester,
}

/// Who is calling, as far as the session store could tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No token, or a token that matches no live session.
    Anonymous,
    /// A live session.
    Session(Box<Session>),
    /// An active API key: never a member, it passes only the gates its scopes name.
    ApiKey(Box<ApiKeyCaller>),
    /// A token was presented but the session store could not be asked: fail closed.
    Unavailable(String),
}

impl Caller {
    /// The live session, if any.
    pub fn session(&self) -> Option<&Session> {
        match self {
            Caller::Session(session) => Some(session),
            _ => None,
        }
    }

    /// The API key, if the caller is one.
    pub fn api_key(&self) -> Option<&ApiKeyCaller> {
        match self {
            Caller::ApiKey(key) => Some(key),
            _ => None,
        }
    }
}

/// Decides whether `caller` may pass `gate`.
pub fn authorize(caller: &Caller, gate: Gate) -> Result<(), DomainError> {
    let session = match (caller, gate) {
        (_, Gate::Open) => return Ok(()),
        (Caller::Unavailable(reason), _) => {
            return Err(StoreError::Unavailable(reason.clone()).into());
        }
        (Caller::Anonymous, Gate::OptionalSession) => return Ok(()),
        (Caller::Anonymous, _) => return Err(DomainError::Unauthenticated),
        (Caller::ApiKey(key), gate) => return authorize_api_key(key, gate),
        (Caller::Session(session), _) => session,
    };
    match (gate, session.stage) {
        (Gate::Open | Gate::OptionalSession | Gate::AnySession, _) => Ok(()),
        (Gate::MfaPending, SessionStage::MfaRequired) => Ok(()),
        (Gate::MfaPending, SessionStage::MfaRegistrationRequired) => Err(DomainError::MfaRegistrationRequired),
        (Gate::MfaPending, SessionStage::Authenticated) => {
            Err(DomainError::bad_input("session", "this session has already passed its security-key check"))
        }
        (_, SessionStage::MfaRequired) => Err(DomainError::MfaRequired),
        (Gate::KeyRegistration, _) => Ok(()),
        (_, SessionStage::MfaRegistrationRequired) => Err(DomainError::MfaRegistrationRequired),
        (Gate::Member | Gate::ApprovalRequester, SessionStage::Authenticated) => Ok(()),
        (Gate::Admin | Gate::OrgRead, SessionStage::Authenticated) if session.role == Role::Admin => Ok(()),
        (Gate::Admin | Gate::OrgRead, SessionStage::Authenticated) => Err(DomainError::Forbidden),
    }
}

/// An API key passes `OptionalSession`/`AnySession` (it is a caller) and the gates its scopes
/// name; every member or admin gate refuses it.
fn authorize_api_key(key: &ApiKeyCaller, gate: Gate) -> Result<(), DomainError> {
    let allowed = match gate {
        Gate::Open | Gate::OptionalSession => true,
        Gate::OrgRead => key.has(ApiKeyScope::OrgRead),
        Gate::ApprovalRequester => key.has(ApiKeyScope::ApprovalsRequest),
        Gate::AnySession | Gate::MfaPending | Gate::KeyRegistration | Gate::Member | Gate::Admin => false,
    };
    if allowed { Ok(()) } else { Err(DomainError::Forbidden) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{MemberId, OrgId};
    use crate::session::{AuthMethod, NewSession, SessionLifetimes, TokenHash};
    use chrono::{Duration, Utc};

    fn caller(stage: SessionStage, role: Role) -> Caller {
        let session = NewSession {
            token_hash: TokenHash("t".into()),
            org_id: OrgId::new(),
            member_id: MemberId::new(),
            role,
            stage,
            methods: vec![AuthMethod::Sso],
            grace_period_ends_at: None,
            facts: Default::default(),
        }
        .start(
            Utc::now(),
            SessionLifetimes {
                absolute: Duration::hours(1),
                idle: Duration::minutes(5),
                pending: Duration::minutes(5),
            },
            Default::default(),
        );
        Caller::Session(Box::new(session))
    }

    const ALL_GATES: [Gate; 9] = [
        Gate::Open,
        Gate::OptionalSession,
        Gate::AnySession,
        Gate::MfaPending,
        Gate::KeyRegistration,
        Gate::Member,
        Gate::Admin,
        Gate::OrgRead,
        Gate::ApprovalRequester,
    ];

    fn allowed(caller: &Caller) -> Vec<Gate> {
        ALL_GATES.into_iter().filter(|gate| authorize(caller, *gate).is_ok()).collect()
    }

    #[test]
    fn anonymous_callers_pass_only_open_gates() {
        assert_eq!(allowed(&Caller::Anonymous), vec![Gate::Open, Gate::OptionalSession]);
        assert_eq!(authorize(&Caller::Anonymous, Gate::Member), Err(DomainError::Unauthenticated));
    }

    #[test]
    fn an_unreachable_store_fails_closed() {
        let caller = Caller::Unavailable("redis down".into());
        assert_eq!(allowed(&caller), vec![Gate::Open]);
        assert!(matches!(
            authorize(&caller, Gate::OptionalSession),
            Err(DomainError::Store(StoreError::Unavailable(_)))
        ));
    }

    #[test]
    fn mfa_required_sessions_may_only_finish_the_key_check() {
        let caller = caller(SessionStage::MfaRequired, Role::Admin);
        assert_eq!(allowed(&caller), vec![Gate::Open, Gate::OptionalSession, Gate::AnySession, Gate::MfaPending]);
        assert_eq!(authorize(&caller, Gate::Admin), Err(DomainError::MfaRequired));
        assert_eq!(authorize(&caller, Gate::KeyRegistration), Err(DomainError::MfaRequired));
    }

    #[test]
    fn registration_required_sessions_may_only_register() {
        let caller = caller(SessionStage::MfaRegistrationRequired, Role::Member);
        assert_eq!(allowed(&caller), vec![Gate::Open, Gate::OptionalSession, Gate::AnySession, Gate::KeyRegistration]);
        assert_eq!(authorize(&caller, Gate::Member), Err(DomainError::MfaRegistrationRequired));
    }

    #[test]
    fn members_are_not_admins() {
        let member = caller(SessionStage::Authenticated, Role::Member);
        assert_eq!(authorize(&member, Gate::Admin), Err(DomainError::Forbidden));
        assert!(authorize(&member, Gate::Member).is_ok());
        assert!(authorize(&member, Gate::MfaPending).is_err());
        let admin = caller(SessionStage::Authenticated, Role::Admin);
        assert!(authorize(&admin, Gate::Admin).is_ok());
        assert!(authorize(&admin, Gate::OrgRead).is_ok());
        assert_eq!(authorize(&member, Gate::OrgRead), Err(DomainError::Forbidden));
        assert!(authorize(&member, Gate::ApprovalRequester).is_ok());
    }

    fn api_key(scopes: &[ApiKeyScope]) -> Caller {
        Caller::ApiKey(Box::new(ApiKeyCaller {
            id: crate::ids::ApiKeyId::new(),
            org_id: OrgId::new(),
            name: "ci".into(),
            scopes: scopes.to_vec(),
        }))
    }

    #[test]
    fn api_keys_pass_only_the_gates_their_scopes_name() {
        let none = api_key(&[]);
        assert_eq!(allowed(&none), vec![Gate::Open, Gate::OptionalSession]);
        let requester = api_key(&[ApiKeyScope::ApprovalsRequest]);
        assert_eq!(allowed(&requester), vec![Gate::Open, Gate::OptionalSession, Gate::ApprovalRequester]);
        let reader = api_key(&[ApiKeyScope::OrgRead, ApiKeyScope::ApprovalsRequest]);
        assert_eq!(allowed(&reader), vec![Gate::Open, Gate::OptionalSession, Gate::OrgRead, Gate::ApprovalRequester]);
        for gate in [Gate::Member, Gate::Admin, Gate::AnySession, Gate::MfaPending, Gate::KeyRegistration] {
            assert_eq!(authorize(&reader, gate), Err(DomainError::Forbidden), "{gate:?}");
        }
        assert!(reader.session().is_none(), "an API key never stands in for a session");
    }
}
