//! The request an audit event is written for, carried as request-scoped context.
//!
//! Every audit record should say which request wrote it (request ID, user agent), but records are
//! built at many call sites that know nothing of HTTP, and threading two more values through each
//! would touch all of them. Instead the HTTP layer (`keyward-gateway`'s `http::request_meta`
//! middleware) derives a [`RequestMeta`] once per request and runs the request inside [`scope`];
//! [`append_in`](crate::db) reads it with [`current`] and fills the record's `user_agent` and
//! `request_id` where the caller left them empty. The value lives in a tokio task-local, so it
//! follows the request's future (resolvers included) and never leaks to another request; work
//! spawned onto another task, the CLI and first-start bootstrap run outside any scope and record
//! none. The domain keeps only the plain [`RequestMeta`] value and its cleaning rules: no tokio.

use std::future::Future;

use keyward_domain::audit::RequestMeta;

tokio::task_local! {
    static REQUEST: RequestMeta;
}

/// Runs `future` as the handling of the request described by `meta`.
pub async fn scope<F: Future>(meta: RequestMeta, future: F) -> F::Output {
    REQUEST.scope(meta, future).await
}

/// The request being handled, when the code runs inside [`scope`].
pub fn current() -> Option<RequestMeta> {
    REQUEST.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_request_is_seen_inside_its_scope_only() {
        assert_eq!(current(), None);
        let meta = RequestMeta::new(Some("req-1"), Some("curl/8"));
        let seen = scope(meta.clone(), async { current() }).await;
        assert_eq!(seen, Some(meta));
        assert_eq!(current(), None);
    }
}
