//! The session lookup without a script, for the common case: a session this instance has seen
//! before, fresh and live. One `MGET` reads its record, the three epochs and both policy versions
//! (all under the organization's hash tag, so one node answers), and Rust judges them with the
//! domain's own rules ([`Session::is_live`], [`Session::needs_touch`]). Anything else (an unknown
//! session, one due a touch, a stale epoch, a missing record) goes to the `LOOKUP` script, which
//! decides, touches and deletes exactly as before.
//!
//! Redis runs a script in several microseconds of its single thread; an `MGET` of six keys in a
//! fraction of one. The session check is on every request, so this is most of Redis's share of it.
//!
//! The member epoch's key names the member, which the token does not carry: this instance keeps
//! which member each session it has seen belongs to. That fact never changes for a session, so it
//! cannot go stale; the record read on every lookup must still name the same member, or the script
//! decides. Bounded: at [`MEMBERS_LIMIT`] entries it starts over (a lookup then takes the script
//! once more per session).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use keyward_domain::StoreError;
use keyward_domain::ids::{MemberId, OrgId};
use keyward_domain::session::{Epochs, Session, TokenHash};

use super::codec;

/// How many sessions one instance keeps (about 100 bytes each).
pub(super) const MEMBERS_LIMIT: usize = 65_536;

/// What this instance knows of a session it has seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    member: MemberId,
    /// When its last-seen time is next due a move ([`Session::touch_due_at`] as this instance
    /// last read it). Another instance's touch only moves it later, so from here on the script
    /// must run, and the `MGET` would only be a wasted round trip.
    touch_due_ms: i64,
}

/// The member of each session this instance has looked up or created, by session key.
#[derive(Default)]
pub(super) struct SessionMembers(Mutex<HashMap<Box<str>, Seen>>);

impl SessionMembers {
    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Seen>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The member of the session stored under `key`, when this instance knows it and the
    /// session is not due a touch at `now` (the script's work).
    pub(super) fn fast_path(&self, key: &str, now: DateTime<Utc>) -> Option<MemberId> {
        self.known().get(key).filter(|seen| now.timestamp_millis() < seen.touch_due_ms).map(|seen| seen.member)
    }

    /// Remembers `session`, as stored under its token hash's key.
    pub(super) fn remember(&self, session: &Session) {
        let seen = Seen { member: session.member_id, touch_due_ms: session.touch_due_at().timestamp_millis() };
        let key = session.token_hash.key();
        let mut known = self.known();
        if known.len() >= MEMBERS_LIMIT && !known.contains_key(key) {
            known.clear();
        }
        known.insert(key.into(), seen);
    }

    /// Forgets the session under `key` (it ended, or it was replaced).
    pub(super) fn forget(&self, key: &str) {
        self.known().remove(key);
    }
}

/// The keys the `MGET` reads, in the order [`judge`] expects.
pub(super) fn keys(prefix: &str, session_key: &str, member: MemberId) -> [String; 6] {
    [
        format!("{prefix}s:{session_key}"),
        format!("{prefix}epoch"),
        format!("{prefix}me:{}", member.0.simple()),
        format!("{prefix}ke"),
        format!("{prefix}spv"),
        format!("{prefix}wpv"),
    ]
}

/// A policy version as Redis keeps it: absent when no instance announced one yet.
pub(super) fn policy_version(text: Option<&str>) -> Result<Option<u64>, StoreError> {
    match text {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| StoreError::Unexpected("corrupt policy version in Redis".into())),
    }
}

fn epoch(text: Option<&str>) -> Result<u64, StoreError> {
    text.map_or(Ok(0), |v| v.parse().map_err(|_| StoreError::Unexpected("corrupt epoch in Redis".into())))
}

/// The session the `MGET` found, if it is `member`'s, live at `now` under the current epochs and
/// not yet due a touch; `None` when the script must decide.
pub(super) fn judge(
    org: OrgId,
    hash: &TokenHash,
    member: MemberId,
    values: &[Option<String>],
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError> {
    let [record, org_epoch, member_epoch, keyless_epoch, step_up, webauthn] = values else {
        return Err(StoreError::Unexpected(format!("MGET of six keys answered {} values", values.len())));
    };
    let Some(record) = record else { return Ok(None) };
    let mut session = codec::decode(org, hash, record, policy_version(step_up.as_deref())?)?;
    let current = Epochs {
        org: epoch(org_epoch.as_deref())?,
        member: epoch(member_epoch.as_deref())?,
        keyless: epoch(keyless_epoch.as_deref())?,
    };
    if session.member_id != member || !session.is_live(now, &current) || session.needs_touch(now) {
        return Ok(None);
    }
    session.webauthn_policy_version = policy_version(webauthn.as_deref())?;
    Ok(Some(session))
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use keyward_domain::member::Role;
    use keyward_domain::session::{AuthMethod, NewSession, SessionLifetimes, SessionStage};

    use super::*;

    const LIFETIMES: SessionLifetimes =
        SessionLifetimes { absolute: Duration::hours(12), idle: Duration::minutes(30), pending: Duration::minutes(10) };

    fn stored(now: DateTime<Utc>) -> (Session, String) {
        let new = NewSession {
            token_hash: TokenHash("abc".into()),
            org_id: OrgId::new(),
            member_id: MemberId::new(),
            role: Role::Member,
            stage: SessionStage::Authenticated,
            methods: vec![AuthMethod::SecurityKey],
            grace_period_ends_at: None,
            facts: Default::default(),
        };
        let mut session = new.start(now, LIFETIMES, Epochs { org: 3, member: 4, keyless: 0 });
        session.key_id = Some(keyward_domain::ids::SecurityKeyId::new());
        let record = codec::encode(&session);
        let raw =
            format!("2|{}|3|4|0|{}|{}|{}|{}|{}", record.m, record.ls, record.it, record.ab, record.k, record.tail);
        (session, raw)
    }

    fn values(raw: &str, org: &str, member: &str, spv: Option<&str>) -> Vec<Option<String>> {
        [Some(raw), Some(org), Some(member), None, spv, Some("2")].map(|v| v.map(str::to_owned)).to_vec()
    }

    #[test]
    fn a_fresh_live_session_under_current_epochs_is_served() {
        let now = Utc::now();
        let (session, raw) = stored(now);
        let found =
            judge(session.org_id, &session.token_hash, session.member_id, &values(&raw, "3", "4", Some("7")), now)
                .unwrap()
                .expect("served");
        assert_eq!(found.member_id, session.member_id);
        assert_eq!((found.policy_version, found.webauthn_policy_version), (Some(7), Some(2)));
        assert_eq!(found.epochs(), Epochs { org: 3, member: 4, keyless: 0 });
    }

    #[test]
    fn everything_else_goes_to_the_script() {
        let now = Utc::now();
        let (session, raw) = stored(now);
        let ask = |values: &[Option<String>], member: MemberId, at: DateTime<Utc>| {
            judge(session.org_id, &session.token_hash, member, values, at).unwrap()
        };
        let me = session.member_id;
        assert!(ask(&values(&raw, "4", "4", None), me, now).is_none(), "organization flushed");
        assert!(ask(&values(&raw, "3", "5", None), me, now).is_none(), "member's sessions ended");
        assert!(ask(&values(&raw, "3", "4", None), MemberId::new(), now).is_none(), "another member's record");
        let mut gone = values(&raw, "3", "4", None);
        gone[0] = None;
        assert!(ask(&gone, me, now).is_none(), "no record");
        let touch_due = now + Duration::seconds(90);
        assert!(ask(&values(&raw, "3", "4", None), me, touch_due).is_none(), "due a touch");
        assert!(ask(&values(&raw, "3", "4", None), me, now + Duration::seconds(89)).is_some());
        assert!(ask(&values(&raw, "3", "4", None), me, now + Duration::hours(13)).is_none(), "expired");
    }

    #[test]
    fn corrupt_answers_are_errors_not_sessions() {
        let now = Utc::now();
        let (session, raw) = stored(now);
        let judge =
            |values: &[Option<String>]| judge(session.org_id, &session.token_hash, session.member_id, values, now);
        assert!(judge(&values(&raw, "x", "4", None)).is_err());
        assert!(judge(&values(&raw, "3", "4", Some("v2"))).is_err());
        assert!(judge(&values("2|broken", "3", "4", None)).is_err());
        assert!(judge(&values(&raw, "3", "4", None)[..5]).is_err());
    }

    #[test]
    fn a_known_session_takes_the_fast_path_until_its_touch_is_due() {
        let now = Utc::now();
        let (session, _) = stored(now);
        let members = SessionMembers::default();
        let key = session.token_hash.key();
        assert_eq!(members.fast_path(key, now), None, "unknown");
        members.remember(&session);
        assert_eq!(members.fast_path(key, now + Duration::seconds(89)), Some(session.member_id));
        assert_eq!(members.fast_path(key, now + Duration::seconds(90)), None, "the script touches it");
        members.forget(key);
        assert_eq!(members.fast_path(key, now), None);
    }

    #[test]
    fn the_member_map_starts_over_at_its_limit() {
        let now = Utc::now();
        let (first, _) = stored(now);
        let members = SessionMembers::default();
        members.remember(&first);
        let mut other = first.clone();
        for i in 1..MEMBERS_LIMIT {
            other.token_hash = TokenHash(format!("k{i}"));
            members.remember(&other);
        }
        let key = first.token_hash.key();
        assert!(members.fast_path(key, now).is_some(), "full, not over");
        members.remember(&first);
        assert!(members.fast_path(key, now).is_some(), "a known key does not start it over");
        other.token_hash = TokenHash("one more".into());
        members.remember(&other);
        assert_eq!(members.fast_path(key, now), None, "started over");
        assert!(members.fast_path("one more", now).is_some());
    }
}
