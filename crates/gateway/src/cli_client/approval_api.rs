//! The GraphQL calls behind `keyward approval`, made with an API key, and the part of an
//! approval request they read.

use chrono::{DateTime, Utc};
use keyward_domain::approval::{ApprovalRequestInput, ApprovalStatus, VoteDecision};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::CliError;
use super::api::Client;
use super::approval::Connection;

/// The fields every call reads.
pub const REQUEST_FIELDS: &str = "id digest status reason approvalsNeeded expiresAt approvalUrl token approvals { username keyName decision reason }";

/// An approval request, as much of it as the CLI shows.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    /// Its ID.
    pub id: String,
    /// Its digest.
    pub digest: String,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// The policy's or the rejecter's reason.
    pub reason: Option<String>,
    /// Approvals still needed.
    pub approvals_needed: u32,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The page to approve it on.
    pub approval_url: String,
    /// The approval token, once approved (only for whoever created the request).
    pub token: Option<String>,
    /// The votes so far.
    #[serde(default)]
    pub approvals: Vec<VoteView>,
}

/// One vote.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoteView {
    /// Who voted.
    pub username: String,
    /// The name of the key they used.
    pub key_name: Option<String>,
    /// Approve or reject.
    pub decision: VoteDecision,
    /// A rejection's reason.
    pub reason: Option<String>,
}

impl RequestView {
    /// Usernames of those who approved, in order.
    pub fn approvers(&self) -> Vec<&str> {
        self.votes(VoteDecision::Approve).map(|v| v.username.as_str()).collect()
    }

    /// The first rejection, if a person rejected it.
    pub fn rejection(&self) -> Option<&VoteView> {
        self.votes(VoteDecision::Reject).next()
    }

    fn votes(&self, decision: VoteDecision) -> impl Iterator<Item = &VoteView> {
        self.approvals.iter().filter(move |v| v.decision == decision)
    }
}

/// The first GraphQL error (or the API's `{code, message}` body) as a [`CliError`].
pub fn first_error(body: &Value) -> Result<(), CliError> {
    if let (Some(code), Some(message)) = (body["code"].as_str(), body["message"].as_str()) {
        return Err(CliError::Refused { code: code.to_owned(), message: message.to_owned() });
    }
    match body["errors"].get(0) {
        None => Ok(()),
        Some(error) => Err(CliError::Graphql {
            code: error["extensions"]["code"].as_str().unwrap_or("UNKNOWN").to_owned(),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
        }),
    }
}

/// `data.<field>` of an answer without errors, as a [`RequestView`].
pub fn view_at(body: &Value, pointer: &str) -> Result<RequestView, CliError> {
    first_error(body)?;
    let value = body.pointer(pointer).filter(|v| !v.is_null()).ok_or_else(|| CliError::Graphql {
        code: "NOT_FOUND".into(),
        message: "no such approval request (or not one this API key created)".into(),
    })?;
    serde_json::from_value(value.clone())
        .map_err(|e| CliError::Transport(format!("unexpected approval request from Keyward: {e}")))
}

/// Keyward's approval API, called with an API key.
pub struct ApprovalApi {
    client: Client,
    key: String,
}

impl ApprovalApi {
    /// The API at `connection.url`.
    pub fn new(connection: &Connection) -> Result<Self, CliError> {
        if connection.api_key.trim().is_empty() {
            return Err(CliError::Usage("KEYWARD_API_KEY is empty".into()));
        }
        Ok(Self { client: Client::new(&connection.url)?, key: connection.api_key.trim().to_owned() })
    }

    /// The API key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Where the GraphQL subscriptions are: `<url>/graphql/ws`, as ws:// or wss://.
    pub fn ws_url(&self) -> Url {
        let mut url =
            Url::parse(self.client.url()).expect("the client's URL parses").join("graphql/ws").expect("joins");
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme).expect("ws and wss are valid schemes for an http URL");
        url
    }

    /// `approvalRequestCreate`: the request, and whether it is new (`false`: an identical one
    /// existed and came back).
    pub async fn create(&self, input: &ApprovalRequestInput) -> Result<(RequestView, bool), CliError> {
        let query = format!(
            "mutation($input: ApprovalRequestInput!) {{ approvalRequestCreate(input: $input) {{ created request {{ {REQUEST_FIELDS} }} }} }}"
        );
        let body = self.client.graphql(&self.key, &query, &json!({ "input": input })).await?;
        let view = view_at(&body, "/data/approvalRequestCreate/request")?;
        Ok((view, body["data"]["approvalRequestCreate"]["created"].as_bool().unwrap_or(true)))
    }

    /// `approvalRequest(id)`.
    pub async fn fetch(&self, id: &str) -> Result<RequestView, CliError> {
        let query = format!("query($id: ID!) {{ approvalRequest(id: $id) {{ {REQUEST_FIELDS} }} }}");
        let body = self.client.graphql(&self.key, &query, &json!({ "id": id })).await?;
        view_at(&body, "/data/approvalRequest")
    }

    /// The subscription document for `approvalRequestUpdated(id)`.
    pub fn subscription() -> String {
        format!("subscription($id: ID) {{ approvalRequestUpdated(id: $id) {{ {REQUEST_FIELDS} }} }}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(url: &str) -> Connection {
        Connection { url: url.into(), api_key: "kwk_x".into() }
    }

    #[test]
    fn the_socket_is_next_to_graphql() {
        let api = ApprovalApi::new(&connection("https://kw.example.com/base")).unwrap();
        assert_eq!(api.ws_url().as_str(), "wss://kw.example.com/base/graphql/ws");
        let api = ApprovalApi::new(&connection("http://127.0.0.1:8080")).unwrap();
        assert_eq!(api.ws_url().as_str(), "ws://127.0.0.1:8080/graphql/ws");
        assert!(ApprovalApi::new(&Connection { url: "http://x".into(), api_key: " ".into() }).is_err());
    }

    #[test]
    fn views_read_votes_and_errors() {
        let body = json!({ "data": { "approvalRequest": {
            "id": "r1", "digest": "d", "status": "REJECTED", "reason": "not on Friday", "approvalsNeeded": 1,
            "expiresAt": "2026-11-30T12:00:00Z", "approvalUrl": "http://kw/approvals/r1", "token": null,
            "approvals": [
                { "username": "alice", "keyName": "YubiKey", "decision": "APPROVE", "reason": null },
                { "username": "bob", "keyName": null, "decision": "REJECT", "reason": "not on Friday" }
            ]
        } } });
        let view = view_at(&body, "/data/approvalRequest").unwrap();
        assert_eq!(view.status, ApprovalStatus::Rejected);
        assert_eq!(view.approvers(), vec!["alice"]);
        assert_eq!(view.rejection().unwrap().username, "bob");
        let missing = view_at(&json!({ "data": { "approvalRequest": null } }), "/data/approvalRequest");
        assert_eq!(missing.unwrap_err().code(), Some("NOT_FOUND"));
        let refused = json!({ "errors": [{ "message": "no", "extensions": { "code": "FORBIDDEN" } }] });
        assert_eq!(view_at(&refused, "/data/x").unwrap_err().code(), Some("FORBIDDEN"));
        let http = json!({ "code": "UNAUTHENTICATED", "message": "unknown API key" });
        assert_eq!(first_error(&http).unwrap_err().code(), Some("UNAUTHENTICATED"));
    }
}
