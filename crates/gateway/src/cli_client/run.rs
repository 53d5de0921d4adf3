//! The terminal commands as the binary runs them: results on stdout, everything else on stderr.

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

use super::credentials::default_path;
use super::prompt::TerminalPrompt;
use super::{CliError, commands};

/// A terminal command, parsed by the binary.
pub enum ClientCommand {
    /// `keyward login --url URL`.
    Login {
        /// The server.
        url: String,
    },
    /// `keyward gql QUERY [--variables JSON]`.
    Gql {
        /// The GraphQL document.
        query: String,
        /// Its variables, as JSON.
        variables: Option<String>,
    },
    /// `keyward step-up --action A [--resource R] [--token] [--url URL]`.
    StepUp {
        /// The action.
        action: String,
        /// The resource.
        resource: Option<String>,
        /// Print a step-up JWT.
        token: bool,
        /// The server, when no session is saved (or another server's is).
        url: Option<String>,
    },
    /// `keyward step-up verify --token T --action A --resource R --jwks URL|FILE [--issuer I]`.
    StepUpVerify {
        /// The JWT, or `-` to read it from stdin.
        token: String,
        /// The action it must be for.
        action: String,
        /// The resource it must be for.
        resource: String,
        /// The JWKS: an URL or a file.
        jwks: String,
        /// The issuer it must come from (Keyward's public_url).
        issuer: Option<String>,
    },
}

fn print(value: &impl std::fmt::Display) -> Result<(), CliError> {
    writeln!(std::io::stdout().lock(), "{value}").map_err(|e| CliError::Io(format!("cannot write to stdout: {e}")))
}

/// The token argument: itself, or stdin's first line for `-`.
fn token_argument(token: String) -> Result<String, CliError> {
    if token != "-" {
        return Ok(token);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::Io(format!("cannot read the token from stdin: {e}")))?;
    Ok(line.trim().to_owned())
}

/// Runs a terminal command against the credentials file `credentials` (default: [`default_path`]).
pub async fn run(command: ClientCommand, credentials: Option<PathBuf>) -> Result<(), CliError> {
    let path = || credentials.clone().map_or_else(default_path, Ok);
    let mut prompt = TerminalPrompt::new();
    match command {
        ClientCommand::Login { url } => {
            let saved = commands::login(&url, &path()?, &mut prompt).await?;
            print(&format!(
                "Logged in to {} as {} (organization {}); session saved in {}",
                saved.url,
                saved.username,
                saved.organization,
                path()?.display()
            ))
        }
        ClientCommand::Gql { query, variables } => {
            let variables: Value = match variables {
                Some(json) => {
                    serde_json::from_str(&json).map_err(|e| CliError::Usage(format!("--variables is not JSON: {e}")))?
                }
                None => Value::Object(Default::default()),
            };
            if !variables.is_object() {
                return Err(CliError::Usage("--variables must be a JSON object".into()));
            }
            let outcome = commands::gql(&path()?, &query, &variables, &mut prompt).await?;
            print(&serde_json::to_string_pretty(&outcome.body).expect("JSON"))?;
            outcome.error()
        }
        ClientCommand::StepUp { action, resource, token, url } => {
            let result =
                commands::step_up(url.as_deref(), &path()?, &action, resource.as_deref(), token, &mut prompt).await?;
            match (result.token, result.grant) {
                (Some(jwt), _) => print(&jwt),
                (None, Some(grant)) => print(&grant),
                (None, None) => Ok(()),
            }
        }
        ClientCommand::StepUpVerify { token, action, resource, jwks, issuer } => {
            let token = token_argument(token)?;
            let claims = commands::verify_token(&token, &action, &resource, &jwks, issuer.as_deref()).await?;
            print(&serde_json::to_string_pretty(&claims).expect("JSON"))
        }
    }
}
