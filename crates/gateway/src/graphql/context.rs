//! What a resolver knows about its request, and the capability handles it asks for.

use std::sync::{Arc, Mutex};

use async_graphql::Context;
use keyward_domain::DomainError;
use keyward_domain::access::{Caller, Gate, authorize};
use keyward_domain::session::{Session, SessionToken};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub use crate::http::cookies::Cookie;

/// What a cookie should become once the request is answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CookieUpdate {
    /// Leave it.
    #[default]
    Keep,
    /// Set a new (rotated) token.
    Set(String),
    /// Remove it.
    Clear,
}

/// Per-request data the HTTP layer derives once, before any resolver runs.
pub struct RequestContext {
    /// Who is calling, from the server-side session.
    pub caller: Caller,
    /// The token presented, when it parsed.
    pub token: Option<SessionToken>,
    /// The raw credential presented (session token or API key), so a long-lived subscription can
    /// look its caller up again and end when the session or key no longer stands.
    pub presented: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// Cookie change to apply to the response.
    pub cookie: Arc<Mutex<CookieUpdate>>,
    /// The SSO binding cookie the browser presented ([`Cookie::SsoBinding`]).
    pub sso_binding: Option<String>,
    /// Changes to cookies other than the session's, applied to the response in order.
    pub other_cookies: Arc<Mutex<Vec<(Cookie, CookieUpdate)>>>,
}

impl RequestContext {
    /// Records the cookie change for the response.
    pub fn set_cookie(&self, update: CookieUpdate) {
        *self.cookie.lock().unwrap_or_else(|p| p.into_inner()) = update;
    }

    /// Hands a rotated session's new token to the client: as the cookie, and returned for the
    /// payload (scripts using `Authorization: Bearer` switch to it).
    pub fn rotated(&self, issued: &crate::auth::session::Issued) -> String {
        let token = issued.token.expose();
        self.set_cookie(CookieUpdate::Set(token.clone()));
        token
    }

    /// What the step-up policy sees of this request.
    pub fn facts(&self) -> keyward_domain::step_up::RequestFacts {
        crate::http::request_meta::request_facts(self.ip.clone())
    }

    /// Records a change to another cookie for the response.
    pub fn set_other_cookie(&self, cookie: Cookie, update: CookieUpdate) {
        self.other_cookies.lock().unwrap_or_else(|p| p.into_inner()).push((cookie, update));
    }
}

/// A live session of any stage (for `logout`, `viewer`).
pub struct AnySession<'a>(pub &'a Session);

/// A fully logged-in member acting on their own things.
pub struct SelfService<'a>(pub &'a Session);

/// A fully logged-in organization admin.
pub struct OrgAdmin<'a>(pub &'a Session);

/// Who may read the organization's admin views: an admin's session or an `ORG_READ` API key.
pub struct OrgReader<'a> {
    /// The organization.
    pub org_id: keyward_domain::ids::OrgId,
    /// The admin's session (`None` for an API key).
    pub session: Option<&'a Session>,
}

/// Who creates and follows approval requests: a member or an `APPROVALS_REQUEST` API key.
pub enum ApprovalRequester<'a> {
    /// A member, from their session.
    Member(&'a Session),
    /// A pipeline's API key.
    ApiKey(&'a keyward_domain::api_key::ApiKeyCaller),
}

impl ApprovalRequester<'_> {
    /// The organization.
    pub fn org_id(&self) -> keyward_domain::ids::OrgId {
        match self {
            Self::Member(session) => session.org_id,
            Self::ApiKey(key) => key.org_id,
        }
    }
}

/// Capability handles: the only way resolvers get at the caller's session.
pub trait ContextExt<'a> {
    /// The request's context.
    fn request(&self) -> ApiResult<&'a RequestContext>;
    /// The application's shared state.
    fn app(&self) -> &'a AppState;
    /// The caller's session if they may pass `gate`.
    fn session_for(&self, gate: Gate) -> ApiResult<&'a Session>;
    /// Any live session.
    fn any_session(&self) -> ApiResult<AnySession<'a>> {
        self.session_for(Gate::AnySession).map(AnySession)
    }
    /// A member acting for themselves.
    fn self_service(&self) -> ApiResult<SelfService<'a>> {
        self.session_for(Gate::Member).map(SelfService)
    }
    /// An organization admin.
    fn org_admin(&self) -> ApiResult<OrgAdmin<'a>> {
        self.session_for(Gate::Admin).map(OrgAdmin)
    }
    /// An admin or an `ORG_READ` API key, for read-only admin views.
    fn org_reader(&self) -> ApiResult<OrgReader<'a>> {
        let request = self.request()?;
        authorize(&request.caller, Gate::OrgRead)?;
        match (&request.caller, request.caller.api_key()) {
            (_, Some(key)) => Ok(OrgReader { org_id: key.org_id, session: None }),
            (caller, None) => {
                let session = caller.session().ok_or(ApiError(DomainError::Unauthenticated))?;
                Ok(OrgReader { org_id: session.org_id, session: Some(session) })
            }
        }
    }
    /// A member or an `APPROVALS_REQUEST` API key.
    fn approval_requester(&self) -> ApiResult<ApprovalRequester<'a>> {
        let request = self.request()?;
        authorize(&request.caller, Gate::ApprovalRequester)?;
        match (request.caller.api_key(), request.caller.session()) {
            (Some(key), _) => Ok(ApprovalRequester::ApiKey(key)),
            (None, Some(session)) => Ok(ApprovalRequester::Member(session)),
            (None, None) => Err(ApiError(DomainError::Unauthenticated)),
        }
    }
}

impl<'a> ContextExt<'a> for Context<'a> {
    fn request(&self) -> ApiResult<&'a RequestContext> {
        self.data::<RequestContext>().map_err(|_| ApiError(DomainError::Unauthenticated))
    }

    fn app(&self) -> &'a AppState {
        self.data_unchecked::<AppState>()
    }

    fn session_for(&self, gate: Gate) -> ApiResult<&'a Session> {
        let request = self.request()?;
        authorize(&request.caller, gate)?;
        request.caller.session().ok_or(ApiError(DomainError::Unauthenticated))
    }
}
