//! `keyward approval wait`: follows a request until it is decided, live over the
//! `approvalRequestUpdated` subscription, falling back to polling `approvalRequest(id)` every 2 s
//! when the socket cannot be opened or drops.

use std::io::IsTerminal;
use std::time::Duration;

use chrono::Utc;
use keyward_domain::approval::ApprovalStatus;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::CliError;
use super::approval::Connection;
use super::approval_api::{ApprovalApi, RequestView, view_at};
use super::approval_status::{StatusLine, outcome, progress};
use super::approval_ws::subscribe;

/// Between polls without the subscription.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Between reads while the subscription runs: a change published before the subscription
/// started is still seen.
const RESYNC_INTERVAL: Duration = Duration::from_secs(15);
/// How long past its expiry a request still undecided by the server counts as pending (clock
/// skew, a sweep that has not run yet).
const EXPIRY_GRACE: chrono::Duration = chrono::Duration::seconds(30);
/// Reads of an approved request that came without its token before giving up.
const TOKEN_READS: u32 = 5;

/// How the wait ended.
#[derive(Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// Approved: the token.
    Approved {
        /// The approval JWT.
        token: String,
    },
    /// Rejected (by a person or the policy).
    Rejected,
    /// Expired without a decision.
    Expired,
    /// `--timeout` passed first.
    TimedOut,
}

type Events = mpsc::Receiver<Result<Value, CliError>>;

/// The next subscription event; never, without a subscription.
async fn next_event(events: &mut Option<Events>) -> Option<Result<Value, CliError>> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Whether an error while polling may pass (the network, a rate limit) or ends the wait.
fn transient(err: &CliError) -> bool {
    matches!(err, CliError::Transport(_)) || matches!(err.code(), Some("RATE_LIMITED" | "SERVICE_UNAVAILABLE"))
}

/// Waits for `id` to be decided, showing progress on stderr; `live` follows the subscription.
pub async fn wait(
    connection: &Connection,
    id: &str,
    timeout: Option<Duration>,
    live: bool,
) -> Result<WaitOutcome, CliError> {
    let api = ApprovalApi::new(connection)?;
    let mut status = StatusLine::new(std::io::stderr().is_terminal());
    let give_up = timeout.map(|t| Instant::now() + t);
    // Subscribe before the first read, so a decision between the two is not missed.
    let mut events = None;
    if live {
        match subscribe(&api.ws_url(), api.key(), &ApprovalApi::subscription(), json!({ "id": id })).await {
            Ok(rx) => events = Some(rx),
            Err(err) => status.note(&format!("no live updates ({err}); polling every 2 s")),
        }
    }
    let mut view = api.fetch(id).await?;
    let mut last_read = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        if view.status != ApprovalStatus::Pending {
            return finish(&api, view, &mut status).await;
        }
        let now = Utc::now();
        if now > view.expires_at + EXPIRY_GRACE {
            status.note(&format!("expired at {} with {}", view.expires_at.to_rfc3339(), progress(&view)));
            return Ok(WaitOutcome::Expired);
        }
        if give_up.is_some_and(|at| Instant::now() >= at) {
            let waited = humantime::format_duration(timeout.unwrap_or_default());
            status.note(&format!("gave up after {waited}: {}", outcome(&view)));
            return Ok(WaitOutcome::TimedOut);
        }
        status.show(&view, now);
        tokio::select! {
            event = next_event(&mut events) => match event {
                Some(Ok(payload)) => match view_at(&payload, "/data/approvalRequestUpdated") {
                    Ok(update) if update.id == view.id => view = update,
                    Ok(_) => {}
                    Err(err) => {
                        status.note(&format!("live updates failed ({err}); polling every 2 s"));
                        events = None;
                    }
                },
                Some(Err(err)) => {
                    status.note(&format!("live updates refused ({err}); polling every 2 s"));
                    events = None;
                }
                None => {
                    status.note("the live connection dropped; polling every 2 s");
                    events = None;
                    last_read = Instant::now() - RESYNC_INTERVAL;
                }
            },
            _ = tick.tick() => {
                let every = if events.is_some() { RESYNC_INTERVAL } else { POLL_INTERVAL };
                if last_read.elapsed() >= every {
                    last_read = Instant::now();
                    match api.fetch(id).await {
                        Ok(fresh) => view = fresh,
                        Err(err) if transient(&err) => status.note(&format!("{err}; trying again")),
                        Err(err) => return Err(err),
                    }
                }
            }
        }
    }
}

/// The outcome of a decided request; an approved one's token is read again if the update that
/// announced it did not carry it.
async fn finish(api: &ApprovalApi, mut view: RequestView, status: &mut StatusLine) -> Result<WaitOutcome, CliError> {
    status.note(&outcome(&view));
    match view.status {
        ApprovalStatus::Approved => {
            for _ in 0..TOKEN_READS {
                if let Some(token) = view.token.take().filter(|t| !t.is_empty()) {
                    return Ok(WaitOutcome::Approved { token });
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                view = api.fetch(&view.id).await?;
            }
            Err(CliError::Transport(
                "the request is approved, but Keyward gave this API key no token (only the key that created \
                 the request receives it)"
                    .into(),
            ))
        }
        ApprovalStatus::Rejected => Ok(WaitOutcome::Rejected),
        // Pending does not come here.
        ApprovalStatus::Expired | ApprovalStatus::Pending => Ok(WaitOutcome::Expired),
    }
}
