//! Changes to what a member may do, and which live sessions each one ends (DESIGN §4).
//!
//! A session caches facts from its login: the member's role, the stage their keys and the
//! organization's enforcement gave, the key that confirmed it. When one of those facts changes,
//! every session that cached the old fact must end at once, on every instance. This module is the
//! one list of such changes and the one rule saying which sessions each reaches; the gateway
//! applies the resulting [`Plan`] through the session store's O(1) epochs.

use crate::ids::MemberId;
use crate::org::EnforcementChange;
use crate::session::{Session, TokenHash};

/// A change to what a member may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthzChange {
    /// The member's role changed (for example synced from the IdP's groups at an SSO login).
    RoleChanged(MemberId),
    /// A key was registered to the member: sessions that never touched a key must not stay
    /// authenticated, nor bind more keys without it.
    KeyRegistered(MemberId),
    /// One of the member's keys was deleted, by them or by an admin: sessions it confirmed end.
    KeyDeleted(MemberId),
    /// The member used a recovery code in place of their lost key.
    RecoveryCodeUsed(MemberId),
    /// The member was deactivated: every session of theirs ends, the admin's included.
    MemberDeactivated(MemberId),
    /// The organization's WebAuthn policy now refuses keys these members hold.
    KeysRefused(Vec<MemberId>),
    /// Enforcement's grace period changed (shortened, ended, extended or lifted): sessions that
    /// never touched a key carry the old deadline.
    GraceChanged,
}

/// Which sessions a change ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Every session of these members (through each member's epoch).
    Members(Vec<MemberId>),
    /// Every session of the organization that no key has confirmed (through the keyless epoch),
    /// the acting one included: changing the grace period takes a key-confirmed session.
    KeylessSessions,
}

/// What applying a change does to live sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The sessions that end.
    pub reach: Reach,
    /// The session that made the change, when the change would otherwise end it: it is
    /// re-stamped with the new epoch instead.
    pub keep: Option<TokenHash>,
    /// Whether the kept session also moves to a new token: always when the change was to the
    /// actor's own credentials or role. A policy change only re-stamps the admin's session
    /// (its token is not handed back by `webauthnPolicyUpdate`, and nothing about how that
    /// session was authenticated changed).
    pub rotate: bool,
}

impl AuthzChange {
    /// What changing the enforcement setting does to live sessions, beyond switching it on (which
    /// flushes the whole organization in the same step): a new, ended or lifted grace period
    /// reaches the sessions that never touched a key.
    pub fn of_enforcement(change: EnforcementChange) -> Option<AuthzChange> {
        match change {
            EnforcementChange::Update | EnforcementChange::Disable => Some(AuthzChange::GraceChanged),
            EnforcementChange::None | EnforcementChange::Enable => None,
        }
    }

    /// The sessions this change ends when `actor` (the session making it, if any) makes it.
    pub fn plan(&self, actor: Option<&Session>) -> Plan {
        let reach = match self {
            AuthzChange::RoleChanged(member)
            | AuthzChange::KeyRegistered(member)
            | AuthzChange::KeyDeleted(member)
            | AuthzChange::RecoveryCodeUsed(member)
            | AuthzChange::MemberDeactivated(member) => Reach::Members(vec![*member]),
            AuthzChange::KeysRefused(members) => Reach::Members(members.clone()),
            AuthzChange::GraceChanged => Reach::KeylessSessions,
        };
        let keep = match (&reach, actor) {
            // Nobody deactivates themselves (the domain refuses it), and if it ever happened the
            // session must not survive its member.
            (_, _) if matches!(self, AuthzChange::MemberDeactivated(_)) => None,
            (Reach::Members(members), Some(actor)) if members.contains(&actor.member_id) => {
                Some(actor.token_hash.clone())
            }
            _ => None,
        };
        let rotate = keep.is_some() && !matches!(self, AuthzChange::KeysRefused(_));
        Plan { reach, keep, rotate }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{OrgId, SecurityKeyId};
    use crate::member::Role;
    use crate::session::{AuthMethod, Epochs, NewSession, SessionLifetimes, SessionStage};
    use chrono::{Duration, Utc};

    fn session(member: MemberId, keyed: bool) -> Session {
        let lifetimes = SessionLifetimes {
            absolute: Duration::hours(1),
            idle: Duration::minutes(5),
            pending: Duration::minutes(5),
        };
        let mut s = NewSession {
            token_hash: TokenHash(format!("t-{member}")),
            org_id: OrgId::new(),
            member_id: member,
            role: Role::Admin,
            stage: SessionStage::Authenticated,
            methods: vec![AuthMethod::Sso],
            grace_period_ends_at: None,
            facts: Default::default(),
        }
        .start(Utc::now(), lifetimes, Epochs::default());
        s.key_id = keyed.then(SecurityKeyId::new);
        s
    }

    #[test]
    fn the_acting_member_keeps_their_session_others_lose_theirs() {
        let alice = MemberId::new();
        let bob = MemberId::new();
        let actor = session(alice, true);
        for change in [
            AuthzChange::RoleChanged(alice),
            AuthzChange::KeyRegistered(alice),
            AuthzChange::KeyDeleted(alice),
            AuthzChange::RecoveryCodeUsed(alice),
        ] {
            let plan = change.plan(Some(&actor));
            assert_eq!(plan.reach, Reach::Members(vec![alice]), "{change:?}");
            assert_eq!(plan.keep, Some(actor.token_hash.clone()), "{change:?}");
        }
        let plan = AuthzChange::KeyDeleted(bob).plan(Some(&actor));
        assert_eq!((plan.reach, plan.keep), (Reach::Members(vec![bob]), None), "an admin deleting bob's key");
        assert_eq!(AuthzChange::RoleChanged(alice).plan(None).keep, None, "a change with no session behind it");
    }

    #[test]
    fn deactivation_spares_no_session() {
        let alice = MemberId::new();
        let plan = AuthzChange::MemberDeactivated(alice).plan(Some(&session(alice, true)));
        assert_eq!((plan.reach, plan.keep), (Reach::Members(vec![alice]), None));
    }

    #[test]
    fn refused_keys_reach_every_holder() {
        let (alice, bob) = (MemberId::new(), MemberId::new());
        let actor = session(alice, true);
        let plan = AuthzChange::KeysRefused(vec![alice, bob]).plan(Some(&actor));
        assert_eq!(plan.reach, Reach::Members(vec![alice, bob]));
        assert_eq!(plan.keep, Some(actor.token_hash));
        assert!(!plan.rotate, "a policy change re-stamps the admin's session without rotating it");
        assert!(AuthzChange::KeyDeleted(alice).plan(Some(&session(alice, true))).rotate);
    }

    #[test]
    fn enforcement_changes_other_than_switching_on_reach_keyless_sessions() {
        assert_eq!(AuthzChange::of_enforcement(EnforcementChange::Update), Some(AuthzChange::GraceChanged));
        assert_eq!(AuthzChange::of_enforcement(EnforcementChange::Disable), Some(AuthzChange::GraceChanged));
        assert_eq!(AuthzChange::of_enforcement(EnforcementChange::Enable), None, "the org flush covers it");
        assert_eq!(AuthzChange::of_enforcement(EnforcementChange::None), None);
    }

    #[test]
    fn a_grace_change_ends_only_keyless_sessions() {
        let admin = session(MemberId::new(), true);
        let plan = AuthzChange::GraceChanged.plan(Some(&admin));
        assert_eq!((plan.reach, plan.keep), (Reach::KeylessSessions, None));
        let keyless = session(MemberId::new(), false);
        assert_eq!(AuthzChange::GraceChanged.plan(Some(&keyless)).keep, None);
    }
}
