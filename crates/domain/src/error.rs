//! Errors of the domain, kept apart by kind: what a caller can cause versus what went wrong inside.

use thiserror::Error;

/// An error from a repository or a session/ceremony store.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The database or Redis did not answer: nobody is authenticated, nothing is changed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule was violated; the string names what clashed.
    #[error("conflict on {0}")]
    Conflict(String),
    /// The row to change does not exist (any more).
    #[error("not found")]
    NotFound,
    /// Anything else: a bug or corrupt data. Never shown to users.
    #[error("unexpected storage error: {0}")]
    Unexpected(String),
}

/// A rule of the domain that the caller's request broke, or a storage failure beneath it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DomainError {
    /// No valid session.
    #[error("not authenticated")]
    Unauthenticated,
    /// A login secret (backup credentials, recovery code) did not match; says nothing about which
    /// part was wrong.
    #[error("invalid organization, username or secret")]
    InvalidCredentials,
    /// The session is valid but lacks the right to do this.
    #[error("forbidden")]
    Forbidden,
    /// The thing does not exist, or the caller may not know it exists.
    #[error("not found")]
    NotFound,
    /// Input that the caller can fix.
    #[error("{field}: {message}")]
    BadInput {
        /// The input field, in the API's own spelling.
        field: String,
        /// What is wrong with it and what is expected.
        message: String,
        /// For text inputs such as a policy: the line at fault.
        line: Option<u32>,
    },
    /// The session has passed SSO but not yet the security key.
    #[error("a security-key check is required to finish logging in")]
    MfaRequired,
    /// MFA is enforced and the member must register a key first.
    #[error("you must register a security key before you can continue")]
    MfaRegistrationRequired,
    /// The action needs a fresher security-key check.
    #[error("this action needs a fresh security-key check")]
    StepUpRequired {
        /// The action that needs it.
        action: String,
        /// The resource it acts on.
        resource: Option<String>,
        /// How old the last key check may be.
        max_age_seconds: u64,
        /// The policy's reason, if it gave one.
        reason: Option<String>,
    },
    /// The step-up policy refuses this action outright.
    #[error("{reason}")]
    StepUpDenied {
        /// The action refused.
        action: String,
        /// The resource it would act on.
        resource: Option<String>,
        /// The policy's reason.
        reason: String,
    },
    /// The member would be left with no key while MFA is enforced.
    #[error("MFA is enforced: you cannot delete your last security key")]
    LastKeyEnforced,
    /// The credential is registered already (to anyone).
    #[error("this security key is already registered")]
    KeyAlreadyRegistered,
    /// The ceremony is unknown, used or expired.
    #[error("the ceremony expired or was already used; start again")]
    CeremonyExpired,
    /// The key that answered is not one of the caller's registered keys (the message names no
    /// account: whose key it is, if anyone's, is not the caller's business).
    #[error("this security key is not registered to your account")]
    KeyNotRegistered,
    /// The ceremony's response did not verify.
    #[error("the security-key check failed: {0}")]
    CeremonyFailed(String),
    /// Organization policy forbids this.
    #[error("{0}")]
    PolicyDenied(String),
    /// The organization has no SSO configured.
    #[error("single sign-on is not configured for this organization")]
    SsoNotConfigured,
    /// The IdP account is linked to another member already, or this member has one linked.
    #[error("{0}")]
    SsoAlreadyLinked(String),
    /// The member was deactivated by an admin: no login path lets them in.
    #[error("your account in this organization is deactivated; ask an admin")]
    MemberDeactivated,
    /// The organization's last active admin cannot be deactivated.
    #[error("the organization's last active admin cannot be deactivated")]
    LastActiveAdmin,
    /// An SSO login or link came back to a browser other than the one that started it (its
    /// binding cookie is missing or different, or expired with the ceremony).
    #[error("this sign-in was started in another browser or took too long; start it again in this browser")]
    SsoStateMismatch,
    /// Too many attempts.
    #[error("too many attempts; retry in {retry_after_seconds} s")]
    RateLimited {
        /// Seconds until the next attempt may succeed.
        retry_after_seconds: u64,
    },
    /// This person may not vote on this approval request (a stable reason code goes with it).
    #[error("{}", .0.message())]
    ApproverIneligible(crate::approval::Ineligible),
    /// The approval request was decided already.
    #[error("this request is already {status}", status = .0.as_str())]
    ApprovalNotPending(crate::approval::ApprovalStatus),
    /// The approval request expired: it can never be approved; the pipeline must ask again.
    #[error("this request expired; the pipeline must request approval again")]
    ApprovalExpired,
    /// A storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError {
    /// Shorthand for [`DomainError::BadInput`].
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput { field: field.into(), message: message.into(), line: None }
    }

    /// [`DomainError::BadInput`] pointing at a line of a text input.
    pub fn bad_input_at(field: impl Into<String>, line: u32, message: impl Into<String>) -> Self {
        Self::BadInput { field: field.into(), message: message.into(), line: Some(line) }
    }
}
