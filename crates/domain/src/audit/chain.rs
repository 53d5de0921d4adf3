//! Checking a chain: every link and hash, and its end against the stored head and, optionally, a
//! head recorded outside the database, so deleting or replacing the newest events is caught too.

use std::fmt;
use std::str::FromStr;

use super::{AuditEvent, GENESIS_HASH, HASH_VERSION, LEGACY_HASH_VERSION};

/// A point in a chain: an event's `seq` and `hash` (`0` and [`GENESIS_HASH`] before the first).
/// Written `<seq>:<hash>`, the form `keyward audit head` prints and `--expect-head` takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditHead {
    /// The event's position.
    pub seq: u64,
    /// Its hash, lowercase hex.
    pub hash: String,
}

impl AuditHead {
    /// The point before an organization's first event.
    pub fn genesis() -> Self {
        Self { seq: 0, hash: GENESIS_HASH.to_owned() }
    }
}

impl fmt::Display for AuditHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl FromStr for AuditHead {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (seq, hash) = s.trim().split_once(':').ok_or("expected <seq>:<hash>, as `keyward audit head` prints it")?;
        let seq = seq.parse().map_err(|_| format!("{seq:?} is not an event number"))?;
        let hash = hash.to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("the hash must be 64 hexadecimal characters".to_owned());
        }
        Ok(Self { seq, hash })
    }
}

/// Where a head the chain is checked against comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// The organization's head row, moved in the same transaction as every append.
    StoredHead,
    /// A head recorded outside the database (`--expect-head`), which survives a rewrite of both.
    ExpectedHead,
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Anchor::StoredHead => "stored head",
            Anchor::ExpectedHead => "expected head",
        })
    }
}

/// Why a chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainProblem {
    /// The event's hash, its link to the one before, its position or its version does not hold.
    Broken {
        /// The first such event.
        seq: u64,
    },
    /// The chain ends before a head: events `from..=to` are gone.
    Missing {
        /// The first missing event.
        from: u64,
        /// The head's event.
        to: u64,
        /// Which head.
        by: Anchor,
    },
    /// The head's event is there, with another hash: it was replaced.
    Replaced {
        /// The head's event.
        seq: u64,
        /// Which head.
        by: Anchor,
    },
    /// Events `from..=to` lie past the stored head: they were not appended through the chain.
    PastHead {
        /// The first event past the head.
        from: u64,
        /// The chain's last event.
        to: u64,
    },
    /// The organization's head row is gone.
    NoHead,
}

impl ChainProblem {
    /// The first event the problem concerns (`None` when it is no single event).
    pub fn first_seq(&self) -> Option<u64> {
        match self {
            Self::Broken { seq } | Self::Replaced { seq, .. } => Some(*seq),
            Self::Missing { from, .. } | Self::PastHead { from, .. } => Some(*from),
            Self::NoHead => None,
        }
    }
}

fn events(from: u64, to: u64) -> String {
    if from == to { format!("event {from} is") } else { format!("events {from} to {to} are") }
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Broken { seq } => {
                write!(f, "event {seq} does not hold: its hash or its link to the event before was changed")
            }
            Self::Missing { from, to, by } => write!(
                f,
                "{} missing: the {by} is at event {to}, but the chain ends at event {}",
                events(*from, *to),
                from - 1
            ),
            Self::Replaced { seq, by } => write!(f, "event {seq} has another hash than the {by}: it was replaced"),
            Self::PastHead { from, to } => write!(
                f,
                "{} past the stored head (event {}): they were not appended through the chain",
                events(*from, *to),
                from - 1
            ),
            Self::NoHead => f.write_str("the organization's stored audit head is missing"),
        }
    }
}

/// The result of checking a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainVerdict {
    /// Events checked.
    pub checked: u64,
    /// The first event that does not hold or is missing ([`ChainProblem::first_seq`]).
    pub first_broken_seq: Option<u64>,
    /// The last event of the intact prefix ([`AuditHead::genesis`] when there is none): the
    /// point to record outside the database when the verdict is ok.
    pub end: AuditHead,
    /// What is wrong, if anything.
    pub problem: Option<ChainProblem>,
}

impl ChainVerdict {
    /// Whether the whole chain holds.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Checks a chain incrementally, so it can be fed one page of events at a time.
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    end: AuditHead,
    version: u8,
    checked: u64,
    broken: Option<u64>,
    anchors: Vec<(Anchor, AuditHead, Option<String>)>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self { end: AuditHead::genesis(), version: LEGACY_HASH_VERSION, checked: 0, broken: None, anchors: Vec::new() }
    }
}

impl ChainVerifier {
    /// Also requires event `head.seq` to exist with `head.hash`. Give the stored head read before
    /// the events, and any head recorded outside the database.
    pub fn anchored(mut self, by: Anchor, head: AuditHead) -> Self {
        let seen = (head.seq == 0).then(|| GENESIS_HASH.to_owned());
        self.anchors.push((by, head, seen));
        self
    }

    /// Checks the next event, in `seq` order. After the first break, later events are only counted.
    pub fn push(&mut self, event: &AuditEvent) {
        self.checked += 1;
        if self.broken.is_some() {
            return;
        }
        // Versions only go up: a version-1 event after a version-2 one had its context stripped.
        let version_holds =
            (LEGACY_HASH_VERSION..=HASH_VERSION).contains(&event.hash_version) && event.hash_version >= self.version;
        let intact = event.seq == self.end.seq + 1
            && event.prev_hash == self.end.hash
            && version_holds
            && event.hash == event.computed_hash();
        if !intact {
            self.broken = Some((self.end.seq + 1).min(event.seq));
            return;
        }
        self.end = AuditHead { seq: event.seq, hash: event.hash.clone() };
        self.version = event.hash_version;
        for (_, head, seen) in &mut self.anchors {
            if head.seq == event.seq {
                *seen = Some(event.hash.clone());
            }
        }
    }

    /// The verdict on the links alone, without comparing any head.
    pub fn verdict(&self) -> ChainVerdict {
        self.verdict_with(self.broken.map(|seq| ChainProblem::Broken { seq }))
    }

    /// The verdict, comparing the chain's end with the anchors and with the stored head read after
    /// the events (`None` when the organization has none). Appends that commit while the chain is
    /// read move the head past the chain's end; the stored head read before, given as an anchor,
    /// still catches truncation then.
    pub fn finish(&self, head_after: Option<&AuditHead>) -> ChainVerdict {
        self.verdict_with(self.problem(head_after))
    }

    fn problem(&self, head_after: Option<&AuditHead>) -> Option<ChainProblem> {
        if let Some(seq) = self.broken {
            return Some(ChainProblem::Broken { seq });
        }
        for (by, head, seen) in &self.anchors {
            if self.end.seq < head.seq {
                return Some(ChainProblem::Missing { from: self.end.seq + 1, to: head.seq, by: *by });
            }
            if seen.as_deref() != Some(head.hash.as_str()) {
                return Some(ChainProblem::Replaced { seq: head.seq, by: *by });
            }
        }
        let Some(head) = head_after else { return Some(ChainProblem::NoHead) };
        if self.end.seq > head.seq {
            return Some(ChainProblem::PastHead { from: head.seq + 1, to: self.end.seq });
        }
        if self.end.seq == head.seq && self.end.hash != head.hash {
            return Some(ChainProblem::Replaced { seq: head.seq, by: Anchor::StoredHead });
        }
        None
    }

    fn verdict_with(&self, problem: Option<ChainProblem>) -> ChainVerdict {
        ChainVerdict {
            checked: self.checked,
            first_broken_seq: problem.as_ref().and_then(ChainProblem::first_seq),
            end: self.end.clone(),
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::tests::chain;

    fn head(event: &AuditEvent) -> AuditHead {
        AuditHead { seq: event.seq, hash: event.hash.clone() }
    }

    fn check(events: &[AuditEvent], before: Option<&AuditHead>, after: Option<&AuditHead>) -> ChainVerdict {
        let mut verifier = ChainVerifier::default();
        if let Some(before) = before {
            verifier = verifier.anchored(Anchor::StoredHead, before.clone());
        }
        events.iter().for_each(|e| verifier.push(e));
        verifier.finish(after)
    }

    #[test]
    fn a_chain_that_ends_at_its_head_holds() {
        let events = chain(4);
        let verdict = check(&events, Some(&head(&events[3])), Some(&head(&events[3])));
        assert!(verdict.ok(), "{verdict:?}");
        assert_eq!(verdict.end, head(&events[3]));
        let empty = check(&[], Some(&AuditHead::genesis()), Some(&AuditHead::genesis()));
        assert!(empty.ok());
        assert_eq!(empty.end, AuditHead::genesis());
    }

    #[test]
    fn deleting_the_newest_events_is_named() {
        let events = chain(5);
        let stored = head(&events[4]);
        let verdict = check(&events[..3], Some(&stored), Some(&stored));
        assert_eq!(verdict.problem, Some(ChainProblem::Missing { from: 4, to: 5, by: Anchor::StoredHead }));
        assert_eq!(verdict.first_broken_seq, Some(4));
        assert_eq!(
            verdict.problem.unwrap().to_string(),
            "events 4 to 5 are missing: the stored head is at event 5, but the chain ends at event 3"
        );
        let everything = check(&[], Some(&stored), Some(&stored));
        assert_eq!(everything.first_broken_seq, Some(1));
    }

    #[test]
    fn a_replaced_newest_event_or_events_past_the_head_are_named() {
        let mut events = chain(3);
        let stored = head(&events[2]);
        events[2].action = "forged".into();
        events[2].hash = events[2].computed_hash();
        let verdict = check(&events, Some(&stored), Some(&stored));
        assert_eq!(verdict.problem, Some(ChainProblem::Replaced { seq: 3, by: Anchor::StoredHead }));
        let events = chain(3);
        let behind = head(&events[1]);
        let verdict = check(&events, Some(&behind), Some(&behind));
        assert_eq!(verdict.problem, Some(ChainProblem::PastHead { from: 3, to: 3 }));
        assert!(verdict.problem.unwrap().to_string().starts_with("event 3 is past the stored head (event 2)"));
        assert_eq!(check(&events, None, None).problem, Some(ChainProblem::NoHead));
    }

    #[test]
    fn appends_racing_the_check_are_not_tampering() {
        let events = chain(4);
        // The head moved to 4 while events 1..=3 were being read.
        let verdict = check(&events[..3], Some(&head(&events[1])), Some(&head(&events[3])));
        assert!(verdict.ok(), "{verdict:?}");
    }

    #[test]
    fn an_expected_head_catches_a_rewrite_of_events_and_head_together() {
        let events = chain(4);
        let recorded = head(&events[3]);
        // Event 4 deleted and the stored head moved back to 3: the stored head alone agrees.
        let stored = head(&events[2]);
        let mut verifier = ChainVerifier::default()
            .anchored(Anchor::StoredHead, stored.clone())
            .anchored(Anchor::ExpectedHead, recorded.clone());
        events[..3].iter().for_each(|e| verifier.push(e));
        assert!(verifier.verdict().ok());
        let verdict = verifier.finish(Some(&stored));
        assert_eq!(verdict.problem, Some(ChainProblem::Missing { from: 4, to: 4, by: Anchor::ExpectedHead }));
        assert_eq!(
            verdict.problem.unwrap().to_string(),
            "event 4 is missing: the expected head is at event 4, but the chain ends at event 3"
        );
        // Event 4 replaced, rehashed, and the stored head rewritten to match.
        let mut forged = events.clone();
        forged[3].action = "forged".into();
        forged[3].hash = forged[3].computed_hash();
        let mut verifier = ChainVerifier::default().anchored(Anchor::ExpectedHead, recorded.clone());
        forged.iter().for_each(|e| verifier.push(e));
        let verdict = verifier.finish(Some(&head(&forged[3])));
        assert_eq!(verdict.problem, Some(ChainProblem::Replaced { seq: 4, by: Anchor::ExpectedHead }));
        // A chain that grew since the head was recorded still holds.
        let grown = chain(1);
        let mut verifier = ChainVerifier::default().anchored(Anchor::ExpectedHead, head(&grown[0]));
        grown.iter().for_each(|e| verifier.push(e));
        assert!(verifier.finish(Some(&head(&grown[0]))).ok());
    }

    #[test]
    fn heads_parse_from_what_they_print() {
        let head = AuditHead { seq: 12, hash: "ab".repeat(32) };
        assert_eq!(head.to_string().parse::<AuditHead>(), Ok(head));
        assert_eq!(format!("0:{}", "AB".repeat(32)).parse::<AuditHead>().unwrap().hash, "ab".repeat(32));
        assert!("12".parse::<AuditHead>().is_err());
        assert!("x:00".parse::<AuditHead>().is_err());
        assert!("3:abc".parse::<AuditHead>().unwrap_err().contains("64 hexadecimal"));
    }
}
