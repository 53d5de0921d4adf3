//! Sessions: tokens, stages, and the rules that decide whether a session is still alive.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{MemberId, OrgId, SecurityKeyId};
use crate::member::Role;
use crate::org::Enforcement;
use crate::step_up::Grant;

pub use crate::session_token::{SessionToken, TOKEN_SECRET_BYTES, TokenHash};

/// How far a session has come through login.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionStage {
    /// First factor done; the security key has not been touched yet.
    MfaRequired,
    /// MFA is enforced and the member has no key: only key registration is allowed.
    MfaRegistrationRequired,
    /// Fully logged in.
    Authenticated,
}

/// A way the session's holder proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthMethod {
    /// OIDC single sign-on.
    Sso,
    /// The organization's break-glass backup credentials.
    BackupCredentials,
    /// A single-use recovery code.
    RecoveryCode,
    /// A WebAuthn assertion from a registered security key.
    SecurityKey,
}

/// The stage a fresh login lands at (DESIGN §4): never `AUTHENTICATED` without a key assertion when
/// the member has a key, or when the organization requires one.
pub fn initial_stage(has_key: bool, enforcement: &Enforcement, now: DateTime<Utc>) -> SessionStage {
    if has_key {
        SessionStage::MfaRequired
    } else if enforcement.requires_registration(now) {
        SessionStage::MfaRegistrationRequired
    } else {
        SessionStage::Authenticated
    }
}

/// A server-side session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Storage key: the hash of the client's token.
    pub token_hash: TokenHash,
    /// The organization.
    pub org_id: OrgId,
    /// The member.
    pub member_id: MemberId,
    /// The member's role when the session was created.
    pub role: Role,
    /// Login progress.
    pub stage: SessionStage,
    /// Factors used so far, in order.
    pub methods: Vec<AuthMethod>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last request seen (to the touch granularity).
    pub last_seen_at: DateTime<Utc>,
    /// Hard end of the session.
    pub absolute_expires_at: DateTime<Utc>,
    /// Inactivity allowed before the session ends, in seconds.
    pub idle_timeout_secs: u32,
    /// Last successful security-key assertion.
    pub mfa_verified_at: Option<DateTime<Utc>>,
    /// The key used for that assertion.
    pub key_id: Option<SecurityKeyId>,
    /// While MFA enforcement's grace period runs and the member has no key: its deadline.
    pub grace_period_ends_at: Option<DateTime<Utc>>,
    /// The organization's epoch when the session was stamped.
    pub org_epoch: u64,
    /// The member's epoch when the session was stamped.
    pub member_epoch: u64,
    /// The organization's keyless epoch when the session was stamped; it matters only while the
    /// session has not been confirmed with a security key ([`Session::is_keyless`]).
    pub keyless_epoch: u64,
    /// How the session was established, for the step-up policy's input.
    pub facts: SessionFacts,
    /// Step-up grants this session earned (DESIGN §8); they die with the session.
    pub grants: Vec<Grant>,
    /// The organization's step-up policy version, read with the session like the epochs (not
    /// stored on it): `Some(0)` for the built-in policy, `None` when the store does not know.
    pub policy_version: Option<u64>,
    /// The organization's WebAuthn policy version, read the same way (`Some(0)`: the default
    /// policy, none saved).
    pub webauthn_policy_version: Option<u64>,
}

/// Facts of the login that created a session: the step-up policy's view of who and how.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionFacts {
    /// The member's username at login.
    pub username: String,
    /// The IdP groups at login (empty for backup credentials).
    pub groups: Vec<String>,
    /// The client's address at login.
    pub login_ip: Option<String>,
    /// Browser and system at login ([`crate::device::describe_user_agent`]).
    pub device: Option<String>,
    /// The security key the session's key check used.
    pub key: Option<KeyFacts>,
}

/// What the session's key check showed of the key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFacts {
    /// The verified model's AAGUID, when attested.
    pub aaguid: Option<uuid::Uuid>,
    /// Whether the credential may be synced (a passkey).
    pub backup_eligible: bool,
    /// Whether it is currently synced.
    pub backup_state: bool,
    /// Whether the authenticator verified the user (PIN or biometric).
    pub user_verified: bool,
}

/// The current epochs a session is checked against (DESIGN §4): moving one ends, in O(1), every
/// session stamped with its old value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Epochs {
    /// Moves when the organization's sessions are flushed (enforcement switched on).
    pub org: u64,
    /// Moves when one member's sessions end (a change to what they may do).
    pub member: u64,
    /// Moves when the sessions that never touched a key end (the grace period changed).
    pub keyless: u64,
}

impl Session {
    /// Whether no security key has confirmed this session (first factor only, or a keyless
    /// member working under a grace period or without enforcement).
    pub fn is_keyless(&self) -> bool {
        self.key_id.is_none()
    }

    /// Whether this session may bind a new security key to its member. Binding a new
    /// authenticator needs the existing one (NIST SP 800-63B §6.1.2.1): a session that has not
    /// touched a key may register only while the member has none, or after a recovery code
    /// stood in for the lost key.
    pub fn may_bind_key(&self, member_has_key: bool) -> Result<(), DomainError> {
        if !member_has_key || !self.is_keyless() || self.methods.contains(&AuthMethod::RecoveryCode) {
            Ok(())
        } else {
            Err(DomainError::MfaRequired)
        }
    }

    /// Moves the session to `stage` at `now` with the lifetime that stage allows: until the
    /// security key is done the session lives at most `lifetimes.pending` from now; a fully
    /// authenticated one lives `lifetimes.absolute` from its creation.
    pub fn advance(&mut self, stage: SessionStage, lifetimes: SessionLifetimes, now: DateTime<Utc>) {
        self.stage = stage;
        self.absolute_expires_at = absolute_end(stage, self.created_at, now, lifetimes);
    }

    /// The session after a touch of `key` at `now` (a login assertion, or registering the key
    /// from a session no key confirmed yet): fully authenticated, confirmed by that key, with no
    /// grace period left to remind of.
    pub fn confirmed_by_key(
        &self,
        key: SecurityKeyId,
        facts: KeyFacts,
        lifetimes: SessionLifetimes,
        now: DateTime<Utc>,
    ) -> Session {
        let mut next = self.clone();
        next.facts.key = Some(facts);
        next.advance(SessionStage::Authenticated, lifetimes, now);
        next.mfa_verified_at = Some(now);
        next.key_id = Some(key);
        next.grace_period_ends_at = None;
        next.add_method(AuthMethod::SecurityKey);
        next
    }

    /// The session after a recovery code stood in for the lost key at `now`: it may only
    /// register a new key, for at most `lifetimes.pending`.
    pub fn recovered(&self, lifetimes: SessionLifetimes, now: DateTime<Utc>) -> Session {
        let mut next = self.clone();
        next.advance(SessionStage::MfaRegistrationRequired, lifetimes, now);
        next.add_method(AuthMethod::RecoveryCode);
        next
    }

    fn add_method(&mut self, method: AuthMethod) {
        if !self.methods.contains(&method) {
            self.methods.push(method);
        }
    }

    /// When the session ends if nothing more happens.
    pub fn deadline(&self) -> DateTime<Utc> {
        let idle_end = self.last_seen_at + Duration::seconds(i64::from(self.idle_timeout_secs));
        idle_end.min(self.absolute_expires_at)
    }

    /// Whether the session is alive at `now`, given the current epochs.
    pub fn is_live(&self, now: DateTime<Utc>, current: &Epochs) -> bool {
        self.org_epoch == current.org
            && self.member_epoch == current.member
            && (!self.is_keyless() || self.keyless_epoch == current.keyless)
            && now < self.deadline()
    }

    /// The epochs this session was stamped with.
    pub fn epochs(&self) -> Epochs {
        Epochs { org: self.org_epoch, member: self.member_epoch, keyless: self.keyless_epoch }
    }

    /// Whether a request at `now` should move `last_seen_at` forward. Touching on every request
    /// would cost a write each time; a twentieth of the idle timeout keeps idle expiry within 5%.
    pub fn needs_touch(&self, now: DateTime<Utc>) -> bool {
        now >= self.touch_due_at()
    }

    /// From when a request should move `last_seen_at` forward (see [`Session::needs_touch`]).
    pub fn touch_due_at(&self) -> DateTime<Utc> {
        self.last_seen_at + Duration::milliseconds(i64::from(self.idle_timeout_secs) * 1000 / 20)
    }

    /// The stage in force at `now`: a keyless member's grace period can run out mid-session, and
    /// from then on the session may only register a key.
    pub fn effective_stage(&self, now: DateTime<Utc>) -> SessionStage {
        match self.grace_period_ends_at {
            Some(deadline) if self.stage == SessionStage::Authenticated && now >= deadline => {
                SessionStage::MfaRegistrationRequired
            }
            _ => self.stage,
        }
    }

    /// Age of the last security-key check at `now`, if there was one.
    pub fn mfa_age(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.mfa_verified_at.map(|at| now - at)
    }
}

/// What is needed to start a session; epochs are stamped by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    /// Hash of the token handed to the client.
    pub token_hash: TokenHash,
    /// The organization.
    pub org_id: OrgId,
    /// The member.
    pub member_id: MemberId,
    /// The member's role.
    pub role: Role,
    /// The stage from [`initial_stage`].
    pub stage: SessionStage,
    /// The first factor.
    pub methods: Vec<AuthMethod>,
    /// Grace-period deadline to remind the member of.
    pub grace_period_ends_at: Option<DateTime<Utc>>,
    /// How the session is being established.
    pub facts: SessionFacts,
}

/// Live sessions one member keeps: a login beyond it ends the member's oldest session. Far above
/// what a person uses (a laptop, a phone, the CLI), and it keeps what one member's sessions cost
/// the store bounded whatever a client does.
pub const MAX_SESSIONS_PER_MEMBER: usize = 100;

/// Session lifetimes from configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLifetimes {
    /// Hard limit from creation.
    pub absolute: Duration,
    /// Inactivity limit.
    pub idle: Duration,
    /// Hard limit for a session that has passed only the first factor (`session.pending_ttl`).
    pub pending: Duration,
}

/// When a session at `stage`, created at `created`, must end at the latest, decided at `now`.
fn absolute_end(
    stage: SessionStage,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
    lifetimes: SessionLifetimes,
) -> DateTime<Utc> {
    let full = created + lifetimes.absolute;
    match stage {
        SessionStage::Authenticated => full,
        SessionStage::MfaRequired | SessionStage::MfaRegistrationRequired => full.min(now + lifetimes.pending),
    }
}

impl NewSession {
    /// The full session, created at `now` with `lifetimes` and the given epochs.
    pub fn start(self, now: DateTime<Utc>, lifetimes: SessionLifetimes, epochs: Epochs) -> Session {
        Session {
            token_hash: self.token_hash,
            org_id: self.org_id,
            member_id: self.member_id,
            role: self.role,
            stage: self.stage,
            methods: self.methods,
            created_at: now,
            last_seen_at: now,
            absolute_expires_at: absolute_end(self.stage, now, now, lifetimes),
            idle_timeout_secs: u32::try_from(lifetimes.idle.num_seconds()).unwrap_or(u32::MAX),
            mfa_verified_at: None,
            key_id: None,
            grace_period_ends_at: self.grace_period_ends_at,
            org_epoch: epochs.org,
            member_epoch: epochs.member,
            keyless_epoch: epochs.keyless,
            facts: self.facts,
            grants: Vec::new(),
            policy_version: None,
            webauthn_policy_version: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: DateTime<Utc>) -> Session {
        NewSession {
            token_hash: TokenHash("h".into()),
            org_id: OrgId::new(),
            member_id: MemberId::new(),
            role: Role::Member,
            stage: SessionStage::Authenticated,
            methods: vec![AuthMethod::Sso],
            grace_period_ends_at: None,
            facts: Default::default(),
        }
        .start(now, LIFETIMES, Epochs { org: 3, member: 1, keyless: 0 })
    }

    const LIFETIMES: SessionLifetimes =
        SessionLifetimes { absolute: Duration::hours(12), idle: Duration::minutes(30), pending: Duration::minutes(10) };

    fn epochs(org: u64, member: u64, keyless: u64) -> Epochs {
        Epochs { org, member, keyless }
    }

    #[test]
    fn first_stage_depends_on_keys_and_enforcement() {
        let now = Utc::now();
        let off = Enforcement::default();
        let on = Enforcement { enabled: true, grace_period_ends_at: None };
        let grace = Enforcement { enabled: true, grace_period_ends_at: Some(now + Duration::days(1)) };
        assert_eq!(initial_stage(true, &off, now), SessionStage::MfaRequired);
        assert_eq!(initial_stage(true, &on, now), SessionStage::MfaRequired);
        assert_eq!(initial_stage(false, &off, now), SessionStage::Authenticated);
        assert_eq!(initial_stage(false, &on, now), SessionStage::MfaRegistrationRequired);
        assert_eq!(initial_stage(false, &grace, now), SessionStage::Authenticated);
    }

    #[test]
    fn liveness_follows_epochs_and_both_expiries() {
        let now = Utc::now();
        let mut s = session(now);
        s.key_id = Some(SecurityKeyId::new());
        assert!(s.is_live(now, &epochs(3, 1, 0)));
        assert!(!s.is_live(now, &epochs(4, 1, 0)), "org epoch moved");
        assert!(!s.is_live(now, &epochs(3, 2, 0)), "member epoch moved");
        assert!(s.is_live(now, &epochs(3, 1, 5)), "the keyless epoch spares a key-confirmed session");
        assert!(!s.is_live(now + Duration::minutes(30), &epochs(3, 1, 0)), "idle");
        let mut busy = s.clone();
        busy.last_seen_at = now + Duration::hours(11) + Duration::minutes(50);
        assert!(busy.is_live(now + Duration::hours(11) + Duration::minutes(59), &epochs(3, 1, 0)));
        assert!(!busy.is_live(now + Duration::hours(12), &epochs(3, 1, 0)), "absolute");
    }

    #[test]
    fn the_keyless_epoch_ends_sessions_no_key_confirmed() {
        let now = Utc::now();
        let s = session(now);
        assert!(s.is_keyless());
        assert!(s.is_live(now, &epochs(3, 1, 0)));
        assert!(!s.is_live(now, &epochs(3, 1, 1)));
    }

    #[test]
    fn sessions_past_only_the_first_factor_are_short_lived() {
        let now = Utc::now();
        let mut pending = NewSession {
            token_hash: TokenHash("p".into()),
            org_id: OrgId::new(),
            member_id: MemberId::new(),
            role: Role::Member,
            stage: SessionStage::MfaRequired,
            methods: vec![AuthMethod::Sso],
            grace_period_ends_at: None,
            facts: Default::default(),
        }
        .start(now, LIFETIMES, Epochs::default());
        assert_eq!(pending.absolute_expires_at, now + Duration::minutes(10));
        let later = now + Duration::minutes(4);
        pending.advance(SessionStage::Authenticated, LIFETIMES, later);
        assert_eq!(pending.absolute_expires_at, now + Duration::hours(12), "counted from creation");
        pending.advance(SessionStage::MfaRegistrationRequired, LIFETIMES, later);
        assert_eq!(pending.absolute_expires_at, later + Duration::minutes(10));
        let mut old = session(now);
        old.advance(SessionStage::MfaRequired, LIFETIMES, now + Duration::hours(11) + Duration::minutes(55));
        assert_eq!(old.absolute_expires_at, now + Duration::hours(12), "never beyond the absolute limit");
    }

    #[test]
    fn a_key_touch_confirms_and_a_recovery_code_only_lets_register() {
        let now = Utc::now();
        let mut pending = session(now);
        pending.stage = SessionStage::MfaRequired;
        pending.grace_period_ends_at = Some(now + Duration::days(1));
        let key = SecurityKeyId::new();
        let later = now + Duration::minutes(1);
        let confirmed = pending.confirmed_by_key(key, KeyFacts::default(), LIFETIMES, later);
        assert_eq!(confirmed.stage, SessionStage::Authenticated);
        assert_eq!(
            (confirmed.key_id, confirmed.mfa_verified_at, confirmed.grace_period_ends_at),
            (Some(key), Some(later), None)
        );
        assert_eq!(confirmed.absolute_expires_at, now + LIFETIMES.absolute);
        assert_eq!(
            confirmed.confirmed_by_key(key, KeyFacts::default(), LIFETIMES, later).methods,
            vec![AuthMethod::Sso, AuthMethod::SecurityKey]
        );
        let recovered = pending.recovered(LIFETIMES, later);
        assert_eq!(recovered.stage, SessionStage::MfaRegistrationRequired);
        assert_eq!(recovered.methods, vec![AuthMethod::Sso, AuthMethod::RecoveryCode]);
        assert_eq!(recovered.absolute_expires_at, later + LIFETIMES.pending);
        assert!(recovered.is_keyless());
    }

    #[test]
    fn a_new_key_needs_the_existing_one() {
        let now = Utc::now();
        let mut s = session(now);
        assert_eq!(s.may_bind_key(false), Ok(()), "a member's first key");
        assert_eq!(s.may_bind_key(true), Err(DomainError::MfaRequired), "a keyless session once a key exists");
        s.methods.push(AuthMethod::RecoveryCode);
        assert_eq!(s.may_bind_key(true), Ok(()), "a recovery code stands in for the lost key");
        let mut confirmed = session(now);
        confirmed.key_id = Some(SecurityKeyId::new());
        assert_eq!(confirmed.may_bind_key(true), Ok(()));
    }

    #[test]
    fn an_expired_grace_period_forces_registration() {
        let now = Utc::now();
        let mut s = session(now);
        assert_eq!(s.effective_stage(now), SessionStage::Authenticated);
        s.grace_period_ends_at = Some(now + Duration::hours(1));
        assert_eq!(s.effective_stage(now), SessionStage::Authenticated);
        assert_eq!(s.effective_stage(now + Duration::hours(1)), SessionStage::MfaRegistrationRequired);
    }

    #[test]
    fn touch_happens_at_a_twentieth_of_the_idle_timeout() {
        let now = Utc::now();
        let s = session(now);
        assert!(!s.needs_touch(now + Duration::seconds(89)));
        assert!(s.needs_touch(now + Duration::seconds(90)));
    }
}
