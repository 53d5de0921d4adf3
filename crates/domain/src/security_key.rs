//! Security keys: metadata of registered WebAuthn credentials, and the rules on their names.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;
use crate::ids::{MemberId, OrgId, SecurityKeyId};

/// Longest key name, in characters.
pub const KEY_NAME_MAX_CHARS: usize = 64;
/// Longest credential ID WebAuthn allows (Level 3: 1023 bytes).
pub const CREDENTIAL_ID_MAX_BYTES: usize = 1023;
/// What `StoreError::Conflict` names when a key's counter changed under a [`KeyUse`] write.
pub const SIGN_COUNT_CHANGED: &str = "sign_count";

/// A registered security key, without its public-key material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityKey {
    /// Keyward's identifier.
    pub id: SecurityKeyId,
    /// The organization.
    pub org_id: OrgId,
    /// The owner.
    pub member_id: MemberId,
    /// Name the owner gave it.
    pub name: String,
    /// The WebAuthn credential ID (unique across all users).
    pub credential_id: Vec<u8>,
    /// Authenticator model, when the authenticator disclosed one.
    pub aaguid: Option<Uuid>,
    /// Last signature counter seen.
    pub sign_count: u32,
    /// The credential may be synced to other devices (a passkey).
    pub backup_eligible: bool,
    /// The credential is currently synced.
    pub backed_up: bool,
    /// Transports the authenticator reported (`usb`, `nfc`, `ble`, `internal`, `hybrid`).
    pub transports: Vec<String>,
    /// The user was verified (PIN or biometric) at registration.
    pub user_verified: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it was last used to log in or step up.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A key to store: its metadata plus the serialized credential the verifier needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSecurityKey {
    /// Metadata.
    pub key: SecurityKey,
    /// The verifier's serialized credential (opaque to the domain).
    pub credential: String,
}

/// A stored key with its serialized credential, as the verifier needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSecurityKey {
    /// Metadata.
    pub key: SecurityKey,
    /// The verifier's serialized credential.
    pub credential: String,
}

/// What changes on a key after a successful assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUse {
    /// When it was used.
    pub at: DateTime<Utc>,
    /// The counter as read before the assertion was checked. The write is a compare-and-set on
    /// it, so two concurrent assertions can never move the counter backwards: the one that finds
    /// it changed is judged again against the new value.
    pub expected_sign_count: u32,
    /// The counter to store: the assertion's, or the stored one when the assertion's went
    /// backwards (never below `expected_sign_count`).
    pub sign_count: u32,
    /// The new backed-up state.
    pub backed_up: bool,
    /// The updated serialized credential.
    pub credential: String,
}

/// What a key login's write is computed against, read together with the key: the organization's
/// audit head (the login's events are chained after it) and the key owner's username (their name
/// snapshot). The write checks both are still current, so a store can make the whole login one
/// statement; when either moved, the store reads them again and recomputes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginBasis {
    /// The organization's chain head when the key was read.
    pub audit_head: crate::audit::AuditHead,
    /// The key owner's username then.
    pub username: String,
}

/// Checks and normalizes a key name: trimmed, 1 to 64 characters, no control characters.
pub fn normalize_key_name(raw: &str) -> Result<String, DomainError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(DomainError::bad_input("name", "give the key a name"));
    }
    if name.chars().count() > KEY_NAME_MAX_CHARS {
        return Err(DomainError::bad_input("name", format!("use at most {KEY_NAME_MAX_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(DomainError::bad_input("name", "control characters are not allowed"));
    }
    Ok(name.to_owned())
}

/// How a new signature counter relates to the stored one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterCheck {
    /// Counter moved forward, or the authenticator does not count (both zero; normal for passkeys).
    Ok,
    /// The counter did not move forward: a possible cloned authenticator.
    WentBackwards,
}

/// Classifies a signature counter against the stored one (WebAuthn §6.1.1).
pub fn check_counter(stored: u32, received: u32) -> CounterCheck {
    if (stored == 0 && received == 0) || received > stored { CounterCheck::Ok } else { CounterCheck::WentBackwards }
}

/// What an assertion's backup flags mean for a stored key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupFlags {
    /// As stored.
    Unchanged,
    /// The backup state (BS) moved, e.g. a passkey was synced: store it and audit the change.
    BackupStateChanged {
        /// The new state.
        backed_up: bool,
    },
}

/// Checks an assertion's backup-eligible (BE) and backup-state (BS) flags against the stored key
/// (WebAuthn Level 3 §6.1.3, §7.2). BE is fixed when the credential is created: a change means
/// another or a tampered authenticator, and is refused. BS may change, but never without BE.
pub fn check_backup_flags(
    key: &SecurityKey,
    backup_eligible: bool,
    backed_up: bool,
) -> Result<BackupFlags, DomainError> {
    if backup_eligible != key.backup_eligible {
        return Err(DomainError::CeremonyFailed(format!(
            "this key's backup eligibility (BE flag) changed since it was registered (it was {}, now {}), which \
             no genuine authenticator does: register the key again",
            key.backup_eligible, backup_eligible
        )));
    }
    if backed_up && !backup_eligible {
        return Err(DomainError::CeremonyFailed(
            "the key says its credential is backed up but not backup eligible, which WebAuthn forbids".into(),
        ));
    }
    Ok(if backed_up == key.backed_up { BackupFlags::Unchanged } else { BackupFlags::BackupStateChanged { backed_up } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(normalize_key_name("  YubiKey 5C  ").unwrap(), "YubiKey 5C");
        assert!(normalize_key_name("   ").is_err());
        assert!(normalize_key_name(&"é".repeat(64)).is_ok());
        assert!(normalize_key_name(&"é".repeat(65)).is_err());
        assert!(normalize_key_name("bad\u{7}name").is_err());
        assert!(normalize_key_name("line\nbreak").is_err());
    }

    fn key(backup_eligible: bool, backed_up: bool) -> SecurityKey {
        SecurityKey {
            id: SecurityKeyId::new(),
            org_id: OrgId::new(),
            member_id: MemberId::new(),
            name: "Key".into(),
            credential_id: vec![1],
            aaguid: None,
            sign_count: 0,
            backup_eligible,
            backed_up,
            transports: Vec::new(),
            user_verified: true,
            created_at: Utc::now(),
            last_used_at: None,
        }
    }

    #[test]
    fn backup_eligibility_never_changes() {
        for stored in [false, true] {
            let err = check_backup_flags(&key(stored, false), !stored, false).unwrap_err();
            assert!(matches!(&err, DomainError::CeremonyFailed(m) if m.contains("BE flag")), "{err:?}");
        }
        let err = check_backup_flags(&key(false, false), false, true).unwrap_err();
        assert!(matches!(err, DomainError::CeremonyFailed(_)), "BS without BE");
    }

    #[test]
    fn backup_state_changes_are_reported() {
        assert_eq!(check_backup_flags(&key(false, false), false, false), Ok(BackupFlags::Unchanged));
        assert_eq!(check_backup_flags(&key(true, true), true, true), Ok(BackupFlags::Unchanged));
        assert_eq!(
            check_backup_flags(&key(true, false), true, true),
            Ok(BackupFlags::BackupStateChanged { backed_up: true })
        );
        assert_eq!(
            check_backup_flags(&key(true, true), true, false),
            Ok(BackupFlags::BackupStateChanged { backed_up: false })
        );
    }

    #[test]
    fn counters_that_go_backwards_are_flagged() {
        assert_eq!(check_counter(0, 0), CounterCheck::Ok);
        assert_eq!(check_counter(5, 6), CounterCheck::Ok);
        assert_eq!(check_counter(5, 5), CounterCheck::WentBackwards);
        assert_eq!(check_counter(5, 2), CounterCheck::WentBackwards);
        assert_eq!(check_counter(5, 0), CounterCheck::WentBackwards);
    }
}
