//! The GraphQL API: schema, choke point, context and resolvers.

pub mod api_keys;
pub mod approval_types;
pub mod approvals;
pub mod audit;
pub mod context;
pub mod document_cache;
pub mod gates;
pub mod keys;
pub mod login;
pub mod members;
pub mod org;
pub mod rollout;
pub mod roots;
pub mod sso_test;
pub mod step_up;
pub mod types;
pub mod webauthn_policy;
pub mod webhooks;

use async_graphql::Schema;

use crate::config::Config;
use crate::state::AppState;
use gates::ChokePoint;
use roots::{MutationRoot, QueryRoot, SubscriptionRoot};

/// Keyward's GraphQL schema.
pub type KeywardSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Builds the schema with the configured limits and the choke point.
pub fn build(state: AppState, config: &Config) -> KeywardSchema {
    let mut builder = Schema::build(QueryRoot::default(), MutationRoot::default(), SubscriptionRoot::default())
        .extension(ChokePoint)
        .limit_depth(config.limits.query_depth)
        .limit_complexity(config.limits.query_complexity)
        .limit_recursive_depth(32)
        .limit_directives(16)
        .data(state);
    if crate::telemetry::enabled(config) {
        builder = builder.extension(crate::telemetry::graphql::GraphqlSpans);
    }
    if !config.introspection_enabled() {
        builder = builder.disable_introspection().disable_suggestions();
    }
    // Last, so it is innermost: the extensions above still see every parse and validation.
    builder.extension(document_cache::DocumentCache::default()).finish()
}

/// The SDL of the schema (what `keyward schema` prints and `schema.graphql` holds).
pub fn sdl() -> String {
    Schema::build(QueryRoot::default(), MutationRoot::default(), SubscriptionRoot::default()).finish().sdl()
}
