//! Deliveries: one per notifying audit event, claimed once, retried on a fixed backoff schedule
//! until the receiver accepts or `max_attempts` are spent.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Webhook, WebhookEvent, approval_request_id, delivery_key, payload};
use crate::DomainError;
use crate::audit::AuditEvent;
use crate::ids::OrgId;

/// Delay before the second attempt; each further one doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_secs(2);
/// Longest delay between two attempts.
pub const BACKOFF_CAP: Duration = Duration::from_secs(600);
/// Longest error text kept in the delivery log.
pub const MAX_ERROR_CHARS: usize = 500;

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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::audit::{Actor, AuditRecord, GENESIS_HASH, Outcome};

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
