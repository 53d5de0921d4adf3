//! Login journeys through GraphQL with real ceremonies: backup credentials, SSO against an
//! in-test OIDC issuer, security-key registration and login, key management.

mod common;

use common::authn::{soft_key, token_of};
use common::oidc::{IdpUser, TestIdp};
use common::{TestApp, error_code};
use keyward_domain::repo::{AuditQuery, AuditRepo};
use serde_json::{Value, json};

const KEYS: &str = "{ securityKeys { id name keyId createdAt lastUsedAt aaguid model backupEligible backedUp transports userVerified } }";

async fn actions(app: &TestApp) -> Vec<String> {
    let page = app.db.audit_events(app.org, AuditQuery { first: 200, ..Default::default() }).await.unwrap();
    page.items.into_iter().rev().map(|e| format!("{}:{}", e.action, e.outcome)).collect()
}

async fn first_admin_then_sso_with_keys(app: &TestApp) {
    // Backup credentials get the first admin in before any SSO exists.
    let login = app.backup_login().await;
    assert_eq!(login["stage"], "AUTHENTICATED", "no key yet: {login}");
    let mut admin = token_of(&login);
    let before = admin.clone();
    let mut admin_key = soft_key(true);
    let registered = app.register_key(&mut admin, &mut admin_key, "  Desk key  ").await;
    assert_eq!(registered["key"]["name"], "Desk key", "names are trimmed");
    assert_ne!(admin, before, "adding a key rotates the session");
    assert_eq!(error_code(&app.graphql(KEYS, json!({}), Some(&before)).await.1), "UNAUTHENTICATED");
    let keys = app.ok(KEYS, json!({}), Some(&admin)).await;
    let key = &keys["securityKeys"][0];
    assert!(key["userVerified"].is_boolean());
    assert!(key["keyId"].as_str().unwrap().len() >= 16);
    assert_eq!(key["lastUsedAt"], Value::Null);
    app.ok("mutation { logout }", json!({}), Some(&admin)).await;

    // From now on backup credentials stop at the key.
    let login = app.backup_login().await;
    assert_eq!(login["stage"], "MFA_REQUIRED", "backup credentials never bypass the key");
    let pending = token_of(&login);
    let (_, body) = app.graphql(KEYS, json!({}), Some(&pending)).await;
    assert_eq!(error_code(&body), "MFA_REQUIRED");
    let done = app.mfa_login(&pending, &mut admin_key).await;
    assert_eq!(done["stage"], "AUTHENTICATED");
    assert_eq!(done["viewer"]["methods"], json!(["BACKUP_CREDENTIALS", "SECURITY_KEY"]));
    assert!(done["viewer"]["mfaVerifiedAt"].is_string());
    assert_eq!(done["viewer"]["keyId"], key["id"]);
    let admin = token_of(&done);
    assert_ne!(admin, pending, "the token is rotated");
    let (_, stale) = app.graphql("{ viewer { id } }", json!({}), Some(&pending)).await;
    assert_eq!(stale["data"]["viewer"], Value::Null, "the old token stops working");
    let keys = app.ok(KEYS, json!({}), Some(&admin)).await;
    assert!(keys["securityKeys"][0]["lastUsedAt"].is_string(), "last use is recorded");

    // SSO: a member is provisioned just in time and adds a key; next time the key is asked for.
    let idp = TestIdp::start().await;
    app.configure_sso(&admin, &idp).await;
    let alice = IdpUser::new("alice");
    let login = app.sso_login(&idp, &alice).await;
    assert_eq!(login["stage"], "AUTHENTICATED");
    assert_eq!(login["viewer"]["role"], "MEMBER");
    let mut token = token_of(&login);
    let mut alice_key = soft_key(true);
    app.register_key(&mut token, &mut alice_key, "YubiKey").await;
    app.ok("mutation { logout }", json!({}), Some(&token)).await;
    let login = app.sso_login(&idp, &alice).await;
    assert_eq!(login["stage"], "MFA_REQUIRED", "the IdP alone does not get anyone past the key");
    let done = app.mfa_login(&token_of(&login), &mut alice_key).await;
    assert_eq!(done["viewer"]["methods"], json!(["SSO", "SECURITY_KEY"]));
    let viewer = app.ok("{ viewer { member { username email } } }", json!({}), Some(&token_of(&done))).await;
    assert_eq!(viewer["viewer"]["member"]["username"], "alice");

    // The admin group claim makes an IdP admin an ADMIN, and is synced at every login.
    let boss = app.sso_login(&idp, &IdpUser::admin("boss")).await;
    assert_eq!(boss["viewer"]["role"], "ADMIN");
    let demoted = app.sso_login(&idp, &IdpUser::new("boss")).await;
    assert_eq!(demoted["viewer"]["role"], "MEMBER", "leaving the IdP group removes ADMIN at the next login");

    let log = actions(app).await;
    for expected in [
        "backup_credentials.login:SUCCESS",
        "security_key.registered:SUCCESS",
        "session.logout:SUCCESS",
        "mfa.login:SUCCESS",
        "org.sso.configured:SUCCESS",
        "member.provisioned:SUCCESS",
        "sso.login:SUCCESS",
        "member.role.changed:SUCCESS",
    ] {
        assert!(log.contains(&expected.to_string()), "{expected} missing from {log:?}");
    }
}

async fn members_manage_their_own_keys(app: &TestApp) {
    let mut admin = token_of(&app.backup_login().await);
    let mut first = soft_key(true);
    let mut second = soft_key(true);
    let one = app.register_key(&mut admin, &mut first, "One").await["key"]["id"].as_str().unwrap().to_owned();
    let two = app.register_key(&mut admin, &mut second, "Two").await["key"]["id"].as_str().unwrap().to_owned();

    let renamed = app
        .ok(
            "mutation($id: ID!) { securityKeyRename(id: $id, name: \"Backup key\") { id name } }",
            json!({ "id": two }),
            Some(&admin),
        )
        .await;
    assert_eq!(renamed["securityKeyRename"]["name"], "Backup key");
    for bad in ["", "   ", "a\u{7}b", &"x".repeat(65)] {
        let (_, body) = app
            .graphql(
                "mutation($id: ID!, $n: String!) { securityKeyRename(id: $id, name: $n) { id } }",
                json!({ "id": two, "n": bad }),
                Some(&admin),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad:?}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "name");
    }
    let (_, body) = app
        .graphql("mutation { securityKeyRegistrationBegin(name: \"  \") { ceremonyId } }", json!({}), Some(&admin))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT");

    // Another member cannot see, rename or delete these keys.
    let idp = TestIdp::start().await;
    app.configure_sso(&admin, &idp).await;
    let bob = token_of(&app.sso_login(&idp, &IdpUser::new("bob")).await);
    let (_, body) = app
        .graphql(
            "mutation($id: ID!) { securityKeyDelete(id: $id) { remainingKeys } }",
            json!({ "id": one }),
            Some(&bob),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let (_, body) = app
        .graphql(
            "mutation($id: ID!) { securityKeyRename(id: $id, name: \"mine\") { id } }",
            json!({ "id": one }),
            Some(&bob),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    assert_eq!(app.ok(KEYS, json!({}), Some(&bob)).await["securityKeys"], json!([]));

    let deleted = app
        .ok(
            "mutation($id: ID!) { securityKeyDelete(id: $id) { deletedKeyId remainingKeys sessionToken } }",
            json!({ "id": one }),
            Some(&admin),
        )
        .await;
    let rotated = token_of(&deleted["securityKeyDelete"]);
    assert_eq!(deleted["securityKeyDelete"]["deletedKeyId"], one);
    assert_eq!(deleted["securityKeyDelete"]["remainingKeys"], 1);
    let (_, body) = app.graphql(KEYS, json!({}), Some(&admin)).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "deleting a key rotates the session that did it");
    let admin = rotated;
    let (_, body) = app
        .graphql(
            "mutation($id: ID!) { securityKeyDelete(id: $id) { remainingKeys } }",
            json!({ "id": one }),
            Some(&admin),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let keys = app.ok(KEYS, json!({}), Some(&admin)).await;
    assert_eq!(keys["securityKeys"].as_array().unwrap().len(), 1);
    assert_eq!(keys["securityKeys"][0]["name"], "Backup key");

    // The remaining key still logs in.
    app.ok("mutation { logout }", json!({}), Some(&admin)).await;
    let pending = token_of(&app.backup_login().await);
    app.mfa_login(&pending, &mut second).await;

    let log = actions(app).await;
    assert!(log.contains(&"security_key.renamed:SUCCESS".to_string()));
    assert!(log.contains(&"security_key.deleted:SUCCESS".to_string()));
}

async fn backup_credentials_are_checked_and_rate_limited(app: &TestApp) {
    let secret = app.running.credentials.as_ref().unwrap().secret.clone();
    let attempt = |org: &'static str, user: &'static str, secret: String| async move {
        app.graphql(
            "mutation($o: String!, $u: String!, $s: String!) { backupCredentialsLogin(organization: $o, username: $u, secret: $s) { stage } }",
            json!({ "o": org, "u": user, "s": secret }),
            None,
        )
        .await
        .1
    };
    let wrong = attempt("default", "admin", "not-the-secret".into()).await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    let message = wrong["errors"][0]["message"].as_str().unwrap().to_owned();
    let other_org = attempt("other-org", "admin", secret.clone()).await;
    assert_eq!(error_code(&other_org), "UNAUTHENTICATED");
    assert_eq!(other_org["errors"][0]["message"], message, "no hint which part was wrong");
    let other_user = attempt("default", "nobody", secret.clone()).await;
    assert_eq!(other_user["errors"][0]["message"], message);
    // Only failures count, and no bucket is per account: strangers guessing cannot lock the
    // real secret out (the lock-out: five wrong guesses refused the right secret).
    for _ in 0..5 {
        attempt("default", "admin", "still-wrong".into()).await;
    }
    let ok = attempt("default", "admin", secret.clone()).await;
    assert!(ok.get("errors").is_none(), "the real secret still works: {ok}");
    for _ in 0..10 {
        assert!(attempt("default", "admin", secret.clone()).await.get("errors").is_none(), "successes never count");
    }
    // Twenty failures from one network and window lock that network out, right secret or not.
    for _ in 0..12 {
        attempt("nowhere", "nobody", "wrong".into()).await;
    }
    let limited = attempt("default", "admin", secret).await;
    assert_eq!(error_code(&limited), "RATE_LIMITED", "{limited}");
    assert!(limited["errors"][0]["extensions"]["retryAfterSeconds"].as_u64().unwrap() >= 1);
    let log = actions(app).await;
    assert!(log.contains(&"backup_credentials.login:FAILURE".to_string()));
}

async fn rotating_backup_credentials_voids_the_old_secret(app: &TestApp) {
    let old = app.running.credentials.as_ref().unwrap().secret.clone();
    let admin = token_of(&app.backup_login().await);
    let rotated =
        app.ok("mutation { backupCredentialsRotate { organization username secret } }", json!({}), Some(&admin)).await;
    let fresh = rotated["backupCredentialsRotate"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(rotated["backupCredentialsRotate"]["username"], "admin");
    assert_eq!(fresh.len(), 43);
    let login = "mutation($s: String!) { backupCredentialsLogin(organization: \"default\", username: \"admin\", secret: $s) { stage } }";
    let (_, body) = app.graphql(login, json!({ "s": old }), None).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    let (_, body) = app.graphql(login, json!({ "s": fresh }), None).await;
    assert_eq!(body["data"]["backupCredentialsLogin"]["stage"], "AUTHENTICATED");
    assert!(actions(app).await.contains(&"backup_credentials.rotated:SUCCESS".to_string()));
}

/// Aliases of one mutation in one request each count against the limit: one request cannot try
/// a hundred secrets.
async fn aliases_count_against_rate_limits(app: &TestApp) {
    let attempts: Vec<String> = (0..25)
        .map(|i| format!("a{i}: backupCredentialsLogin(organization: \"default\", username: \"admin\", secret: \"guess{i}\") {{ stage }}"))
        .collect();
    let (_, body) = app.graphql(&format!("mutation {{ {} }}", attempts.join(" ")), json!({}), None).await;
    let codes: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["extensions"]["code"].as_str().unwrap()).collect();
    assert_eq!(codes.iter().filter(|c| **c == "UNAUTHENTICATED").count(), 20, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == "RATE_LIMITED").count(), 5, "{codes:?}");
}

on_both_backends! {
    rotating_backup_credentials_voids_the_old_secret,
    aliases_count_against_rate_limits,
    first_admin_then_sso_with_keys,
    members_manage_their_own_keys,
    backup_credentials_are_checked_and_rate_limited,
}
