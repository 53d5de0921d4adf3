//! Terminal hand-offs in Redis, one hash per hand-off under `<namespace>:{ho:<id>}` (its own
//! hash tag: a login hand-off belongs to no organization until it is approved).
//!
//! Fields: `h` the pending hand-off (JSON), `e` its expiry (ms), `r` the result once approved
//! (JSON). The key's TTL is the hand-off's lifetime; completing keeps it, delivery deletes the key.
//! Completion and delivery are Lua scripts, so each happens at most once across instances.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::handoff::{Handoff, HandoffId, HandoffResult};
use keyward_domain::store::HandoffStore;
use redis::Script;

use super::{RedisStore, map_err, millis};

/// KEYS: the hand-off. ARGV: JSON, expiry (ms), TTL (ms). 0 when the ID is taken.
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// KEYS: the hand-off. ARGV: result JSON, now (ms). 1 when this call recorded the result.
const COMPLETE: &str = r"
local e = redis.call('HGET', KEYS[1], 'e')
if not e or tonumber(e) <= tonumber(ARGV[2]) then return 0 end
if redis.call('HSETNX', KEYS[1], 'r', ARGV[1]) == 0 then return 0 end
return 1
";

/// KEYS: the hand-off. ARGV: now (ms). {hand-off, result} for the one caller that takes it.
const TAKE_COMPLETED: &str = r"
local v = redis.call('HMGET', KEYS[1], 'h', 'r', 'e')
if not v[1] or not v[2] or not v[3] or tonumber(v[3]) <= tonumber(ARGV[1]) then return false end
redis.call('DEL', KEYS[1])
return {v[1], v[2]}
";

/// The hand-off scripts, loaded once per store.
pub(super) struct HandoffScripts {
    create: Script,
    complete: Script,
    take_completed: Script,
}

impl HandoffScripts {
    pub(super) fn load() -> Self {
        Self {
            create: Script::new(CREATE),
            complete: Script::new(COMPLETE),
            take_completed: Script::new(TAKE_COMPLETED),
        }
    }

    /// Every script by name, for the spans that name what an `EVALSHA` ran.
    pub(super) fn named(&self) -> [(&'static str, &Script); 3] {
        [
            ("handoff_create", &self.create),
            ("handoff_complete", &self.complete),
            ("handoff_take_completed", &self.take_completed),
        ]
    }
}

fn corrupt(err: serde_json::Error) -> StoreError {
    StoreError::Unexpected(format!("corrupt hand-off: {err}"))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unexpected(e.to_string()))
}

/// The stored hand-off with its result, if any.
fn decode(pending: &str, result: Option<&str>) -> Result<Handoff, StoreError> {
    let mut handoff: Handoff = serde_json::from_str(pending).map_err(corrupt)?;
    handoff.result = result.map(serde_json::from_str).transpose().map_err(corrupt)?;
    Ok(handoff)
}

impl RedisStore {
    fn handoff_key(&self, id: HandoffId) -> String {
        format!("{}:{{ho:{}}}", self.namespace, id.0.simple())
    }
}

#[async_trait]
impl HandoffStore for RedisStore {
    async fn create_handoff(&self, handoff: &Handoff, now: DateTime<Utc>) -> Result<(), StoreError> {
        let pending = Handoff { result: None, ..handoff.clone() };
        let ttl_ms = (handoff.expires_at - now).num_milliseconds().max(1);
        let created: u8 = self
            .handoff_scripts
            .create
            .key(self.handoff_key(handoff.id))
            .arg(to_json(&pending)?)
            .arg(millis(handoff.expires_at))
            .arg(ttl_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        if created == 1 { Ok(()) } else { Err(StoreError::Conflict("handoff id".into())) }
    }

    async fn handoff(&self, id: HandoffId, now: DateTime<Utc>) -> Result<Option<Handoff>, StoreError> {
        let (pending, result): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.handoff_key(id))
            .arg("h")
            .arg("r")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        let Some(pending) = pending else { return Ok(None) };
        let handoff = decode(&pending, result.as_deref())?;
        Ok((!handoff.is_expired(now)).then_some(handoff))
    }

    async fn complete_handoff(
        &self,
        id: HandoffId,
        result: &HandoffResult,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let completed: u8 = self
            .handoff_scripts
            .complete
            .key(self.handoff_key(id))
            .arg(to_json(result)?)
            .arg(millis(now))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok(completed == 1)
    }

    async fn take_completed_handoff(&self, id: HandoffId, now: DateTime<Utc>) -> Result<Option<Handoff>, StoreError> {
        let taken: Option<(String, String)> = self
            .handoff_scripts
            .take_completed
            .key(self.handoff_key(id))
            .arg(millis(now))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        taken.map(|(pending, result)| decode(&pending, Some(&result))).transpose()
    }
}
