//! Identifier newtypes, so an organization ID can never be passed where a member ID is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) identifier.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }
    };
}

uuid_id!(
    /// Identifies an organization.
    OrgId
);
uuid_id!(
    /// Identifies a member of an organization.
    MemberId
);
uuid_id!(
    /// Keyward's own identifier for a registered security key (not the WebAuthn credential ID).
    SecurityKeyId
);
uuid_id!(
    /// Identifies one WebAuthn or SSO ceremony in progress.
    CeremonyId
);
uuid_id!(
    /// Identifies a pipeline's approval request.
    ApprovalRequestId
);
uuid_id!(
    /// Identifies an API key (not its secret).
    ApiKeyId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings() {
        let id = MemberId::new();
        let parsed: MemberId = id.to_string().parse().unwrap();
        assert_eq!(id, parsed);
        assert!("not-a-uuid".parse::<OrgId>().is_err());
    }

    #[test]
    fn ids_are_time_ordered() {
        let first = OrgId::new();
        let second = OrgId::new();
        assert!(first < second);
    }
}
