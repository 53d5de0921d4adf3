//! The HTTP calls a terminal makes: hand-offs and GraphQL.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::CliError;
use super::prompt::Prompt;

/// Longest a single request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Extra polls allowed past the hand-off's lifetime, for clock and network slack.
const SPARE_POLLS: u64 = 3;

/// A Keyward server, as a terminal talks to it.
#[derive(Clone, Debug)]
pub struct Client {
    base: Url,
    http: reqwest::Client,
}

/// What the terminal asks the browser to approve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HandoffRequest {
    /// A new session for whoever approves.
    Login,
    /// A step-up for one action: a grant on the session sent along, and/or a JWT.
    StepUp {
        /// The action.
        action: String,
        /// The resource.
        resource: Option<String>,
        /// Whether a step-up JWT is wanted.
        token: bool,
    },
}

/// A hand-off the server created (`POST /cli/handoff`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandoffStarted {
    /// The hand-off's ID.
    pub id: String,
    /// The code to compare in the browser.
    pub user_code: String,
    /// The page to approve it on.
    pub verification_url: String,
    /// The secret that collects the result.
    pub poll_secret: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
}

/// What an approved hand-off delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandoffResult {
    /// A new session (login) or the rotated session the hand-off was bound to.
    pub session_token: Option<String>,
    /// The step-up JWT.
    pub token: Option<String>,
    /// The grant (`{action, resource, reuse, expiresAt}`).
    pub grant: Option<Value>,
}

/// One poll's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Not approved yet.
    Pending,
    /// Approved: the result, delivered this once.
    Complete(HandoffResult),
}

fn transport(err: reqwest::Error) -> CliError {
    CliError::Transport(format!("cannot reach Keyward: {err}"))
}

/// The API's error body (`{code, message}`), or a description of what came instead.
async fn refusal(response: reqwest::Response) -> CliError {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match (body["code"].as_str(), body["message"].as_str()) {
        (Some(code), Some(message)) => CliError::Refused { code: code.to_owned(), message: message.to_owned() },
        _ => CliError::Transport(format!("unexpected answer from Keyward (HTTP {status}); is the URL right?")),
    }
}

impl Client {
    /// A client for the server at `url` (its `public_url`).
    pub fn new(url: &str) -> Result<Self, CliError> {
        let mut base = Url::parse(url).map_err(|e| CliError::Usage(format!("--url {url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(CliError::Usage(format!("--url {url:?}: expected an http(s) URL")));
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("keyward-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(transport)?;
        Ok(Self { base, http })
    }

    /// The server's URL, as saved with the credentials.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    fn endpoint(&self, path: &str) -> Url {
        self.base.join(path).expect("a relative path joins")
    }

    /// Asks for a hand-off, bound to `session` when given (step-ups only).
    pub async fn create_handoff(
        &self,
        request: &HandoffRequest,
        session: Option<&str>,
    ) -> Result<HandoffStarted, CliError> {
        let mut call = self.http.post(self.endpoint("cli/handoff")).json(request);
        if let Some(token) = session {
            call = call.bearer_auth(token);
        }
        let response = call.send().await.map_err(transport)?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        response.json().await.map_err(transport)
    }

    /// Polls once.
    pub async fn poll(&self, started: &HandoffStarted) -> Result<Poll, CliError> {
        let body = json!({ "id": started.id, "pollSecret": started.poll_secret });
        let response = self.http.post(self.endpoint("cli/handoff/poll")).json(&body).send().await.map_err(transport)?;
        match response.status().as_u16() {
            202 => Ok(Poll::Pending),
            200 => Ok(Poll::Complete(response.json().await.map_err(transport)?)),
            404 => Err(CliError::Expired),
            _ => Err(refusal(response).await),
        }
    }

    /// Polls every `interval` seconds until the hand-off is approved, for at most its lifetime
    /// (and a few spare polls); rate-limited polls wait as told.
    pub async fn wait(&self, started: &HandoffStarted) -> Result<HandoffResult, CliError> {
        let interval = started.interval.max(1);
        let mut budget = started.expires_in / interval + SPARE_POLLS;
        loop {
            let pause = match self.poll(started).await {
                Ok(Poll::Complete(result)) => return Ok(result),
                Ok(Poll::Pending) => interval,
                Err(CliError::Refused { code, .. }) if code == "RATE_LIMITED" => interval * 2,
                Err(err) => return Err(err),
            };
            budget = budget.saturating_sub(1);
            if budget == 0 {
                return Err(CliError::Expired);
            }
            tokio::time::sleep(Duration::from_secs(pause)).await;
        }
    }

    /// Asks for a hand-off, shows it through `prompt`, and waits for its result.
    pub async fn hand_off(
        &self,
        request: &HandoffRequest,
        session: Option<&str>,
        prompt: &mut dyn Prompt,
    ) -> Result<HandoffResult, CliError> {
        let started = self.create_handoff(request, session).await?;
        prompt.handoff_started(request, &started);
        let result = self.wait(&started).await;
        prompt.handoff_finished(result.is_ok());
        result
    }

    /// Sends one GraphQL request with `token` as Bearer; returns the whole body.
    pub async fn graphql(&self, token: &str, query: &str, variables: &Value) -> Result<Value, CliError> {
        let response = self
            .http
            .post(self.endpoint("graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        response.json().await.map_err(|_| {
            CliError::Transport(format!("unexpected answer from Keyward (HTTP {status}); is the URL right?"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_as_bases() {
        let client = Client::new("https://keyward.example.com/sub").unwrap();
        assert_eq!(client.endpoint("cli/handoff").as_str(), "https://keyward.example.com/sub/cli/handoff");
        let client = Client::new("http://localhost:8080").unwrap();
        assert_eq!(client.url(), "http://localhost:8080/");
        assert!(matches!(Client::new("ftp://x"), Err(CliError::Usage(_))));
        assert!(matches!(Client::new("not a url"), Err(CliError::Usage(_))));
    }

    #[test]
    fn requests_serialize_as_the_contract_says() {
        assert_eq!(serde_json::to_value(HandoffRequest::Login).unwrap(), json!({ "kind": "login" }));
        let step_up = HandoffRequest::StepUp { action: "a.b".into(), resource: Some("r:1".into()), token: true };
        assert_eq!(
            serde_json::to_value(step_up).unwrap(),
            json!({ "kind": "step_up", "action": "a.b", "resource": "r:1", "token": true })
        );
    }
}
