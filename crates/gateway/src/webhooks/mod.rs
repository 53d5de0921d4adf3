//! Organization webhooks: admins set one URL per organization, and a worker on every instance
//! tells it about approval events (DESIGN §9, issue 13 item 8).
//!
//! - [`admin`]: setting and removing the webhook (with its audit event, its secret sealed).
//! - [`worker`]: tails each organization's audit chain, claims deliveries, retries with backoff.
//! - [`sender`]: one signed POST.

pub mod admin;
pub mod sender;
pub mod worker;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::state::AppState;
pub use worker::{Tick, Worker};

/// Starts the delivery worker: a pass every `webhooks.poll_interval` (the first one interval after
/// start) until `shutdown` turns true or its sender is dropped.
pub fn spawn(app: AppState, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let worker = Worker::new(app.clone());
        let mut ticker = tokio::time::interval(app.config.webhooks.poll_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                _ = ticker.tick() => {}
            }
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                result = worker.run_once(chrono::Utc::now()) => {
                    if let Err(err) = result {
                        tracing::warn!(error = %err, "webhook deliveries: this pass failed; the next one retries");
                    }
                }
            }
        }
    })
}
