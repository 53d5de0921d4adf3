//! The one mapping from domain and storage errors to GraphQL errors with a stable
//! `extensions.code` (DESIGN §11). Internals never leak: `INTERNAL` carries only a request ID.

use async_graphql::ErrorExtensions;
use keyward_domain::{DomainError, StoreError};

tokio::task_local! {
    /// The request ID of the request being served, for `INTERNAL` errors and logs.
    pub static REQUEST_ID: String;
}

/// The current request's ID, if the code runs inside a request.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "none".to_owned())
}

/// An error as the API reports it. Deliberately not `Display`: async-graphql turns any `Display`
/// error into a bare message, and every error must go through [`ErrorExtensions::extend`] so it
/// carries its code.
#[derive(Clone, Debug)]
pub struct ApiError(pub DomainError);

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        Self(err)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self(DomainError::Store(err))
    }
}

impl ApiError {
    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        code_of(&self.0)
    }
}

/// The `extensions.code` of a domain error.
pub fn code_of(err: &DomainError) -> &'static str {
    match err {
        DomainError::Unauthenticated | DomainError::InvalidCredentials => "UNAUTHENTICATED",
        DomainError::Forbidden => "FORBIDDEN",
        DomainError::NotFound | DomainError::Store(StoreError::NotFound) => "NOT_FOUND",
        DomainError::BadInput { .. } => "BAD_USER_INPUT",
        DomainError::MfaRequired => "MFA_REQUIRED",
        DomainError::MfaRegistrationRequired => "MFA_REGISTRATION_REQUIRED",
        DomainError::StepUpRequired { .. } => "STEP_UP_REQUIRED",
        DomainError::LastKeyEnforced => "LAST_KEY_ENFORCED",
        DomainError::KeyAlreadyRegistered => "KEY_ALREADY_REGISTERED",
        DomainError::CeremonyExpired => "CEREMONY_EXPIRED",
        DomainError::CeremonyFailed(_) => "CEREMONY_FAILED",
        DomainError::KeyNotRegistered => "KEY_NOT_REGISTERED",
        DomainError::PolicyDenied(_) | DomainError::StepUpDenied { .. } => "POLICY_DENIED",
        DomainError::SsoNotConfigured => "SSO_NOT_CONFIGURED",
        DomainError::SsoAlreadyLinked(_) => "SSO_ALREADY_LINKED",
        DomainError::MemberDeactivated => "MEMBER_DEACTIVATED",
        DomainError::LastActiveAdmin => "LAST_ACTIVE_ADMIN",
        DomainError::SsoStateMismatch => "SSO_STATE_MISMATCH",
        DomainError::RateLimited { .. } => "RATE_LIMITED",
        DomainError::ApproverIneligible(_) => "APPROVER_NOT_ELIGIBLE",
        DomainError::ApprovalNotPending(_) => "APPROVAL_NOT_PENDING",
        DomainError::ApprovalExpired => "APPROVAL_EXPIRED",
        DomainError::Store(StoreError::Unavailable(_)) => "SERVICE_UNAVAILABLE",
        DomainError::Store(StoreError::Conflict(_) | StoreError::Unexpected(_)) => "INTERNAL",
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        err.extend()
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        let code = self.code();
        let message = match code {
            "INTERNAL" => {
                let request_id = current_request_id();
                tracing::error!(error = %self.0, %request_id, "internal error");
                format!("internal error (request {request_id})")
            }
            "SERVICE_UNAVAILABLE" => {
                tracing::warn!(error = %self.0, "a backing service is unavailable");
                "a backing service is unavailable; try again shortly".to_owned()
            }
            _ => self.0.to_string(),
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            match &self.0 {
                DomainError::BadInput { field, line, .. } => {
                    ext.set("field", field.as_str());
                    if let Some(line) = line {
                        ext.set("line", *line);
                    }
                }
                DomainError::StepUpRequired { action, resource, max_age_seconds, reason } => {
                    ext.set("action", action.as_str());
                    ext.set("resource", resource.clone());
                    ext.set("maxAgeSeconds", *max_age_seconds);
                    ext.set("reason", reason.clone());
                }
                DomainError::StepUpDenied { action, resource, reason } => {
                    ext.set("action", action.as_str());
                    ext.set("resource", resource.clone());
                    ext.set("reason", reason.as_str());
                }
                DomainError::RateLimited { retry_after_seconds } => {
                    ext.set("retryAfterSeconds", *retry_after_seconds);
                }
                DomainError::ApproverIneligible(why) => ext.set("reason", why.code()),
                DomainError::ApprovalNotPending(status) => ext.set("status", status.as_str()),
                DomainError::Store(StoreError::Unexpected(_) | StoreError::Conflict(_)) => {
                    ext.set("requestId", current_request_id());
                }
                _ => {}
            }
        })
    }
}

/// Shorthand for resolver results.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn extensions(err: DomainError) -> (String, serde_json::Value) {
        let gql = ApiError(err).extend();
        let ext = serde_json::to_value(gql.extensions.unwrap()).unwrap();
        (gql.message, ext)
    }

    #[test]
    fn every_domain_error_has_a_stable_code() {
        let (_, ext) = extensions(DomainError::LastKeyEnforced);
        assert_eq!(ext["code"], "LAST_KEY_ENFORCED");
        let (_, ext) = extensions(DomainError::StepUpRequired {
            action: "org.mfa_enforcement.set".into(),
            resource: Some("org:1".into()),
            max_age_seconds: 300,
            reason: None,
        });
        assert_eq!(ext["code"], "STEP_UP_REQUIRED");
        assert_eq!(ext["action"], "org.mfa_enforcement.set");
        assert_eq!(ext["maxAgeSeconds"], 300);
        assert_eq!(ext["resource"], "org:1");
        let (_, ext) = extensions(DomainError::RateLimited { retry_after_seconds: 7 });
        assert_eq!(ext["retryAfterSeconds"], 7);
        assert_eq!(extensions(DomainError::SsoStateMismatch).1["code"], "SSO_STATE_MISMATCH");
        let (message, ext) =
            extensions(DomainError::ApproverIneligible(keyward_domain::approval::Ineligible::Requester));
        assert_eq!((ext["code"].as_str(), ext["reason"].as_str()), (Some("APPROVER_NOT_ELIGIBLE"), Some("REQUESTER")));
        assert!(message.contains("someone else"), "{message}");
        let pending = DomainError::ApprovalNotPending(keyward_domain::approval::ApprovalStatus::Rejected);
        assert_eq!(extensions(pending).1["status"], "REJECTED");
        let (_, ext) = extensions(DomainError::bad_input("name", "too long"));
        assert_eq!((ext["code"].as_str(), ext["field"].as_str()), (Some("BAD_USER_INPUT"), Some("name")));
    }

    #[test]
    fn internal_errors_leak_nothing_but_the_request_id() {
        let (message, ext) = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(
            REQUEST_ID.scope("req-42".into(), async {
                extensions(StoreError::Unexpected("relation \"members\" does not exist".into()).into())
            }),
        );
        assert_eq!(ext["code"], "INTERNAL");
        assert_eq!(ext["requestId"], "req-42");
        assert!(!message.contains("members"), "{message}");
        let (message, ext) = extensions(StoreError::Unavailable("redis: connection refused 10.0.0.3".into()).into());
        assert_eq!(ext["code"], "SERVICE_UNAVAILABLE");
        assert!(!message.contains("10.0.0.3"));
    }
}
