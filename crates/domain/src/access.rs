//! The one decision of what a caller may do, from the server-side session alone.
//!
//! Every entry point (each GraphQL field, the OIDC callback, every HTTP route) names a [`Gate`] and
//! asks [`authorize`]. Nothing else decides access.

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
}

/// Who is calling, as far as the session store could tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No token, or a token that matches no live session.
    Anonymous,
    /// A live session.
    Session(Box<Session>),
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
        (Gate::Member, SessionStage::Authenticated) => Ok(()),
        (Gate::Admin, SessionStage::Authenticated) if session.role == Role::Admin => Ok(()),
        (Gate::Admin, SessionStage::Authenticated) => Err(DomainError::Forbidden),
    }
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

    const ALL_GATES: [Gate; 7] = [
        Gate::Open,
        Gate::OptionalSession,
        Gate::AnySession,
        Gate::MfaPending,
        Gate::KeyRegistration,
        Gate::Member,
        Gate::Admin,
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
    }
}
