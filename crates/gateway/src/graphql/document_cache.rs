//! Parsed and validated documents, kept per process by query text: a client sends the same few
//! queries over and over, and parsing `{ viewer { id } }` cost more than the session lookup.
//!
//! Innermost of the extensions, so every other extension still sees each request's parse and
//! validation; only the work itself is skipped. Bounded in entries and in text size, so a client
//! sending ever new queries cannot grow it: it then only stops helping. Only successes are kept,
//! and a validation result only for a request without variables (variables take part in it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerError, ServerResult, ValidationResult, Variables};

/// Documents kept at most.
pub const MAX_ENTRIES: usize = 1024;
/// Longest query text kept (longer ones are parsed every time).
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

#[derive(Clone)]
struct Entry {
    document: ExecutableDocument,
    /// By operation name, for requests without variables.
    validated: Vec<(Option<String>, ValidationResult)>,
}

/// The process-wide cache; install it last with `.extension(cache)`.
#[derive(Clone, Default)]
pub struct DocumentCache {
    entries: Arc<Mutex<HashMap<Arc<str>, Entry>>>,
}

impl DocumentCache {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Arc<str>, Entry>) -> T) -> T {
        f(&mut self.entries.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn document(&self, query: &str) -> Option<ExecutableDocument> {
        self.with(|entries| entries.get(query).map(|e| e.document.clone()))
    }

    fn validated(&self, query: &str, operation: Option<&str>) -> Option<ValidationResult> {
        self.with(|entries| {
            let entry = entries.get(query)?;
            entry.validated.iter().find(|(name, _)| name.as_deref() == operation).map(|(_, result)| *result)
        })
    }

    fn keep_document(&self, query: &str, document: &ExecutableDocument) {
        if query.len() > MAX_QUERY_BYTES {
            return;
        }
        self.with(|entries| {
            if entries.contains_key(query) {
                return;
            }
            if entries.len() >= MAX_ENTRIES {
                // Any entry will do: under a flood of distinct queries nothing stays useful anyway.
                if let Some(victim) = entries.keys().next().cloned() {
                    entries.remove(&victim);
                }
            }
            entries.insert(query.into(), Entry { document: document.clone(), validated: Vec::new() });
        });
    }

    fn keep_validation(&self, query: &str, operation: Option<&str>, result: ValidationResult) {
        self.with(|entries| {
            // A document has few operations; the bound keeps a client naming unknown ones from
            // growing an entry.
            if let Some(entry) = entries.get_mut(query).filter(|e| e.validated.len() < 8) {
                entry.validated.push((operation.map(str::to_owned), result));
            }
        });
    }

    /// How many documents are kept.
    pub fn len(&self) -> usize {
        self.with(|entries| entries.len())
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ExtensionFactory for DocumentCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CacheForRequest { cache: self.clone(), request: Mutex::new(None) })
    }
}

/// What the validation step needs to know about its request: the query text, the operation
/// named, and whether there are variables.
struct Seen {
    query: String,
    operation: Option<String>,
    variables: bool,
}

struct CacheForRequest {
    cache: DocumentCache,
    request: Mutex<Option<Seen>>,
}

#[async_trait::async_trait]
impl Extension for CacheForRequest {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = next.run(ctx, request).await?;
        *self.request.lock().unwrap_or_else(|p| p.into_inner()) = Some(Seen {
            query: request.query.clone(),
            operation: request.operation_name.clone(),
            variables: !request.variables.is_empty(),
        });
        Ok(request)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if let Some(document) = self.cache.document(query) {
            return Ok(document);
        }
        let document = next.run(ctx, query, variables).await?;
        self.cache.keep_document(query, &document);
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let seen = self.request.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(seen) = seen.filter(|seen| !seen.variables) else {
            return next.run(ctx).await;
        };
        if let Some(result) = self.cache.validated(&seen.query, seen.operation.as_deref()) {
            return Ok(result);
        }
        let result = next.run(ctx).await?;
        self.cache.keep_validation(&seen.query, seen.operation.as_deref(), result);
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    struct Query;

    #[Object]
    impl Query {
        async fn hello(&self, name: Option<String>) -> String {
            format!("hello {}", name.unwrap_or_default())
        }
    }

    fn schema(cache: &DocumentCache) -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription).extension(cache.clone()).finish()
    }

    #[tokio::test]
    async fn the_same_text_is_parsed_once_and_answers_the_same() {
        let cache = DocumentCache::default();
        let schema = schema(&cache);
        for _ in 0..3 {
            let response = schema.execute("{ hello }").await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            assert_eq!(response.data.to_string(), "{hello: \"hello \"}");
        }
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.validated("{ hello }", None).map(|r| r.depth), Some(1));
    }

    #[tokio::test]
    async fn variables_are_validated_every_time() {
        let cache = DocumentCache::default();
        let schema = schema(&cache);
        let query = "query($n: String) { hello(name: $n) }";
        let ok = Request::new(query).variables(Variables::from_json(serde_json::json!({ "n": "ada" })));
        assert_eq!(schema.execute(ok).await.data.to_string(), "{hello: \"hello ada\"}");
        let wrong = Request::new(query).variables(Variables::from_json(serde_json::json!({ "n": 7 })));
        assert!(!schema.execute(wrong).await.errors.is_empty(), "a wrong variable is still refused");
        assert!(cache.validated(query, None).is_none());
    }

    #[tokio::test]
    async fn errors_are_not_kept_and_invalid_queries_stay_invalid() {
        let cache = DocumentCache::default();
        let schema = schema(&cache);
        for _ in 0..2 {
            assert!(!schema.execute("{ hello ").await.errors.is_empty(), "a syntax error");
            assert!(!schema.execute("{ nope }").await.errors.is_empty(), "an unknown field");
        }
        assert!(cache.validated("{ nope }", None).is_none());
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let cache = DocumentCache::default();
        let schema = schema(&cache);
        for i in 0..MAX_ENTRIES + 50 {
            let response = schema.execute(format!("{{ hello # {i}\n }}")).await;
            assert!(response.errors.is_empty());
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        let long = format!("{{ hello }} #{}", "x".repeat(MAX_QUERY_BYTES));
        let before = cache.len();
        let _ = schema.execute(long.as_str()).await;
        assert!(cache.document(&long).is_none() && cache.len() == before, "long texts are not kept");
    }
}
