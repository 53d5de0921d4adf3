//! API keys end to end: shown once, hashed, a caller of their own kind that passes only the gates
//! its scopes name, never steps up, never approves, and stops at once when revoked.

mod common;

use common::{TestApp, error_code};
use keyward_domain::repo::{AuditQuery, AuditRepo};
use serde_json::json;

async fn keys_are_shown_once_and_listed_without_secrets(app: &TestApp) {
    let (admin, _key) = app.admin_with_key().await;
    let secret = app.api_key(&admin, &["APPROVALS_REQUEST"]).await;
    assert!(secret.starts_with("kwk_") && secret.len() == 47, "{secret}");
    let list = app
        .ok("{ apiKeys { name prefix scopes createdBy active lastUsedAt revokedAt } }", json!({}), Some(&admin))
        .await;
    let listed = &list["apiKeys"][0];
    assert_eq!(listed["prefix"], &secret[..12]);
    assert_eq!(listed["createdBy"], "admin");
    assert_eq!(listed["scopes"], json!(["APPROVALS_REQUEST"]));
    assert!(!list.to_string().contains(&secret[12..]), "the secret is never shown again");
    let stored = keyward_domain::pipeline_repo::ApiKeyRepo::api_keys(app.db.as_ref(), app.org).await.unwrap();
    assert_eq!(stored.len(), 1);
    let audit = app
        .db
        .audit_events(app.org, AuditQuery { first: 10, action: Some("api_key.created".into()), ..Default::default() });
    assert_eq!(audit.await.unwrap().items.len(), 1);
}

async fn a_key_passes_only_the_gates_its_scopes_name(app: &TestApp) {
    let (admin, _key) = app.admin_with_key().await;
    let requester = app.api_key(&admin, &["APPROVALS_REQUEST"]).await;
    let reader = app.api_key(&admin, &["ORG_READ"]).await;
    app.request_approval(&requester, json!({})).await;
    let (_, body) = app.graphql("{ organization { name } }", json!({}), Some(&requester)).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let read = app.ok("{ organization { name members { nodes { member { username } } } } auditEvents { nodes { action } } apiKeys { name } }", json!({}), Some(&reader)).await;
    assert!(read["organization"]["name"].is_string());
    let (_, body) =
        app.graphql(common::approvals::CREATE, json!({ "i": common::approvals::sample_input() }), Some(&reader)).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "ORG_READ cannot request approvals: {body}");
    for mutation in [
        "mutation { backupCredentialsRotate { secret } }",
        "mutation { mfaEnforcementSet(input: {enabled: true}) { organization { id } } }",
        "mutation { apiKeyCreate(input: {name: \"x\", scopes: [ORG_READ]}) { secret } }",
        "mutation { stepUpBegin(action: \"k8s.exec\") { ceremonyId } }",
        "mutation { approvalBegin(id: \"00000000-0000-0000-0000-000000000000\") { ceremonyId } }",
        "mutation { logout }",
    ] {
        for key in [&requester, &reader] {
            let (_, body) = app.graphql(mutation, json!({}), Some(key)).await;
            assert_eq!(error_code(&body), "FORBIDDEN", "{mutation}: {body}");
        }
    }
    let (_, body) = app.graphql("{ securityKeys { id } }", json!({}), Some(&reader)).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let viewer = app.ok("{ viewer { id } }", json!({}), Some(&reader)).await;
    assert!(viewer["viewer"].is_null(), "an API key is nobody's session");
    let verify = reqwest::Client::new()
        .get(format!("{}/auth/verify?action=k8s.exec", app.url))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 403, "forward auth never accepts an API key");
}

async fn a_revoked_or_unknown_key_is_refused_at_once(app: &TestApp) {
    let (admin, _key) = app.admin_with_key().await;
    let secret = app.api_key(&admin, &["ORG_READ"]).await;
    let id = app.ok("{ apiKeys { id } }", json!({}), Some(&admin)).await["apiKeys"][0]["id"].clone();
    app.ok("{ organization { name } }", json!({}), Some(&secret)).await;
    let revoked = app
        .ok("mutation($id: ID!) { apiKeyRevoke(id: $id) { active revokedAt } }", json!({ "id": id }), Some(&admin))
        .await;
    assert_eq!(revoked["apiKeyRevoke"]["active"], false);
    let (_, body) = app.graphql("{ organization { name } }", json!({}), Some(&secret)).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    let forged = format!("kwk_{}", "A".repeat(43));
    let (_, body) = app.graphql("{ organization { name } }", json!({}), Some(&forged)).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let audit = app
        .db
        .audit_events(app.org, AuditQuery { first: 10, action: Some("api_key.revoked".into()), ..Default::default() });
    assert_eq!(audit.await.unwrap().items.len(), 1);
}

async fn creating_a_key_is_a_step_up_action_for_admins_only(app: &TestApp) {
    let (fresh, _key) = app.admin_with_key().await;
    let stale = app.key_session_for(&app.admin().await, chrono::Duration::hours(2)).await;
    let create = "mutation { apiKeyCreate(input: {name: \"ci\", scopes: [ORG_READ]}) { secret } }";
    let (_, body) = app.graphql(create, json!({}), Some(&stale)).await;
    assert_eq!(error_code(&body), "STEP_UP_REQUIRED", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["action"], "api_key.create");
    let member = app.member("mallory").await;
    let token = app.key_session_for(&member, chrono::Duration::zero()).await;
    let (_, body) = app.graphql(create, json!({}), Some(&token)).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    for (input, field) in [
        (json!({"name": "", "scopes": ["ORG_READ"]}), "name"),
        (json!({"name": "ci", "scopes": []}), "scopes"),
        (json!({"name": "ci", "scopes": ["ORG_READ"], "expiresAt": "2020-01-01T00:00:00Z"}), "expiresAt"),
    ] {
        let (_, body) = app
            .graphql(
                "mutation($i: ApiKeyCreateInput!) { apiKeyCreate(input: $i) { secret } }",
                json!({ "i": input }),
                Some(&fresh),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
}

on_both_backends! {
    keys_are_shown_once_and_listed_without_secrets,
    a_key_passes_only_the_gates_its_scopes_name,
    a_revoked_or_unknown_key_is_refused_at_once,
    creating_a_key_is_a_step_up_action_for_admins_only,
}
