//! The tamper-evident audit trail: events, their canonical form, and the hash chain over them.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ids::{MemberId, OrgId};

/// `prev_hash` of an organization's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    /// Keyward itself (bootstrap, expiry).
    System,
    /// A member.
    Member(MemberId),
    /// Someone not (yet) identified, e.g. a failed login.
    Anonymous,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::System => f.write_str("system"),
            Actor::Member(id) => write!(f, "member:{id}"),
            Actor::Anonymous => f.write_str("anonymous"),
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
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        event.hash = event.computed_hash();
        event
    }

    /// The canonical JSON of everything but the hashes: keys sorted at every level, no spaces.
    pub fn canonical_json(&self) -> String {
        let value = json!({
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

/// The result of checking a chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainVerdict {
    /// Events checked.
    pub checked: u64,
    /// The first event whose link or hash does not hold.
    pub first_broken_seq: Option<u64>,
}

impl ChainVerdict {
    /// Whether the whole chain holds.
    pub fn ok(&self) -> bool {
        self.first_broken_seq.is_none()
    }
}

/// Checks a chain incrementally, so it can be fed one page of events at a time.
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    expected_seq: u64,
    expected_prev: String,
    verdict: ChainVerdict,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self { expected_seq: 1, expected_prev: GENESIS_HASH.to_owned(), verdict: ChainVerdict::default() }
    }
}

impl ChainVerifier {
    /// Checks the next event, in `seq` order. After the first break, later events are only counted.
    pub fn push(&mut self, event: &AuditEvent) {
        self.verdict.checked += 1;
        if self.verdict.first_broken_seq.is_some() {
            return;
        }
        let intact = event.seq == self.expected_seq
            && event.prev_hash == self.expected_prev
            && event.hash == event.computed_hash();
        if intact {
            self.expected_seq += 1;
            self.expected_prev.clone_from(&event.hash);
        } else {
            self.verdict.first_broken_seq = Some(self.expected_seq.min(event.seq));
        }
    }

    /// The verdict so far.
    pub fn verdict(&self) -> ChainVerdict {
        self.verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEvent> {
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
}
