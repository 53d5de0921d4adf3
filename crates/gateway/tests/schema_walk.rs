//! The schema walk: every query and mutation in `schema.graphql` is called with no session and
//! with a session at each stage, and only the callers its gate admits get past the choke point.
//! A field added later without a gate, or with the wrong one, fails here.

mod common;

use std::collections::HashMap;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{BaseType, InputValueDefinition, Type, TypeKind, TypeSystemDefinition};
use common::TestApp;
use keyward_domain::member::Role;
use keyward_domain::session::SessionStage;
use serde_json::Value;

/// Who may get past the choke point, per field. Keep this in step with the product, by hand.
fn expected_gate(root: &str, field: &str) -> &'static str {
    match (root, field) {
        ("Query", "viewer") => "optional",
        ("Query", "securityKeys") => "member",
        (
            "Query",
            "organization" | "member" | "auditEvents" | "auditVerify" | "stepUpPolicy" | "apiKeys" | "approvalPolicy",
        ) => "org-read",
        ("Query", "auditActions") => "org-read",
        (
            "Query",
            "enforcementPreview"
            | "policyEvaluate"
            | "approvalPolicyEvaluate"
            | "webauthnPolicyPreview"
            | "authenticatorModels",
        ) => "admin",
        ("Query", "approvalRequest" | "approvalRequests") => "approval-requester",
        ("Mutation", "approvalRequestCreate") => "approval-requester",
        ("Mutation", "approvalBegin" | "approvalFinish" | "approvalReject") => "member",
        ("Query", "webhook" | "webhookDeliveries") => "org-read",
        ("Mutation", "webhookSet" | "webhookDelete") => "admin",
        ("Mutation", "ssoLoginStart" | "ssoLoginFinish" | "backupCredentialsLogin") => "open",
        ("Mutation", "mfaLoginBegin" | "mfaLoginFinish" | "mfaRecoveryCodeFinish") => "mfa-pending",
        ("Mutation", "logout") => "any-session",
        ("Mutation", "securityKeyRegistrationBegin" | "securityKeyRegistrationFinish") => "key-registration",
        (
            "Mutation",
            "securityKeyRename"
            | "securityKeyDelete"
            | "recoveryCodesGenerate"
            | "ssoLinkStart"
            | "ssoLinkFinish"
            | "stepUpBegin"
            | "stepUpFinish",
        ) => "member",
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
        ) => "admin",
        _ => panic!("{root}.{field} is new: add it to the schema walk with the gate it must have"),
    }
}

/// The step-up action each mutation must name, or `None` for the exempt ones (login ceremonies,
/// logout, key registration, the second half of a checked ceremony, step-up itself). Kept by
/// hand, apart from the gate table, so that the two must agree.
fn expected_action(field: &str) -> Option<&'static str> {
    match field {
        "ssoLoginStart"
        | "ssoLoginFinish"
        | "backupCredentialsLogin"
        | "mfaLoginBegin"
        | "mfaLoginFinish"
        | "mfaRecoveryCodeFinish"
        | "logout"
        | "securityKeyRegistrationBegin"
        | "securityKeyRegistrationFinish"
        | "ssoLinkFinish"
        | "stepUpBegin"
        | "stepUpFinish"
        | "approvalRequestCreate"
        | "approvalBegin"
        | "approvalFinish"
        | "approvalReject" => None,
        "apiKeyCreate" => Some("api_key.create"),
        "apiKeyRevoke" => Some("api_key.revoke"),
        "approvalPolicySet" => Some("org.approval_policy.set"),
        "securityKeyDelete" => Some("security_key.delete"),
        "securityKeyRename" => Some("security_key.rename"),
        "recoveryCodesGenerate" => Some("recovery_codes.generate"),
        "ssoLinkStart" => Some("sso.link"),
        "memberSecurityKeyDelete" => Some("member.security_key.delete"),
        "memberSessionsRevoke" => Some("member.sessions.revoke"),
        "memberDeactivate" => Some("member.deactivate"),
        "memberReactivate" => Some("member.reactivate"),
        "mfaEnforcementSet" => Some("org.mfa_enforcement.set"),
        "ssoConfigure" | "ssoTestStart" | "ssoTestFinish" => Some("org.sso.configure"),
        "webauthnPolicyUpdate" => Some("org.webauthn_policy.set"),
        "stepUpPolicySet" => Some("org.step_up_policy.set"),
        "backupCredentialsRotate" => Some("backup_credentials.rotate"),
        "webhookSet" | "webhookDelete" => Some("org.webhook.set"),
        other => panic!("Mutation.{other} is new: add its step-up action (or why it is exempt) to the walk"),
    }
}

#[derive(Clone, Copy, Debug)]
enum Caller {
    Anonymous,
    Stage(SessionStage, Role),
    /// An API key with one scope.
    ApiKey(&'static str),
}

const GATE_CODES: [&str; 4] = ["UNAUTHENTICATED", "MFA_REQUIRED", "MFA_REGISTRATION_REQUIRED", "FORBIDDEN"];

/// The refusal the choke point must give, or `None` when the caller passes.
fn expected_refusal(gate: &str, caller: Caller) -> Option<&'static str> {
    use SessionStage::*;
    match (gate, caller) {
        ("open" | "optional", _) => None,
        (_, Caller::Anonymous) => Some("UNAUTHENTICATED"),
        ("org-read", Caller::ApiKey("ORG_READ")) | ("approval-requester", Caller::ApiKey("APPROVALS_REQUEST")) => None,
        (_, Caller::ApiKey(_)) => Some("FORBIDDEN"),
        ("any-session", _) => None,
        ("mfa-pending", Caller::Stage(MfaRequired, _)) => None,
        ("mfa-pending", Caller::Stage(MfaRegistrationRequired, _)) => Some("MFA_REGISTRATION_REQUIRED"),
        ("mfa-pending", Caller::Stage(Authenticated, _)) => Some("BAD_USER_INPUT"),
        (_, Caller::Stage(MfaRequired, _)) => Some("MFA_REQUIRED"),
        ("key-registration", _) => None,
        (_, Caller::Stage(MfaRegistrationRequired, _)) => Some("MFA_REGISTRATION_REQUIRED"),
        ("member" | "approval-requester", _) => None,
        ("admin" | "org-read", Caller::Stage(_, Role::Admin)) => None,
        ("admin" | "org-read", _) => Some("FORBIDDEN"),
        _ => unreachable!("{gate}"),
    }
}

struct Schema {
    inputs: HashMap<String, Vec<InputValueDefinition>>,
    enums: HashMap<String, String>,
    objects: Vec<String>,
}

fn placeholder(ty: &Type, schema: &Schema) -> String {
    match &ty.base {
        BaseType::List(inner) => format!("[{}]", placeholder(inner, schema)),
        BaseType::Named(name) => match name.as_str() {
            "String" => "\"x\"".into(),
            "ID" => format!("\"{}\"", uuid::Uuid::nil()),
            "Int" => "1".into(),
            "Boolean" => "false".into(),
            "JSON" => "{}".into(),
            "DateTime" => format!("\"{}\"", chrono::Utc::now().to_rfc3339()),
            other if schema.enums.contains_key(other) => schema.enums[other].clone(),
            other => {
                let fields = schema.inputs.get(other).unwrap_or_else(|| panic!("unknown input type {other}"));
                let values: Vec<String> = fields
                    .iter()
                    .filter(|f| !f.ty.node.nullable && f.default_value.is_none())
                    .map(|f| format!("{}: {}", f.name.node, placeholder(&f.ty.node, schema)))
                    .collect();
                format!("{{ {} }}", values.join(", "))
            }
        },
    }
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// (root, field, operation text) for every root field.
fn operations() -> Vec<(String, String, String)> {
    let sdl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema.graphql")).unwrap();
    let doc = parse_schema(&sdl).unwrap();
    let mut schema = Schema { inputs: HashMap::new(), enums: HashMap::new(), objects: Vec::new() };
    let mut roots = Vec::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else { continue };
        let name = ty.node.name.node.to_string();
        match ty.node.kind {
            TypeKind::InputObject(input) => {
                schema.inputs.insert(name, input.fields.into_iter().map(|f| f.node).collect());
            }
            TypeKind::Enum(e) => {
                schema.enums.insert(name, e.values[0].node.value.node.to_string());
            }
            TypeKind::Object(object) => {
                if matches!(name.as_str(), "Query" | "Mutation") {
                    roots.push((name.clone(), object.fields));
                }
                schema.objects.push(name);
            }
            _ => {}
        }
    }
    let mut ops = Vec::new();
    for (root, fields) in roots {
        for field in fields {
            let field = field.node;
            let args: Vec<String> = field
                .arguments
                .iter()
                .filter(|a| !a.node.ty.node.nullable)
                .map(|a| format!("{}: {}", a.node.name.node, placeholder(&a.node.ty.node, &schema)))
                .collect();
            let args = if args.is_empty() { String::new() } else { format!("({})", args.join(", ")) };
            let selection =
                if schema.objects.iter().any(|o| o == named(&field.ty.node)) { " { __typename }" } else { "" };
            let keyword = if root == "Mutation" { "mutation" } else { "query" };
            ops.push((
                root.clone(),
                field.name.node.to_string(),
                format!("{keyword} {{ {}{args}{selection} }}", field.name.node),
            ));
        }
    }
    ops
}

async fn every_field_is_gated(app: &TestApp) {
    let admin = app.admin().await;
    let member = app.member("walker").await;
    let callers = [
        Caller::Anonymous,
        Caller::Stage(SessionStage::MfaRequired, Role::Member),
        Caller::Stage(SessionStage::MfaRegistrationRequired, Role::Member),
        Caller::Stage(SessionStage::Authenticated, Role::Member),
        Caller::Stage(SessionStage::Authenticated, Role::Admin),
        Caller::ApiKey("ORG_READ"),
        Caller::ApiKey("APPROVALS_REQUEST"),
    ];
    use keyward_domain::api_key::ApiKeyScope;
    let mut api_keys = HashMap::new();
    api_keys.insert("ORG_READ", app.api_key_direct(&[ApiKeyScope::OrgRead]).await);
    api_keys.insert("APPROVALS_REQUEST", app.api_key_direct(&[ApiKeyScope::ApprovalsRequest]).await);
    let ops = operations();
    assert!(ops.len() >= 14, "the walk found {} fields", ops.len());
    for (root, field, operation) in ops {
        let gate = expected_gate(&root, &field);
        let mut open_outcomes = Vec::new();
        for caller in callers {
            let token = match caller {
                Caller::Anonymous => None,
                Caller::Stage(stage, Role::Admin) => Some(app.session_for(&admin, stage).await),
                Caller::Stage(stage, Role::Member) => Some(app.session_for(&member, stage).await),
                Caller::ApiKey(scope) => Some(api_keys[scope].clone()),
            };
            let (_, body) = app.graphql(&operation, Value::Null, token.as_deref()).await;
            let code = body["errors"][0]["extensions"]["code"].as_str().map(str::to_owned);
            match expected_refusal(gate, caller) {
                Some(refusal) => assert_eq!(code.as_deref(), Some(refusal), "{operation} as {caller:?}: {body}"),
                None => assert!(
                    code.as_deref().is_none_or(|c| !GATE_CODES.contains(&c) || gate == "open"),
                    "{operation} as {caller:?} was refused: {body}"
                ),
            }
            assert_ne!(code.as_deref(), Some("INTERNAL"), "{operation} as {caller:?}: {body}");
            if gate == "open" {
                open_outcomes.push(code);
            }
        }
        if gate == "open" {
            assert!(
                open_outcomes.windows(2).all(|w| w[0] == w[1]),
                "{field} must not depend on the caller: {open_outcomes:?}"
            );
        }
    }
}

/// Every mutation with an action asks a stale key-backed admin for a step-up before its resolver
/// runs, naming that action; the exempt ones never do.
async fn every_mutation_names_its_action(app: &TestApp) {
    let admin = app.admin().await;
    for (root, field, operation) in operations() {
        if root != "Mutation" {
            continue;
        }
        let stale = app.key_session_for(&admin, chrono::Duration::hours(2)).await;
        let (_, body) = app.graphql(&operation, Value::Null, Some(&stale)).await;
        let code = body["errors"][0]["extensions"]["code"].as_str();
        match expected_action(&field) {
            Some(action) => {
                assert_eq!(code, Some("STEP_UP_REQUIRED"), "{operation}: {body}");
                assert_eq!(body["errors"][0]["extensions"]["action"], action, "{operation}: {body}");
            }
            None => assert_ne!(code, Some("STEP_UP_REQUIRED"), "{operation} is exempt: {body}"),
        }
    }
}

on_both_backends! {
    every_field_is_gated,
    every_mutation_names_its_action,
}
