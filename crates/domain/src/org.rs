//! Organizations and their MFA enforcement state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::OrgId;

/// An organization: the unit of tenancy, with its own members, keys, policies and audit chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// Identifier.
    pub id: OrgId,
    /// URL-safe short name that people type at login.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Whether security keys are mandatory, and since when people must comply.
    pub enforcement: Enforcement,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// The organization's MFA enforcement setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforcement {
    /// Security keys are mandatory.
    pub enabled: bool,
    /// Until this moment, members without a key may keep working (and are reminded).
    pub grace_period_ends_at: Option<DateTime<Utc>>,
}

impl Enforcement {
    /// Whether a member without a key must register one before doing anything else, at `now`.
    pub fn requires_registration(&self, now: DateTime<Utc>) -> bool {
        self.enabled && self.grace_period_ends_at.is_none_or(|deadline| now >= deadline)
    }

    /// The deadline to show a member without a key, while a grace period runs at `now`.
    pub fn grace_deadline(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.grace_period_ends_at {
            Some(deadline) if self.enabled && now < deadline => Some(deadline),
            _ => None,
        }
    }
}

/// Which sessions switching enforcement on ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SessionsToEnd {
    /// Every session but the admin's.
    #[default]
    All,
    /// Only sessions no security key confirmed: members who log in with a key keep working.
    Keyless,
}

impl SessionsToEnd {
    /// The name the audit trail records.
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionsToEnd::All => "ALL",
            SessionsToEnd::Keyless => "KEYLESS",
        }
    }

    /// Refuses to end keyless sessions from a keyless session: the admin's own session would end
    /// with them.
    pub fn check(&self, acting_session_keyless: bool) -> Result<(), DomainError> {
        if *self == SessionsToEnd::Keyless && acting_session_keyless {
            return Err(DomainError::PolicyDenied(
                "this session was not confirmed with a security key, so ending keyless sessions would end it \
                 too: log in with your key first, or end all sessions"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Longest grace period an admin may give.
pub const MAX_GRACE_DAYS: i64 = 90;

/// What changing the enforcement setting does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnforcementChange {
    /// Nothing changes (enforcing twice is idempotent).
    None,
    /// Enforcement starts: every other session of the organization ends.
    Enable,
    /// Enforcement stays on with a different grace deadline.
    Update,
    /// Enforcement ends.
    Disable,
}

impl Enforcement {
    /// Checks a requested setting at `now` (the admin must have a key to turn it on) and says
    /// what it changes from `self`.
    pub fn change_to(
        &self,
        requested: &Enforcement,
        admin_has_key: bool,
        now: DateTime<Utc>,
    ) -> Result<EnforcementChange, DomainError> {
        if let Some(deadline) = requested.grace_period_ends_at {
            if !requested.enabled {
                return Err(DomainError::bad_input("gracePeriodEndsAt", "a grace period needs enforcement on"));
            }
            if deadline <= now {
                return Err(DomainError::bad_input("gracePeriodEndsAt", "the grace deadline is in the past"));
            }
            if deadline > now + chrono::Duration::days(MAX_GRACE_DAYS) {
                return Err(DomainError::bad_input(
                    "gracePeriodEndsAt",
                    format!("the grace period may last at most {MAX_GRACE_DAYS} days"),
                ));
            }
        }
        if requested.enabled && !admin_has_key {
            return Err(DomainError::PolicyDenied(
                "register a security key before you enforce MFA, or you would lock yourself out".into(),
            ));
        }
        Ok(match (self.enabled, requested.enabled) {
            (false, true) => EnforcementChange::Enable,
            (true, false) => EnforcementChange::Disable,
            (true, true) if self.grace_period_ends_at != requested.grace_period_ends_at => EnforcementChange::Update,
            _ => EnforcementChange::None,
        })
    }
}

/// Checks an organization slug: 2 to 63 characters of lowercase ASCII letters, digits and inner hyphens.
pub fn validate_slug(slug: &str) -> Result<(), DomainError> {
    let ok_chars = slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !(2..=63).contains(&slug.len()) || !ok_chars || slug.starts_with('-') || slug.ends_with('-') {
        return Err(DomainError::bad_input("slug", "use 2 to 63 lowercase letters, digits and inner hyphens"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn enforcement_without_grace_requires_registration_at_once() {
        let now = Utc::now();
        let enforcement = Enforcement { enabled: true, grace_period_ends_at: None };
        assert!(enforcement.requires_registration(now));
        assert_eq!(enforcement.grace_deadline(now), None);
    }

    #[test]
    fn grace_period_defers_registration_until_the_deadline() {
        let now = Utc::now();
        let deadline = now + Duration::days(3);
        let enforcement = Enforcement { enabled: true, grace_period_ends_at: Some(deadline) };
        assert!(!enforcement.requires_registration(now));
        assert_eq!(enforcement.grace_deadline(now), Some(deadline));
        assert!(enforcement.requires_registration(deadline));
        assert_eq!(enforcement.grace_deadline(deadline), None);
    }

    #[test]
    fn disabled_enforcement_never_requires_registration() {
        let enforcement = Enforcement::default();
        assert!(!enforcement.requires_registration(Utc::now()));
    }

    #[test]
    fn enforcement_changes_are_checked() {
        let now = Utc::now();
        let off = Enforcement::default();
        let on = Enforcement { enabled: true, grace_period_ends_at: None };
        assert_eq!(off.change_to(&on, true, now), Ok(EnforcementChange::Enable));
        assert_eq!(on.change_to(&on, true, now), Ok(EnforcementChange::None));
        assert_eq!(on.change_to(&off, true, now), Ok(EnforcementChange::Disable));
        assert_eq!(off.change_to(&off, false, now), Ok(EnforcementChange::None));
        assert!(matches!(off.change_to(&on, false, now), Err(DomainError::PolicyDenied(_))));
        let grace = |days| Enforcement { enabled: true, grace_period_ends_at: Some(now + Duration::days(days)) };
        assert_eq!(on.change_to(&grace(7), true, now), Ok(EnforcementChange::Update));
        assert!(off.change_to(&grace(-1), true, now).is_err());
        assert!(off.change_to(&grace(91), true, now).is_err());
        assert!(off.change_to(&grace(90), true, now).is_ok());
        let off_with_grace = Enforcement { enabled: false, ..grace(3) };
        assert!(off.change_to(&off_with_grace, true, now).is_err());
    }

    #[test]
    fn keyless_only_enforcement_needs_a_key_confirmed_admin_session() {
        assert!(SessionsToEnd::All.check(true).is_ok());
        assert!(SessionsToEnd::All.check(false).is_ok());
        assert!(SessionsToEnd::Keyless.check(false).is_ok());
        assert!(matches!(SessionsToEnd::Keyless.check(true), Err(DomainError::PolicyDenied(_))));
    }

    #[test]
    fn slugs_are_checked() {
        assert!(validate_slug("acme-prod").is_ok());
        for bad in ["a", "Acme", "-acme", "acme-", "ac me", "ac_me", &"a".repeat(64)] {
            assert!(validate_slug(bad).is_err(), "{bad} should be refused");
        }
    }
}
