//! Pipeline approvals (DESIGN §9): what a pipeline asks, what the approval policy answers, who may
//! approve, how the approvals add up, and the token a runner verifies offline.

pub mod canonical;
pub mod decision;
pub mod input;
pub mod log;
pub mod model;
pub mod request;
pub mod token;
pub mod votes;

pub use decision::{DEFAULT_POLICY, Outcome, PolicyDecision, Requirements};
pub use model::{ApprovalRequest, ApprovalStatus, Evidence, RequestedBy, Transition, Vote, VoteDecision};
pub use request::{ApprovalRequestInput, ChangeSummary, request_digest};
pub use token::{ApprovalClaims, ExpectedApproval, TokenApprover, check_approval_claims};
pub use votes::{Candidate, Ineligible, Tally, check_approver, check_rejecter, tally};
