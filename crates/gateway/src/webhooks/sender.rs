//! One delivery attempt: a signed POST of the stored payload.

use std::error::Error as _;
use std::time::Duration;

use keyward_domain::webhook::{AttemptResult, WebhookDelivery, sign};
use reqwest::header::{CONTENT_TYPE, HeaderValue};

/// The event name (`approval.approved`).
pub const EVENT_HEADER: &str = "X-Keyward-Event";
/// The idempotency key, the same on every retry (`<org>:<audit seq>`).
pub const DELIVERY_HEADER: &str = "X-Keyward-Delivery";
/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "X-Keyward-Signature";
/// Unix seconds when this attempt was signed.
pub const TIMESTAMP_HEADER: &str = "X-Keyward-Timestamp";

/// The HTTP client deliveries use: `timeout` per attempt, redirects not followed (a receiver
/// that answers 3xx has not accepted the delivery, and following it would send the payload to a
/// URL the admin never set).
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Keyward-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with a timeout and no redirects builds")
}

/// POSTs `delivery` to `url`, signed with `secret` at `timestamp` (Unix seconds).
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    delivery: &WebhookDelivery,
    timestamp: i64,
) -> AttemptResult {
    let signature = sign(secret, timestamp, &delivery.payload);
    let request = client
        .post(url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(EVENT_HEADER, delivery.event.as_str())
        .header(DELIVERY_HEADER, delivery.key())
        .header(SIGNATURE_HEADER, signature)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .body(delivery.payload.clone());
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            AttemptResult::Accepted { status_code: response.status().as_u16() }
        }
        Ok(response) => {
            let status = response.status();
            AttemptResult::Refused {
                status_code: Some(status.as_u16()),
                error: format!("the receiver answered HTTP {status}"),
            }
        }
        Err(err) => AttemptResult::Refused { status_code: None, error: describe(err) },
    }
}

// The URL stays out of the log: a chat-service hook's path is a secret.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "could not send"
    };
    let mut cause = err.source();
    let mut deepest = None;
    while let Some(inner) = cause {
        deepest = Some(inner.to_string());
        cause = inner.source();
    }
    match deepest {
        Some(why) => format!("{kind}: {why}"),
        None => format!("{kind}: {err}"),
    }
}
