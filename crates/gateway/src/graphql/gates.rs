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
use crate::state::AppState;

/// The gate of a root field, or `None` for a field nobody registered (refused).
pub fn gate_for(root: &str, field: &str) -> Option<Gate> {
    let gate = match (root, field) {
        ("Query", "viewer") => Gate::OptionalSession,
        ("Query", "securityKeys") => Gate::Member,
        (
            "Query",
            "organization" | "member" | "auditEvents" | "auditVerify" | "stepUpPolicy" | "apiKeys" | "approvalPolicy",
        ) => Gate::OrgRead,
        ("Query", "auditActions") => Gate::OrgRead,
        (
            "Query",
            "enforcementPreview"
            | "policyEvaluate"
            | "approvalPolicyEvaluate"
            | "webauthnPolicyPreview"
            | "authenticatorModels",
        ) => Gate::Admin,
        // A subscription's events are resolved under the type that declares the field
        // (`ApprovalSubscription`), not the merged root's name.
        (
            "Query" | "Subscription" | "ApprovalSubscription",
            "approvalRequest" | "approvalRequests" | "approvalRequestUpdated",
        ) => Gate::ApprovalRequester,
        ("Mutation", "approvalRequestCreate") => Gate::ApprovalRequester,
        ("Mutation", "approvalBegin" | "approvalFinish" | "approvalReject") => Gate::Member,
        ("Query", "webhook" | "webhookDeliveries") => Gate::OrgRead,
        ("Mutation", "webhookSet" | "webhookDelete") => Gate::Admin,
        ("Mutation", "ssoLoginStart" | "ssoLoginFinish" | "backupCredentialsLogin") => Gate::Open,
        ("Mutation", "mfaLoginBegin" | "mfaLoginFinish" | "mfaRecoveryCodeFinish") => Gate::MfaPending,
        ("Mutation", "logout") => Gate::AnySession,
        ("Mutation", "securityKeyRegistrationBegin" | "securityKeyRegistrationFinish") => Gate::KeyRegistration,
        (
            "Mutation",
            "securityKeyRename"
            | "securityKeyDelete"
            | "recoveryCodesGenerate"
            | "ssoLinkStart"
            | "ssoLinkFinish"
            | "stepUpBegin"
            | "stepUpFinish",
        ) => Gate::Member,
        (
            "Mutation",
            "ssoConfigure"
            | "ssoTestStart"
            | "ssoTestFinish"
            | "backupCredentialsRotate"
            | "mfaEnforcementSet"
            | "memberSecurityKeyDelete"
            | "memberSessionsRevoke"
            | "memberDeactivate"
            | "memberReactivate"
            | "webauthnPolicyUpdate"
            | "stepUpPolicySet"
            | "apiKeyCreate"
            | "apiKeyRevoke"
            | "approvalPolicySet",
        ) => Gate::Admin,
        _ => return None,
    };
    Some(gate)
}

/// Where a step-up action's resource comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceOf {
    /// `<prefix>:<value of argument>`, e.g. `security_key:<id>`.
    Argument(&'static str, &'static str),
    /// The caller's own member record: `member:<id>`.
    SelfMember,
    /// The caller's organization: `org:<id>`.
    Organization,
}

/// What a root mutation demands beyond its gate (DESIGN §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepUp {
    /// A sensitive action: the step-up policy decides before the resolver runs.
    Action(&'static str, ResourceOf),
    /// No step-up, and why: login ceremonies, logout, the second half of a ceremony whose first
    /// half was checked, and step-up itself.
    Exempt(&'static str),
}

/// The step-up rule of a root mutation, or `None` for one nobody registered (refused).
pub fn step_up_for(field: &str) -> Option<StepUp> {
    use ResourceOf::{Argument, Organization, SelfMember};
    let rule = match field {
        "ssoLoginStart"
        | "ssoLoginFinish"
        | "backupCredentialsLogin"
        | "mfaLoginBegin"
        | "mfaLoginFinish"
        | "mfaRecoveryCodeFinish" => StepUp::Exempt("a login ceremony"),
        "logout" => StepUp::Exempt("ending a session never needs more than the session"),
        "securityKeyRegistrationBegin" | "securityKeyRegistrationFinish" => {
            StepUp::Exempt("binding a key already needs the member's key (or none registered)")
        }
        "ssoLinkFinish" => StepUp::Exempt("finishes the ceremony ssoLinkStart checked"),
        "stepUpBegin" | "stepUpFinish" => StepUp::Exempt("the step-up ceremony itself"),
        "approvalRequestCreate" => {
            StepUp::Exempt("asked by pipelines, which cannot touch a key; the approval policy decides what follows")
        }
        "approvalBegin" | "approvalFinish" | "approvalReject" => {
            StepUp::Exempt("the approval ceremony is itself a key touch over the request's digest")
        }
        "apiKeyCreate" => StepUp::Action("api_key.create", Organization),
        "apiKeyRevoke" => StepUp::Action("api_key.revoke", Argument("api_key", "id")),
        "approvalPolicySet" => StepUp::Action("org.approval_policy.set", Organization),
        "securityKeyDelete" => StepUp::Action("security_key.delete", Argument("security_key", "id")),
        "securityKeyRename" => StepUp::Action("security_key.rename", Argument("security_key", "id")),
        "recoveryCodesGenerate" => StepUp::Action("recovery_codes.generate", SelfMember),
        "ssoLinkStart" => StepUp::Action("sso.link", SelfMember),
        "memberSecurityKeyDelete" => StepUp::Action("member.security_key.delete", Argument("security_key", "id")),
        "memberSessionsRevoke" => StepUp::Action("member.sessions.revoke", Argument("member", "memberId")),
        "memberDeactivate" => StepUp::Action("member.deactivate", Argument("member", "id")),
        "memberReactivate" => StepUp::Action("member.reactivate", Argument("member", "id")),
        "mfaEnforcementSet" => StepUp::Action("org.mfa_enforcement.set", Organization),
        // A test sign-in is part of configuring SSO: one fresh touch covers testing and saving.
        "ssoConfigure" | "ssoTestStart" | "ssoTestFinish" => StepUp::Action("org.sso.configure", Organization),
        "webauthnPolicyUpdate" => StepUp::Action("org.webauthn_policy.set", Organization),
        "stepUpPolicySet" => StepUp::Action(keyward_domain::step_up::POLICY_SET_ACTION, Organization),
        "backupCredentialsRotate" => StepUp::Action("backup_credentials.rotate", Organization),
        "webhookSet" | "webhookDelete" => StepUp::Action(keyward_domain::webhook::SET_ACTION, Organization),
        _ => return None,
    };
    Some(rule)
}

/// How the request arrived: GET requests may only read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `POST /graphql`.
    Post,
    /// `GET /graphql?query=…`.
    Get,
    /// `GET /graphql/ws`: subscriptions.
    WebSocket,
}

/// Installs the choke point.
pub struct ChokePoint;

impl ExtensionFactory for ChokePoint {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ChokePointExtension::default())
    }
}

/// One per request: it keeps the request's variables to read step-up resources from arguments.
#[derive(Default)]
struct ChokePointExtension {
    variables: std::sync::Mutex<Variables>,
}

impl ChokePointExtension {
    /// The string value of argument `name` of `info`'s field, variables resolved.
    fn argument(&self, info: &ResolveInfo<'_>, name: &str) -> Option<String> {
        let value = info.field.get_argument(name)?.node.clone();
        let variables = self.variables.lock().unwrap_or_else(|p| p.into_inner());
        match value.into_const_with(|var| variables.get(&var).cloned().ok_or(())).ok()? {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The step-up check of a root mutation, before its resolver runs.
    async fn step_up(
        &self,
        ctx: &ExtensionContext<'_>,
        info: &ResolveInfo<'_>,
        request: &RequestContext,
    ) -> Result<(), DomainError> {
        let Some(rule) = step_up_for(info.name) else {
            tracing::error!(field = info.name, "mutation has no step-up rule");
            return Err(DomainError::Forbidden);
        };
        let StepUp::Action(action, resource_of) = rule else {
            return Ok(());
        };
        let session = request.caller.session().ok_or(DomainError::Unauthenticated)?;
        let resource = match resource_of {
            ResourceOf::Argument(prefix, name) => {
                let value = self.argument(info, name).unwrap_or_default();
                format!("{prefix}:{value}")
            }
            ResourceOf::SelfMember => format!("member:{}", session.member_id),
            ResourceOf::Organization => format!("org:{}", session.org_id),
        };
        let app = ctx.data::<AppState>().map_err(|_| DomainError::Unauthenticated)?;
        let facts = request.facts();
        let ask = crate::auth::step_up::Ask::own(action, Some(&resource));
        crate::auth::step_up::require(app, session, &ask, &facts, chrono::Utc::now()).await
    }
}

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
        *self.variables.lock().unwrap_or_else(|p| p.into_inner()) = variables.clone();
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
            if info.parent_type == "Mutation" {
                self.step_up(ctx, &info, request).await.map_err(|err| refuse(err, pos))?;
            }
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
                    if name == "Mutation" {
                        assert!(
                            step_up_for(&field_name).is_some(),
                            "Mutation.{field_name} names no action and is not exempt"
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 2);
    }

    #[test]
    fn every_admin_mutation_is_a_step_up_action() {
        let sdl = crate::graphql::sdl();
        let doc = parse_schema(&sdl).unwrap();
        for def in doc.definitions {
            let TypeSystemDefinition::Type(ty) = def else { continue };
            if ty.node.name.node != "Mutation" {
                continue;
            }
            let TypeKind::Object(object) = &ty.node.kind else { continue };
            for field in &object.fields {
                let name = field.node.name.node.to_string();
                if gate_for("Mutation", &name) == Some(Gate::Admin) {
                    assert!(matches!(step_up_for(&name), Some(StepUp::Action(..))), "admin mutation {name} is exempt");
                }
            }
        }
    }
}
