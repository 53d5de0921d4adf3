//! Browser hand-offs for terminals (`keyward login`, `keyward step-up`, `keyward gql`): a terminal
//! asks for a hand-off, a person approves it in the browser with a security key, and the
//! terminal collects the result once by polling with a secret only it holds.
//!
//! The short user code is shown in both places so the person can check that the browser is
//! approving the terminal in front of them. Only SHA-256 of the poll secret is stored.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::DomainError;
use crate::ids::{MemberId, OrgId};
use crate::rate_limit::Limit;
use crate::session::{Session, TokenHash};

/// How long a hand-off waits for its approval.
pub const DEFAULT_TTL: Duration = Duration::minutes(10);
/// Seconds a terminal waits between two polls.
pub const POLL_INTERVAL_SECONDS: u64 = 2;
/// The action a login hand-off is approved under; its resource is [`Handoff::login_resource`].
pub const LOGIN_ACTION: &str = "cli.login";
/// Characters of a user code: consonants only (RFC 8628 §6.1), so no 0/O, 1/I/L or vowels
/// that could spell words.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Characters in a user code, without its dash.
pub const USER_CODE_LENGTH: usize = 8;
/// Bytes of randomness in a poll secret.
pub const POLL_SECRET_BYTES: usize = 32;

/// Hand-offs a client network may create per window.
pub const CREATE_PER_NETWORK: Limit = Limit { max: 30, window_seconds: 300 };
/// Polls a client network may send per window: a few terminals polling every
/// [`POLL_INTERVAL_SECONDS`].
pub const POLL_PER_NETWORK: Limit = Limit { max: 900, window_seconds: 300 };

/// Identifies a hand-off. Random (UUIDv4), not time-ordered: it travels in URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HandoffId(pub Uuid);

impl HandoffId {
    /// A new random identifier.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for HandoffId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for HandoffId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for HandoffId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// What the terminal asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HandoffKind {
    /// A new key-backed session for whoever approves.
    Login,
    /// A step-up for one action: a grant on the bound session and/or a step-up JWT.
    StepUp {
        /// The action, e.g. `security_key.delete`.
        action: String,
        /// The resource, e.g. `security_key:<id>`.
        resource: Option<String>,
        /// Whether the terminal wants a step-up JWT.
        want_token: bool,
    },
}

/// The CLI session a step-up hand-off was requested with: the grant lands on it, and only its
/// member may approve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoundSession {
    /// The session's organization.
    pub org_id: OrgId,
    /// The session's member.
    pub member_id: MemberId,
    /// The session's token hash.
    pub token_hash: TokenHash,
}

impl BoundSession {
    /// The binding of `session`.
    pub fn of(session: &Session) -> Self {
        Self { org_id: session.org_id, member_id: session.member_id, token_hash: session.token_hash.clone() }
    }
}

/// What an approval produced, delivered once to the terminal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffResult {
    /// The approving member's organization.
    pub org_id: OrgId,
    /// The approving member.
    pub member_id: MemberId,
    /// A new session token (login) or the bound session's rotated token (step-up).
    pub session_token: Option<String>,
    /// The step-up JWT, when one was asked for.
    pub token: Option<String>,
    /// The grant, as the API shows it (`{action, resource, reuse, expiresAt}`).
    pub grant: Option<serde_json::Value>,
}

/// A hand-off between a terminal and a browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// Identifier, in the verification URL.
    pub id: HandoffId,
    /// What the terminal asked for.
    pub kind: HandoffKind,
    /// Shown in the terminal and the browser, `ABCD-EFGH`.
    pub user_code: String,
    /// SHA-256 of the terminal's poll secret, base64url.
    pub poll_secret_hash: String,
    /// The CLI session of a step-up asked for with one.
    pub bound: Option<BoundSession>,
    /// The terminal's address when it asked: a login's new session starts from there.
    #[serde(default)]
    pub client_ip: Option<String>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it stops being usable.
    pub expires_at: DateTime<Utc>,
    /// Set once, by the approval.
    pub result: Option<HandoffResult>,
}

/// A hand-off just created: the stored form and the secret only the terminal gets.
pub struct NewHandoff {
    /// What is stored.
    pub handoff: Handoff,
    /// The poll secret, base64url; never stored.
    pub poll_secret: String,
}

/// Formats a user code from caller-drawn randomness: 8 characters of [`USER_CODE_ALPHABET`]
/// (about 34 bits) as `ABCD-EFGH`.
pub fn user_code(random: [u8; 8]) -> String {
    let mut n = u64::from_le_bytes(random);
    let base = USER_CODE_ALPHABET.len() as u64;
    let mut code = String::with_capacity(USER_CODE_LENGTH + 1);
    for i in 0..USER_CODE_LENGTH {
        if i == USER_CODE_LENGTH / 2 {
            code.push('-');
        }
        code.push(char::from(USER_CODE_ALPHABET[(n % base) as usize]));
        n /= base;
    }
    code
}

/// A user code as typed or pasted: upper case, without dashes and spaces.
fn normalize_code(code: &str) -> Vec<u8> {
    code.bytes().filter(|b| !matches!(b, b'-' | b' ')).map(|b| b.to_ascii_uppercase()).collect()
}

/// Compares two byte strings in time that depends on their lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// SHA-256 of a poll secret, base64url: the only form stored.
pub fn hash_poll_secret(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

impl Handoff {
    /// Whether the terminal asked for a step-up JWT.
    pub fn wants_token(&self) -> bool {
        matches!(self.kind, HandoffKind::StepUp { want_token: true, .. })
    }

    /// A pending hand-off created at `now`, living `ttl`. `code_random` and `secret_random` come
    /// from the caller's CSPRNG.
    pub fn create(
        kind: HandoffKind,
        bound: Option<BoundSession>,
        code_random: [u8; 8],
        secret_random: [u8; POLL_SECRET_BYTES],
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> NewHandoff {
        let poll_secret = URL_SAFE_NO_PAD.encode(secret_random);
        let handoff = Handoff {
            id: HandoffId::new(),
            kind,
            user_code: user_code(code_random),
            poll_secret_hash: hash_poll_secret(&poll_secret),
            bound,
            client_ip: None,
            created_at: now,
            expires_at: now + ttl,
            result: None,
        };
        NewHandoff { handoff, poll_secret }
    }

    /// The resource a login hand-off is approved under: `handoff:<id>`.
    pub fn login_resource(id: HandoffId) -> String {
        format!("handoff:{id}")
    }

    /// The (action, resource) the browser's step-up must name to approve this hand-off.
    pub fn target(&self) -> (String, Option<String>) {
        match &self.kind {
            HandoffKind::Login => (LOGIN_ACTION.to_owned(), Some(Self::login_resource(self.id))),
            HandoffKind::StepUp { action, resource, .. } => (action.clone(), resource.clone()),
        }
    }

    /// Whether it can no longer be approved or collected at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// Seconds left at `now`.
    pub fn expires_in(&self, now: DateTime<Utc>) -> u64 {
        u64::try_from((self.expires_at - now).num_seconds()).unwrap_or(0)
    }

    /// Whether `presented` is the poll secret (compared as hashes, in constant time).
    pub fn poll_secret_matches(&self, presented: &str) -> bool {
        constant_time_eq(hash_poll_secret(presented).as_bytes(), self.poll_secret_hash.as_bytes())
    }

    /// Whether `presented` is the user code, ignoring case, dashes and spaces (constant time).
    pub fn code_matches(&self, presented: &str) -> bool {
        constant_time_eq(&normalize_code(presented), &normalize_code(&self.user_code))
    }

    /// Whether the member whose session `approver` is may approve it for (`action`, `resource`)
    /// at `now`: it must be pending, unexpired, for exactly that action and resource, and, when
    /// bound to a CLI session, approved by that session's member.
    pub fn check_approval(
        &self,
        approver: &Session,
        action: &str,
        resource: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if self.is_expired(now) || self.result.is_some() {
            return Err(DomainError::bad_input(
                "handoff",
                "this terminal request expired or was already approved: start it again in your terminal",
            ));
        }
        let (expected_action, expected_resource) = self.target();
        if action != expected_action || resource != expected_resource.as_deref() {
            return Err(DomainError::bad_input(
                "handoff",
                format!(
                    "this terminal request is for {expected_action} on {}, not {action} on {}",
                    expected_resource.as_deref().unwrap_or("any resource"),
                    resource.unwrap_or("any resource")
                ),
            ));
        }
        if let Some(bound) = &self.bound
            && (bound.org_id != approver.org_id || bound.member_id != approver.member_id)
        {
            return Err(DomainError::bad_input(
                "handoff",
                "this terminal request comes from another member's session: only that member can approve it",
            ));
        }
        Ok(())
    }

    /// The hand-off with `result` recorded at `now`; refused when it is expired or was
    /// approved already.
    pub fn completed(&self, result: HandoffResult, now: DateTime<Utc>) -> Result<Handoff, DomainError> {
        if self.is_expired(now) || self.result.is_some() {
            return Err(DomainError::CeremonyExpired);
        }
        Ok(Handoff { result: Some(result), ..self.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::Role;
    use crate::session::{AuthMethod, Epochs, NewSession, SessionLifetimes, SessionStage};

    fn session(org: OrgId, member: MemberId, now: DateTime<Utc>) -> Session {
        let lifetimes = SessionLifetimes {
            absolute: Duration::hours(12),
            idle: Duration::minutes(30),
            pending: Duration::minutes(10),
        };
        NewSession {
            token_hash: TokenHash(format!("h-{member}")),
            org_id: org,
            member_id: member,
            role: Role::Member,
            stage: SessionStage::Authenticated,
            methods: vec![AuthMethod::Sso],
            grace_period_ends_at: None,
            facts: Default::default(),
        }
        .start(now, lifetimes, Epochs::default())
    }

    fn step_up(bound: Option<BoundSession>, now: DateTime<Utc>) -> NewHandoff {
        let kind = HandoffKind::StepUp {
            action: "security_key.delete".into(),
            resource: Some("security_key:1".into()),
            want_token: true,
        };
        Handoff::create(kind, bound, [7; 8], [9; POLL_SECRET_BYTES], now, DEFAULT_TTL)
    }

    fn result(org: OrgId, member: MemberId) -> HandoffResult {
        HandoffResult { org_id: org, member_id: member, session_token: Some("t".into()), token: None, grant: None }
    }

    #[test]
    fn user_codes_are_two_groups_of_four_from_the_alphabet() {
        let code = user_code([0xA5; 8]);
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        assert!(code.bytes().filter(|b| *b != b'-').all(|b| USER_CODE_ALPHABET.contains(&b)), "{code}");
        assert_eq!(user_code([0; 8]), "BBBB-BBBB");
        assert_ne!(user_code([1, 0, 0, 0, 0, 0, 0, 0]), user_code([2, 0, 0, 0, 0, 0, 0, 0]));
        for ambiguous in b"01OIAEU" {
            assert!(!USER_CODE_ALPHABET.contains(ambiguous), "{}", char::from(*ambiguous));
        }
    }

    #[test]
    fn codes_match_ignoring_case_and_dashes_only() {
        let now = Utc::now();
        let new = step_up(None, now);
        let code = new.handoff.user_code.clone();
        assert!(new.handoff.code_matches(&code));
        assert!(new.handoff.code_matches(&code.to_lowercase().replace('-', " ")));
        assert!(!new.handoff.code_matches(&code[..8]));
        let mut wrong = code.clone().into_bytes();
        wrong[0] = if wrong[0] == b'B' { b'C' } else { b'B' };
        assert!(!new.handoff.code_matches(std::str::from_utf8(&wrong).unwrap()));
    }

    #[test]
    fn only_the_hash_of_the_poll_secret_is_kept_and_it_must_match() {
        let now = Utc::now();
        let new = step_up(None, now);
        assert!(!serde_json::to_string(&new.handoff).unwrap().contains(&new.poll_secret));
        assert!(new.handoff.poll_secret_matches(&new.poll_secret));
        assert!(!new.handoff.poll_secret_matches(&format!("{}x", new.poll_secret)));
        assert!(!new.handoff.poll_secret_matches(""));
    }

    #[test]
    fn login_hand_offs_are_approved_as_cli_login_on_their_own_resource() {
        let now = Utc::now();
        let new = Handoff::create(HandoffKind::Login, None, [1; 8], [2; 32], now, DEFAULT_TTL);
        let h = &new.handoff;
        let resource = format!("handoff:{}", h.id);
        assert_eq!(h.target(), ("cli.login".to_owned(), Some(resource.clone())));
        let anyone = session(OrgId::new(), MemberId::new(), now);
        assert_eq!(h.check_approval(&anyone, "cli.login", Some(&resource), now), Ok(()));
        let other = format!("handoff:{}", HandoffId::new());
        assert!(matches!(h.check_approval(&anyone, "cli.login", Some(&other), now), Err(DomainError::BadInput { .. })));
        assert!(matches!(
            h.check_approval(&anyone, "security_key.delete", Some(&resource), now),
            Err(DomainError::BadInput { .. })
        ));
    }

    #[test]
    fn a_bound_hand_off_is_approved_only_by_its_member() {
        let now = Utc::now();
        let (org, owner) = (OrgId::new(), MemberId::new());
        let cli = session(org, owner, now);
        let new = step_up(Some(BoundSession::of(&cli)), now);
        let target = Some("security_key:1");
        let browser = session(org, owner, now);
        assert_eq!(new.handoff.check_approval(&browser, "security_key.delete", target, now), Ok(()));
        let colleague = session(org, MemberId::new(), now);
        let refused = new.handoff.check_approval(&colleague, "security_key.delete", target, now);
        assert!(
            matches!(refused, Err(DomainError::BadInput { ref message, .. }) if message.contains("another member"))
        );
        let stranger = session(OrgId::new(), owner, now);
        assert!(new.handoff.check_approval(&stranger, "security_key.delete", target, now).is_err());
        assert!(new.handoff.check_approval(&browser, "security_key.delete", None, now).is_err(), "resource differs");
    }

    #[test]
    fn expiry_and_completion_happen_once() {
        let now = Utc::now();
        let new = step_up(None, now);
        let h = new.handoff;
        let approver = session(OrgId::new(), MemberId::new(), now);
        let at_end = now + DEFAULT_TTL;
        assert!(!h.is_expired(at_end - Duration::seconds(1)));
        assert!(h.is_expired(at_end));
        assert_eq!(h.expires_in(now), 600);
        assert_eq!(h.expires_in(at_end + Duration::minutes(1)), 0);
        assert!(h.check_approval(&approver, "security_key.delete", Some("security_key:1"), at_end).is_err());
        assert_eq!(h.completed(result(approver.org_id, approver.member_id), at_end), Err(DomainError::CeremonyExpired));
        let done = h.completed(result(approver.org_id, approver.member_id), now).unwrap();
        assert!(done.result.is_some());
        assert_eq!(done.completed(result(approver.org_id, approver.member_id), now), Err(DomainError::CeremonyExpired));
        assert!(done.check_approval(&approver, "security_key.delete", Some("security_key:1"), now).is_err());
    }

    #[test]
    fn hand_offs_round_trip_through_json() {
        let now = Utc::now();
        let h = step_up(None, now).handoff;
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["kind"]["kind"], "step_up");
        assert_eq!(serde_json::from_value::<Handoff>(json).unwrap(), h);
        assert!("nope".parse::<HandoffId>().is_err());
        assert_eq!(h.id.to_string().parse::<HandoffId>().unwrap(), h.id);
    }
}
