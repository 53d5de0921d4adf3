//! Organization webhooks: which audit events notify, what the receiver gets (payload, signature,
//! idempotency key), and how failed deliveries are retried.
//!
//! Deliveries come from the audit trail, which every change writes in its own transaction, so a
//! notification can never be lost between "it happened" and "tell someone". A worker tails each
//! organization's chain after a stored cursor and claims one delivery row per event with a unique
//! `(org, seq)`, so instances never send an event twice on their own account; a receiver still
//! sees retries, which carry the same idempotency key.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::audit::{AuditEvent, AuditRecord, Outcome};
use crate::ids::OrgId;
use crate::{DomainError, StoreError};

/// The step-up action of changing or removing the webhook, and the audit action of a change.
pub const SET_ACTION: &str = "org.webhook.set";
/// The audit action of removing the webhook.
pub const DELETED_ACTION: &str = "org.webhook.deleted";
/// Longest URL accepted.
pub const MAX_URL_CHARS: usize = 2048;
/// Delay before the second attempt; each further one doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_secs(2);
/// Longest delay between two attempts.
pub const BACKOFF_CAP: Duration = Duration::from_secs(600);
/// Longest error text kept in the delivery log.
pub const MAX_ERROR_CHARS: usize = 500;
/// The prefix of the `X-Keyward-Signature` header's value.
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// What a webhook can be told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WebhookEvent {
    /// A pipeline asked for approval (`approval.requested`).
    ApprovalRequested,
    /// A request became APPROVED (`approval.approved`).
    ApprovalApproved,
    /// A request was rejected, by a person or by the policy (`approval.rejected`).
    ApprovalRejected,
    /// A request expired undecided (`approval.expired`).
    ApprovalExpired,
}

impl WebhookEvent {
    /// Every event, in a stable order.
    pub const ALL: [WebhookEvent; 4] = [
        WebhookEvent::ApprovalRequested,
        WebhookEvent::ApprovalApproved,
        WebhookEvent::ApprovalRejected,
        WebhookEvent::ApprovalExpired,
    ];

    /// The event's name in payloads, headers and storage (the audit action it comes from).
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::ApprovalRequested => "approval.requested",
            WebhookEvent::ApprovalApproved => "approval.approved",
            WebhookEvent::ApprovalRejected => "approval.rejected",
            WebhookEvent::ApprovalExpired => "approval.expired",
        }
    }

    /// The event an audit action notifies, if any (other actions, such as single votes, do not).
    pub fn from_audit_action(action: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == action)
    }
}

impl fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WebhookEvent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_audit_action(s).ok_or_else(|| format!("unknown webhook event {s:?}"))
    }
}

/// An organization's webhook (at most one per organization).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// The organization.
    pub org_id: OrgId,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The events it is told about.
    pub events: Vec<WebhookEvent>,
    /// The HMAC secret in its stored form (sealed when the instance has a `secrets_key`).
    pub secret: String,
    /// First set.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether it is told about `event`.
    pub fn subscribes(&self, event: WebhookEvent) -> bool {
        self.events.contains(&event)
    }

    /// The event an audit event of this organization notifies this webhook of: a successful one
    /// whose action is a webhook event it subscribes to.
    pub fn notifies(&self, event: &AuditEvent) -> Option<WebhookEvent> {
        let kind = WebhookEvent::from_audit_action(&event.action)?;
        let notifies =
            event.outcome == Outcome::Success.as_str() && self.subscribes(kind) && event.org_id == self.org_id;
        notifies.then_some(kind)
    }
}

/// What an admin submits: checked with [`WebhookSettings::checked`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The receiver's URL.
    pub url: String,
    /// The events to send.
    pub events: Vec<WebhookEvent>,
}

impl WebhookSettings {
    /// The settings with a checked, normalized URL and the events sorted without repeats.
    pub fn checked(self) -> Result<Self, DomainError> {
        let url = check_url(&self.url)?;
        let mut events = self.events;
        events.sort();
        events.dedup();
        if events.is_empty() {
            return Err(DomainError::bad_input("events", "choose at least one event"));
        }
        Ok(Self { url, events })
    }
}

/// Checks a receiver URL and returns its normalized form: `http` or `https` with a host, no user
/// name or password (put credentials in the path or query, or check the signature), no fragment,
/// at most [`MAX_URL_CHARS`] characters.
pub fn check_url(url: &str) -> Result<String, DomainError> {
    let bad = |message: &str| DomainError::bad_input("url", message);
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(bad(&format!("use at most {MAX_URL_CHARS} characters")));
    }
    let parsed = url::Url::parse(url).map_err(|_| bad("not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("only http and https URLs are allowed"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("the URL needs a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("credentials in the URL are not allowed: check the signature instead"));
    }
    if parsed.fragment().is_some() {
        return Err(bad("a URL fragment is never sent: remove it"));
    }
    let normalized = parsed.to_string();
    if normalized.chars().count() > MAX_URL_CHARS {
        return Err(bad(&format!("use at most {MAX_URL_CHARS} characters")));
    }
    Ok(normalized)
}

/// The scheme, host and port of a checked URL: what the audit trail records of it (paths and
/// queries of chat-service hooks are secrets themselves).
pub fn url_origin(url: &str) -> String {
    url::Url::parse(url).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
}

/// The idempotency key of the delivery of event `seq` of `org`'s audit chain: stable across
/// retries and instances.
pub fn delivery_key(org: OrgId, seq: u64) -> String {
    format!("{org}:{seq}")
}

/// The approval request an audit event is about: `details.requestId`, or the `approval_request:`
/// target.
pub fn approval_request_id(event: &AuditEvent) -> Option<String> {
    event
        .details
        .get("requestId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| event.target.as_deref().and_then(|t| t.strip_prefix("approval_request:")).map(str::to_owned))
}

/// The JSON document POSTed for `event` (an audit event of organization `slug`).
pub fn payload(event: &AuditEvent, kind: WebhookEvent, slug: &str) -> Value {
    let detail = |key: &str| event.details.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "id": delivery_key(event.org_id, event.seq),
        "event": kind.as_str(),
        "occurredAt": event.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "organization": { "id": event.org_id.to_string(), "slug": slug },
        "request": {
            "id": approval_request_id(event),
            "pipeline": detail("pipeline"),
            "runId": detail("runId"),
            "stage": detail("stage"),
            "environment": detail("environment"),
            "commitSha": detail("commitSha"),
            "digest": detail("digest"),
            "status": detail("status"),
            "approvalUrl": detail("approvalUrl"),
        },
        "details": event.details,
    })
}

/// The `X-Keyward-Signature` value: `sha256=` and the hex HMAC-SHA256 of `"<timestamp>.<body>"`
/// under `secret`. The timestamp is signed so a captured delivery cannot be replayed later.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    format!("{SIGNATURE_PREFIX}{}", hex::encode(mac(secret, timestamp, body).finalize().into_bytes()))
}

/// Whether `header` is the signature of `body` at `timestamp` under `secret` (compared in
/// constant time). Receivers must also refuse old timestamps.
pub fn verify_signature(secret: &str, timestamp: i64, body: &str, header: &str) -> bool {
    let Some(hex_mac) = header.trim().strip_prefix(SIGNATURE_PREFIX) else { return false };
    let Ok(expected) = hex::decode(hex_mac) else { return false };
    mac(secret, timestamp, body).verify_slice(&expected).is_ok()
}

fn mac(secret: &str, timestamp: i64, body: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac
}

/// Checks a delivery-log page size (1 to [`crate::paging::MAX_PAGE`]).
pub fn check_page(first: u64) -> Result<u64, DomainError> {
    if (1..=crate::paging::MAX_PAGE).contains(&first) {
        Ok(first)
    } else {
        Err(DomainError::bad_input("first", format!("use 1 to {}", crate::paging::MAX_PAGE)))
    }
}

/// How long to wait after failed attempt number `attempt` (from 1) before the next one:
/// [`BACKOFF_BASE`], doubling, at most [`BACKOFF_CAP`]. No jitter: deliveries of one organization
/// are few, and a fixed schedule is what the delivery log and the tests can show.
pub fn backoff(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    BACKOFF_BASE.saturating_mul(1u32 << doublings).min(BACKOFF_CAP)
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not delivered yet; the next attempt is due at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed, or the webhook was removed first.
    Failed,
}

impl DeliveryStatus {
    /// The stable spelling used in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Delivered => "DELIVERED",
            DeliveryStatus::Failed => "FAILED",
        }
    }
}

impl FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "PENDING" => Ok(DeliveryStatus::Pending),
            "DELIVERED" => Ok(DeliveryStatus::Delivered),
            "FAILED" => Ok(DeliveryStatus::Failed),
            other => Err(format!("unknown delivery status {other:?}")),
        }
    }
}

/// A delivery to claim: one per notifying audit event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    /// Its identifier.
    pub id: Uuid,
    /// The organization.
    pub org_id: OrgId,
    /// The audit event it tells about.
    pub audit_seq: u64,
    /// Which event.
    pub event: WebhookEvent,
    /// The approval request it is about.
    pub approval_request_id: Option<String>,
    /// The JSON body, fixed at claim time so every retry sends the same bytes.
    pub payload: String,
    /// When it was claimed (and the first attempt is due).
    pub created_at: DateTime<Utc>,
}

impl NewDelivery {
    /// The delivery `webhook` gets for `event` of organization `slug`, if it notifies it (see
    /// [`Webhook::notifies`]).
    pub fn for_event(webhook: &Webhook, event: &AuditEvent, slug: &str, now: DateTime<Utc>) -> Option<Self> {
        let kind = webhook.notifies(event)?;
        Some(Self {
            id: Uuid::now_v7(),
            org_id: event.org_id,
            audit_seq: event.seq,
            event: kind,
            approval_request_id: approval_request_id(event),
            payload: payload(event, kind, slug).to_string(),
            created_at: now,
        })
    }

    /// The idempotency key.
    pub fn key(&self) -> String {
        delivery_key(self.org_id, self.audit_seq)
    }
}

/// A delivery with its log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Its identifier.
    pub id: Uuid,
    /// The organization.
    pub org_id: OrgId,
    /// The audit event it tells about.
    pub audit_seq: u64,
    /// Which event.
    pub event: WebhookEvent,
    /// The approval request it is about.
    pub approval_request_id: Option<String>,
    /// The JSON body.
    pub payload: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// The last HTTP status received.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the next attempt is due (while pending).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was claimed.
    pub created_at: DateTime<Utc>,
    /// When the receiver accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl WebhookDelivery {
    /// The idempotency key (`X-Keyward-Delivery`).
    pub fn key(&self) -> String {
        delivery_key(self.org_id, self.audit_seq)
    }
}

/// How one attempt went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptResult {
    /// The receiver answered 2xx.
    Accepted {
        /// Its status.
        status_code: u16,
    },
    /// Another status, a timeout or a connection error.
    Refused {
        /// The status, when one came back.
        status_code: Option<u16>,
        /// What went wrong.
        error: String,
    },
}

/// A delivery's state after an attempt, to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    /// Where it stands now.
    pub status: DeliveryStatus,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// The status received.
    pub last_status_code: Option<u16>,
    /// Why it failed.
    pub last_error: Option<String>,
    /// When to try again (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was accepted.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The state after attempt `attempts_before + 1` ended with `result` at `now`: delivered, due
/// again after [`backoff`], or failed for good once `max_attempts` are spent.
pub fn after_attempt(
    attempts_before: u32,
    result: AttemptResult,
    now: DateTime<Utc>,
    max_attempts: u32,
) -> AttemptRecord {
    let attempts = attempts_before.saturating_add(1);
    match result {
        AttemptResult::Accepted { status_code } => AttemptRecord {
            status: DeliveryStatus::Delivered,
            attempts,
            last_status_code: Some(status_code),
            last_error: None,
            next_attempt_at: None,
            delivered_at: Some(now),
        },
        AttemptResult::Refused { status_code, error } => {
            let exhausted = attempts >= max_attempts.max(1);
            let delay = chrono::Duration::from_std(backoff(attempts)).unwrap_or(chrono::Duration::MAX);
            AttemptRecord {
                status: if exhausted { DeliveryStatus::Failed } else { DeliveryStatus::Pending },
                attempts,
                last_status_code: status_code,
                last_error: Some(error.chars().take(MAX_ERROR_CHARS).collect()),
                next_attempt_at: (!exhausted).then(|| now + delay),
                delivered_at: None,
            }
        }
    }
}

/// Webhooks, their cursors over the audit chain, and the delivery log.
#[async_trait]
pub trait WebhookRepo: Send + Sync {
    /// The organization's webhook.
    async fn webhook(&self, org: OrgId) -> Result<Option<Webhook>, StoreError>;
    /// Every organization's webhook (for the worker).
    async fn webhooks(&self) -> Result<Vec<Webhook>, StoreError>;
    /// Creates or replaces the webhook, with its audit event, in one transaction. A new webhook's
    /// cursor starts at the audit head (that event included): it is told about what happens next,
    /// never about the past. A replaced one keeps its cursor.
    async fn put_webhook(&self, webhook: Webhook, audit: AuditRecord) -> Result<(), StoreError>;
    /// Removes the webhook and its cursor, and fails its pending deliveries, with its audit event,
    /// in one transaction. `false` (and nothing written) when there was none.
    async fn delete_webhook(&self, org: OrgId, audit: AuditRecord) -> Result<bool, StoreError>;
    /// The last audit `seq` the organization's webhook has considered.
    async fn webhook_cursor(&self, org: OrgId) -> Result<Option<u64>, StoreError>;
    /// Inserts the deliveries after the cursor (a delivery of an existing `(org, seq)` is skipped:
    /// another instance claimed it) and moves the cursor up to `through`, in one transaction that
    /// locks the cursor. Returns how many were inserted; none when the webhook is gone.
    async fn claim_deliveries(&self, org: OrgId, deliveries: Vec<NewDelivery>, through: u64)
    -> Result<u64, StoreError>;
    /// Takes up to `limit` pending deliveries due at `now` for one attempt each: their next attempt
    /// moves to `lease_until`, so no other instance takes them meanwhile (and a crashed sender's
    /// are retried afterwards).
    async fn take_due_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;
    /// Stores an attempt's outcome, if the delivery is still pending after `attempts_before`
    /// attempts (`false` otherwise: the webhook was removed, or another sender recorded it).
    async fn record_attempt(&self, id: Uuid, attempts_before: u32, record: AttemptRecord) -> Result<bool, StoreError>;
    /// The organization's deliveries, newest event first.
    async fn webhook_deliveries(&self, org: OrgId, first: u64) -> Result<Vec<WebhookDelivery>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Actor, GENESIS_HASH};

    fn event(action: &str, details: Value) -> AuditEvent {
        let record = AuditRecord::new(Actor::System, action).target("approval_request:r-1").details(details);
        AuditEvent::seal(OrgId::new(), 42, GENESIS_HASH, Utc::now(), record)
    }

    fn webhook(org: OrgId, events: Vec<WebhookEvent>) -> Webhook {
        let now = Utc::now();
        Webhook {
            org_id: org,
            url: "https://x.test/".into(),
            events,
            secret: "s".into(),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn audit_actions_map_to_events_and_back() {
        for event in WebhookEvent::ALL {
            assert_eq!(WebhookEvent::from_audit_action(event.as_str()), Some(event));
            assert_eq!(event.as_str().parse::<WebhookEvent>(), Ok(event));
        }
        for quiet in ["approval.vote_recorded", "approval.token_issued", "api_key.created", "approval"] {
            assert_eq!(WebhookEvent::from_audit_action(quiet), None, "{quiet}");
        }
    }

    #[test]
    fn urls_must_be_http_without_credentials() {
        assert_eq!(check_url(" https://hooks.example.com/k?x=1 ").unwrap(), "https://hooks.example.com/k?x=1");
        assert_eq!(check_url("http://127.0.0.1:9/").unwrap(), "http://127.0.0.1:9/");
        for bad in [
            "ftp://x.test/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://user:pw@x.test/",
            "https://user@x.test/",
            "https://x.test/#frag",
            "not a url",
            "",
        ] {
            assert!(matches!(check_url(bad), Err(DomainError::BadInput { ref field, .. }) if field == "url"), "{bad}");
        }
        let long = format!("https://x.test/{}", "a".repeat(MAX_URL_CHARS));
        assert!(check_url(&long).is_err());
        assert_eq!(url_origin("https://hooks.example.com:8443/secret/path?t=1"), "https://hooks.example.com:8443");
    }

    #[test]
    fn settings_need_an_event_and_drop_repeats() {
        use WebhookEvent::*;
        let settings = WebhookSettings {
            url: "https://x.test".into(),
            events: vec![ApprovalExpired, ApprovalRequested, ApprovalExpired],
        };
        let checked = settings.checked().unwrap();
        assert_eq!(checked.events, vec![ApprovalRequested, ApprovalExpired]);
        assert_eq!(checked.url, "https://x.test/");
        let none = WebhookSettings { url: "https://x.test".into(), events: vec![] }.checked().unwrap_err();
        assert!(matches!(none, DomainError::BadInput { field, .. } if field == "events"));
    }

    #[test]
    fn the_payload_carries_the_request_and_the_audit_details() {
        let details = json!({"requestId": "r-1", "pipeline": "deploy", "runId": "77", "stage": "prod",
            "environment": "production", "commitSha": "abc", "digest": "d1", "status": "APPROVED",
            "approvalUrl": "https://kw.test/approvals/r-1", "jti": "j"});
        let event = event("approval.approved", details.clone());
        let body = payload(&event, WebhookEvent::ApprovalApproved, "acme");
        assert_eq!(body["id"], format!("{}:42", event.org_id));
        assert_eq!(body["event"], "approval.approved");
        assert_eq!(body["organization"], json!({"id": event.org_id.to_string(), "slug": "acme"}));
        assert_eq!(body["request"]["id"], "r-1");
        assert_eq!(body["request"]["runId"], "77");
        assert_eq!(body["request"]["approvalUrl"], "https://kw.test/approvals/r-1");
        assert_eq!(body["details"], details);
        assert!(DateTime::parse_from_rfc3339(body["occurredAt"].as_str().unwrap()).is_ok());
        let bare = event_with_target_only();
        assert_eq!(payload(&bare, WebhookEvent::ApprovalExpired, "acme")["request"]["id"], "r-1");
        assert_eq!(payload(&bare, WebhookEvent::ApprovalExpired, "acme")["request"]["stage"], Value::Null);
    }

    fn event_with_target_only() -> AuditEvent {
        event("approval.expired", json!({}))
    }

    #[test]
    fn only_subscribed_successful_events_become_deliveries() {
        let approved = event("approval.approved", json!({"requestId": "r-1"}));
        let all = webhook(approved.org_id, WebhookEvent::ALL.to_vec());
        let new = NewDelivery::for_event(&all, &approved, "acme", Utc::now()).unwrap();
        assert_eq!((new.audit_seq, new.event), (42, WebhookEvent::ApprovalApproved));
        assert_eq!(new.key(), format!("{}:42", approved.org_id));
        assert_eq!(new.approval_request_id.as_deref(), Some("r-1"));
        assert_eq!(serde_json::from_str::<Value>(&new.payload).unwrap()["event"], "approval.approved");

        let requested_only = webhook(approved.org_id, vec![WebhookEvent::ApprovalRequested]);
        assert_eq!(NewDelivery::for_event(&requested_only, &approved, "acme", Utc::now()), None);
        let vote = event("approval.vote_recorded", json!({}));
        assert_eq!(
            NewDelivery::for_event(&webhook(vote.org_id, WebhookEvent::ALL.to_vec()), &vote, "a", Utc::now()),
            None
        );
        let mut failed = approved.clone();
        failed.outcome = Outcome::Failure.as_str().into();
        assert_eq!(NewDelivery::for_event(&all, &failed, "acme", Utc::now()), None);
        let other_org = webhook(OrgId::new(), WebhookEvent::ALL.to_vec());
        assert_eq!(NewDelivery::for_event(&other_org, &approved, "acme", Utc::now()), None);
    }

    #[test]
    fn signatures_cover_the_timestamp_and_the_body() {
        // The value `printf '1700000000.what do ya want for nothing?' | openssl dgst -sha256 -hmac Jefe`
        // prints: what the README's verification snippets compute.
        let sig = sign("Jefe", 1_700_000_000, "what do ya want for nothing?");
        assert_eq!(sig, "sha256=1cdd0650c8be1cb0974b1788d458b1e781206cfef59b85faafc582d2e182c57e");
        assert!(verify_signature("Jefe", 1_700_000_000, "what do ya want for nothing?", &sig));
        assert!(!verify_signature("Jefe", 1_700_000_001, "what do ya want for nothing?", &sig));
        assert!(!verify_signature("Jefe", 1_700_000_000, "what do ya want for nothing!", &sig));
        assert!(!verify_signature("jefe", 1_700_000_000, "what do ya want for nothing?", &sig));
        assert!(!verify_signature("Jefe", 1_700_000_000, "what do ya want for nothing?", &sig[7..]));
        assert!(!verify_signature("Jefe", 1_700_000_000, "x", "sha256=zz"));
    }

    #[test]
    fn backoff_doubles_from_two_seconds_up_to_ten_minutes() {
        let secs: Vec<u64> = (1..=12).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600, 600]);
        assert_eq!(backoff(0), BACKOFF_BASE);
        assert_eq!(backoff(u32::MAX), BACKOFF_CAP);
    }

    #[test]
    fn attempts_retry_with_backoff_then_fail_for_good() {
        let now = Utc::now();
        let refused = || AttemptResult::Refused { status_code: Some(500), error: "HTTP 500".into() };
        let first = after_attempt(0, refused(), now, 3);
        assert_eq!((first.status, first.attempts), (DeliveryStatus::Pending, 1));
        assert_eq!(first.next_attempt_at, Some(now + chrono::Duration::seconds(2)));
        assert_eq!(first.last_status_code, Some(500));
        let second = after_attempt(1, refused(), now, 3);
        assert_eq!(second.next_attempt_at, Some(now + chrono::Duration::seconds(4)));
        let last = after_attempt(2, refused(), now, 3);
        assert_eq!((last.status, last.attempts, last.next_attempt_at), (DeliveryStatus::Failed, 3, None));
        let ok = after_attempt(2, AttemptResult::Accepted { status_code: 204 }, now, 3);
        assert_eq!((ok.status, ok.delivered_at, ok.last_error), (DeliveryStatus::Delivered, Some(now), None));
        let long = AttemptResult::Refused { status_code: None, error: "é".repeat(2 * MAX_ERROR_CHARS) };
        assert_eq!(after_attempt(0, long, now, 8).last_error.unwrap().chars().count(), MAX_ERROR_CHARS);
    }

    #[test]
    fn log_pages_are_bounded() {
        assert_eq!(check_page(50), Ok(50));
        assert!(check_page(0).is_err() && check_page(crate::paging::MAX_PAGE + 1).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for status in [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed] {
            assert_eq!(status.as_str().parse::<DeliveryStatus>(), Ok(status));
        }
        assert!("DONE".parse::<DeliveryStatus>().is_err());
    }
}
