//! Driving logins and WebAuthn ceremonies through GraphQL with software authenticators.

use chrono::Utc;
use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::repo::{PolicyKind, PolicyRepo, StoredPolicy};
use keyward_domain::webauthn_policy::WebauthnPolicy;
use keyward_testkit::browser;
use serde_json::{Value, json};
use webauthn_authenticator_rs::AuthenticatorBackendHashedClientData;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use super::TestApp;
use super::oidc::{IdpUser, TestIdp};

pub const ORIGIN: &str = "http://localhost:8080";

pub const LOGIN_FIELDS: &str =
    "sessionToken stage gracePeriodEndsAt viewer { id stage role methods keyId mfaVerifiedAt }";

/// A security key that verifies its user (PIN) when `uv`.
pub fn soft_key(uv: bool) -> SoftPasskey {
    SoftPasskey::new(uv)
}

impl TestApp {
    /// Stores the organization's WebAuthn policy as is, bypassing the API's checks (a policy
    /// stored before a rule existed).
    pub async fn store_webauthn_policy(&self, policy: &WebauthnPolicy) {
        let body = serde_json::to_string(policy).unwrap();
        let current = self.db.policy(self.org, PolicyKind::Webauthn).await.unwrap().map_or(0, |p| p.version);
        let stored = StoredPolicy {
            kind: PolicyKind::Webauthn,
            body,
            updated_at: Utc::now(),
            updated_by: None,
            version: current + 1,
        };
        self.db.put_policy(self.org, stored, current, AuditRecord::new(Actor::System, "org.policy.set")).await.unwrap();
        // What a save through the API does too: every instance reads the new version next.
        let sessions = &self.running.state.sessions;
        sessions.announce_policy_version(self.org, PolicyKind::Webauthn, current + 1, false).await.unwrap();
    }

    /// Saves the WebAuthn policy through the API as `token`; returns the whole GraphQL body.
    pub async fn update_webauthn_policy(&self, token: &str, policy: Value) -> Value {
        let update = "mutation($p: WebauthnPolicyInput!) { webauthnPolicyUpdate(input: $p) { attestation allowedAaguids deniedAaguids } }";
        self.graphql(update, json!({ "p": policy }), Some(token)).await.1
    }

    /// Runs a mutation or query and returns `data` (panics on errors).
    pub async fn ok(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let (_, body) = self.graphql(query, variables, token).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
        body["data"].clone()
    }

    /// Logs in with the bootstrap backup credentials.
    pub async fn backup_login(&self) -> Value {
        let secret = self.running.credentials.as_ref().expect("this app bootstrapped").secret.clone();
        let data = self
            .ok(
                &format!("mutation($s: String!) {{ backupCredentialsLogin(organization: \"default\", username: \"admin\", secret: $s) {{ {LOGIN_FIELDS} }} }}"),
                json!({ "s": secret }),
                None,
            )
            .await;
        data["backupCredentialsLogin"].clone()
    }

    /// The bootstrap admin, logged in with backup credentials and a newly registered key:
    /// (token, key).
    pub async fn admin_with_key(&self) -> (String, SoftPasskey) {
        let mut token = token_of(&self.backup_login().await);
        let mut key = soft_key(true);
        self.register_key(&mut token, &mut key, "Admin key").await;
        (token, key)
    }

    /// Whether `token` still names a live session.
    pub async fn is_live(&self, token: &str) -> bool {
        let (_, body) = self.graphql("{ viewer { id } }", json!({}), Some(token)).await;
        body["data"]["viewer"].is_object()
    }

    /// Begins a registration; returns (ceremony ID, options).
    pub async fn registration_begin(&self, token: &str, name: &str) -> (String, Value) {
        let data = self
            .ok(
                "mutation($n: String!) { securityKeyRegistrationBegin(name: $n) { ceremonyId options } }",
                json!({ "n": name }),
                Some(token),
            )
            .await;
        let begin = &data["securityKeyRegistrationBegin"];
        (begin["ceremonyId"].as_str().unwrap().to_owned(), begin["options"].clone())
    }

    /// Has `key` answer registration options from a browser at `origin`; returns the response JSON.
    pub fn create(key: &mut impl AuthenticatorBackendHashedClientData, options: &Value, origin: &str) -> Value {
        browser::create(key, options, origin)
    }

    /// Has `key` answer assertion options from a browser at `origin`; returns the response JSON.
    pub fn get(key: &mut impl AuthenticatorBackendHashedClientData, options: &Value, origin: &str) -> Value {
        browser::get(key, options, origin)
    }

    /// Sends a registration response; returns the whole GraphQL body.
    pub async fn registration_finish(&self, token: &str, ceremony: &str, response: Value) -> Value {
        self.graphql(
            "mutation($c: ID!, $r: JSON!) { securityKeyRegistrationFinish(ceremonyId: $c, response: $r) { key { id name keyId model userVerified transports } sessionToken viewer { stage } } }",
            json!({ "c": ceremony, "r": response }),
            Some(token),
        )
        .await
        .1
    }

    /// Registers `key` under `name`; returns the payload. Registering rotates the session, so
    /// `token` becomes the new one, as a client would switch to it.
    pub async fn register_key(
        &self,
        token: &mut String,
        key: &mut impl AuthenticatorBackendHashedClientData,
        name: &str,
    ) -> Value {
        let (ceremony, options) = self.registration_begin(token, name).await;
        let response = Self::create(key, &options, ORIGIN);
        let body = self.registration_finish(token, &ceremony, response).await;
        assert!(body.get("errors").is_none(), "{body}");
        let payload = body["data"]["securityKeyRegistrationFinish"].clone();
        *token = token_of(&payload);
        payload
    }

    /// Begins the key step of login; returns (ceremony ID, options).
    pub async fn mfa_begin(&self, token: &str) -> (String, Value) {
        let data = self.ok("mutation { mfaLoginBegin { ceremonyId options } }", json!({}), Some(token)).await;
        let begin = &data["mfaLoginBegin"];
        (begin["ceremonyId"].as_str().unwrap().to_owned(), begin["options"].clone())
    }

    /// Sends an assertion; returns the whole GraphQL body.
    pub async fn mfa_finish(&self, token: &str, ceremony: &str, response: Value) -> Value {
        self.graphql(
            &format!(
                "mutation($c: ID!, $r: JSON!) {{ mfaLoginFinish(ceremonyId: $c, response: $r) {{ {LOGIN_FIELDS} }} }}"
            ),
            json!({ "c": ceremony, "r": response }),
            Some(token),
        )
        .await
        .1
    }

    /// Passes the key step with `key`; returns the login payload.
    pub async fn mfa_login(&self, token: &str, key: &mut impl AuthenticatorBackendHashedClientData) -> Value {
        let (ceremony, options) = self.mfa_begin(token).await;
        let response = Self::get(key, &options, ORIGIN);
        let body = self.mfa_finish(token, &ceremony, response).await;
        assert!(body.get("errors").is_none(), "{body}");
        body["data"]["mfaLoginFinish"].clone()
    }

    /// Configures SSO against `idp` (admin token), with `keyward-admins` as the admin group.
    pub async fn configure_sso(&self, admin_token: &str, idp: &TestIdp) {
        self.ok(
            "mutation($i: SsoConfigureInput!) { ssoConfigure(input: $i) { issuer redirectUri } }",
            json!({ "i": {
                "issuer": idp.issuer,
                "clientId": super::oidc::CLIENT_ID,
                "clientSecret": super::oidc::CLIENT_SECRET,
                "scopes": ["email", "profile", "groups"],
                "adminGroupClaim": "groups",
                "adminGroupValue": "keyward-admins",
            }}),
            Some(admin_token),
        )
        .await;
    }

    /// POSTs a GraphQL request from the test's browser: with its SSO binding cookie, keeping the
    /// one the response sets or clears, as a browser would. Returns the whole body.
    pub async fn graphql_in_browser(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let mut request =
            self.client.post(format!("{}/graphql", self.url)).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = self.with_sso_cookie(request).send().await.unwrap();
        self.keep_sso_cookie(response.headers());
        response.json().await.unwrap_or(Value::Null)
    }

    /// Changes browsers: from now on the test's browser holds `cookie` as its SSO binding cookie
    /// (`None`: none). Returns the one it held.
    pub fn swap_sso_cookie(&self, cookie: Option<String>) -> Option<String> {
        std::mem::replace(&mut *self.sso_cookie.lock().unwrap(), cookie)
    }

    fn sso_cookie_name(&self) -> &'static str {
        keyward_gateway::http::cookies::Cookie::SsoBinding.name(&self.running.state.config)
    }

    fn with_sso_cookie(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.sso_cookie.lock().unwrap().clone() {
            Some(value) => request.header("cookie", format!("{}={value}", self.sso_cookie_name())),
            None => request,
        }
    }

    fn keep_sso_cookie(&self, headers: &reqwest::header::HeaderMap) {
        let prefix = format!("{}=", self.sso_cookie_name());
        for set in headers.get_all("set-cookie") {
            if let Some(rest) = set.to_str().unwrap().strip_prefix(&prefix) {
                let value = rest.split(';').next().unwrap_or_default();
                self.swap_sso_cookie((!value.is_empty()).then(|| value.to_owned()));
            }
        }
    }

    /// Starts SSO in the test's browser; returns the authorization URL.
    pub async fn sso_start(&self) -> String {
        let query = "mutation { ssoLoginStart(organization: \"default\") { authorizationUrl } }";
        let body = self.graphql_in_browser(query, json!({}), None).await;
        body["data"]["ssoLoginStart"]["authorizationUrl"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned()
    }

    /// Finishes SSO in the test's browser; returns the whole GraphQL body.
    pub async fn sso_finish(&self, code: &str, state: &str) -> Value {
        self.graphql_in_browser(
            &format!(
                "mutation($c: String!, $s: String!) {{ ssoLoginFinish(code: $c, state: $s) {{ {LOGIN_FIELDS} }} }}"
            ),
            json!({ "c": code, "s": state }),
            None,
        )
        .await
    }

    /// The test browser's return from the IdP: `GET /auth/sso/callback`, redirects not followed.
    pub async fn sso_callback(&self, code: &str, state: &str) -> reqwest::Response {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let request = client.get(format!("{}/auth/sso/callback", self.url)).query(&[("code", code), ("state", state)]);
        let response = self.with_sso_cookie(request).send().await.unwrap();
        self.keep_sso_cookie(response.headers());
        response
    }

    /// Logs `user` in by SSO; returns the login payload.
    pub async fn sso_login(&self, idp: &TestIdp, user: &IdpUser) -> Value {
        let url = self.sso_start().await;
        let (code, state) = idp.authorize(&url, user);
        let body = self.sso_finish(&code, &state).await;
        assert!(body.get("errors").is_none(), "{body}");
        body["data"]["ssoLoginFinish"].clone()
    }
}

pub fn token_of(payload: &Value) -> String {
    payload["sessionToken"].as_str().expect("a session token").to_owned()
}
