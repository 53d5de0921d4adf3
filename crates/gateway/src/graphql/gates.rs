//! The choke point: every root field names its [`Gate`], and one extension checks it with
//! [`keyward_domain::access::authorize`] before any resolver runs. A field missing from the table
//! is refused, so a new field cannot forget its check.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{ServerError, ServerResult, Value, Variables};
use keyward_domain::DomainError;
use keyward_domain::access::{Gate, authorize};

use super::context::RequestContext;
use crate::error::ApiError;

/// The gate of a root field, or `None` for a field nobody registered (refused).
pub fn gate_for(root: &str, field: &str) -> Option<Gate> {
    let gate = match (root, field) {
        ("Query", "viewer") => Gate::OptionalSession,
        ("Query", "securityKeys") => Gate::Member,
        ("Query", "organization" | "member" | "enforcementPreview" | "auditEvents" | "auditVerify") => Gate::Admin,
        ("Mutation", "ssoLoginStart" | "ssoLoginFinish" | "backupCredentialsLogin") => Gate::Open,
        ("Mutation", "mfaLoginBegin" | "mfaLoginFinish" | "mfaRecoveryCodeFinish") => Gate::MfaPending,
        ("Mutation", "logout") => Gate::AnySession,
        ("Mutation", "securityKeyRegistrationBegin" | "securityKeyRegistrationFinish") => Gate::KeyRegistration,
        (
            "Mutation",
            "securityKeyRename" | "securityKeyDelete" | "recoveryCodesGenerate" | "ssoLinkStart" | "ssoLinkFinish",
        ) => Gate::Member,
        (
            "Mutation",
            "ssoConfigure"
            | "backupCredentialsRotate"
            | "mfaEnforcementSet"
            | "memberSecurityKeyDelete"
            | "memberSessionsRevoke"
            | "memberDeactivate"
            | "memberReactivate"
            | "webauthnPolicyUpdate",
        ) => Gate::Admin,
        _ => return None,
    };
    Some(gate)
}

/// How the request arrived: GET requests may only read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `POST /graphql`.
    Post,
    /// `GET /graphql?query=…`.
    Get,
}

/// Installs the choke point.
pub struct ChokePoint;

impl ExtensionFactory for ChokePoint {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ChokePointExtension)
    }
}

struct ChokePointExtension;

fn refuse(err: DomainError, pos: async_graphql::Pos) -> ServerError {
    async_graphql::Error::from(ApiError(err)).into_server_error(pos)
}

#[async_trait::async_trait]
impl Extension for ChokePointExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let over_get = ctx.data_opt::<Transport>() == Some(&Transport::Get);
        let has_mutation = document.operations.iter().any(|(_, op)| op.node.ty != OperationType::Query);
        if over_get && has_mutation {
            return Err(refuse(
                DomainError::bad_input("query", "mutations and subscriptions must be sent with POST"),
                async_graphql::Pos::default(),
            ));
        }
        Ok(document)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_none() && !info.name.starts_with("__") {
            let pos = info.field.name.pos;
            let request = ctx.data_opt::<RequestContext>().ok_or_else(|| refuse(DomainError::Unauthenticated, pos))?;
            let gate = gate_for(info.parent_type, info.name).ok_or_else(|| {
                tracing::error!(root = info.parent_type, field = info.name, "root field has no gate");
                refuse(DomainError::Forbidden, pos)
            })?;
            authorize(&request.caller, gate).map_err(|err| refuse(err, pos))?;
        }
        next.run(ctx, info).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_schema;
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    /// Every root field of the generated schema has a gate.
    #[test]
    fn every_root_field_has_a_gate() {
        let sdl = crate::graphql::sdl();
        let doc = parse_schema(&sdl).unwrap();
        let mut checked = 0;
        for def in doc.definitions {
            let TypeSystemDefinition::Type(ty) = def else {
                continue;
            };
            let name = ty.node.name.node.to_string();
            if !matches!(name.as_str(), "Query" | "Mutation" | "Subscription") {
                continue;
            }
            if let TypeKind::Object(object) = &ty.node.kind {
                for field in &object.fields {
                    let field_name = field.node.name.node.to_string();
                    assert!(gate_for(&name, &field_name).is_some(), "{name}.{field_name} has no gate");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 2);
    }
}
