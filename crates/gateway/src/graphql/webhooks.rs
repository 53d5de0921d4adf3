//! The organization's webhook and its delivery log (admins).

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use keyward_domain::audit::Actor;
use keyward_domain::webhook::{self as domain, WebhookRepo, WebhookSettings, check_page};

use super::context::ContextExt;
use crate::error::ApiResult;
use crate::webhooks::admin;

/// What a webhook can be told about.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum WebhookEvent {
    /// A pipeline asked for approval.
    ApprovalRequested,
    /// A request was approved (its token can be fetched).
    ApprovalApproved,
    /// A request was rejected, by an approver or by the policy.
    ApprovalRejected,
    /// A request expired undecided.
    ApprovalExpired,
}

impl From<domain::WebhookEvent> for WebhookEvent {
    fn from(event: domain::WebhookEvent) -> Self {
        match event {
            domain::WebhookEvent::ApprovalRequested => Self::ApprovalRequested,
            domain::WebhookEvent::ApprovalApproved => Self::ApprovalApproved,
            domain::WebhookEvent::ApprovalRejected => Self::ApprovalRejected,
            domain::WebhookEvent::ApprovalExpired => Self::ApprovalExpired,
        }
    }
}

impl From<WebhookEvent> for domain::WebhookEvent {
    fn from(event: WebhookEvent) -> Self {
        match event {
            WebhookEvent::ApprovalRequested => Self::ApprovalRequested,
            WebhookEvent::ApprovalApproved => Self::ApprovalApproved,
            WebhookEvent::ApprovalRejected => Self::ApprovalRejected,
            WebhookEvent::ApprovalExpired => Self::ApprovalExpired,
        }
    }
}

/// The organization's webhook (its secret is never shown again after it is set).
#[derive(SimpleObject)]
pub struct Webhook {
    /// Where deliveries are POSTed.
    pub url: String,
    /// The events it is told about.
    pub events: Vec<WebhookEvent>,
    /// First set.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<domain::Webhook> for Webhook {
    fn from(hook: domain::Webhook) -> Self {
        Self {
            url: hook.url,
            events: hook.events.into_iter().map(Into::into).collect(),
            created_at: hook.created_at,
            updated_at: hook.updated_at,
        }
    }
}

/// The saved webhook, and its HMAC secret when one was made.
#[derive(SimpleObject)]
pub struct WebhookSetPayload {
    /// The webhook.
    pub webhook: Webhook,
    /// The signing secret: shown on first set, or with `rotateSecret`; `null` otherwise.
    pub secret: Option<String>,
}

/// Where a delivery stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum WebhookDeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed, or the webhook was removed first.
    Failed,
}

/// One notification and its attempts.
#[derive(SimpleObject)]
pub struct WebhookDelivery {
    /// Identifier.
    pub id: ID,
    /// Which event.
    pub event: WebhookEvent,
    /// `X-Keyward-Delivery`: the same on every retry (`<organization id>:<audit seq>`).
    pub idempotency_key: String,
    /// Attempts made.
    pub attempts: u32,
    /// Where it stands.
    pub status: WebhookDeliveryStatus,
    /// The last HTTP status received.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the event was picked up.
    pub created_at: DateTime<Utc>,
    /// When the receiver accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The approval request it is about.
    pub request_id: Option<ID>,
}

impl From<domain::WebhookDelivery> for WebhookDelivery {
    fn from(d: domain::WebhookDelivery) -> Self {
        Self {
            id: ID(d.id.to_string()),
            event: d.event.into(),
            idempotency_key: d.key(),
            attempts: d.attempts,
            status: match d.status {
                domain::DeliveryStatus::Pending => WebhookDeliveryStatus::Pending,
                domain::DeliveryStatus::Delivered => WebhookDeliveryStatus::Delivered,
                domain::DeliveryStatus::Failed => WebhookDeliveryStatus::Failed,
            },
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            request_id: d.approval_request_id.map(ID),
        }
    }
}

/// Reading the webhook and its log.
#[derive(Default)]
pub struct WebhookQueries;

#[Object]
impl WebhookQueries {
    /// The organization's webhook; `null` when none is set.
    async fn webhook(&self, ctx: &Context<'_>) -> ApiResult<Option<Webhook>> {
        let session = ctx.org_admin()?.0;
        Ok(ctx.app().db.webhook(session.org_id).await?.map(Into::into))
    }

    /// The delivery log, newest event first (`first`: 1 to 200, 50 when null).
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(50)")] first: Option<u64>,
    ) -> ApiResult<Vec<WebhookDelivery>> {
        let session = ctx.org_admin()?.0;
        let first = check_page(first.unwrap_or(50))?;
        let deliveries = ctx.app().db.webhook_deliveries(session.org_id, first).await?;
        Ok(deliveries.into_iter().map(Into::into).collect())
    }
}

/// Changing the webhook.
#[derive(Default)]
pub struct WebhookMutations;

#[Object]
impl WebhookMutations {
    /// Sets the organization's webhook (http or https, no credentials in the URL). Events that
    /// happen from now on are delivered; earlier ones never are. The secret signs every delivery
    /// and is returned only on first set or with `rotateSecret`.
    async fn webhook_set(
        &self,
        ctx: &Context<'_>,
        url: String,
        events: Vec<WebhookEvent>,
        #[graphql(default = false)] rotate_secret: bool,
    ) -> ApiResult<WebhookSetPayload> {
        let session = ctx.org_admin()?.0;
        let ip = ctx.request()?.ip.clone();
        let settings = WebhookSettings { url, events: events.into_iter().map(Into::into).collect() };
        let actor = Actor::Member(session.member_id);
        let saved = admin::set(ctx.app(), session.org_id, actor, settings, rotate_secret, ip).await?;
        Ok(WebhookSetPayload { webhook: saved.webhook.into(), secret: saved.secret })
    }

    /// Removes the webhook; deliveries still pending end as FAILED. `false` when none was set.
    async fn webhook_delete(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let session = ctx.org_admin()?.0;
        let ip = ctx.request()?.ip.clone();
        Ok(admin::delete(ctx.app(), session.org_id, Actor::Member(session.member_id), ip).await?)
    }
}
