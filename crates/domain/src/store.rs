//! Session and ceremony stores: what the domain needs from Redis (or the in-process stand-in).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ceremony::Ceremony;
use crate::error::StoreError;
use crate::handoff::{Handoff, HandoffId, HandoffResult};
use crate::ids::{CeremonyId, MemberId, OrgId};
use crate::rate_limit::Limit;
use crate::repo::PolicyKind;
use crate::session::{NewSession, Session, SessionLifetimes, TokenHash};

/// A session just started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    /// The new session.
    pub session: Session,
    /// How many of the member's oldest sessions ended to keep them within the cap.
    pub evicted: u32,
}

/// Server-side sessions with per-organization, per-member and keyless epochs (DESIGN §4).
///
/// A session is live while its stamped epochs equal the current ones and its deadline has not
/// passed ([`Session::is_live`]). Bumping an epoch ends every session stamped with the old one in
/// O(1); the dead entries are removed afterwards.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Starts a session at `now`, stamped with the current epochs. When the member already keeps
    /// [`MAX_SESSIONS_PER_MEMBER`](crate::session::MAX_SESSIONS_PER_MEMBER) live sessions, their
    /// oldest end to make room, and the answer says how many did.
    async fn create(
        &self,
        new: NewSession,
        lifetimes: SessionLifetimes,
        now: DateTime<Utc>,
    ) -> Result<Created, StoreError>;

    /// The live session with this hash, in one round trip (epochs included), touching its
    /// last-seen time when [`Session::needs_touch`] says so.
    async fn lookup(&self, org: OrgId, hash: &TokenHash, now: DateTime<Utc>) -> Result<Option<Session>, StoreError>;

    /// Atomically replaces the live session `old` with `next` (a new stage, or a rotated token
    /// when `next.token_hash` differs), keeping the old epochs. `false` when `old` is no longer live.
    async fn replace(&self, old: &TokenHash, next: &Session, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Ends one session; `false` when it was not live.
    async fn revoke(&self, org: OrgId, hash: &TokenHash, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Ends every session of a member but `keep`, by bumping the member's epoch. Returns how many
    /// live sessions ended.
    async fn revoke_member(
        &self,
        org: OrgId,
        member: MemberId,
        keep: Option<&TokenHash>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Ends every session of an organization but `keep`, atomically, by bumping the organization's
    /// epoch and re-stamping `keep`. Returns how many live sessions ended.
    async fn revoke_org(&self, org: OrgId, keep: Option<&TokenHash>, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Ends, in O(1), every session of an organization that no security key has confirmed
    /// ([`Session::is_keyless`]), by bumping the organization's keyless epoch.
    async fn revoke_keyless(&self, org: OrgId, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Live sessions in an organization.
    async fn live_sessions(&self, org: OrgId, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Live sessions of each member, in the order given.
    async fn live_sessions_of(
        &self,
        org: OrgId,
        members: &[MemberId],
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>, StoreError>;

    /// A member's live sessions, most recently seen first, at most `limit`.
    async fn sessions_of(
        &self,
        org: OrgId,
        member: MemberId,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError>;

    /// How many live sessions of the organization no security key has confirmed
    /// ([`Session::is_keyless`]): those [`SessionStore::revoke_keyless`] would end.
    async fn count_keyless(&self, org: OrgId, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Announces the version of the organization's step-up or WebAuthn policy (0: none saved) to
    /// every instance: [`SessionStore::lookup`] returns them as [`Session::policy_version`] and
    /// [`Session::webauthn_policy_version`]. With `if_unknown` it is only set when no version is
    /// known yet (a read-through from the database must never overwrite a newer save). Other
    /// kinds of policy have no announced version: an error.
    async fn announce_policy_version(
        &self,
        org: OrgId,
        kind: PolicyKind,
        version: u64,
        if_unknown: bool,
    ) -> Result<(), StoreError>;
}

/// Short-lived ceremony state, taken exactly once.
#[async_trait]
pub trait CeremonyStore: Send + Sync {
    /// Keeps `ceremony` until its `expires_at`.
    async fn put(&self, ceremony: &Ceremony, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Takes the ceremony out (GETDEL): a second take finds nothing.
    async fn take(&self, org: OrgId, id: CeremonyId) -> Result<Option<Ceremony>, StoreError>;

    /// Counts one attempt against each of `limits` (buckets of the organization, in order, up to
    /// the first one exceeded) and, unless one is exceeded, takes the ceremony out: one atomic
    /// step, so a ceremony finish costs one round trip before its verification.
    async fn take_counted(
        &self,
        org: OrgId,
        id: CeremonyId,
        limits: &[(String, Limit)],
        now: DateTime<Utc>,
    ) -> Result<Counted, StoreError>;
}

/// What [`CeremonyStore::take_counted`] found.
#[derive(Debug)]
pub enum Counted {
    /// A limit is exceeded; the ceremony was left alone.
    RateLimited {
        /// Seconds until the exceeded window resets (at least 1).
        retry_after_seconds: u64,
    },
    /// The ceremony, if it was still kept.
    Taken(Option<Ceremony>),
}

/// Terminal hand-offs (`keyward login`, `keyward step-up`): short-lived, completed once,
/// delivered once.
#[async_trait]
pub trait HandoffStore: Send + Sync {
    /// Keeps a new, pending hand-off until its `expires_at`.
    async fn create_handoff(&self, handoff: &Handoff, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// The hand-off, if it is still kept (pending or completed and not yet delivered).
    async fn handoff(&self, id: HandoffId, now: DateTime<Utc>) -> Result<Option<Handoff>, StoreError>;

    /// Records `result` atomically if the hand-off is still kept and pending; `false` otherwise
    /// (gone, expired, or completed by someone else first).
    async fn complete_handoff(
        &self,
        id: HandoffId,
        result: &HandoffResult,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Takes a completed hand-off out atomically: exactly one caller gets it, and it is gone
    /// afterwards. `None` while it is pending, or once it was taken or expired.
    async fn take_completed_handoff(&self, id: HandoffId, now: DateTime<Utc>) -> Result<Option<Handoff>, StoreError>;
}
