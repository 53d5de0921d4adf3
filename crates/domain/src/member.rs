//! Members of an organization and their roles.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{MemberId, OrgId};

/// What a member may do in their organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Manages the organization: members' keys, enforcement, SSO, policies, audit.
    Admin,
    /// Manages their own keys.
    Member,
}

impl Role {
    /// The stable spelling used in storage and the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "ADMIN",
            Role::Member => "MEMBER",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ADMIN" => Ok(Role::Admin),
            "MEMBER" => Ok(Role::Member),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// The identity a member was provisioned from at their OIDC provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcIdentity {
    /// The issuer URL (`iss`).
    pub issuer: String,
    /// The subject (`sub`), unique within the issuer.
    pub subject: String,
}

/// A person in an organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Identifier.
    pub id: MemberId,
    /// The organization they belong to.
    pub org_id: OrgId,
    /// Login name, unique within the organization (used by backup credentials and recovery codes).
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// E-mail address, when the IdP gave one.
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// Where SSO provisioned them from, if it did.
    pub oidc: Option<OidcIdentity>,
    /// When they were created.
    pub created_at: DateTime<Utc>,
    /// When they last finished a login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// When an admin deactivated them (offboarding); `None` while active.
    pub deactivated_at: Option<DateTime<Utc>>,
}

impl Member {
    /// Whether the member is an organization admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the member may log in and hold sessions.
    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }

    /// Refuses a deactivated member at every login path.
    pub fn ensure_active(&self) -> Result<(), DomainError> {
        if self.is_active() { Ok(()) } else { Err(DomainError::MemberDeactivated) }
    }
}

/// Whether `actor` may deactivate `target`, given how many active admins the organization has
/// (counted under the same lock as the change). Nobody deactivates themselves (their own session
/// would end mid-request), and the last active admin stays.
pub fn deactivation_allowed(actor: MemberId, target: &Member, active_admins: u64) -> Result<(), DomainError> {
    if target.id == actor {
        return Err(DomainError::bad_input("id", "you cannot deactivate yourself; ask another admin"));
    }
    if target.is_active() && target.is_admin() && active_admins <= 1 {
        return Err(DomainError::LastActiveAdmin);
    }
    Ok(())
}

/// What is needed to create a member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMember {
    /// The organization.
    pub org_id: OrgId,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// OIDC identity, for members provisioned by SSO.
    pub oidc: Option<OidcIdentity>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: Role) -> Member {
        Member {
            id: MemberId::new(),
            org_id: OrgId::new(),
            username: "u".into(),
            display_name: "U".into(),
            email: None,
            role,
            oidc: None,
            created_at: Utc::now(),
            last_login_at: None,
            deactivated_at: None,
        }
    }

    #[test]
    fn the_last_active_admin_and_yourself_stay() {
        let actor = MemberId::new();
        let admin = member(Role::Admin);
        assert_eq!(deactivation_allowed(actor, &admin, 1), Err(DomainError::LastActiveAdmin));
        assert_eq!(deactivation_allowed(actor, &admin, 2), Ok(()));
        assert_eq!(deactivation_allowed(actor, &member(Role::Member), 1), Ok(()));
        assert!(matches!(deactivation_allowed(admin.id, &admin, 5), Err(DomainError::BadInput { .. })));
        let mut gone = member(Role::Admin);
        gone.deactivated_at = Some(Utc::now());
        assert_eq!(deactivation_allowed(actor, &gone, 1), Ok(()), "deactivating twice is harmless");
        assert_eq!(gone.ensure_active(), Err(DomainError::MemberDeactivated));
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::Admin, Role::Member] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("OWNER".parse::<Role>().is_err());
    }
}
