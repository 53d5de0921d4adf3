//! Organization webhooks: which audit events notify, what the receiver gets (payload, signature,
//! idempotency key), and how failed deliveries are retried.
//!
//! Deliveries come from the audit trail, which every change writes in its own transaction, so a
//! notification can never be lost between "it happened" and "tell someone". A worker tails each
//! organization's chain after a stored cursor and claims one delivery row per event with a unique
//! `(org, seq)`, so instances never send an event twice on their own account; a receiver still
//! sees retries, which carry the same idempotency key.

mod delivery;

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use uuid::Uuid;

use crate::audit::{AuditEvent, AuditRecord, Outcome};
use crate::ids::OrgId;
use crate::{DomainError, StoreError};

pub use delivery::{
    AttemptRecord, AttemptResult, BACKOFF_BASE, BACKOFF_CAP, DeliveryStatus, MAX_ERROR_CHARS, NewDelivery,
    WebhookDelivery, after_attempt, backoff, check_page,
};

/// The step-up action of changing or removing the webhook, and the audit action of a change.
pub const SET_ACTION: &str = "org.webhook.set";
/// The audit action of removing the webhook.
pub const DELETED_ACTION: &str = "org.webhook.deleted";
/// Longest URL accepted.
pub const MAX_URL_CHARS: usize = 2048;
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
}
