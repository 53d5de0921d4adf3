//! `keyward login`, `keyward gql` and `keyward step-up`, as library calls: each returns what
//! the binary prints, and takes the credentials file and the prompt as arguments.

use std::path::Path;

use serde_json::{Value, json};

use keyward_domain::step_up_token::StepUpClaims;

use super::CliError;
use super::api::{Client, HandoffRequest, HandoffResult};
use super::credentials::Credentials;
use super::prompt::Prompt;
use crate::tokens::{load_jwks, verify_offline};

const WHO_AM_I: &str = "{ viewer { member { username } organization { slug } } }";

/// `keyward login --url URL`: approves a new session in the browser and saves it to
/// `credentials`. Returns what was saved.
pub async fn login(url: &str, credentials: &Path, prompt: &mut dyn Prompt) -> Result<Credentials, CliError> {
    let client = Client::new(url)?;
    let result = client.hand_off(&HandoffRequest::Login, None, prompt).await?;
    let token = result
        .session_token
        .ok_or_else(|| CliError::Transport("the approved login carried no session token".into()))?;
    let body = client.graphql(&token, WHO_AM_I, &json!({})).await?;
    first_error(&body)?;
    let viewer = &body["data"]["viewer"];
    let (Some(username), Some(organization)) =
        (viewer["member"]["username"].as_str(), viewer["organization"]["slug"].as_str())
    else {
        return Err(CliError::Transport(format!("the new session does not work: {body}")));
    };
    let saved = Credentials {
        url: client.url().to_owned(),
        session_token: token,
        organization: organization.to_owned(),
        username: username.to_owned(),
    };
    saved.save(credentials)?;
    Ok(saved)
}

/// The first GraphQL error as a [`CliError::Graphql`].
fn first_error(body: &Value) -> Result<(), CliError> {
    match body["errors"].get(0) {
        None => Ok(()),
        Some(error) => Err(CliError::Graphql {
            code: error["extensions"]["code"].as_str().unwrap_or("UNKNOWN").to_owned(),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
        }),
    }
}

/// Every `sessionToken` string in the answer's data: a payload that rotated the session.
fn rotated_token(data: &Value) -> Option<String> {
    match data {
        Value::Object(map) => map.get("sessionToken").and_then(Value::as_str).map(str::to_owned).or_else(|| {
            map.iter().filter(|(key, _)| *key != "sessionToken").find_map(|(_, value)| rotated_token(value))
        }),
        Value::Array(items) => items.iter().find_map(rotated_token),
        _ => None,
    }
}

/// The saved credentials, or [`CliError::NotLoggedIn`].
fn saved(credentials: &Path) -> Result<Credentials, CliError> {
    Credentials::load(credentials)?.ok_or(CliError::NotLoggedIn)
}

/// Saves `token` in place of the saved session's.
fn keep_token(credentials: &Path, saved: &mut Credentials, token: String) -> Result<(), CliError> {
    if saved.session_token != token {
        saved.session_token = token;
        saved.save(credentials)?;
    }
    Ok(())
}

/// What `keyward gql` got: the body to print, and whether it carries errors.
pub struct GqlOutcome {
    /// The last answer's whole body.
    pub body: Value,
    /// Whether a step-up hand-off ran before the retry.
    pub stepped_up: bool,
}

impl GqlOutcome {
    /// The first error as a [`CliError::Graphql`] (exit non-zero with its code).
    pub fn error(&self) -> Result<(), CliError> {
        first_error(&self.body)
    }
}

/// `keyward gql QUERY [--variables JSON]` with the saved session. A rotated `sessionToken` in
/// the answer is saved. On `STEP_UP_REQUIRED` a step-up hand-off bound to this session runs (the
/// grant lands on it, under a rotated token that is saved), then the request is sent once more.
pub async fn gql(
    credentials: &Path,
    query: &str,
    variables: &Value,
    prompt: &mut dyn Prompt,
) -> Result<GqlOutcome, CliError> {
    let mut saved = saved(credentials)?;
    let client = Client::new(&saved.url)?;
    let mut stepped_up = false;
    loop {
        let body = client.graphql(&saved.session_token, query, variables).await?;
        if let Some(token) = rotated_token(&body["data"]) {
            keep_token(credentials, &mut saved, token)?;
        }
        let error = &body["errors"][0];
        if stepped_up || error["extensions"]["code"] != "STEP_UP_REQUIRED" {
            return Ok(GqlOutcome { body, stepped_up });
        }
        let Some(action) = error["extensions"]["action"].as_str() else {
            return Ok(GqlOutcome { body, stepped_up });
        };
        let request = HandoffRequest::StepUp {
            action: action.to_owned(),
            resource: error["extensions"]["resource"].as_str().map(str::to_owned),
            token: false,
        };
        let result = client.hand_off(&request, Some(&saved.session_token), prompt).await?;
        if let Some(token) = result.session_token {
            keep_token(credentials, &mut saved, token)?;
        }
        stepped_up = true;
    }
}

/// `keyward step-up --action A --resource R [--token]`: a step-up approved in the browser. With
/// a saved session the grant lands on it (its rotated token is saved); with `want_token` a
/// step-up JWT is returned (with or without a saved session).
pub async fn step_up(
    url: Option<&str>,
    credentials: &Path,
    action: &str,
    resource: Option<&str>,
    want_token: bool,
    prompt: &mut dyn Prompt,
) -> Result<HandoffResult, CliError> {
    let mut session = Credentials::load(credentials)?;
    if let (Some(url), Some(saved)) = (url, &session)
        && Client::new(url)?.url() != saved.url
    {
        // The saved session belongs to another server: ask this one without it.
        session = None;
    }
    if session.is_none() && !want_token {
        return Err(CliError::Usage(
            "without a saved session (keyward login) the step-up can only deliver a token: add --token".into(),
        ));
    }
    let url =
        url.map(str::to_owned).or_else(|| session.as_ref().map(|s| s.url.clone())).ok_or(CliError::NotLoggedIn)?;
    let client = Client::new(&url)?;
    let request =
        HandoffRequest::StepUp { action: action.to_owned(), resource: resource.map(str::to_owned), token: want_token };
    let bound = session.as_ref().map(|s| s.session_token.as_str());
    let result = client.hand_off(&request, bound, prompt).await?;
    if let (Some(saved), Some(token)) = (session.as_mut(), result.session_token.clone()) {
        keep_token(credentials, saved, token)?;
    }
    if want_token && result.token.is_none() {
        return Err(CliError::Transport("the approval carried no step-up token".into()));
    }
    Ok(result)
}

/// `keyward step-up verify`: checks a step-up JWT offline against a JWKS (an URL or a file):
/// signature, issuer (when given), expiry, action and resource. Returns its claims.
pub async fn verify_token(
    token: &str,
    action: &str,
    resource: &str,
    jwks: &str,
    issuer: Option<&str>,
) -> Result<StepUpClaims, CliError> {
    let keys = load_jwks(jwks).await.map_err(|e| CliError::Io(format!("--jwks: {e}")))?;
    let now = chrono::Utc::now().timestamp();
    verify_offline(token.trim(), action, resource, issuer, &keys, now, None)
        .map_err(|e| CliError::Refused { code: "TOKEN_REFUSED".into(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_tokens_are_found_in_any_payload() {
        let data = json!({ "securityKeyDelete": { "remainingKeys": 1, "sessionToken": "kw1.new" } });
        assert_eq!(rotated_token(&data).as_deref(), Some("kw1.new"));
        assert_eq!(rotated_token(&json!({ "a": [{ "b": { "sessionToken": "t" } }] })).as_deref(), Some("t"));
        assert_eq!(rotated_token(&json!({ "viewer": { "id": "1" }, "x": { "sessionToken": null } })), None);
        assert_eq!(rotated_token(&Value::Null), None);
    }

    #[test]
    fn graphql_errors_carry_their_code() {
        let body = json!({ "errors": [{ "message": "no", "extensions": { "code": "FORBIDDEN" } }] });
        let err = first_error(&body).unwrap_err();
        assert_eq!(err.code(), Some("FORBIDDEN"));
        assert_eq!(err.to_string(), "FORBIDDEN: no");
        assert!(first_error(&json!({ "data": {} })).is_ok());
    }
}
