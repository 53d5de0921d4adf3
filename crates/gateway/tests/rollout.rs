//! What a rollout needs from the API: adoption figures and search, a member's sessions with their
//! device, recovery-code status, keyless-only enforcement, previews and refusals of settings that
//! would lock admins out, readable audit actions, and SSO test sign-in.

mod common;

use common::authn::{soft_key, token_of};
use common::flagkey::FlagKey;
use common::{TestApp, error_code};
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::member::OidcIdentity;
use keyward_domain::repo::{MemberRepo, SsoConfigRepo};
use keyward_domain::session::SessionStage;
use serde_json::{Value, json};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

async fn adoption_is_counted_and_members_are_found(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    let alice = app.member("alice").await;
    let mut alice_token = app.session_for(&alice, SessionStage::Authenticated).await;
    app.register_key(&mut alice_token, &mut soft_key(true), "Desk").await;
    app.register_key(&mut alice_token, &mut soft_key(true), "Spare").await;
    app.member("bob").await;
    app.member("carol_ops").await;

    let stats = app
        .ok(
            "{ organization { memberStats { members withKey withoutKey withOneKey deactivated } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        stats["organization"]["memberStats"],
        json!({ "members": 4, "withKey": 2, "withoutKey": 2, "withOneKey": 1, "deactivated": 0 }),
        "admin and alice have keys, the admin only one"
    );
    let search = "query($s: String, $k: Boolean!) { organization { members(search: $s, withoutKey: $k) { nodes { member { username } } } } }";
    let names = |data: Value| -> Vec<String> {
        data["organization"]["members"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["member"]["username"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(app.ok(search, json!({ "s": "ALI", "k": false }), Some(&admin)).await), vec!["alice"]);
    assert_eq!(
        names(app.ok(search, json!({ "s": "example.com", "k": true }), Some(&admin)).await),
        vec!["bob", "carol_ops"]
    );
    assert_eq!(names(app.ok(search, json!({ "s": "_ops", "k": false }), Some(&admin)).await), vec!["carol_ops"]);

    // The member page links to everything by or about alice.
    let involving = "query($m: String) { auditEvents(filter: { involving: $m }) { nodes { actor target action } } }";
    let alice_ref = format!("member:{}", alice.id);
    let data = app.ok(involving, json!({ "m": alice_ref }), Some(&admin)).await;
    let events = data["auditEvents"]["nodes"].as_array().unwrap();
    assert!(events.iter().any(|e| e["actor"] == alice_ref.as_str() && e["action"] == "security_key.registered"));
    assert!(events.iter().all(|e| e["actor"] == alice_ref.as_str() || e["target"] == alice_ref.as_str()), "{events:?}");
    let (_, body) = app.graphql(search, json!({ "s": "x".repeat(101), "k": false }), Some(&admin)).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "search", "{body}");
}

async fn a_members_sessions_and_recovery_codes_are_shown(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    let secret = app.running.credentials.as_ref().unwrap().secret.clone();
    let login = "mutation($s: String!) { backupCredentialsLogin(organization: \"default\", username: \"admin\", secret: $s) { stage } }";
    let response = app
        .client
        .post(format!("{}/graphql", app.url))
        .header("user-agent", FIREFOX)
        .json(&json!({ "query": login, "variables": { "s": secret } }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());

    let me = app.admin().await;
    let detail = "query($id: ID!) { member(id: $id) { sessions { device ip current stage methods } recoveryCodes { total unused generatedAt } } }";
    let data = app.ok(detail, json!({ "id": me.id.to_string() }), Some(&admin)).await;
    let sessions = data["member"]["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let firefox = sessions.iter().find(|s| s["device"] == "Firefox 133 on Linux").expect("the device is named");
    assert_eq!(firefox["current"], false);
    assert_eq!(firefox["stage"], "MFA_REQUIRED");
    assert!(firefox["ip"].is_string());
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1, "the caller's own session is marked");
    assert_eq!(data["member"]["recoveryCodes"], json!({ "total": 0, "unused": 0, "generatedAt": null }));

    let codes = app.ok("mutation { recoveryCodesGenerate { codes } }", json!({}), Some(&admin)).await;
    assert_eq!(codes["recoveryCodesGenerate"]["codes"].as_array().unwrap().len(), 10);
    let viewer = app.ok("{ viewer { recoveryCodes { total unused generatedAt } } }", json!({}), Some(&admin)).await;
    let status = &viewer["viewer"]["recoveryCodes"];
    assert_eq!((status["total"].as_u64(), status["unused"].as_u64()), (Some(10), Some(10)));
    assert!(status["generatedAt"].is_string(), "{status}");
}

async fn enforcement_can_spare_members_who_use_keys(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    let alice = app.member("alice").await;
    let keyed = app.key_session_for(&alice, chrono::Duration::minutes(1)).await;
    let bob = app.member("bob").await;
    let keyless = app.session_for(&bob, SessionStage::Authenticated).await;
    let preview =
        app.ok("{ enforcementPreview { sessionsToEnd keylessSessionsToEnd } }", json!({}), Some(&admin)).await;
    assert_eq!(preview["enforcementPreview"], json!({ "sessionsToEnd": 2, "keylessSessionsToEnd": 1 }));

    let enforce = "mutation($i: MfaEnforcementInput!) { mfaEnforcementSet(input: $i) { revokedSessions } }";
    let data = app.ok(enforce, json!({ "i": { "enabled": true, "endSessions": "KEYLESS" } }), Some(&admin)).await;
    assert_eq!(data["mfaEnforcementSet"]["revokedSessions"], 1);
    assert!(app.is_live(&keyed).await, "a member who logs in with a key keeps working");
    assert!(!app.is_live(&keyless).await, "a session no key confirmed ends");
    assert!(app.is_live(&admin).await);
    let events = app
        .ok(
            "{ auditEvents(filter: { action: \"org.mfa_enforcement.enabled\" }) { nodes { details actionLabel summary } } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let event = &events["auditEvents"]["nodes"][0];
    assert_eq!(event["details"]["endSessions"], "KEYLESS", "{event}");
    assert!(event["summary"].as_str().unwrap().ends_with("ending only sessions no key confirmed"), "{event}");
    assert_eq!(event["actionLabel"], "MFA enforcement turned on");

    // The deadline moves after enforcing; that ends nothing.
    let deadline = (chrono::Utc::now() + chrono::Duration::days(14)).to_rfc3339();
    let moved = app.ok(enforce, json!({ "i": { "enabled": true, "gracePeriodEndsAt": deadline } }), Some(&admin)).await;
    assert_eq!(moved["mfaEnforcementSet"]["revokedSessions"], 0);
    assert!(app.is_live(&keyed).await);
}

async fn policies_that_lock_admins_out_are_previewed_and_refused(app: &TestApp) {
    // The admin's only key is a synced passkey, so "device-bound keys only" would refuse it.
    let mut admin = token_of(&app.backup_login().await);
    let mut passkey = FlagKey::new(uuid::Uuid::new_v4());
    passkey.backup_eligible = true;
    app.register_key(&mut admin, &mut passkey, "Synced").await;
    let alice = app.member("alice").await;
    let mut alice_token = app.session_for(&alice, SessionStage::Authenticated).await;
    app.register_key(&mut alice_token, &mut soft_key(false), "No PIN").await;

    let strict = json!({ "userVerification": "REQUIRED", "attestation": "NONE", "deviceBoundOnly": true, "ceremonyTimeoutSeconds": 120 });
    let preview = "query($p: WebauthnPolicyInput!) { webauthnPolicyPreview(input: $p) { changes { field from to } membersLeftWithoutKey { member { username } refusedKeys { key { name } reason } } refusal } }";
    let data = app.ok(preview, json!({ "p": strict }), Some(&admin)).await;
    let result = &data["webauthnPolicyPreview"];
    assert_eq!(
        result["changes"],
        json!([
            { "field": "userVerification", "from": "PREFERRED", "to": "REQUIRED" },
            { "field": "deviceBoundOnly", "from": "false", "to": "true" },
            { "field": "ceremonyTimeoutSeconds", "from": "300", "to": "120" },
        ])
    );
    let left = &result["membersLeftWithoutKey"];
    assert_eq!((&left[0]["member"]["username"], &left[1]["member"]["username"]), (&json!("admin"), &json!("alice")));
    assert!(left[0]["refusedKeys"][0]["reason"].as_str().unwrap().contains("device-bound"), "{left}");
    let maybe = left[1]["refusedKeys"][0]["reason"].as_str().unwrap();
    assert!(
        maybe.contains("did not verify a user"),
        "a key without UV at registration is at risk, not surely out: {maybe}"
    );
    let refusal = result["refusal"].as_str().expect("the acting admin would be locked out");
    let body = app.update_webauthn_policy(&admin, strict.clone()).await;
    assert_eq!(error_code(&body), "POLICY_DENIED", "{body}");
    assert_eq!(body["errors"][0]["message"], refusal, "the same reason as the preview");

    // With a device-bound key, the admin may save it; alice is named, not protected.
    app.register_key(&mut admin, &mut soft_key(true), "Device-bound").await;
    let data = app.ok(preview, json!({ "p": strict }), Some(&admin)).await;
    assert_eq!(data["webauthnPolicyPreview"]["refusal"], Value::Null, "{data}");
    let saved = app.update_webauthn_policy(&admin, strict).await;
    assert!(saved.get("errors").is_none(), "{saved}");
}

async fn audit_actions_read_as_labels(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    let data = app.ok("{ auditActions { action label } }", json!({}), Some(&admin)).await;
    let actions = data["auditActions"].as_array().unwrap();
    let labels: Vec<&str> = actions.iter().map(|a| a["label"].as_str().unwrap()).collect();
    let mut sorted = labels.clone();
    sorted.sort();
    assert_eq!(labels, sorted, "sorted for the dropdown");
    assert!(actions.iter().any(|a| a["action"] == "security_key.registered" && a["label"] == "Security key added"));
    let events = app.ok("{ auditEvents(first: 5) { nodes { action actionLabel } } }", json!({}), Some(&admin)).await;
    for event in events["auditEvents"]["nodes"].as_array().unwrap() {
        let known = actions.iter().find(|a| a["action"] == event["action"]).expect("every written action is listed");
        assert_eq!(known["label"], event["actionLabel"]);
    }
    let models = app.ok("{ authenticatorModels { aaguid name } }", json!({}), Some(&admin)).await;
    assert!(models["authenticatorModels"].as_array().unwrap().iter().any(|m| m["name"] == "Google Password Manager"));
}

async fn sso_test_sign_in_shows_what_a_login_would_do(app: &TestApp) {
    let (admin, _) = app.admin_with_key().await;
    let idp = common::oidc::TestIdp::start().await;
    let configure = "mutation($i: SsoConfigureInput!) { ssoConfigure(input: $i) { hasClientSecret } }";
    let mut input = json!({
        "issuer": idp.issuer, "clientId": common::oidc::CLIENT_ID, "clientSecret": null,
        "scopes": ["email", "profile", "groups"], "adminGroupClaim": "groups", "adminGroupValue": "keyward-admins",
    });
    let (_, body) = app.graphql(configure, json!({ "i": input }), Some(&admin)).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "clientSecret", "no secret stored yet: {body}");

    // The bootstrap admin logs in through the IdP from now on; Keyward has not seen their groups.
    let me = app.admin().await;
    let identity = OidcIdentity { issuer: idp.issuer.clone(), subject: "sub-admin".into() };
    app.db.link_oidc(app.org, me.id, identity, AuditRecord::new(Actor::System, "member.sso.linked")).await.unwrap();
    input["clientSecret"] = json!(common::oidc::CLIENT_SECRET);
    let (_, body) = app.graphql(configure, json!({ "i": input }), Some(&admin)).await;
    assert_eq!(error_code(&body), "POLICY_DENIED", "every admin would be demoted: {body}");

    let test = |user: common::oidc::IdpUser| {
        let (input, admin, idp) = (input.clone(), admin.clone(), &idp);
        async move {
            let start = "mutation($i: SsoConfigureInput!) { ssoTestStart(input: $i) { authorizationUrl } }";
            let started = app.graphql_in_browser(start, json!({ "i": input }), Some(&admin)).await;
            let url =
                started["data"]["ssoTestStart"]["authorizationUrl"].as_str().unwrap_or_else(|| panic!("{started}"));
            let (code, state) = idp.authorize(url, &user);
            assert!(state.ends_with(".test"), "{state}");
            let location = app.sso_callback(&code, &state).await.headers()["location"].to_str().unwrap().to_owned();
            assert!(location.starts_with("/org/sso?testCode="), "{location}");
            let finish = "mutation($c: String!, $s: String!) { ssoTestFinish(code: $c, state: $s) { subject email emailAllowed groups role member { username } problems } }";
            app.graphql_in_browser(finish, json!({ "c": code, "s": state }), Some(&admin)).await
        }
    };
    let outside = test(common::oidc::IdpUser::new("admin")).await;
    let result = &outside["data"]["ssoTestFinish"];
    assert_eq!(result["role"], "MEMBER", "{outside}");
    assert_eq!(result["member"]["username"], "admin");
    assert!(result["problems"][0].as_str().unwrap().contains("would become a member"), "{result}");
    let (_, body) = app.graphql(configure, json!({ "i": input }), Some(&admin)).await;
    assert_eq!(error_code(&body), "POLICY_DENIED", "still no admin in the group: {body}");

    let inside = test(common::oidc::IdpUser::admin("admin")).await;
    let result = &inside["data"]["ssoTestFinish"];
    assert_eq!((&result["role"], &result["problems"]), (&json!("ADMIN"), &json!([])), "{inside}");
    assert_eq!(result["groups"], json!(["keyward-admins"]));
    let saved = app.ok(configure, json!({ "i": input }), Some(&admin)).await;
    assert_eq!(saved["ssoConfigure"]["hasClientSecret"], true);

    // Saving again without a secret keeps the stored one: logins still work.
    let sealed = app.db.sso_config(app.org).await.unwrap().unwrap().client_secret;
    input["clientSecret"] = Value::Null;
    input["allowedEmailDomains"] = json!(["example.com"]);
    app.ok(configure, json!({ "i": input }), Some(&admin)).await;
    assert_eq!(app.db.sso_config(app.org).await.unwrap().unwrap().client_secret, sealed);
    let bob = app.sso_login(&idp, &common::oidc::IdpUser::new("bob")).await;
    assert!(bob["sessionToken"].is_string());
    assert_eq!(
        app.db.member_by_username(app.org, "bob").await.unwrap().map(|m| m.username).as_deref(),
        Some("bob"),
        "provisioned with the kept secret"
    );
    let audit = app
        .ok("{ auditEvents(filter: { action: \"org.sso.tested\" }) { nodes { summary } } }", json!({}), Some(&admin))
        .await;
    assert_eq!(audit["auditEvents"]["nodes"].as_array().unwrap().len(), 2, "each test sign-in is audited");
}

on_both_backends! {
    adoption_is_counted_and_members_are_found,
    a_members_sessions_and_recovery_codes_are_shown,
    enforcement_can_spare_members_who_use_keys,
    policies_that_lock_admins_out_are_previewed_and_refused,
    audit_actions_read_as_labels,
    sso_test_sign_in_shows_what_a_login_would_do,
}
