//! Step-up (DESIGN §8): what an action needs, the grants a fresh key touch earns, and the one rule
//! that decides whether a session may go ahead. The organization's Rego policy produces a
//! [`Decision`]; everything after that is decided here, with `now` passed in.

mod action;
mod decision;
mod grant;
mod input;

pub use action::{
    MAX_ACTION_LEN, MAX_RESOURCE_LEN, ResourceView, class_of, describe, validate_action, validate_resource,
};
pub use decision::{ADMIN_MAX_AGE_SECONDS, DEFAULT_POLICY, Decision, OWN_ACCOUNT_MAX_AGE_SECONDS, Reuse};
pub use grant::{Grant, GrantScope, MAX_GRANTS, Touch, Verdict, add_grant, judge};
pub use input::{PolicyInput, RequestFacts};

/// The action whose policy is never the organization's own: changing the step-up policy always
/// follows the built-in rule, so no policy can lock its organization out of fixing it.
pub const POLICY_SET_ACTION: &str = "org.step_up_policy.set";
