//! Repository traits: what the domain needs from the database. `keyward-storage` implements them.
//!
//! Every mutation takes the [`AuditRecord`] that describes it and writes both in one transaction:
//! no audit, no change.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEvent, AuditHead, AuditRecord};
use crate::error::{DomainError, StoreError};
use crate::ids::{MemberId, OrgId, SecurityKeyId};
use crate::member::{Member, NewMember, OidcIdentity, Role};
use crate::org::{Enforcement, Organization};
use crate::security_key::{KeyUse, LoginBasis, NewSecurityKey, SecurityKey, StoredSecurityKey};
use crate::sso_groups::{AdminGroups, GroupClaims};

/// One page of a cursor-paginated list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Whether more items follow the last one.
    pub has_more: bool,
}

/// Organizations.
#[async_trait]
pub trait OrganizationRepo: Send + Sync {
    /// One organization by ID.
    async fn organization(&self, id: OrgId) -> Result<Option<Organization>, StoreError>;
    /// One organization by slug.
    async fn organization_by_slug(&self, slug: &str) -> Result<Option<Organization>, StoreError>;
    /// All organizations, oldest first.
    async fn organizations(&self) -> Result<Vec<Organization>, StoreError>;
    /// Creates the first organization, its first admin and their backup credentials, once. Returns
    /// `None` when an organization already exists (another instance may have won the race).
    async fn bootstrap(&self, first: Bootstrap, audit: AuditRecord) -> Result<Option<Member>, StoreError>;
    /// Creates another organization; `Conflict` when the slug is taken.
    async fn create_organization(&self, org: Organization, audit: AuditRecord) -> Result<Organization, StoreError>;
    /// Sets the enforcement state atomically with its side effect: inside the transaction, after
    /// the row is updated and before the commit, `flush` runs (it ends sessions and returns how
    /// many); `audit` then records the outcome. If `flush` fails, nothing is changed.
    async fn set_enforcement(
        &self,
        org: OrgId,
        enforcement: Enforcement,
        at: DateTime<Utc>,
        flush: BeforeCommit,
        audit: Box<dyn FnOnce(u64) -> AuditRecord + Send>,
    ) -> Result<(Organization, u64), StoreError>;
}

/// Work to do inside a transaction before it commits (e.g. flushing sessions in Redis).
pub type BeforeCommit =
    Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, StoreError>> + Send>> + Send>;

/// Everything bootstrap creates.
#[derive(Clone, Debug)]
pub struct Bootstrap {
    /// The organization.
    pub organization: Organization,
    /// Its first admin.
    pub admin: NewMember,
    /// The admin's backup-credentials username.
    pub backup_username: String,
    /// The backup secret's argon2id PHC string.
    pub backup_secret_hash: String,
}

/// A member with the number of keys they hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSummary {
    /// The member.
    pub member: Member,
    /// How many security keys they have.
    pub key_count: u64,
}

/// Which members to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberQuery {
    /// Page size.
    pub first: u64,
    /// Members after this one (creation order).
    pub after: Option<MemberId>,
    /// Only members without any key.
    pub without_key: bool,
    /// Only members whose username, display name or e-mail contains this, ignoring case.
    pub search: Option<String>,
}

/// How many active members have keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemberStats {
    /// Active members.
    pub members: u64,
    /// Active members with at least one key.
    pub with_key: u64,
    /// Active members with exactly one key.
    pub with_one_key: u64,
    /// Deactivated members.
    pub deactivated: u64,
}

impl MemberStats {
    /// Active members without a key.
    pub fn without_key(&self) -> u64 {
        self.members.saturating_sub(self.with_key)
    }
}

/// Members.
#[async_trait]
pub trait MemberRepo: Send + Sync {
    /// One member of `org`.
    async fn member(&self, org: OrgId, id: MemberId) -> Result<Option<Member>, StoreError>;
    /// One member of `org` by username.
    async fn member_by_username(&self, org: OrgId, username: &str) -> Result<Option<Member>, StoreError>;
    /// One member of `org` by OIDC identity.
    async fn member_by_oidc(&self, org: OrgId, identity: &OidcIdentity) -> Result<Option<Member>, StoreError>;
    /// For each of `who`, in order, the member a pipeline names by it: by username or by the
    /// e-mail the IdP gave, ignoring case (a username match wins). One query for all of them.
    async fn members_by_login(&self, org: OrgId, who: &[&str]) -> Result<Vec<Option<Member>>, StoreError>;
    /// Creates a member; `Conflict` when the username or OIDC identity is taken.
    async fn create_member(&self, new: NewMember, at: DateTime<Utc>, audit: AuditRecord) -> Result<Member, StoreError>;
    /// Links an IdP account to a member who has none. `Conflict` when the member is linked already
    /// or the account belongs to another member of the organization.
    async fn link_oidc(
        &self,
        org: OrgId,
        id: MemberId,
        identity: OidcIdentity,
        audit: AuditRecord,
    ) -> Result<Member, StoreError>;
    /// Changes a member's role (SSO group sync).
    async fn set_role(&self, org: OrgId, id: MemberId, role: Role, audit: AuditRecord) -> Result<Member, StoreError>;
    /// Deactivates (`Some(at)`) or reactivates (`None`) a member for `actor`, under
    /// [`crate::member::deactivation_allowed`] checked against a locked count of active admins.
    async fn set_deactivated(
        &self,
        org: OrgId,
        actor: MemberId,
        id: MemberId,
        at: Option<DateTime<Utc>>,
        audit: AuditRecord,
    ) -> Result<Member, DomainError>;
    /// Records a finished login.
    async fn record_login(&self, org: OrgId, id: MemberId, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// A page of members with their key counts, in creation order.
    async fn members(&self, org: OrgId, query: MemberQuery) -> Result<Page<MemberSummary>, StoreError>;
    /// How many members of `org` have no key (one query, whatever the organization's size).
    async fn count_members_without_key(&self, org: OrgId) -> Result<u64, StoreError>;
    /// Remembers a member's IdP groups from an SSO login or a test sign-in.
    async fn record_idp_groups(&self, org: OrgId, member: MemberId, groups: &GroupClaims) -> Result<(), StoreError>;
    /// The active admins with their last known IdP groups.
    async fn admin_idp_groups(&self, org: OrgId) -> Result<Vec<AdminGroups>, StoreError>;
    /// Counts active members by how many keys they have, in one query.
    async fn member_stats(&self, org: OrgId) -> Result<MemberStats, StoreError>;
}

/// Who deletes a key: the rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletedBy {
    /// The key's owner.
    Owner,
    /// An organization admin.
    Admin,
}

/// The last-key rule (DESIGN §7): while MFA is enforced, an owner cannot delete their last key; an
/// admin can. Storage calls this inside the deleting transaction, with the count it locked.
pub fn key_deletion_allowed(by: DeletedBy, enforced: bool, keys_before: u64) -> Result<(), DomainError> {
    if by == DeletedBy::Owner && enforced && keys_before <= 1 {
        return Err(DomainError::LastKeyEnforced);
    }
    Ok(())
}

/// Security keys.
#[async_trait]
pub trait SecurityKeyRepo: Send + Sync {
    /// Stores a new key; `Conflict("credential_id")` when the credential is registered to anyone.
    async fn insert_key(&self, new: NewSecurityKey, audit: AuditRecord) -> Result<SecurityKey, StoreError>;
    /// A member's keys, oldest first.
    async fn keys_of(&self, org: OrgId, member: MemberId) -> Result<Vec<SecurityKey>, StoreError> {
        Ok(self.stored_keys_of(org, member).await?.into_iter().map(|k| k.key).collect())
    }
    /// A member's keys with their credentials, oldest first.
    async fn stored_keys_of(&self, org: OrgId, member: MemberId) -> Result<Vec<StoredSecurityKey>, StoreError>;
    /// Every key in `org`, by owner then age (one query, for organization-wide views).
    async fn keys_in_org(&self, org: OrgId) -> Result<Vec<SecurityKey>, StoreError>;
    /// One key of `org`, with its credential.
    async fn key(&self, org: OrgId, id: SecurityKeyId) -> Result<Option<StoredSecurityKey>, StoreError>;
    /// One key by credential ID, in any organization.
    async fn key_by_credential(&self, credential_id: &[u8]) -> Result<Option<StoredSecurityKey>, StoreError>;
    /// [`Self::key_by_credential`] with what a login's write is computed against (the audit head
    /// of the key's organization and its owner's username), in the same read.
    async fn key_for_login(&self, credential_id: &[u8]) -> Result<Option<(StoredSecurityKey, LoginBasis)>, StoreError>;
    /// Renames a key.
    async fn rename_key(
        &self,
        org: OrgId,
        id: SecurityKeyId,
        name: &str,
        audit: AuditRecord,
    ) -> Result<SecurityKey, StoreError>;
    /// Deletes a key under [`key_deletion_allowed`], checked against a locked count so that
    /// concurrent deletions cannot leave an owner with none. Returns the deleted key and how many
    /// the member has left.
    async fn delete_key(
        &self,
        org: OrgId,
        id: SecurityKeyId,
        by: DeletedBy,
        audit: AuditRecord,
    ) -> Result<(SecurityKey, u64), DomainError>;
    /// Records a successful assertion. The write is a compare-and-set on
    /// [`KeyUse::expected_sign_count`]: when another assertion changed the counter first, nothing
    /// is written and the answer is `Conflict("sign_count")`, so the caller judges the assertion
    /// again against the new counter (a counter never moves backwards).
    async fn record_key_use(&self, org: OrgId, id: SecurityKeyId, used: KeyUse) -> Result<(), StoreError>;
    /// Records a finished security-key login atomically: the key's use (compare-and-set, as
    /// [`Self::record_key_use`]), the member's login time and the audit events. `basis` is what
    /// [`Self::key_for_login`] read: while it is current, a store may write all of it in one
    /// statement; when the chain or the username moved since, the store recomputes against the
    /// new values. A member deactivated in between answers `NotFound`, and nothing is written.
    async fn record_key_login(
        &self,
        org: OrgId,
        member: MemberId,
        key: SecurityKeyId,
        used: KeyUse,
        audit: Vec<AuditRecord>,
        basis: LoginBasis,
    ) -> Result<(), StoreError>;
}

/// Recovery codes (stored as SHA-256 hashes only).
#[async_trait]
pub trait RecoveryCodeRepo: Send + Sync {
    /// Replaces a member's codes with new ones, voiding the old.
    async fn replace_recovery_codes(
        &self,
        org: OrgId,
        member: MemberId,
        code_hashes: Vec<String>,
        at: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<(), StoreError>;
    /// Uses a code once; `false` when it does not exist or was used.
    async fn consume_recovery_code(
        &self,
        org: OrgId,
        member: MemberId,
        code_hash: &str,
        at: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<bool, StoreError>;
    /// How many codes a member has, how many are unused, and since when.
    async fn recovery_code_status(&self, org: OrgId, member: MemberId) -> Result<RecoveryCodeStatus, StoreError>;
}

/// A member's current set of recovery codes, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryCodeStatus {
    /// Codes in the current set (0 when none were ever generated).
    pub total: u64,
    /// Codes of the set not used yet.
    pub unused: u64,
    /// When the set was generated.
    pub generated_at: Option<DateTime<Utc>>,
}

impl RecoveryCodeStatus {
    /// Counts a set from each code's creation and use times.
    pub fn of(codes: impl IntoIterator<Item = (DateTime<Utc>, Option<DateTime<Utc>>)>) -> Self {
        codes.into_iter().fold(Self::default(), |status, (created, used)| Self {
            total: status.total + 1,
            unused: status.unused + u64::from(used.is_none()),
            generated_at: status.generated_at.max(Some(created)),
        })
    }
}

/// An organization's OIDC settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConfig {
    /// Issuer URL.
    pub issuer: String,
    /// Client ID.
    pub client_id: String,
    /// Client secret (never returned through the API).
    pub client_secret: String,
    /// Scopes to ask for besides `openid`.
    pub scopes: Vec<String>,
    /// ID-token claim holding groups.
    pub admin_group_claim: Option<String>,
    /// Group value that makes a member ADMIN.
    pub admin_group_value: Option<String>,
    /// When non-empty, only e-mail addresses in these domains may log in.
    pub allowed_email_domains: Vec<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// SSO configuration.
#[async_trait]
pub trait SsoConfigRepo: Send + Sync {
    /// The organization's SSO settings.
    async fn sso_config(&self, org: OrgId) -> Result<Option<SsoConfig>, StoreError>;
    /// Saves them.
    async fn put_sso_config(&self, org: OrgId, config: SsoConfig, audit: AuditRecord) -> Result<(), StoreError>;
}

/// The kinds of organization policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PolicyKind {
    /// WebAuthn ceremony policy (JSON).
    Webauthn,
    /// Step-up policy (Rego).
    StepUp,
    /// Pipeline approval policy (Rego).
    Approval,
}

impl PolicyKind {
    /// The stable spelling used in storage.
    pub fn as_str(&self) -> &'static str {
        match self {
            PolicyKind::Webauthn => "WEBAUTHN",
            PolicyKind::StepUp => "STEP_UP",
            PolicyKind::Approval => "APPROVAL",
        }
    }
}

/// A stored policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPolicy {
    /// Which policy.
    pub kind: PolicyKind,
    /// Its text (JSON or Rego).
    pub body: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Who changed it.
    pub updated_by: Option<MemberId>,
    /// How many times it was saved (the first save is version 1).
    pub version: u64,
}

/// Organization policies.
#[async_trait]
pub trait PolicyRepo: Send + Sync {
    /// A policy, if set.
    async fn policy(&self, org: OrgId, kind: PolicyKind) -> Result<Option<StoredPolicy>, StoreError>;
    /// Saves a new version of a policy over `expected_version` (0: none saved yet), keeping the
    /// text of every version, with its audit event in the same transaction. Returns the new
    /// version; `Conflict` when another save got there first.
    async fn put_policy(
        &self,
        org: OrgId,
        policy: StoredPolicy,
        expected_version: u64,
        audit: AuditRecord,
    ) -> Result<u64, StoreError>;
}

/// An organization's break-glass login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupCredential {
    /// The organization.
    pub org_id: OrgId,
    /// The member it logs in as.
    pub member_id: MemberId,
    /// Username.
    pub username: String,
    /// argon2id PHC string of the secret.
    pub secret_hash: String,
    /// Last rotation.
    pub rotated_at: DateTime<Utc>,
}

/// Backup credentials.
#[async_trait]
pub trait BackupCredentialRepo: Send + Sync {
    /// The credential with this username in `org`.
    async fn backup_credential(&self, org: OrgId, username: &str) -> Result<Option<BackupCredential>, StoreError>;
    /// Replaces the secret.
    async fn rotate_backup_credential(
        &self,
        org: OrgId,
        secret_hash: String,
        at: DateTime<Utc>,
        audit: AuditRecord,
    ) -> Result<BackupCredential, StoreError>;
}

/// Which audit events to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Exact action.
    pub action: Option<String>,
    /// Exact actor.
    pub actor: Option<String>,
    /// Exact target.
    pub target: Option<String>,
    /// Exact actor or exact target: everything by or about someone (`member:<id>`).
    pub involving: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// Only events older than this `seq` (the cursor).
    pub before_seq: Option<u64>,
    /// Page size.
    pub first: u64,
}

/// The audit chain.
#[async_trait]
pub trait AuditRepo: Send + Sync {
    /// Appends one event on its own (for events that change nothing else, like a login).
    async fn append_audit(&self, org: OrgId, record: AuditRecord) -> Result<AuditEvent, StoreError>;
    /// A page of events, newest first.
    async fn audit_events(&self, org: OrgId, query: AuditQuery) -> Result<Page<AuditEvent>, StoreError>;
    /// Events in chain order with `seq > after`, at most `limit` (for verification and export).
    async fn audit_chain(&self, org: OrgId, after: u64, limit: u64) -> Result<Vec<AuditEvent>, StoreError>;
    /// The organization's stored head: the `seq` and `hash` of its newest event, moved in the same
    /// transaction as every append (`None` when the row is gone).
    async fn audit_head(&self, org: OrgId) -> Result<Option<AuditHead>, StoreError>;
}

/// Everything the database offers, as one handle.
pub trait Repositories:
    OrganizationRepo
    + MemberRepo
    + SecurityKeyRepo
    + RecoveryCodeRepo
    + SsoConfigRepo
    + PolicyRepo
    + BackupCredentialRepo
    + AuditRepo
{
}

impl<T> Repositories for T where
    T: OrganizationRepo
        + MemberRepo
        + SecurityKeyRepo
        + RecoveryCodeRepo
        + SsoConfigRepo
        + PolicyRepo
        + BackupCredentialRepo
        + AuditRepo
{
}

/// Signing keys of step-up tokens, shared by every gateway instance (see
/// [`crate::step_up_token`] for when keys are created, sign, and stop being published).
#[async_trait]
pub trait SigningKeyRepo: Send + Sync {
    /// Every stored key, oldest generation first.
    async fn signing_keys(&self) -> Result<Vec<crate::step_up_token::SigningKey>, StoreError>;
    /// Adds `key` and sets `retired_at = retire_older_at` on every older key that has none, in one
    /// transaction. `Ok(false)` (and nothing changed) when `key.generation` is taken: another
    /// instance rotated first, and the caller reloads.
    async fn add_signing_key(
        &self,
        key: crate::step_up_token::SigningKey,
        retire_older_at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Deletes the keys retired at or before `cutoff` (no longer published); returns how many.
    async fn delete_signing_keys_retired_by(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_keep_their_last_key_only_while_enforced() {
        assert_eq!(key_deletion_allowed(DeletedBy::Owner, true, 1), Err(DomainError::LastKeyEnforced));
        assert!(key_deletion_allowed(DeletedBy::Owner, true, 2).is_ok());
        assert!(key_deletion_allowed(DeletedBy::Owner, false, 1).is_ok());
        assert!(key_deletion_allowed(DeletedBy::Admin, true, 1).is_ok());
    }
}
