//! Replay caches: a step-up token is meant for one use, and its `jti` says which token it is.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// Remembers the `jti`s of accepted tokens for as long as the tokens themselves are accepted.
///
/// [`super::verify_offline`] consults it last, only for tokens that passed every other check, so a
/// forged token can neither fill it nor burn a real token's `jti`. A verifier running several
/// instances needs one shared cache (e.g. Redis `SET jti 1 NX EXAT until`) behind this trait.
pub trait ReplayCache: Send {
    /// Records `jti` as used until `until` (seconds since the epoch). Returns `false`, recording
    /// nothing, when `jti` is already recorded: the token is being replayed. Entries whose `until`
    /// is before `now` may be forgotten.
    fn check_and_record(&mut self, jti: &str, until: i64, now: i64) -> bool;
}

/// An in-process [`ReplayCache`]. Each entry is dropped once its token has expired (at
/// `exp` + leeway), so its size is bounded by the tokens accepted within one token lifetime.
#[derive(Debug, Default)]
pub struct MemoryReplayCache {
    until: HashMap<String, i64>,
    by_expiry: BinaryHeap<Reverse<(i64, String)>>,
}

impl MemoryReplayCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many `jti`s are remembered.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    fn forget_expired(&mut self, now: i64) {
        while let Some(Reverse((until, _))) = self.by_expiry.peek()
            && *until < now
        {
            let Some(Reverse((_, jti))) = self.by_expiry.pop() else { break };
            self.until.remove(&jti);
        }
    }
}

impl ReplayCache for MemoryReplayCache {
    fn check_and_record(&mut self, jti: &str, until: i64, now: i64) -> bool {
        self.forget_expired(now);
        if self.until.contains_key(jti) {
            return false;
        }
        self.until.insert(jti.to_owned(), until);
        self.by_expiry.push(Reverse((until, jti.to_owned())));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jti_is_refused_until_its_token_expired_and_then_forgotten() {
        let mut cache = MemoryReplayCache::new();
        assert!(cache.check_and_record("a", 100, 0));
        assert!(cache.check_and_record("b", 200, 0));
        assert!(!cache.check_and_record("a", 100, 50), "a replay within the lifetime");
        assert!(!cache.check_and_record("a", 100, 100), "still remembered at its last second");
        assert_eq!(cache.len(), 2);
        assert!(cache.check_and_record("c", 300, 101));
        assert_eq!(cache.len(), 2, "a was dropped after its expiry");
        assert!(!cache.check_and_record("b", 200, 150));
        assert!(cache.check_and_record("d", 400, 1000));
        assert_eq!(cache.len(), 1, "only the newest entry is left");
    }
}
