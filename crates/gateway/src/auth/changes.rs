//! Applies a change to what a member may do to the live sessions it reaches (DESIGN §4), through
//! the session store's O(1) epochs. The rule of which sessions end lives in the domain
//! ([`AuthzChange::plan`]); this is the one place that carries it out.

use chrono::{DateTime, Utc};
use keyward_domain::DomainError;
use keyward_domain::change::{AuthzChange, Reach};
use keyward_domain::ids::OrgId;
use keyward_domain::session::Session;

use super::session::{Issued, rotate};
use crate::state::AppState;

/// What applying a change did.
pub struct Applied {
    /// Live sessions that ended (for the audit trail; keyless flushes are not counted).
    pub ended: u64,
    /// The acting session under its new token, when the change reached it.
    pub rotated: Option<Issued>,
}

/// Ends the sessions `change` reaches in `org`. When the change reaches the acting session
/// `actor`, that session survives: it is re-stamped with the new epoch and, when the plan says
/// so, rotated to a new token, becoming `next` (or staying as it was when `next` is `None`).
pub async fn apply(
    app: &AppState,
    org: OrgId,
    change: &AuthzChange,
    actor: Option<&Session>,
    next: Option<Session>,
    now: DateTime<Utc>,
) -> Result<Applied, DomainError> {
    let plan = change.plan(actor);
    let mut ended = 0;
    match &plan.reach {
        Reach::Members(members) => {
            for member in members {
                let keep = plan.keep.as_ref().filter(|_| actor.is_some_and(|a| a.member_id == *member));
                ended += app.sessions.revoke_member(org, *member, keep, now).await?;
            }
        }
        Reach::KeylessSessions => app.sessions.revoke_keyless(org, now).await?,
    }
    let rotated = match (plan.rotate, actor) {
        (true, Some(actor)) => Some(rotate(app, actor, next.unwrap_or_else(|| actor.clone()), now).await?),
        _ => None,
    };
    Ok(Applied { ended, rotated })
}
