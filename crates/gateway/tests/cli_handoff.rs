//! Terminal hand-offs end to end: the HTTP routes, the approval rules, and the CLI client
//! (`keyward login`, `keyward gql`, `keyward step-up`) called as a library against the real app.

mod common;

use chrono::{Duration, Utc};
use common::TestApp;
use keyward_domain::handoff::{DEFAULT_TTL, Handoff, HandoffId, HandoffKind, HandoffResult};
use keyward_domain::session::{Session, SessionStage, SessionToken};
use keyward_gateway::auth::handoff as approval;
use keyward_gateway::cli_client::api::Poll;
use keyward_gateway::cli_client::{self, CliError, Client, HandoffRequest, HandoffStarted, Prompt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// The terminal's prompt in tests: hands each hand-off to the test's "browser".
pub struct Browser(UnboundedSender<HandoffStarted>);

impl Prompt for Browser {
    fn handoff_started(&mut self, _request: &HandoffRequest, started: &HandoffStarted) {
        self.0.send(started.clone()).expect("the test listens");
    }

    fn handoff_finished(&mut self, _approved: bool) {}
}

fn browser() -> (Browser, UnboundedReceiver<HandoffStarted>) {
    let (tx, rx) = unbounded_channel();
    (Browser(tx), rx)
}

impl TestApp {
    async fn post_handoff(&self, path: &str, body: Value, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.client.post(format!("{}{path}", self.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    async fn create_handoff(&self, body: Value, token: Option<&str>) -> Value {
        let (status, answer) = self.post_handoff("/cli/handoff", body, token).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }

    async fn poll_handoff(&self, id: &str, secret: &str) -> (StatusCode, Value) {
        self.post_handoff("/cli/handoff/poll", json!({ "id": id, "pollSecret": secret }), None).await
    }

    async fn live_session(&self, token: &str) -> Session {
        let token = SessionToken::parse(token).unwrap();
        self.running.state.sessions.lookup(token.org_id(), &token.hash(), Utc::now()).await.unwrap().unwrap()
    }

    /// Completes a hand-off straight in the store, as an approval would.
    async fn complete_in_store(&self, id: &str, result: HandoffResult) {
        let id: HandoffId = id.parse().unwrap();
        assert!(self.running.state.handoffs.complete_handoff(id, &result, Utc::now()).await.unwrap());
    }
}

fn result_with(session: &Session, token: &str) -> HandoffResult {
    HandoffResult {
        org_id: session.org_id,
        member_id: session.member_id,
        session_token: Some(token.to_owned()),
        token: None,
        grant: Some(json!({ "action": "security_key", "reuse": "CLASS" })),
    }
}

async fn a_login_hand_off_is_created_and_polled(app: &TestApp) {
    let answer = app.create_handoff(json!({ "kind": "login" }), None).await;
    let id = answer["id"].as_str().unwrap();
    let code = answer["userCode"].as_str().unwrap();
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(
        answer["verificationUrl"],
        format!("http://localhost:8080/step-up?action=cli.login&resource=handoff%3A{id}&handoff={id}&code={code}")
    );
    assert_eq!((answer["expiresIn"].as_u64(), answer["interval"].as_u64()), (Some(600), Some(2)));
    let secret = answer["pollSecret"].as_str().unwrap();
    assert!(secret.len() >= 43, "256 bits");
    let (status, body) = app.poll_handoff(id, secret).await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({ "status": "pending" })));
}

/// A wrong secret learns nothing (the same 404 as an unknown ID) and spends nothing: the right
/// secret still collects the result.
async fn a_wrong_poll_secret_is_refused(app: &TestApp) {
    let answer = app.create_handoff(json!({ "kind": "login" }), None).await;
    let (id, secret) = (answer["id"].as_str().unwrap(), answer["pollSecret"].as_str().unwrap());
    let (status, wrong) = app.poll_handoff(id, &format!("{secret}x")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(wrong["code"], "NOT_FOUND");
    let (_, unknown) = app.poll_handoff(&HandoffId::new().to_string(), secret).await;
    assert_eq!(unknown, wrong, "unknown and wrong-secret polls look alike");
    let (status, malformed) = app.poll_handoff("not-an-id", secret).await;
    assert_eq!((status, &malformed), (StatusCode::NOT_FOUND, &wrong));

    let admin = app.admin().await;
    let token = app.session_for(&admin, SessionStage::Authenticated).await;
    app.complete_in_store(id, result_with(&app.live_session(&token).await, &token)).await;
    let (status, _) = app.poll_handoff(id, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a completed hand-off is not given to a wrong secret");
    let (status, body) = app.poll_handoff(id, secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sessionToken"], token);
}

/// The clock is injected through the domain rules: a hand-off created eleven minutes ago is
/// expired now, pending or completed, though Redis would still keep it for a minute more.
async fn a_poll_after_expiry_is_refused(app: &TestApp) {
    let created = Utc::now() - DEFAULT_TTL - Duration::minutes(1);
    let store = &app.running.state.handoffs;
    let fresh = Handoff::create(HandoffKind::Login, None, rand::random(), rand::random(), Utc::now(), DEFAULT_TTL);
    store.create_handoff(&fresh.handoff, Utc::now()).await.unwrap();
    let (status, _) = app.poll_handoff(&fresh.handoff.id.to_string(), &fresh.poll_secret).await;
    assert_eq!(status, StatusCode::ACCEPTED, "the same construction, unexpired, is pending");

    for completed in [false, true] {
        let old = Handoff::create(HandoffKind::Login, None, rand::random(), rand::random(), created, DEFAULT_TTL);
        store.create_handoff(&old.handoff, created).await.unwrap();
        if completed {
            let result = HandoffResult {
                org_id: app.org,
                member_id: app.admin().await.id,
                session_token: Some("t".into()),
                token: None,
                grant: None,
            };
            assert!(store.complete_handoff(old.handoff.id, &result, created).await.unwrap());
        }
        let (status, body) = app.poll_handoff(&old.handoff.id.to_string(), &old.poll_secret).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("NOT_FOUND")),
            "completed: {completed}"
        );
        let started = HandoffStarted {
            id: old.handoff.id.to_string(),
            user_code: old.handoff.user_code.clone(),
            verification_url: String::new(),
            poll_secret: old.poll_secret.clone(),
            expires_in: 0,
            interval: 1,
        };
        let waited = Client::new(&app.url).unwrap().wait(&started).await;
        assert!(matches!(waited, Err(CliError::Expired)), "{waited:?}");
    }
}

/// A result is delivered once, even to polls racing each other; then the hand-off is gone.
async fn a_result_is_delivered_once(app: &TestApp) {
    let answer = app.create_handoff(json!({ "kind": "login" }), None).await;
    let (id, secret) = (answer["id"].as_str().unwrap(), answer["pollSecret"].as_str().unwrap());
    let admin = app.admin().await;
    let token = app.session_for(&admin, SessionStage::Authenticated).await;
    app.complete_in_store(id, result_with(&app.live_session(&token).await, &token)).await;
    let polls = futures::future::join_all((0..5).map(|_| app.poll_handoff(id, secret))).await;
    let delivered: Vec<&Value> = polls.iter().filter(|(s, _)| *s == StatusCode::OK).map(|(_, b)| b).collect();
    assert_eq!(delivered.len(), 1, "{polls:?}");
    assert_eq!(
        delivered[0],
        &json!({ "status": "complete", "sessionToken": token, "grant": { "action": "security_key", "reuse": "CLASS" } })
    );
    assert!(polls.iter().filter(|(s, _)| *s != StatusCode::OK).all(|(s, _)| *s == StatusCode::NOT_FOUND));
    let (status, _) = app.poll_handoff(id, secret).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a second delivery is refused");
    let client = Client::new(&app.url).unwrap();
    let started: HandoffStarted = serde_json::from_value(answer.clone()).unwrap();
    assert!(matches!(client.poll(&started).await, Err(CliError::Expired)));
}

async fn bad_requests_get_clear_codes(app: &TestApp) {
    let bad =
        |body: Value, token: Option<&'static str>| async move { app.post_handoff("/cli/handoff", body, token).await };
    let (status, body) = bad(json!({ "kind": "coffee" }), None).await;
    assert_eq!(
        (status, body["code"].as_str(), body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BAD_USER_INPUT"), Some("body"))
    );
    let (status, body) = bad(json!({ "kind": "step_up", "action": "Delete Everything", "token": true }), None).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("action")));
    let (_, body) = bad(json!({ "kind": "step_up", "action": "cli.login", "token": true }), None).await;
    assert_eq!(body["field"], "action", "login hand-offs are asked for as such");
    let (_, body) =
        bad(json!({ "kind": "step_up", "action": "a.b", "resource": "line\nbreak", "token": true }), None).await;
    assert_eq!(body["field"], "resource");
    let (status, body) = bad(json!({ "kind": "step_up", "action": "a.b", "resource": "r:1" }), None).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::BAD_REQUEST, Some("token")), "anonymous needs token");
    assert!(body["message"].as_str().unwrap().contains("\"token\": true"), "{body}");
    let (status, body) =
        bad(json!({ "kind": "step_up", "action": "a.b", "token": false }), Some("kw1.dead.token")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED")));
    let admin = app.admin().await;
    let pending = app.session_for(&admin, SessionStage::MfaRequired).await;
    let (status, body) = app
        .post_handoff("/cli/handoff", json!({ "kind": "step_up", "action": "a.b", "token": true }), Some(&pending))
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("MFA_REQUIRED")));
    let answer = app.create_handoff(json!({ "kind": "step_up", "action": "a.b", "token": true }), None).await;
    assert_eq!(
        answer["verificationUrl"],
        format!(
            "http://localhost:8080/step-up?action=a.b&handoff={}&code={}",
            answer["id"].as_str().unwrap(),
            answer["userCode"].as_str().unwrap()
        ),
        "no resource, none in the URL"
    );
}

async fn creating_hand_offs_is_rate_limited_per_network(app: &TestApp) {
    let limit = keyward_domain::handoff::CREATE_PER_NETWORK.max;
    for _ in 0..limit {
        app.create_handoff(json!({ "kind": "login" }), None).await;
    }
    let response =
        app.client.post(format!("{}/cli/handoff", app.url)).json(&json!({ "kind": "login" })).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "RATE_LIMITED");
    assert_eq!(body["retryAfterSeconds"], retry_after);
}

/// A step-up asked for with a CLI session lands on that session, so only its member may
/// approve it (from their browser session); another member is refused at `stepUpBegin`.
async fn a_bound_hand_off_is_refused_to_another_member(app: &TestApp) {
    let alice = app.member("alice").await;
    let cli = app.session_for(&alice, SessionStage::Authenticated).await;
    let request =
        json!({ "kind": "step_up", "action": "security_key.delete", "resource": "security_key:1", "token": false });
    let answer = app.create_handoff(request, Some(&cli)).await;
    let id = answer["id"].as_str().unwrap();
    let (state, now) = (&app.running.state, Utc::now());

    let bob = app.member("bob").await;
    let bob_browser = app.live_session(&app.session_for(&bob, SessionStage::Authenticated).await).await;
    let refused = approval::check(state, &bob_browser, "security_key.delete", Some("security_key:1"), id, now).await;
    match refused {
        Err(keyward_domain::DomainError::BadInput { field, message, .. }) => {
            assert_eq!(field, "handoff");
            assert!(message.contains("another member"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let admin_browser = app.live_session(&app.session_for(&app.admin().await, SessionStage::Authenticated).await).await;
    assert!(
        approval::check(state, &admin_browser, "security_key.delete", Some("security_key:1"), id, now).await.is_err(),
        "not even an admin"
    );

    let alice_browser = app.live_session(&app.session_for(&alice, SessionStage::Authenticated).await).await;
    approval::check(state, &alice_browser, "security_key.delete", Some("security_key:1"), id, now)
        .await
        .expect("the member whose terminal asked may approve");
    let wrong_resource =
        approval::check(state, &alice_browser, "security_key.delete", Some("security_key:2"), id, now).await;
    assert!(matches!(wrong_resource, Err(keyward_domain::DomainError::BadInput { .. })));
    let unknown =
        approval::check(state, &alice_browser, "security_key.delete", None, &HandoffId::new().to_string(), now).await;
    assert!(matches!(unknown, Err(keyward_domain::DomainError::BadInput { .. })));
}

/// `keyward login` as a library call: the terminal's poll picks up the approval, checks the
/// session with `viewer`, and saves it readable by its owner only.
async fn login_saves_owner_only_credentials(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("xdg").join("keyward").join("credentials.json");
    let (mut prompt, mut started) = browser();
    let (url, file) = (app.url.clone(), path.clone());
    let terminal = tokio::spawn(async move { cli_client::login(&url, &file, &mut prompt).await });
    let handoff = started.recv().await.unwrap();
    assert!(handoff.verification_url.contains("action=cli.login"));
    let admin = app.admin().await;
    let token = app.session_for(&admin, SessionStage::Authenticated).await;
    app.complete_in_store(&handoff.id, result_with(&app.live_session(&token).await, &token)).await;
    let saved = terminal.await.unwrap().unwrap();
    assert_eq!((saved.username.as_str(), saved.organization.as_str()), ("admin", "default"));
    assert_eq!(saved.session_token, token);
    assert_eq!(saved.url, format!("{}/", app.url));
    assert_eq!(cli_client::Credentials::load(&path).unwrap(), Some(saved));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

/// The terminal's poll loop ends with the hand-off: a pending hand-off polls pending, and
/// `keyward gql` without a saved session says how to log in.
async fn the_cli_reports_pending_and_missing_sessions(app: &TestApp) {
    let client = Client::new(&app.url).unwrap();
    let started = client.create_handoff(&HandoffRequest::Login, None).await.unwrap();
    assert_eq!(client.poll(&started).await.unwrap(), Poll::Pending);
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("credentials.json");
    let (mut prompt, _rx) = browser();
    let outcome = cli_client::gql(&missing, "{ viewer { id } }", &json!({}), &mut prompt).await;
    assert!(matches!(outcome, Err(CliError::NotLoggedIn)));
    let refused = client
        .create_handoff(&HandoffRequest::StepUp { action: "a.b".into(), resource: None, token: false }, None)
        .await;
    assert_eq!(refused.unwrap_err().code(), Some("BAD_USER_INPUT"));
}

/// The SPA's part: opens the verification URL as the page would (action, resource and hand-off
/// from its query), shows the code, and runs stepUpBegin/stepUpFinish with the member's key.
/// Returns the stepUpFinish payload; `browser_token` becomes the rotated one.
async fn approve_in_browser(
    app: &TestApp,
    browser_token: &mut String,
    key: &mut impl webauthn_authenticator_rs::AuthenticatorBackendHashedClientData,
    started: &HandoffStarted,
) -> Value {
    let url = url::Url::parse(&started.verification_url).unwrap();
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(param("code").as_deref(), Some(started.user_code.as_str()), "the page shows the terminal's code");
    assert_eq!(param("handoff").as_deref(), Some(started.id.as_str()));
    let begin = app
        .ok(
            "mutation($a: String!, $r: String, $h: ID) { stepUpBegin(action: $a, resource: $r, handoff: $h) { ceremonyId options } }",
            json!({ "a": param("action"), "r": param("resource"), "h": param("handoff") }),
            Some(browser_token),
        )
        .await;
    let begin = &begin["stepUpBegin"];
    let response = TestApp::get(key, &begin["options"], common::authn::ORIGIN);
    let finish = app
        .ok(
            "mutation($c: ID!, $r: JSON!) { stepUpFinish(ceremonyId: $c, response: $r) { grant { action resource reuse } sessionToken token } }",
            json!({ "c": begin["ceremonyId"], "r": response }),
            Some(browser_token),
        )
        .await;
    let payload = finish["stepUpFinish"].clone();
    *browser_token = payload["sessionToken"].as_str().unwrap().to_owned();
    payload
}

/// `keyward login` approved in the browser: the terminal gets a new key-backed session of its
/// own (not the browser's), it works for `viewer`, and the login is audited.
async fn a_terminal_logs_in_through_the_browser(app: &TestApp) {
    let (mut browser_token, mut key) = app.admin_with_key().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyward").join("credentials.json");
    let (saved, _) = log_terminal_in(app, &mut browser_token, &mut key, &path).await;
    assert_ne!(saved.session_token, browser_token);
    let (_, body) = app
        .graphql(
            "{ viewer { stage methods keyId mfaVerifiedAt member { username } } }",
            json!({}),
            Some(&saved.session_token),
        )
        .await;
    let viewer = &body["data"]["viewer"];
    assert_eq!(viewer["stage"], "AUTHENTICATED", "{body}");
    assert_eq!(viewer["methods"], json!(["BACKUP_CREDENTIALS", "SECURITY_KEY"]));
    assert!(viewer["keyId"].is_string() && viewer["mfaVerifiedAt"].is_string(), "{viewer}");
    assert!(app.is_live(&browser_token).await, "the browser keeps its own session");
    let events = app
        .ok(
            "{ auditEvents(first: 5, filter: { action: \"cli.login\" }) { nodes { summary } } }",
            json!({}),
            Some(&browser_token),
        )
        .await;
    assert_eq!(events["auditEvents"]["nodes"][0]["summary"], "admin logged a terminal in with a security key");
}

/// Runs `keyward login` against `app`, approved in the browser; returns what was saved and the
/// browser's stepUpFinish payload.
async fn log_terminal_in(
    app: &TestApp,
    browser_token: &mut String,
    key: &mut impl webauthn_authenticator_rs::AuthenticatorBackendHashedClientData,
    path: &std::path::Path,
) -> (cli_client::Credentials, Value) {
    let (mut prompt, mut started) = browser();
    let (url, file) = (app.url.clone(), path.to_owned());
    let terminal = tokio::spawn(async move { cli_client::login(&url, &file, &mut prompt).await });
    let handoff = started.recv().await.unwrap();
    let payload = approve_in_browser(app, browser_token, key, &handoff).await;
    (terminal.await.unwrap().unwrap(), payload)
}

/// `keyward gql` meets STEP_UP_REQUIRED: the step-up is approved in the browser, the grant lands
/// on the terminal's session (whose rotated token is saved), and the request goes through on
/// the one retry.
async fn gql_steps_up_in_the_browser_and_retries_once(app: &TestApp) {
    let (mut browser_token, mut key) = app.admin_with_key().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyward").join("credentials.json");
    let (saved, _) = log_terminal_in(app, &mut browser_token, &mut key, &path).await;
    // The terminal's key check is an hour old: admin actions need one within five minutes.
    let cli = app.live_session(&saved.session_token).await;
    let mut aged = cli.clone();
    aged.mfa_verified_at = Some(Utc::now() - Duration::hours(1));
    assert!(app.running.state.sessions.replace(&cli.token_hash, &aged, Utc::now()).await.unwrap());

    let alice = app.member("alice").await;
    let query = "mutation($m: ID!) { memberSessionsRevoke(memberId: $m) }";
    let (_, refused) = app.graphql(query, json!({ "m": alice.id.to_string() }), Some(&saved.session_token)).await;
    assert_eq!(common::error_code(&refused), "STEP_UP_REQUIRED", "{refused}");

    let (mut prompt, mut started) = browser();
    let (file, variables) = (path.clone(), json!({ "m": alice.id.to_string() }));
    let terminal = tokio::spawn(async move { cli_client::gql(&file, query, &variables, &mut prompt).await });
    let handoff = started.recv().await.unwrap();
    assert!(handoff.verification_url.contains("action=member.sessions.revoke"), "{}", handoff.verification_url);
    let payload = approve_in_browser(app, &mut browser_token, &mut key, &handoff).await;
    assert_eq!(payload["grant"]["action"], "member.sessions.revoke");
    let outcome = terminal.await.unwrap().unwrap();
    assert!(outcome.stepped_up);
    assert_eq!(outcome.body["data"]["memberSessionsRevoke"], 0, "{}", outcome.body);
    outcome.error().unwrap();
    let rotated = cli_client::Credentials::load(&path).unwrap().unwrap();
    assert_ne!(rotated.session_token, saved.session_token, "the grant rotated the terminal's session");
    assert!(!app.is_live(&saved.session_token).await);
    assert!(app.is_live(&rotated.session_token).await);
    assert!(started.try_recv().is_err(), "one step-up, one retry");
}

/// `keyward step-up --token` without a saved session: the JWT goes to the terminal only (the
/// browser's stepUpFinish did not ask for one) and verifies offline against the JWKS.
async fn a_step_up_token_is_delivered_to_the_terminal(app: &TestApp) {
    let (mut browser_token, mut key) = app.admin_with_key().await;
    let dir = tempfile::tempdir().unwrap();
    let nobody = dir.path().join("credentials.json");
    let (mut prompt, mut started) = browser();
    let (url, file) = (app.url.clone(), nobody.clone());
    let terminal = tokio::spawn(async move {
        cli_client::step_up(Some(&url), &file, "deploy.production", Some("service:api"), true, &mut prompt).await
    });
    let handoff = started.recv().await.unwrap();
    let payload = approve_in_browser(app, &mut browser_token, &mut key, &handoff).await;
    assert_eq!(payload["token"], Value::Null, "the browser asked for no token");
    let result = terminal.await.unwrap().unwrap();
    assert_eq!(result.session_token, None, "no session was bound");
    let jwt = result.token.unwrap();
    let jwks = format!("{}/.well-known/jwks.json", app.url);
    let claims = cli_client::commands::verify_token(
        &jwt,
        "deploy.production",
        "service:api",
        &jwks,
        Some("http://localhost:8080"),
    )
    .await
    .unwrap();
    assert_eq!(claims.sub, app.admin().await.id.to_string());
    let wrong =
        cli_client::commands::verify_token(&jwt, "deploy.staging", "service:api", &jwks, None).await.unwrap_err();
    assert!(wrong.to_string().contains("not \"deploy.staging\""), "{wrong}");
    assert!(!nobody.exists(), "nothing saved without a session");
}

/// At `stepUpBegin` another member cannot take over a terminal's bound step-up.
async fn another_member_cannot_approve_a_bound_step_up_in_graphql(app: &TestApp) {
    let alice = app.member("alice").await;
    let cli = app.session_for(&alice, SessionStage::Authenticated).await;
    let request =
        json!({ "kind": "step_up", "action": "security_key.delete", "resource": "security_key:1", "token": false });
    let answer = app.create_handoff(request, Some(&cli)).await;
    let bob = app.member("bob").await;
    let bob_browser = app.session_for(&bob, SessionStage::Authenticated).await;
    let (_, body) = app
        .graphql(
            "mutation($h: ID) { stepUpBegin(action: \"security_key.delete\", resource: \"security_key:1\", handoff: $h) { ceremonyId } }",
            json!({ "h": answer["id"] }),
            Some(&bob_browser),
        )
        .await;
    assert_eq!(common::error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "handoff");
}

on_both_backends!(
    a_terminal_logs_in_through_the_browser,
    gql_steps_up_in_the_browser_and_retries_once,
    a_step_up_token_is_delivered_to_the_terminal,
    another_member_cannot_approve_a_bound_step_up_in_graphql,
    a_login_hand_off_is_created_and_polled,
    a_wrong_poll_secret_is_refused,
    a_poll_after_expiry_is_refused,
    a_result_is_delivered_once,
    bad_requests_get_clear_codes,
    creating_hand_offs_is_rate_limited_per_network,
    a_bound_hand_off_is_refused_to_another_member,
    login_saves_owner_only_credentials,
    the_cli_reports_pending_and_missing_sessions,
);
