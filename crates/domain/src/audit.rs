//! The tamper-evident audit trail: events, their canonical form, and the hash chain over them.
//!
//! Each event also carries where its request came from (user agent, request ID) and a display
//! snapshot of its actor and target (username, key name, organization name) taken when it was
//! written, so the trail still reads "alice deleted key YubiKey 5C of bob" after bob and his key
//! are gone. Those fields are hashed from canonical-form version 2 on; events written before them
//! (version 1) keep their original canonical form, so old chains still verify.

mod chain;
mod context;
pub mod labels;
mod summary;

pub use chain::{Anchor, AuditHead, ChainProblem, ChainVerdict, ChainVerifier};
pub use context::{MAX_REQUEST_ID_CHARS, MAX_USER_AGENT_CHARS, NameSource, RequestMeta};

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ids::{MemberId, OrgId};

/// `prev_hash` of an organization's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The canonical form of events written before request context and name snapshots existed.
pub const LEGACY_HASH_VERSION: u8 = 1;

/// The canonical form new events are sealed with: version 1 plus user agent, request ID and the
/// actor's and target's display names.
pub const HASH_VERSION: u8 = 2;

/// Who did something.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    /// Keyward itself (bootstrap, expiry).
    System,
    /// A member.
    Member(MemberId),
    /// Someone not (yet) identified, e.g. a failed login.
    Anonymous,
    /// A pipeline or script, with an API key.
    ApiKey(crate::ids::ApiKeyId),
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::System => f.write_str("system"),
            Actor::Member(id) => write!(f, "member:{id}"),
            Actor::Anonymous => f.write_str("anonymous"),
            Actor::ApiKey(id) => write!(f, "api_key:{id}"),
        }
    }
}

/// Whether the recorded attempt succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was attempted and refused.
    Failure,
}

impl Outcome {
    /// The stable spelling used in storage and the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Success => "SUCCESS",
            Outcome::Failure => "FAILURE",
        }
    }
}

/// An event to append; the chain assigns `seq`, `prev_hash` and `hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Who.
    pub actor: Actor,
    /// What, as a dotted name (`security_key.registered`).
    pub action: String,
    /// On what, e.g. `member:<id>` or `security_key:<id>`.
    pub target: Option<String>,
    /// Whether it worked.
    pub outcome: Outcome,
    /// The client's address.
    pub ip: Option<String>,
    /// Anything else worth keeping (key name, AAGUID, counts).
    pub details: Value,
    /// The client's `User-Agent`; storage fills it from the request when the caller did not.
    pub user_agent: Option<String>,
    /// The request's ID (`X-Request-Id`); storage fills it from the request when the caller did not.
    pub request_id: Option<String>,
    /// The actor's username when written; storage looks it up when the caller did not give it.
    pub actor_name: Option<String>,
    /// The target's display name when written (username, key name, organization name).
    pub target_name: Option<String>,
}

impl AuditRecord {
    /// A successful event with no target, IP or details; add them with the builder methods.
    pub fn new(actor: Actor, action: impl Into<String>) -> Self {
        Self {
            actor,
            action: action.into(),
            target: None,
            outcome: Outcome::Success,
            ip: None,
            details: Value::Object(Default::default()),
            user_agent: None,
            request_id: None,
            actor_name: None,
            target_name: None,
        }
    }

    /// Sets the target.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Marks the event as a failure.
    pub fn failed(mut self) -> Self {
        self.outcome = Outcome::Failure;
        self
    }

    /// Sets the client address.
    pub fn ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }

    /// Sets the details.
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// Sets the actor's display name (saves storage a lookup).
    pub fn actor_name(mut self, name: impl Into<String>) -> Self {
        self.actor_name = Some(name.into());
        self
    }

    /// Sets the target's display name (saves storage a lookup).
    pub fn target_name(mut self, name: impl Into<String>) -> Self {
        self.target_name = Some(name.into());
        self
    }
}

/// A stored audit event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// The organization whose chain it belongs to.
    pub org_id: OrgId,
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// When it happened (microsecond precision, as stored).
    pub at: DateTime<Utc>,
    /// Who, as `Actor`'s display form.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: Option<String>,
    /// `SUCCESS` or `FAILURE`.
    pub outcome: String,
    /// Client address.
    pub ip: Option<String>,
    /// Details.
    pub details: Value,
    /// The canonical form the hash covers: [`LEGACY_HASH_VERSION`] for events written before the
    /// fields below existed, [`HASH_VERSION`] since.
    #[serde(default = "legacy_hash_version")]
    pub hash_version: u8,
    /// The client's `User-Agent` (version 2 on).
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The request's ID (version 2 on).
    #[serde(default)]
    pub request_id: Option<String>,
    /// The actor's username when written (version 2 on).
    #[serde(default)]
    pub actor_name: Option<String>,
    /// The target's display name when written (version 2 on).
    #[serde(default)]
    pub target_name: Option<String>,
    /// Hash of the previous event ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// `SHA-256(prev_hash || canonical JSON)`, hex.
    pub hash: String,
}

impl AuditEvent {
    /// Seals `record` as event `seq` after `prev_hash`, at `at` (truncated to microseconds, which is
    /// what both databases keep, so the hash survives a round trip).
    pub fn seal(org_id: OrgId, seq: u64, prev_hash: &str, at: DateTime<Utc>, record: AuditRecord) -> Self {
        let mut event = AuditEvent {
            org_id,
            seq,
            at: at.trunc_subsecs(6),
            actor: record.actor.to_string(),
            action: record.action,
            target: record.target,
            outcome: record.outcome.as_str().to_owned(),
            ip: record.ip,
            details: record.details,
            hash_version: HASH_VERSION,
            user_agent: record.user_agent,
            request_id: record.request_id,
            actor_name: record.actor_name,
            target_name: record.target_name,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        event.hash = event.computed_hash();
        event
    }

    /// The canonical JSON of everything but the hashes: keys sorted at every level, no spaces.
    /// Version 1 is exactly the form events had before versions existed; version 2 adds `v` and
    /// the request context and name snapshots.
    pub fn canonical_json(&self) -> String {
        let mut value = json!({
            "org": self.org_id.to_string(),
            "seq": self.seq,
            "at": self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "ip": self.ip,
            "details": self.details,
        });
        if self.hash_version != LEGACY_HASH_VERSION {
            value["v"] = Value::from(self.hash_version);
            value["user_agent"] = json!(self.user_agent);
            value["request_id"] = json!(self.request_id);
            value["actor_name"] = json!(self.actor_name);
            value["target_name"] = json!(self.target_name);
        }
        let mut out = String::new();
        write_canonical(&value, &mut out);
        out
    }

    /// The hash this event should have, given its `prev_hash` and content.
    pub fn computed_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.as_bytes());
        hasher.update(self.canonical_json().as_bytes());
        hex::encode(hasher.finalize())
    }
}

fn legacy_hash_version() -> u8 {
    LEGACY_HASH_VERSION
}

// Sorting explicitly rather than trusting serde_json's map order: a dependency elsewhere in the
// build may switch on `preserve_order`, and the hash must not change with it.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sealed chain of `n` events of one new organization (shared with the chain tests).
    pub(super) fn chain(n: u64) -> Vec<AuditEvent> {
        let org = OrgId::new();
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let record = AuditRecord::new(Actor::System, "test.event")
                    .target(format!("thing:{seq}"))
                    .details(json!({"b": 1, "a": [2, {"z": 1, "y": 2}]}));
                let event = AuditEvent::seal(org, seq, &prev, Utc::now(), record);
                prev.clone_from(&event.hash);
                event
            })
            .collect()
    }

    fn verify(events: &[AuditEvent]) -> ChainVerdict {
        let mut verifier = ChainVerifier::default();
        events.iter().for_each(|e| verifier.push(e));
        verifier.verdict()
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let event = &chain(1)[0];
        let json = event.canonical_json();
        assert!(json.starts_with("{\"action\":\"test.event\",\"actor\":\"system\""));
        assert!(json.contains("\"details\":{\"a\":[2,{\"y\":2,\"z\":1}],\"b\":1}"));
        assert!(!json.contains(' '));
    }

    #[test]
    fn an_intact_chain_verifies() {
        let verdict = verify(&chain(5));
        assert!(verdict.ok());
        assert_eq!(verdict.checked, 5);
    }

    #[test]
    fn an_edited_event_is_named() {
        let mut events = chain(5);
        events[2].details = json!({"edited": true});
        let verdict = verify(&events);
        assert_eq!(verdict.first_broken_seq, Some(3));
        assert_eq!(verdict.checked, 5);
    }

    #[test]
    fn a_removed_or_reordered_event_is_named() {
        let mut events = chain(5);
        events.remove(1);
        assert_eq!(verify(&events).first_broken_seq, Some(2));
        let mut events = chain(3);
        events.swap(1, 2);
        assert_eq!(verify(&events).first_broken_seq, Some(2));
    }

    #[test]
    fn a_rehashed_edit_still_breaks_the_next_link() {
        let mut events = chain(4);
        events[1].action = "forged".into();
        events[1].hash = events[1].computed_hash();
        assert_eq!(verify(&events).first_broken_seq, Some(3));
    }

    #[test]
    fn sealing_truncates_time_to_microseconds() {
        let event = &chain(1)[0];
        assert_eq!(event.at.timestamp_subsec_nanos() % 1000, 0);
    }

    /// Event 7 of a fixed chain, as the code before hash versions sealed it (hash recorded from
    /// that code): version-1 events must keep hashing to exactly this.
    fn legacy_event() -> AuditEvent {
        let org: OrgId = "0b6f3c9e-4a1d-4f7e-9c55-2f1e8d7a6b30".parse().unwrap();
        let member: MemberId = "5d2c1b0a-9e8f-4d7c-8b6a-1f2e3d4c5b6a".parse().unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-20T09:30:12.345678Z").unwrap().with_timezone(&Utc);
        let record = AuditRecord::new(Actor::Member(member), "security_key.deleted")
            .target("security_key:7a7a7a7a-1b1b-4c4c-8d8d-9e9e9e9e9e9e")
            .ip(Some("198.51.100.7".into()))
            .details(json!({"keyName": "YubiKey 5C", "aaguid": null, "n": [1, 2.5, "ü"]}));
        let mut event = AuditEvent::seal(org, 7, &"ab".repeat(32), at, record);
        event.hash_version = LEGACY_HASH_VERSION;
        event.hash = event.computed_hash();
        event
    }

    #[test]
    fn version_1_events_hash_exactly_as_before_versions_existed() {
        let event = legacy_event();
        assert_eq!(event.hash, "16eb387e42aeeebed362a66ed9ced748d5eb597a9b044a41bda894844170d34a");
        assert!(!event.canonical_json().contains("\"v\""));
    }

    #[test]
    fn version_2_hashes_the_request_context_and_the_name_snapshots() {
        let meta = RequestMeta::new(Some("req-1"), Some("Firefox/140"));
        let record = AuditRecord::new(Actor::System, "t").actor_name("alice").target_name("bob").with_request(&meta);
        let event = AuditEvent::seal(OrgId::new(), 1, GENESIS_HASH, Utc::now(), record);
        assert_eq!(event.hash_version, HASH_VERSION);
        let json = event.canonical_json();
        assert!(json.contains("\"actor_name\":\"alice\"") && json.contains("\"user_agent\":\"Firefox/140\""), "{json}");
        assert!(json.contains("\"request_id\":\"req-1\"") && json.contains("\"v\":2"), "{json}");
        for edit in [
            |e: &mut AuditEvent| e.user_agent = Some("curl/8".into()),
            |e: &mut AuditEvent| e.request_id = None,
            |e: &mut AuditEvent| e.actor_name = Some("mallory".into()),
            |e: &mut AuditEvent| e.target_name = None,
            |e: &mut AuditEvent| e.hash_version = LEGACY_HASH_VERSION,
        ] {
            let mut edited = event.clone();
            edit(&mut edited);
            assert_ne!(edited.computed_hash(), event.hash);
        }
    }

    #[test]
    fn a_chain_of_old_and_new_events_verifies_but_not_a_downgrade() {
        let org = OrgId::new();
        let mut prev = GENESIS_HASH.to_owned();
        let mut events = Vec::new();
        for (seq, version) in [(1, LEGACY_HASH_VERSION), (2, LEGACY_HASH_VERSION), (3, HASH_VERSION), (4, HASH_VERSION)]
        {
            let record = AuditRecord::new(Actor::System, "t").actor_name("Keyward");
            let mut event = AuditEvent::seal(org, seq, &prev, Utc::now(), record);
            if version == LEGACY_HASH_VERSION {
                event.hash_version = version;
                event.actor_name = None;
                event.hash = event.computed_hash();
            }
            prev.clone_from(&event.hash);
            events.push(event);
        }
        assert!(verify(&events).ok(), "{:?}", verify(&events));
        // Event 4 rewritten as version 1 without its context, rehashed, and event 5 linked to it.
        let mut downgraded = events.clone();
        downgraded[3].hash_version = LEGACY_HASH_VERSION;
        downgraded[3].actor_name = None;
        downgraded[3].hash = downgraded[3].computed_hash();
        assert_eq!(verify(&downgraded).first_broken_seq, Some(4));
        let mut unknown = events;
        unknown[3].hash_version = 9;
        unknown[3].hash = unknown[3].computed_hash();
        assert_eq!(verify(&unknown).first_broken_seq, Some(4));
    }
}
