//! Enforcement flush: the latency of `mfaEnforcementSet` with 10, 1,000, 100,000 and 1,000,000
//! live sessions in the organization (the flush must be O(1)), and how long the first request from a flushed
//! session takes to be refused. Also Redis bytes per live session.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::join_all;
use keyward_domain::ids::MemberId;
use keyward_domain::member::Member;
use keyward_domain::session::{SessionStage, SessionToken};
use keyward_domain::store::SessionStore;
use serde_json::json;

use crate::login_verify::new_member;
use crate::report::{Better, Figure};
use crate::stack::{Backend, LIFETIMES, Stack, redis_connection};
use crate::{Scale, median};

const SET: &str =
    "mutation($e: Boolean!) { mfaEnforcementSet(input: { enabled: $e }) { organization { mfaEnforced } } }";
const VIEWER: &str = "{ viewer { id } }";
/// Real members (with rows) whose sessions probe the flush, one per repetition.
const OWNERS: usize = REPS;
/// Runs per size; the median is reported (this machine is shared and noisy).
const REPS: usize = 5;

/// Runs the scenario; returns its figures.
pub async fn run(scale: Scale) -> Vec<Figure> {
    let sizes: &[usize] = if scale.quick { &[10, 1_000, 10_000] } else { &[10, 1_000, 100_000, 1_000_000] };
    let stack = Stack::start(Backend::Postgres).await;
    // Enforcing needs the admin to hold a key.
    admin_with_key(&stack).await;
    let mut owners = Vec::new();
    for i in 0..OWNERS {
        owners.push(new_member(&stack, &format!("owner-{i}")).await);
    }
    let mut figures = Vec::new();

    let mut results = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let (mut flush, mut refusal, mut live) = (Vec::new(), Vec::new(), Vec::new());
        // Per size: enforcing needs a key touch of the last five minutes (the org's step-up rule),
        // and the large sizes take longer than that.
        let admin_token = crate::step_up::key_session(&stack).await;
        // A million sessions take a while to build and to purge: measured once.
        let (reps, mut reached) = (if size >= 1_000_000 { 1 } else { REPS }, size);
        for rep in 0..reps {
            let ip = crate::client_ip(50_000 + i * 10 + rep);
            stack.ok(SET, json!({ "e": false }), Some(&admin_token), &ip).await;
            // Bulk sessions belong to members without rows (the store does not look them up), two
            // each as in a real organization (a laptop and a phone). The probe is a real member's.
            let holders: Vec<Member> =
                (0..size.div_ceil(2)).map(|_| Member { id: MemberId::new(), ..stack.admin.clone() }).collect();
            let tokens = create_sessions(&stack, &holders, size.saturating_sub(2)).await;
            let probe = &stack.session(&owners[rep % OWNERS], SessionStage::Authenticated).await;
            reached = tokens.len() + 2;
            let sent = Instant::now();
            let _ = stack.ok(VIEWER, json!({}), Some(probe), &ip).await;
            live.push(ms(sent.elapsed()));
            let sent = Instant::now();
            let data = stack.ok(SET, json!({ "e": true }), Some(&admin_token), &ip).await;
            flush.push(ms(sent.elapsed()));
            assert_eq!(data["mfaEnforcementSet"]["organization"]["mfaEnforced"], true);
            let sent = Instant::now();
            let after = stack.ok(VIEWER, json!({}), Some(probe), &ip).await;
            refusal.push(ms(sent.elapsed()));
            assert!(after["viewer"].is_null(), "a flushed session must be refused: {after}");
            let admin = stack.ok(VIEWER, json!({}), Some(&admin_token), &ip).await;
            assert!(!admin["viewer"].is_null(), "the enforcing admin's session survives");
            wait_for_purge(&stack).await;
        }
        results.push((reached, median(&mut flush), median(&mut refusal), median(&mut live), reps));
    }
    stack.stop().await;

    // Measured on a stack of its own: the flushed sessions above are still being purged. Two
    // sessions per member (a laptop and a phone), as in a real organization; the store does not
    // look members up, so they need no rows.
    let stack = Stack::start(Backend::Sqlite).await;
    let holders: Vec<Member> = (0..5_000).map(|_| Member { id: MemberId::new(), ..stack.admin.clone() }).collect();
    figures.push(bytes_per_session(&stack, &holders).await);
    stack.stop().await;

    let (_, base_flush, _, _, _) = results[0];
    for &(size, flush, refusal, live, reps) in &results[1..] {
        let target = if size >= 10_000 { Some(1.0 / 1.2) } else { None };
        figures.push(
            Figure::new(
                format!("enforcement flush: {size} sessions vs 10"),
                base_flush,
                flush,
                "ms",
                Better::Lower,
                target,
            )
            .note(format!("median of {reps}; target: flat, at most 1.2x the 10-session latency")),
        );
        figures.push(
            Figure::new(
                format!("first refused request after the flush ({size} sessions)"),
                live,
                refusal,
                "ms",
                Better::Lower,
                None,
            )
            .note("baseline: the same session's request just before the flush"),
        );
    }
    figures
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Registers a key for the admin through a session of their own; returns that session.
async fn admin_with_key(stack: &Stack) -> String {
    let token = stack.session(&stack.admin, SessionStage::Authenticated).await;
    let mut key = webauthn_authenticator_rs::softpasskey::SoftPasskey::new(true);
    stack.register_key(&token, &mut key, &crate::client_ip(2_000_000)).await
}

/// Creates `count` AUTHENTICATED sessions spread over `owners`, many in flight at once (pipelined
/// on one connection), for at most two minutes: returns those it made.
async fn create_sessions(stack: &Stack, owners: &[Member], count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut tokens = Vec::with_capacity(count);
    for chunk_start in (0..count).step_by(1024) {
        if Instant::now() > deadline {
            eprintln!("[bench] stopped building sessions at {} of {count} (two minutes)", tokens.len());
            break;
        }
        let chunk: Vec<_> = (chunk_start..count.min(chunk_start + 1024))
            .map(|i| stack.new_session(&owners[i % owners.len()], SessionStage::Authenticated))
            .collect();
        let now = Utc::now();
        let results = join_all(chunk.iter().map(|(_, new)| stack.store.create(new.clone(), LIFETIMES, now))).await;
        for result in results {
            result.expect("create a session");
        }
        tokens.extend(chunk.into_iter().map(|(token, _)| token));
    }
    tokens
}

/// Redis memory per live session (`used_memory` before and after 10,000 sessions), against the
/// bytes of the session record itself.
async fn bytes_per_session(stack: &Stack, owners: &[Member]) -> Figure {
    const COUNT: usize = 10_000;
    let mut conn = redis_connection().await;
    let before = used_memory(&mut conn).await;
    let tokens = create_sessions(stack, owners, COUNT).await;
    let after = used_memory(&mut conn).await;
    let per_session = (after.saturating_sub(before)) as f64 / COUNT as f64;
    let hash = SessionToken::parse(&tokens[0]).expect("token").hash();
    let key = format!("{}s:{}", stack.store.prefix(stack.org), hash.key());
    let record: Option<Vec<u8>> = redis::cmd("GET").arg(&key).query_async(&mut conn).await.expect("GET");
    let payload = record.unwrap_or_else(|| panic!("no session at {key}")).len();
    let usage: Option<u64> = redis::cmd("MEMORY").arg("USAGE").arg(&key).query_async(&mut conn).await.unwrap_or(None);
    Figure::new("Redis bytes per live session", payload as f64, per_session, "B", Better::Lower, None)
        .with_max_measured(512.0)
        .note(format!(
            "used_memory delta over {COUNT} sessions of {} members, indexes included; baseline: the record's own bytes; MEMORY USAGE of one record: {} B",
            owners.len(),
            usage.unwrap_or(0)
        ))
}

/// Waits (at most a minute) until the background purge of the last flushed epoch is done, so it
/// does not run into the next measurement.
async fn wait_for_purge(stack: &Stack) {
    let mut conn = redis_connection().await;
    let prefix = stack.store.prefix(stack.org);
    let epoch: u64 = redis::cmd("GET").arg(format!("{prefix}epoch")).query_async(&mut conn).await.unwrap_or(0);
    let dead_key = format!("{prefix}dead:{}", epoch.saturating_sub(1));
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let exists: bool = redis::cmd("EXISTS").arg(&dead_key).query_async(&mut conn).await.unwrap_or(false);
        if !exists {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("[bench] the purge of {dead_key} did not finish within a minute");
}

async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO").arg("memory").query_async(conn).await.expect("INFO");
    info.lines().find_map(|l| l.strip_prefix("used_memory:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}
