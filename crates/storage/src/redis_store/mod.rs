//! The Redis session and ceremony store, shared by every gateway instance.

mod codec;
mod conn;
mod fast_lookup;
mod handoff;
mod scripts;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::ceremony::Ceremony;
use keyward_domain::ids::{CeremonyId, MemberId, OrgId};
use keyward_domain::rate_limit::{Limit, RateLimiter};
use keyward_domain::repo::PolicyKind;
use keyward_domain::session::{Epochs, NewSession, Session, SessionLifetimes, TokenHash};
use keyward_domain::store::{CeremonyStore, Counted, Created, SessionStore};
use redis::{AsyncCommands, Script};

use conn::Conn;
use redis::cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};

/// Deleted per round trip when a revoked epoch's sessions are purged in the background.
/// Small enough that a request's command queued behind a batch waits a fraction of a millisecond.
const PURGE_BATCH: usize = 200;

/// The pause before each purge batch: a purge then takes a small share of Redis and of the
/// gateway, so requests (the revoking one's own remaining work first) seldom queue behind a batch.
/// A million sessions purge in about ten seconds.
const PURGE_PAUSE: Duration = Duration::from_millis(2);

/// How long a revocation on a cluster waits for a replica to confirm it.
const REPLICATION_WAIT: Duration = Duration::from_millis(500);

/// How long an epoch key outlives its last bump unless [`RedisStore::with_session_ttl`] says
/// otherwise: longer than the longest session the configuration allows (30 days).
const DEFAULT_EPOCH_RETENTION: Duration = Duration::from_secs(31 * 86_400);

struct Scripts {
    create: Script,
    lookup: Script,
    replace: Script,
    revoke: Script,
    revoke_member: Script,
    revoke_org: Script,
    revoke_keyless: Script,
    purge_dead: Script,
    live_of: Script,
    sessions_of: Script,
    count_keyless: Script,
    rate_hit: Script,
    rate_refund: Script,
    take_counted: Script,
}

impl Scripts {
    /// Every script by name, for the spans that name what an `EVALSHA` ran.
    fn named(&self) -> [(&'static str, &Script); 14] {
        [
            ("create", &self.create),
            ("lookup", &self.lookup),
            ("replace", &self.replace),
            ("revoke", &self.revoke),
            ("revoke_member", &self.revoke_member),
            ("revoke_org", &self.revoke_org),
            ("revoke_keyless", &self.revoke_keyless),
            ("purge_dead", &self.purge_dead),
            ("live_of", &self.live_of),
            ("sessions_of", &self.sessions_of),
            ("count_keyless", &self.count_keyless),
            ("rate_hit", &self.rate_hit),
            ("rate_refund", &self.rate_refund),
            ("take_counted", &self.take_counted),
        ]
    }

    fn load() -> Self {
        let script = |body: &str| Script::new(&scripts::with_helpers(body));
        Self {
            create: script(scripts::CREATE),
            lookup: Script::new(&scripts::lookup()),
            replace: script(scripts::REPLACE),
            revoke: script(scripts::REVOKE),
            revoke_member: script(scripts::REVOKE_MEMBER),
            revoke_org: script(scripts::REVOKE_ORG),
            revoke_keyless: script(scripts::REVOKE_KEYLESS),
            purge_dead: Script::new(scripts::PURGE_DEAD),
            live_of: script(scripts::LIVE_OF),
            sessions_of: script(scripts::SESSIONS_OF),
            count_keyless: script(scripts::COUNT_KEYLESS),
            rate_hit: Script::new(scripts::RATE_HIT),
            rate_refund: Script::new(scripts::RATE_REFUND),
            take_counted: Script::new(scripts::TAKE_COUNTED),
        }
    }
}

/// Sessions and ceremonies in Redis, under `<namespace>:{<org>}:…`, on one node or a cluster.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    namespace: String,
    scripts: std::sync::Arc<Scripts>,
    handoff_scripts: std::sync::Arc<handoff::HandoffScripts>,
    epoch_retention_ms: u64,
    members: std::sync::Arc<fast_lookup::SessionMembers>,
}

fn map_err(err: redis::RedisError) -> StoreError {
    if err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_unrecoverable_error()
        || err.is_cluster_error()
        || matches!(
            err.kind(),
            redis::ErrorKind::ClusterConnectionNotFound
                | redis::ErrorKind::Server(redis::ServerErrorKind::MasterDown | redis::ServerErrorKind::ReadOnly)
        )
    {
        StoreError::Unavailable(format!("redis: {err}"))
    } else {
        StoreError::Unexpected(format!("redis: {err}"))
    }
}

/// The record's arguments after a script's own: `ls, it, ab, k, tail`.
fn record_args(record: codec::Record) -> Vec<String> {
    vec![record.ls, record.it, record.ab, record.k, record.tail]
}

impl RedisStore {
    /// Connects to `url`, a node (`redis://host:6379`) or a cluster
    /// (`redis+cluster://host1:7000,host2:7001,...`); keys live under `namespace` (normally `kw`;
    /// tests use their own).
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let scripts = Scripts::load();
        let handoff_scripts = handoff::HandoffScripts::load();
        let names = scripts
            .named()
            .into_iter()
            .chain(handoff_scripts.named())
            .map(|(name, script)| (script.get_hash().to_owned(), name))
            .collect();
        let conn = Conn::open(url, names).await?;
        Ok(Self {
            conn,
            namespace: namespace.to_owned(),
            scripts: std::sync::Arc::new(scripts),
            handoff_scripts: std::sync::Arc::new(handoff_scripts),
            epoch_retention_ms: millis_of(DEFAULT_EPOCH_RETENTION),
            members: Default::default(),
        })
    }

    /// The node URLs a `redis+cluster://` URL names (`None` for a single node's URL), or why
    /// the URL is no usable cluster URL.
    pub fn cluster_nodes(url: &str) -> Result<Option<Vec<String>>, String> {
        conn::cluster_nodes(url)
    }

    /// On a cluster, gives a replica of the organization's master time to take a revocation just
    /// made, so that a failover right after it cannot bring the revoked sessions back. The
    /// revocation stands either way; a replica that is late is logged.
    async fn replicate_revocation(&self, org: OrgId, scope: &str) {
        match self.conn.clone().replicate(&self.prefix(org), REPLICATION_WAIT).await {
            Ok(Some(0)) => {
                tracing::warn!(%org, scope, "no replica confirmed a revocation in time; a failover now could undo it")
            }
            Err(err) => tracing::warn!(%org, scope, error = %err, "could not confirm a revocation on a replica"),
            Ok(_) => {}
        }
    }

    /// Whether this store speaks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// Sets the longest session lifetime in force, so that a bumped epoch key expires once no
    /// session stamped with its old value can still be alive (and not long after).
    pub fn with_session_ttl(mut self, absolute: Duration) -> Self {
        self.epoch_retention_ms = millis_of(absolute + Duration::from_secs(3600));
        self
    }

    /// The namespace every key of this store starts with.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The key prefix of an organization: the org ID is the hash tag.
    pub fn prefix(&self, org: OrgId) -> String {
        format!("{}:{{{}}}:", self.namespace, org)
    }

    /// Deletes the sessions of a revoked epoch, a batch per round trip, until none are left.
    pub async fn purge_dead(&self, org: OrgId, dead_key: &str) -> Result<(), StoreError> {
        let prefix = self.prefix(org);
        loop {
            tokio::time::sleep(PURGE_PAUSE).await;
            let remaining: u64 = self
                .scripts
                .purge_dead
                .key(&prefix)
                .arg(dead_key)
                .arg(PURGE_BATCH)
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(map_err)?;
            if remaining == 0 {
                return Ok(());
            }
        }
    }

    /// Deletes every key under this store's namespace (tests only use their own namespace).
    pub async fn delete_namespace(&self) -> Result<(), StoreError> {
        let pattern = format!("{}:*", self.namespace);
        let mut conn = self.conn.clone();
        if let Some(cluster) = conn.cluster() {
            // SCAN walks one node; KEYS on every master finds the namespace's keys in all slots.
            let routing =
                RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, Some(ResponsePolicy::CombineArrays)));
            let found =
                cluster.route_command(redis::cmd("KEYS").arg(&pattern).clone(), routing).await.map_err(map_err)?;
            let keys: Vec<String> = redis::from_redis_value(found).map_err(|e| map_err(e.into()))?;
            for key in keys {
                let _: () = cluster.del(key).await.map_err(map_err)?;
            }
            return Ok(());
        }
        let keys: Vec<String> = {
            let mut iter = conn.scan_match::<_, String>(pattern).await.map_err(map_err)?;
            let mut keys = Vec::new();
            while let Some(key) = futures_next(&mut iter).await {
                keys.push(key);
            }
            keys
        };
        for chunk in keys.chunks(500) {
            let _: () = conn.del(chunk).await.map_err(map_err)?;
        }
        Ok(())
    }
}

async fn futures_next(iter: &mut redis::AsyncIter<'_, String>) -> Option<String> {
    iter.next_item().await.and_then(Result::ok)
}

fn millis_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(
        &self,
        new: NewSession,
        lifetimes: SessionLifetimes,
        now: DateTime<Utc>,
    ) -> Result<Created, StoreError> {
        let prefix = self.prefix(new.org_id);
        let mut session = new.start(now, lifetimes, Epochs::default());
        let record = codec::encode(&session);
        let (org_epoch, member_epoch, keyless_epoch, evicted): (u64, u64, u64, u32) = self
            .scripts
            .create
            .key(&prefix)
            .arg(session.token_hash.key())
            .arg(&record.m)
            .arg(millis(now))
            .arg(record_args(record))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        session.org_epoch = org_epoch;
        session.member_epoch = member_epoch;
        session.keyless_epoch = keyless_epoch;
        self.members.remember(&session);
        Ok(Created { session, evicted })
    }

    async fn lookup(&self, org: OrgId, hash: &TokenHash, now: DateTime<Utc>) -> Result<Option<Session>, StoreError> {
        if let Some(member) = self.members.fast_path(hash.key(), now) {
            let keys = fast_lookup::keys(&self.prefix(org), hash.key(), member);
            let values: Vec<Option<String>> =
                redis::cmd("MGET").arg(&keys).query_async(&mut self.conn.clone()).await.map_err(map_err)?;
            if let Some(session) = fast_lookup::judge(org, hash, member, &values, now)? {
                return Ok(Some(session));
            }
        }
        // The full hash too: a session stored before record version 2 is still under it.
        let found: Option<(String, String, String)> = self
            .scripts
            .lookup
            .key(self.prefix(org))
            .arg(hash.key())
            .arg(&hash.0)
            .arg(millis(now))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        let Some((record, step_up, webauthn)) = found else {
            self.members.forget(hash.key());
            return Ok(None);
        };
        let mut session = codec::decode(org, hash, &record, fast_lookup::policy_version(Some(&step_up))?)?;
        session.webauthn_policy_version = fast_lookup::policy_version(Some(&webauthn))?;
        self.members.remember(&session);
        Ok(Some(session))
    }

    async fn replace(&self, old: &TokenHash, next: &Session, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let replaced: u8 = self
            .scripts
            .replace
            .key(self.prefix(next.org_id))
            .arg(old.key())
            .arg(next.token_hash.key())
            .arg(millis(now))
            .arg(record_args(codec::encode(next)))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        self.members.forget(old.key());
        if replaced == 1 {
            self.members.remember(next);
        }
        Ok(replaced == 1)
    }

    async fn revoke(&self, org: OrgId, hash: &TokenHash, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let revoked: u8 = self
            .scripts
            .revoke
            .key(self.prefix(org))
            .arg(hash.key())
            .arg(millis(now))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        self.members.forget(hash.key());
        self.replicate_revocation(org, "session").await;
        Ok(revoked == 1)
    }

    async fn revoke_member(
        &self,
        org: OrgId,
        member: MemberId,
        keep: Option<&TokenHash>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let count = self
            .scripts
            .revoke_member
            .key(self.prefix(org))
            .arg(member.0.simple().to_string())
            .arg(keep.map(TokenHash::key).unwrap_or(""))
            .arg(millis(now))
            .arg(self.epoch_retention_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        self.replicate_revocation(org, "member").await;
        Ok(count)
    }

    async fn revoke_org(&self, org: OrgId, keep: Option<&TokenHash>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let (count, dead_key): (u64, String) = self
            .scripts
            .revoke_org
            .key(self.prefix(org))
            .arg(keep.map(TokenHash::key).unwrap_or(""))
            .arg(millis(now))
            .arg(self.epoch_retention_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        self.replicate_revocation(org, "organization").await;
        // The revocation is already complete (the epoch moved); deleting the dead sessions'
        // data is housekeeping and must not hold up the caller.
        let store = self.clone();
        tokio::spawn(async move {
            if let Err(err) = store.purge_dead(org, &dead_key).await {
                tracing::warn!(%org, error = %err, "purging revoked sessions failed; their TTLs will remove them");
            }
        });
        Ok(count)
    }

    async fn revoke_keyless(&self, org: OrgId, _now: DateTime<Utc>) -> Result<(), StoreError> {
        let _epoch: u64 = self
            .scripts
            .revoke_keyless
            .key(self.prefix(org))
            .arg(self.epoch_retention_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        self.replicate_revocation(org, "keyless").await;
        Ok(())
    }

    async fn live_sessions(&self, org: OrgId, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        conn.zcount(format!("{}live", self.prefix(org)), format!("({}", millis(now)), "+inf").await.map_err(map_err)
    }

    async fn live_sessions_of(
        &self,
        org: OrgId,
        members: &[MemberId],
        now: DateTime<Utc>,
    ) -> Result<Vec<u64>, StoreError> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = members.iter().map(|m| m.0.simple().to_string()).collect();
        self.scripts
            .live_of
            .key(self.prefix(org))
            .arg(millis(now))
            .arg(ids)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)
    }

    async fn sessions_of(
        &self,
        org: OrgId,
        member: MemberId,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        let rows: Vec<(String, String)> = self
            .scripts
            .sessions_of
            .key(self.prefix(org))
            .arg(member.0.simple().to_string())
            .arg(millis(now))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        let mut sessions = rows
            .into_iter()
            .map(|(key, record)| codec::decode(org, &TokenHash(key), &record, None))
            .collect::<Result<Vec<_>, _>>()?;
        sessions.sort_by_key(|s| std::cmp::Reverse(s.last_seen_at));
        sessions.truncate(limit);
        Ok(sessions)
    }

    async fn count_keyless(&self, org: OrgId, now: DateTime<Utc>) -> Result<u64, StoreError> {
        const WINDOW: u64 = 500;
        let mut keyless = 0;
        let mut offset = 0;
        loop {
            let (found, read): (u64, u64) = self
                .scripts
                .count_keyless
                .key(self.prefix(org))
                .arg(millis(now))
                .arg(offset)
                .arg(WINDOW)
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(map_err)?;
            keyless += found;
            offset += read;
            if read < WINDOW {
                return Ok(keyless);
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await.map_err(map_err)?;
        Ok(())
    }

    async fn announce_policy_version(
        &self,
        org: OrgId,
        kind: PolicyKind,
        version: u64,
        if_unknown: bool,
    ) -> Result<(), StoreError> {
        let key = match kind {
            PolicyKind::StepUp => "spv",
            PolicyKind::Webauthn => "wpv",
            other => {
                return Err(StoreError::Unexpected(format!("no version is announced for {} policies", other.as_str())));
            }
        };
        let mut command = redis::cmd("SET");
        command.arg(format!("{}{key}", self.prefix(org))).arg(version).arg("PX").arg(self.epoch_retention_ms);
        if if_unknown {
            command.arg("NX");
        }
        let _: Option<String> = command.query_async(&mut self.conn.clone()).await.map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl CeremonyStore for RedisStore {
    async fn put(&self, ceremony: &Ceremony, now: DateTime<Utc>) -> Result<(), StoreError> {
        let ttl_ms = (ceremony.expires_at - now).num_milliseconds().max(1);
        let json = serde_json::to_string(ceremony).map_err(|e| StoreError::Unexpected(e.to_string()))?;
        let key = format!("{}c:{}", self.prefix(ceremony.org_id), ceremony.id);
        let mut conn = self.conn.clone();
        let _: () = conn.pset_ex(key, json, u64::try_from(ttl_ms).unwrap_or(1)).await.map_err(map_err)?;
        Ok(())
    }

    async fn take(&self, org: OrgId, id: CeremonyId) -> Result<Option<Ceremony>, StoreError> {
        let key = format!("{}c:{}", self.prefix(org), id);
        let mut conn = self.conn.clone();
        let json: Option<String> = conn.get_del(key).await.map_err(map_err)?;
        json.map(|json| parse_ceremony(&json)).transpose()
    }

    async fn take_counted(
        &self,
        org: OrgId,
        id: CeremonyId,
        limits: &[(String, Limit)],
        _now: DateTime<Utc>,
    ) -> Result<Counted, StoreError> {
        let mut invocation = self.scripts.take_counted.key(self.prefix(org));
        invocation.arg(id.to_string());
        for (bucket, limit) in limits {
            invocation.arg(bucket).arg(limit.max).arg(u64::from(limit.window_seconds) * 1000);
        }
        let (taken, found): (u8, redis::Value) =
            invocation.invoke_async(&mut self.conn.clone()).await.map_err(map_err)?;
        if taken == 0 {
            let wait_ms: i64 = redis::from_redis_value(found).map_err(|e| map_err(e.into()))?;
            let seconds = u64::try_from(wait_ms.max(0)).unwrap_or(0).div_ceil(1000);
            return Ok(Counted::RateLimited { retry_after_seconds: seconds.max(1) });
        }
        let json: String = redis::from_redis_value(found).map_err(|e| map_err(e.into()))?;
        Ok(Counted::Taken(if json.is_empty() { None } else { Some(parse_ceremony(&json)?) }))
    }
}

fn parse_ceremony(json: &str) -> Result<Ceremony, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Unexpected(format!("corrupt ceremony: {e}")))
}

#[async_trait]
impl RateLimiter for RedisStore {
    async fn hit(&self, bucket: &str, limit: Limit, _now: DateTime<Utc>) -> Result<(u32, u64), StoreError> {
        // Redis keeps the window itself (PEXPIRE), so every instance shares it.
        let key = format!("{}:{{rl:{bucket}}}", self.namespace);
        let (count, pttl): (u32, i64) = self
            .scripts
            .rate_hit
            .key(key)
            .arg(u64::from(limit.window_seconds) * 1000)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(map_err)?;
        Ok((count, u64::try_from(pttl.max(0)).unwrap_or(0).div_ceil(1000)))
    }

    async fn refund(&self, bucket: &str) -> Result<(), StoreError> {
        let key = format!("{}:{{rl:{bucket}}}", self.namespace);
        let _: u8 = self.scripts.rate_refund.key(key).invoke_async(&mut self.conn.clone()).await.map_err(map_err)?;
        Ok(())
    }
}
