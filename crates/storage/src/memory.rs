//! The in-process session and ceremony store: for a single instance without Redis.
//!
//! It follows exactly the rules of the Redis store (the same conformance suite runs on both), but
//! its state dies with the process and is not shared between instances.

mod handoff;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::ceremony::Ceremony;
use keyward_domain::ids::{CeremonyId, MemberId, OrgId};
use keyward_domain::rate_limit::{Limit, RateLimiter};
use keyward_domain::repo::PolicyKind;
use keyward_domain::session::{Epochs, MAX_SESSIONS_PER_MEMBER, NewSession, Session, SessionLifetimes, TokenHash};
use keyward_domain::store::{CeremonyStore, Counted, Created, SessionStore};

#[derive(Default)]
struct State {
    sessions: HashMap<TokenHash, Session>,
    by_org: HashMap<OrgId, HashSet<TokenHash>>,
    org_epochs: HashMap<OrgId, u64>,
    member_epochs: HashMap<(OrgId, MemberId), u64>,
    keyless_epochs: HashMap<OrgId, u64>,
    policy_versions: HashMap<(OrgId, PolicyKind), u64>,
    ceremonies: HashMap<(OrgId, CeremonyId), Ceremony>,
    rate_windows: HashMap<String, (u32, DateTime<Utc>)>,
}

impl State {
    fn epochs(&self, org: OrgId, member: MemberId) -> Epochs {
        Epochs {
            org: self.org_epochs.get(&org).copied().unwrap_or(0),
            member: self.member_epochs.get(&(org, member)).copied().unwrap_or(0),
            keyless: self.keyless_epochs.get(&org).copied().unwrap_or(0),
        }
    }

    fn is_live(&self, session: &Session, now: DateTime<Utc>) -> bool {
        session.is_live(now, &self.epochs(session.org_id, session.member_id))
    }

    fn live(&self, org: OrgId, hash: &TokenHash, now: DateTime<Utc>) -> Option<&Session> {
        self.sessions.get(hash).filter(|s| s.org_id == org && self.is_live(s, now))
    }

    fn insert(&mut self, session: Session) {
        self.by_org.entry(session.org_id).or_default().insert(session.token_hash.clone());
        self.sessions.insert(session.token_hash.clone(), session);
    }

    fn remove(&mut self, hash: &TokenHash) -> Option<Session> {
        let session = self.sessions.remove(hash)?;
        if let Some(set) = self.by_org.get_mut(&session.org_id) {
            set.remove(hash);
        }
        Some(session)
    }

    fn org_sessions(&self, org: OrgId) -> Vec<TokenHash> {
        self.by_org.get(&org).map(|set| set.iter().cloned().collect()).unwrap_or_default()
    }

    /// Ends the member's oldest live sessions until a new one fits under
    /// [`MAX_SESSIONS_PER_MEMBER`].
    fn make_room(&mut self, org: OrgId, member: MemberId, now: DateTime<Utc>) -> u32 {
        let mut theirs: Vec<(DateTime<Utc>, TokenHash)> = self
            .org_sessions(org)
            .into_iter()
            .filter_map(|hash| {
                self.live(org, &hash, now).filter(|s| s.member_id == member).map(|s| (s.created_at, hash))
            })
            .collect();
        theirs.sort();
        let over = (theirs.len() + 1).saturating_sub(MAX_SESSIONS_PER_MEMBER);
        for (_, hash) in theirs.into_iter().take(over) {
            self.remove(&hash);
        }
        u32::try_from(over).unwrap_or(u32::MAX)
    }

    /// Physically drops the org's sessions that are no longer live.
    fn purge(&mut self, org: OrgId, now: DateTime<Utc>) {
        for hash in self.org_sessions(org) {
            let dead = self.sessions.get(&hash).is_some_and(|s| !self.is_live(s, now));
            if dead {
                self.remove(&hash);
            }
        }
    }
}

/// Sessions and ceremonies in this process's memory.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    handoffs: handoff::Handoffs,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that grants
        // access (every update is a single insert/remove), so keep serving.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(
        &self,
        new: NewSession,
        lifetimes: SessionLifetimes,
        now: DateTime<Utc>,
    ) -> Result<Created, StoreError> {
        let mut state = self.lock();
        let epochs = state.epochs(new.org_id, new.member_id);
        let session = new.start(now, lifetimes, epochs);
        let evicted = state.make_room(session.org_id, session.member_id, now);
        state.insert(session.clone());
        Ok(Created { session, evicted })
    }

    async fn lookup(&self, org: OrgId, hash: &TokenHash, now: DateTime<Utc>) -> Result<Option<Session>, StoreError> {
        let mut state = self.lock();
        let policy_version = state.policy_versions.get(&(org, PolicyKind::StepUp)).copied();
        let webauthn_policy_version = state.policy_versions.get(&(org, PolicyKind::Webauthn)).copied();
        let Some(mut session) = state.live(org, hash, now).cloned() else {
            if state.sessions.get(hash).is_some_and(|s| s.org_id == org) {
                state.remove(hash);
            }
            return Ok(None);
        };
        if session.needs_touch(now) {
            session.last_seen_at = now;
            state.insert(session.clone());
        }
        session.policy_version = policy_version;
        session.webauthn_policy_version = webauthn_policy_version;
        Ok(Some(session))
    }

    async fn replace(&self, old: &TokenHash, next: &Session, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let Some(current) = state.live(next.org_id, old, now).cloned() else {
            return Ok(false);
        };
        state.remove(old);
        let mut next = next.clone();
        next.org_epoch = current.org_epoch;
        next.member_epoch = current.member_epoch;
        next.keyless_epoch = current.keyless_epoch;
        state.insert(next);
        Ok(true)
    }

    async fn revoke(&self, org: OrgId, hash: &TokenHash, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let was_live = state.live(org, hash, now).is_some();
        if state.sessions.get(hash).is_some_and(|s| s.org_id == org) {
            state.remove(hash);
        }
        Ok(was_live)
    }

    async fn revoke_member(
        &self,
        org: OrgId,
        member: MemberId,
        keep: Option<&TokenHash>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let mut revoked = 0;
        let mut kept = None;
        for hash in state.org_sessions(org) {
            let Some(session) = state.sessions.get(&hash) else {
                continue;
            };
            if session.member_id != member {
                continue;
            }
            let live = state.is_live(session, now);
            if live && Some(&hash) == keep {
                kept = Some(hash);
            } else if live {
                revoked += 1;
            }
        }
        let epoch = state.member_epochs.entry((org, member)).or_insert(0);
        *epoch += 1;
        let new_epoch = *epoch;
        if let Some(session) = kept.and_then(|hash| state.sessions.get_mut(&hash)) {
            session.member_epoch = new_epoch;
        }
        state.purge(org, now);
        Ok(revoked)
    }

    async fn revoke_org(&self, org: OrgId, keep: Option<&TokenHash>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let live: Vec<TokenHash> =
            state.org_sessions(org).into_iter().filter(|hash| state.live(org, hash, now).is_some()).collect();
        let kept = keep.filter(|hash| live.contains(hash)).cloned();
        let epoch = state.org_epochs.entry(org).or_insert(0);
        *epoch += 1;
        let new_epoch = *epoch;
        if let Some(session) = kept.as_ref().and_then(|hash| state.sessions.get_mut(hash)) {
            session.org_epoch = new_epoch;
        }
        state.purge(org, now);
        Ok(live.len() as u64 - u64::from(kept.is_some()))
    }

    async fn revoke_keyless(&self, org: OrgId, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut state = self.lock();
        *state.keyless_epochs.entry(org).or_insert(0) += 1;
        state.purge(org, now);
        Ok(())
    }

    async fn live_sessions(&self, org: OrgId, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let state = self.lock();
        let count = state.org_sessions(org).iter().filter(|hash| state.live(org, hash, now).is_some()).count();
        Ok(count as u64)
    }

    async fn live_sessions_of(
        &self,
        org: OrgId,
        members: &[MemberId],
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>, StoreError> {
        let state = self.lock();
        let mut counts: HashMap<MemberId, u64> = HashMap::new();
        for hash in state.org_sessions(org) {
            if let Some(session) = state.live(org, &hash, now) {
                *counts.entry(session.member_id).or_default() += 1;
            }
        }
        Ok(members.iter().map(|m| counts.get(m).copied().unwrap_or(0)).collect())
    }

    async fn sessions_of(
        &self,
        org: OrgId,
        member: MemberId,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        let state = self.lock();
        let mut sessions: Vec<Session> = state
            .org_sessions(org)
            .iter()
            .filter_map(|hash| state.live(org, hash, now))
            .filter(|s| s.member_id == member)
            .cloned()
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.last_seen_at));
        sessions.truncate(limit);
        Ok(sessions)
    }

    async fn count_keyless(&self, org: OrgId, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let state = self.lock();
        let hashes = state.org_sessions(org);
        Ok(hashes.iter().filter_map(|hash| state.live(org, hash, now)).filter(|s| s.is_keyless()).count() as u64)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn announce_policy_version(
        &self,
        org: OrgId,
        kind: PolicyKind,
        version: u64,
        if_unknown: bool,
    ) -> Result<(), StoreError> {
        if !matches!(kind, PolicyKind::StepUp | PolicyKind::Webauthn) {
            return Err(StoreError::Unexpected(format!("no version is announced for {} policies", kind.as_str())));
        }
        let mut state = self.lock();
        if !(if_unknown && state.policy_versions.contains_key(&(org, kind))) {
            state.policy_versions.insert((org, kind), version);
        }
        Ok(())
    }
}

#[async_trait]
impl CeremonyStore for MemoryStore {
    async fn put(&self, ceremony: &Ceremony, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.ceremonies.retain(|_, c| c.expires_at > now);
        state.ceremonies.insert((ceremony.org_id, ceremony.id), ceremony.clone());
        Ok(())
    }

    async fn take(&self, org: OrgId, id: CeremonyId) -> Result<Option<Ceremony>, StoreError> {
        Ok(self.lock().ceremonies.remove(&(org, id)))
    }

    async fn take_counted(
        &self,
        org: OrgId,
        id: CeremonyId,
        limits: &[(String, Limit)],
        now: DateTime<Utc>,
    ) -> Result<Counted, StoreError> {
        for (bucket, limit) in limits {
            let (count, resets_in) = self.hit(&format!("{org}:{bucket}"), *limit, now).await?;
            if count > limit.max {
                return Ok(Counted::RateLimited { retry_after_seconds: resets_in.max(1) });
            }
        }
        Ok(Counted::Taken(self.lock().ceremonies.remove(&(org, id))))
    }
}

#[async_trait]
impl RateLimiter for MemoryStore {
    async fn hit(&self, bucket: &str, limit: Limit, now: DateTime<Utc>) -> Result<(u32, u64), StoreError> {
        let mut state = self.lock();
        state.rate_windows.retain(|_, (_, ends)| *ends > now);
        let window = chrono::Duration::seconds(i64::from(limit.window_seconds));
        let entry = state.rate_windows.entry(bucket.to_owned()).or_insert((0, now + window));
        entry.0 = entry.0.saturating_add(1);
        let resets_in = (entry.1 - now).num_milliseconds().max(0) as u64;
        Ok((entry.0, resets_in.div_ceil(1000)))
    }

    async fn refund(&self, bucket: &str) -> Result<(), StoreError> {
        if let Some(entry) = self.lock().rate_windows.get_mut(bucket) {
            entry.0 = entry.0.saturating_sub(1);
        }
        Ok(())
    }
}
