//! Terminal hand-offs in process: one lock makes completion and delivery atomic.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::handoff::{Handoff, HandoffId, HandoffResult};
use keyward_domain::store::HandoffStore;

use super::MemoryStore;

/// The hand-offs kept, dropped once expired (the Redis store's TTL).
#[derive(Default)]
pub(super) struct Handoffs(Mutex<HashMap<HandoffId, Handoff>>);

impl Handoffs {
    /// The map with every expired hand-off dropped.
    fn live(&self, now: DateTime<Utc>) -> std::sync::MutexGuard<'_, HashMap<HandoffId, Handoff>> {
        // Every update is a single insert or remove, so a panic elsewhere cannot leave it half-done.
        let mut map = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        map.retain(|_, h| !h.is_expired(now));
        map
    }
}

#[async_trait]
impl HandoffStore for MemoryStore {
    async fn create_handoff(&self, handoff: &Handoff, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut map = self.handoffs.live(now);
        if map.contains_key(&handoff.id) {
            return Err(StoreError::Conflict("handoff id".into()));
        }
        map.insert(handoff.id, handoff.clone());
        Ok(())
    }

    async fn handoff(&self, id: HandoffId, now: DateTime<Utc>) -> Result<Option<Handoff>, StoreError> {
        Ok(self.handoffs.live(now).get(&id).cloned())
    }

    async fn complete_handoff(
        &self,
        id: HandoffId,
        result: &HandoffResult,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut map = self.handoffs.live(now);
        match map.get_mut(&id) {
            Some(handoff) if handoff.result.is_none() => {
                handoff.result = Some(result.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn take_completed_handoff(&self, id: HandoffId, now: DateTime<Utc>) -> Result<Option<Handoff>, StoreError> {
        let mut map = self.handoffs.live(now);
        if map.get(&id).is_some_and(|h| h.result.is_some()) { Ok(map.remove(&id)) } else { Ok(None) }
    }
}
