//! The delivery worker. Each pass, on every instance:
//! 1. for each organization with a webhook, reads the audit events after its cursor and claims a
//!    delivery for each one the webhook subscribes to (a unique insert: one instance wins);
//! 2. takes the deliveries that are due (a lease: one instance per attempt), POSTs them, and
//!    records the outcome: delivered, due again after the backoff, or FAILED after
//!    `webhooks.max_attempts`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use keyward_domain::StoreError;
use keyward_domain::ids::OrgId;
use keyward_domain::repo::{AuditRepo, OrganizationRepo};
use keyward_domain::webhook::{
    AttemptResult, DeliveryStatus, NewDelivery, Webhook, WebhookDelivery, WebhookRepo, after_attempt,
};

use super::sender;
use crate::state::AppState;

/// Audit events read per query while tailing.
const PAGE: u64 = 500;
/// Pages read per organization per pass; the rest waits for the next pass.
const MAX_PAGES: usize = 20;
/// Deliveries taken per pass.
const BATCH: u64 = 100;
/// Attempts in flight at once per instance.
const CONCURRENCY: usize = 8;
/// How long past the HTTP timeout a taken attempt stays leased to this instance.
const LEASE_MARGIN: chrono::Duration = chrono::Duration::seconds(30);

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// Deliveries claimed from new audit events.
    pub claimed: u64,
    /// Attempts made.
    pub attempted: u64,
    /// Attempts the receiver accepted.
    pub delivered: u64,
    /// Deliveries that failed for good in this pass.
    pub failed: u64,
}

/// Tails the audit trail and delivers; [`Worker::run_once`] is one pass.
pub struct Worker {
    app: AppState,
    client: reqwest::Client,
}

impl Worker {
    /// A worker with the configured HTTP timeout.
    pub fn new(app: AppState) -> Self {
        let client = sender::client(app.config.webhooks.timeout);
        Self { app, client }
    }

    /// One pass, as of `now`: claims new events and makes every attempt due by `now` (tests pass a
    /// later `now` to reach a retry without waiting out its backoff; signatures always carry the
    /// real time). A failure of one organization's tail is logged and the others go on.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<Tick, StoreError> {
        let hooks: HashMap<OrgId, Webhook> =
            self.app.db.webhooks().await?.into_iter().map(|hook| (hook.org_id, hook)).collect();
        let mut tick = Tick::default();
        for hook in hooks.values() {
            match self.tail(hook, now).await {
                Ok(claimed) => tick.claimed += claimed,
                Err(err) => {
                    tracing::warn!(org = %hook.org_id, error = %err, "webhook deliveries: could not read new events")
                }
            }
        }
        let lease =
            now + chrono::Duration::from_std(self.app.config.webhooks.timeout).unwrap_or_default() + LEASE_MARGIN;
        let due = self.app.db.take_due_deliveries(now, lease, BATCH).await?;
        let hooks = &hooks;
        let outcomes: Vec<Option<DeliveryStatus>> = futures::stream::iter(due)
            .map(|delivery| async move { self.attempt(delivery, hooks, now).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for status in outcomes.into_iter().flatten() {
            tick.attempted += 1;
            match status {
                DeliveryStatus::Delivered => tick.delivered += 1,
                DeliveryStatus::Failed => tick.failed += 1,
                DeliveryStatus::Pending => {}
            }
        }
        Ok(tick)
    }

    /// Claims deliveries for the events after `hook`'s cursor; returns how many this instance won.
    async fn tail(&self, hook: &Webhook, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let org = hook.org_id;
        let Some(mut cursor) = self.app.db.webhook_cursor(org).await? else { return Ok(0) };
        let mut slug: Option<String> = None;
        let mut claimed = 0;
        for _ in 0..MAX_PAGES {
            let events = self.app.db.audit_chain(org, cursor, PAGE).await?;
            let Some(last) = events.last() else { break };
            let through = last.seq;
            if slug.is_none() && events.iter().any(|event| hook.notifies(event).is_some()) {
                slug = Some(self.app.db.organization(org).await?.map(|o| o.slug).unwrap_or_default());
            }
            let slug = slug.as_deref().unwrap_or_default();
            let deliveries = events.iter().filter_map(|event| NewDelivery::for_event(hook, event, slug, now)).collect();
            claimed += self.app.db.claim_deliveries(org, deliveries, through).await?;
            cursor = through;
            if (events.len() as u64) < PAGE {
                break;
            }
        }
        Ok(claimed)
    }

    /// Makes one attempt and records it; the delivery's new status, or `None` when there was
    /// nothing to record (the webhook is gone, or another sender recorded first).
    async fn attempt(
        &self,
        delivery: WebhookDelivery,
        hooks: &HashMap<OrgId, Webhook>,
        now: DateTime<Utc>,
    ) -> Option<DeliveryStatus> {
        let hook = match hooks.get(&delivery.org_id) {
            Some(hook) => hook.clone(),
            // Set after this pass read the webhooks, and claimed by another instance.
            None => self.app.db.webhook(delivery.org_id).await.ok().flatten()?,
        };
        let result = match self.app.sealer.open(&hook.secret) {
            Ok(secret) => sender::send(&self.client, &hook.url, &secret, &delivery, Utc::now().timestamp()).await,
            Err(why) => {
                AttemptResult::Refused { status_code: None, error: format!("cannot open the webhook secret: {why}") }
            }
        };
        let record = after_attempt(delivery.attempts, result, now, self.app.config.webhooks.max_attempts);
        let status = record.status;
        if status != DeliveryStatus::Delivered {
            tracing::info!(
                org = %delivery.org_id, delivery = %delivery.key(), attempts = record.attempts,
                status = status.as_str(), error = record.last_error.as_deref().unwrap_or_default(),
                "webhook delivery attempt failed"
            );
        }
        match self.app.db.record_attempt(delivery.id, delivery.attempts, record).await {
            Ok(true) => Some(status),
            Ok(false) => None,
            Err(err) => {
                tracing::warn!(delivery = %delivery.key(), error = %err, "webhook deliveries: could not record an attempt");
                None
            }
        }
    }
}
