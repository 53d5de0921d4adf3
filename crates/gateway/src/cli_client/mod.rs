//! The terminal side of Keyward: `keyward login`, `keyward gql`, `keyward step-up`, and the
//! pipeline's `keyward approval` (see [`approval`]).
//!
//! A terminal never holds a security key; it asks the server for a browser hand-off
//! (`POST /cli/handoff`), shows its URL and code (and a QR code), and polls until a person
//! approved it with their key in the browser. Every function here is a library call, so tests
//! drive the same code the binary runs.

pub mod api;
pub mod approval;
pub mod approval_api;
pub mod approval_replay;
pub mod approval_request;
pub mod approval_status;
pub mod approval_verify;
pub mod approval_wait;
pub mod approval_ws;
pub mod commands;
pub mod credentials;
pub mod prompt;
pub mod run;

pub use api::{Client, HandoffRequest, HandoffResult, HandoffStarted};
pub use commands::{gql, login, step_up};
pub use credentials::Credentials;
pub use prompt::{Prompt, TerminalPrompt};
pub use run::{ClientCommand, run};

/// Why a terminal command failed. The binary prints it and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server could not be reached or answered something that is not the API.
    #[error("{0}")]
    Transport(String),
    /// The server refused the request; `code` is the API's stable code.
    #[error("{code}: {message}")]
    Refused {
        /// The stable code (`BAD_USER_INPUT`, `RATE_LIMITED`, ...).
        code: String,
        /// The server's message.
        message: String,
    },
    /// The hand-off was not approved in time (or is unknown to the server).
    #[error("the browser approval did not happen in time (the request expired); run the command again")]
    Expired,
    /// A GraphQL answer carried errors; the body was printed.
    #[error("{code}: {message}")]
    Graphql {
        /// The first error's `extensions.code`.
        code: String,
        /// The first error's message.
        message: String,
    },
    /// No saved session.
    #[error("not logged in: run `keyward login --url <keyward url>` first")]
    NotLoggedIn,
    /// The credentials file or the terminal could not be used.
    #[error("{0}")]
    Io(String),
    /// An argument is not usable.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// The stable code of a refusal or GraphQL error, if the server gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            CliError::Refused { code, .. } | CliError::Graphql { code, .. } => Some(code),
            _ => None,
        }
    }
}
