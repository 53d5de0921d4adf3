//! The `graphql <Operation>` span: one per query or mutation, around its execution, named by the
//! operation (never by its variables or the literals of the query text).
//!
//! The span is made in the `execute` hook, once the document is parsed and the operation chosen,
//! because a span's name cannot change after it starts. Parsing and validation run before it,
//! inside the request span; a request refused there has no `graphql` span. Subscriptions
//! (`/graphql/ws`) have none either.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerResult, Variables};
use tracing::Instrument;

/// What `graphql.operation.name` says of an operation without a name.
pub const ANONYMOUS: &str = "anonymous";

/// Installs the `graphql` span on every query and mutation (see the module's documentation).
pub struct GraphqlSpans;

impl ExtensionFactory for GraphqlSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GraphqlSpan::default())
    }
}

/// One per request: the operation name the request asked for, then the type of the operation
/// the document holds under it.
#[derive(Default)]
struct GraphqlSpan {
    requested: Mutex<Option<String>>,
    kind: Mutex<Option<OperationType>>,
}

/// The type of the operation a request runs: the one named `requested`, or the only one.
fn operation_type(document: &ExecutableDocument, requested: Option<&str>) -> Option<OperationType> {
    match (&document.operations, requested) {
        (DocumentOperations::Single(operation), None) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|op| op.node.ty)
        }
        _ => None,
    }
}

#[async_trait::async_trait]
impl Extension for GraphqlSpan {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        *self.requested.lock().unwrap_or_else(|p| p.into_inner()) = request.operation_name.clone();
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let requested = self.requested.lock().unwrap_or_else(|p| p.into_inner()).clone();
        *self.kind.lock().unwrap_or_else(|p| p.into_inner()) = operation_type(&document, requested.as_deref());
        Ok(document)
    }

    /// `operation_name` is the name of the operation chosen in the parsed document (a GraphQL
    /// name, never a value), or `None` for an anonymous one.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let name = operation_name.unwrap_or(ANONYMOUS);
        let kind = *self.kind.lock().unwrap_or_else(|p| p.into_inner());
        let request_id = super::request_id();
        let span = tracing::info_span!(
            "graphql",
            otel.name = format!("graphql {name}"),
            graphql.operation.name = name,
            graphql.operation.type = kind.map(|kind| kind.to_string()),
            request_id = request_id.as_deref().unwrap_or("none"),
        );
        next.run(ctx, operation_name).instrument(span).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(query: &str, requested: Option<&str>) -> Option<OperationType> {
        operation_type(&async_graphql::parser::parse_query(query).unwrap(), requested)
    }

    #[test]
    fn the_type_is_that_of_the_operation_the_request_runs() {
        assert_eq!(kind("{ viewer { id } }", None), Some(OperationType::Query));
        assert_eq!(kind("mutation Out { logout }", None), Some(OperationType::Mutation));
        let two = "query A { viewer { id } } mutation B { logout }";
        assert_eq!(kind(two, Some("B")), Some(OperationType::Mutation));
        assert_eq!(kind(two, None), None, "ambiguous: async-graphql refuses it");
        assert_eq!(kind(two, Some("C")), None, "no such operation");
    }
}
