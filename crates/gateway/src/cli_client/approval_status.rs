//! What `keyward approval wait` shows on stderr: on a terminal one live line (approvals so far
//! and needed, who, time left) redrawn every second; in a CI log a plain line each time something
//! changes, and every few minutes while nothing does.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use keyward_domain::approval::ApprovalStatus;

use super::approval_api::RequestView;

/// How often a CI log gets a line while nothing changes.
const PLAIN_REPEAT: Duration = Duration::from_secs(300);

/// `1h02m`, `4m05s`, `9s`; `0s` when past.
pub fn time_left(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let seconds = (to - from).num_seconds().max(0);
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s:02}s"),
        _ => format!("{h}h{m:02}m"),
    }
}

/// The progress, without the time left: `1/2 approvals (alice)`.
pub fn progress(view: &RequestView) -> String {
    let approvers = view.approvers();
    let needed = approvers.len() + view.approvals_needed as usize;
    let who = if approvers.is_empty() { String::new() } else { format!(" ({})", approvers.join(", ")) };
    format!("{}/{needed} approvals{who}", approvers.len())
}

/// The live line.
pub fn line(view: &RequestView, now: DateTime<Utc>) -> String {
    format!("waiting for approval: {}, {} left", progress(view), time_left(now, view.expires_at))
}

/// The last line: how the request ended.
pub fn outcome(view: &RequestView) -> String {
    let reason = view.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
    match view.status {
        ApprovalStatus::Approved => match view.approvers() {
            approvers if approvers.is_empty() => format!("approved by the approval policy{reason}"),
            approvers => format!("approved by {}", approvers.join(", ")),
        },
        ApprovalStatus::Rejected => match view.rejection() {
            Some(vote) => {
                let why = vote.reason.as_deref().or(view.reason.as_deref()).unwrap_or("no reason given");
                format!("rejected by {}: {why}", vote.username)
            }
            None => format!("rejected by the approval policy{reason}"),
        },
        ApprovalStatus::Expired => format!("expired at {} with {}", view.expires_at.to_rfc3339(), progress(view)),
        ApprovalStatus::Pending => format!("still pending: {}", progress(view)),
    }
}

/// The status display on stderr.
pub struct StatusLine {
    tty: bool,
    drawn: bool,
    last_plain: Option<(String, Instant)>,
}

impl StatusLine {
    /// A display for a terminal (`tty`) or a log.
    pub fn new(tty: bool) -> Self {
        Self { tty, drawn: false, last_plain: None }
    }

    /// Shows where `view` stands at `now`.
    pub fn show(&mut self, view: &RequestView, now: DateTime<Utc>) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{}", line(view, now));
            let _ = err.flush();
            self.drawn = true;
            return;
        }
        let progress = progress(view);
        let repeat = match &self.last_plain {
            Some((last, at)) => *last != progress || at.elapsed() >= PLAIN_REPEAT,
            None => true,
        };
        if repeat {
            let _ = writeln!(err, "keyward: {}", line(view, now));
            self.last_plain = Some((progress, Instant::now()));
        }
    }

    /// A line of its own (a warning, the outcome), below the live line.
    pub fn note(&mut self, message: &str) {
        let mut err = std::io::stderr().lock();
        if self.drawn {
            let _ = write!(err, "\r\x1b[2K");
            self.drawn = false;
        }
        let _ = writeln!(err, "keyward: {message}");
    }
}

#[cfg(test)]
mod tests {
    use keyward_domain::approval::VoteDecision;

    use super::*;
    use crate::cli_client::approval_api::VoteView;

    fn view(status: ApprovalStatus, votes: &[(&str, VoteDecision, Option<&str>)], needed: u32) -> RequestView {
        RequestView {
            id: "r".into(),
            digest: "d".into(),
            status,
            reason: None,
            approvals_needed: needed,
            expires_at: "2026-11-30T12:00:00Z".parse().unwrap(),
            approval_url: "u".into(),
            token: None,
            approvals: votes
                .iter()
                .map(|(who, decision, reason)| VoteView {
                    username: (*who).into(),
                    key_name: None,
                    decision: *decision,
                    reason: reason.map(str::to_owned),
                })
                .collect(),
        }
    }

    #[test]
    fn the_line_counts_approvals_and_time() {
        let now: DateTime<Utc> = "2026-11-30T11:17:55Z".parse().unwrap();
        let v = view(ApprovalStatus::Pending, &[("alice", VoteDecision::Approve, None)], 1);
        assert_eq!(line(&v, now), "waiting for approval: 1/2 approvals (alice), 42m05s left");
        assert_eq!(time_left(now, now - chrono::Duration::seconds(5)), "0s");
        assert_eq!(time_left(now, now + chrono::Duration::seconds(3725)), "1h02m");
        assert_eq!(progress(&view(ApprovalStatus::Pending, &[], 2)), "0/2 approvals");
    }

    #[test]
    fn outcomes_name_who_and_why() {
        let approve = |who| (who, VoteDecision::Approve, None);
        let v = view(ApprovalStatus::Approved, &[approve("alice"), approve("bob")], 0);
        assert_eq!(outcome(&v), "approved by alice, bob");
        let v = view(ApprovalStatus::Rejected, &[("carol", VoteDecision::Reject, Some("not on Friday"))], 1);
        assert_eq!(outcome(&v), "rejected by carol: not on Friday");
        let mut v = view(ApprovalStatus::Rejected, &[], 1);
        v.reason = Some("prod is frozen".into());
        assert_eq!(outcome(&v), "rejected by the approval policy: prod is frozen");
        let v = view(ApprovalStatus::Expired, &[approve("alice")], 1);
        assert_eq!(outcome(&v), "expired at 2026-11-30T12:00:00+00:00 with 1/2 approvals (alice)");
    }
}
