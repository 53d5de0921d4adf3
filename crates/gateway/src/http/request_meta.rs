//! Request-scoped audit context: every request runs inside
//! [`keyward_storage::request_context::scope`] with its request ID (the `X-Request-Id` that
//! `SetRequestIdLayer` assigned or kept) and `User-Agent`, so every audit event the request
//! writes records both, whichever resolver or handler builds the record.

use axum::http::{HeaderMap, header};
use keyward_domain::audit::RequestMeta;

/// What the audit trail records about the request these headers came with.
pub fn request_meta(headers: &HeaderMap) -> RequestMeta {
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok());
    let user_agent = headers.get(header::USER_AGENT).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    RequestMeta::new(request_id, user_agent.as_deref())
}

/// What the step-up policy sees of the request being served: the client's address (`ip`) and
/// the cleaned `User-Agent` of its audit context.
pub fn request_facts(ip: Option<String>) -> keyward_domain::step_up::RequestFacts {
    let user_agent = keyward_storage::request_context::current().and_then(|meta| meta.user_agent);
    keyward_domain::step_up::RequestFacts { ip, user_agent }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_request_id_and_user_agent_are_taken_from_the_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(request_meta(&headers), RequestMeta::default());
        headers.insert("x-request-id", HeaderValue::from_static("3f1c"));
        headers.insert(header::USER_AGENT, HeaderValue::from_bytes(b"Agent \xff/1").unwrap());
        let meta = request_meta(&headers);
        assert_eq!(meta.request_id.as_deref(), Some("3f1c"));
        assert_eq!(meta.user_agent.as_deref(), Some("Agent \u{fffd}/1"));
    }
}
