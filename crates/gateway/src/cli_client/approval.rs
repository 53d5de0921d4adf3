//! `keyward approval request|wait|verify`: a pipeline's side of approvals (DESIGN §9).
//!
//! A pipeline asks with an API key (`KEYWARD_URL`, `KEYWARD_API_KEY`), waits for members to
//! approve with their security keys, and checks the approval token offline before it applies.
//! The exit codes are stable, for CI scripts: see [`exit`].

use std::path::PathBuf;
use std::time::Duration;

use super::CliError;
use super::approval_request::{self, Output, RequestFields};
use super::approval_verify::{self, VerifyFailure};
use super::approval_wait::{self, WaitOutcome};

/// The exit codes of `keyward approval`.
pub mod exit {
    /// Approved (wait), created (request), accepted (verify).
    pub const OK: u8 = 0;
    /// The request was rejected (wait), or the token is refused (verify).
    pub const REJECTED: u8 = 1;
    /// The request expired, or the wait timed out, before a decision.
    pub const EXPIRED: u8 = 2;
    /// Anything else: bad arguments, the server unreachable or refusing, a digest mismatch.
    pub const ERROR: u8 = 3;
}

/// Where Keyward is and the API key to call it with.
#[derive(Clone, Debug, clap::Args)]
pub struct Connection {
    /// Keyward's URL (its public_url), e.g. https://keyward.example.com
    #[arg(long, env = "KEYWARD_URL", value_name = "URL")]
    pub url: String,
    /// An API key with the approvals:request scope (kwk_…). Prefer the environment variable: a
    /// flag is visible to other users of the machine.
    #[arg(long, env = "KEYWARD_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub api_key: String,
}

/// `keyward approval …`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ApprovalCommand {
    /// Ask for an approval: print the request ID and the page to approve it on (a QR code too on
    /// a terminal). The digest is computed here as well, and a server that disagrees is refused
    /// (exit 3).
    Request {
        #[command(flatten)]
        connection: Connection,
        #[command(flatten)]
        fields: RequestFields,
        /// How to print what was created.
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Wait for the decision, following it live (WebSocket, else polling every 2 s). Prints only
    /// the approval token on stdout; exits 0 approved, 1 rejected, 2 expired or timed out, 3 error.
    Wait {
        #[command(flatten)]
        connection: Connection,
        /// The request ID `approval request` printed.
        id: String,
        /// Longest wait, e.g. 30m (default: until the request expires).
        #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
        timeout: Option<Duration>,
        /// Poll instead of following the subscription (for proxies that block WebSockets).
        #[arg(long)]
        poll: bool,
    },
    /// Check an approval token offline: ES256 signature against the JWKS, expiry, and that it
    /// approves exactly this digest, stage, environment (and run). Prints its claims; exits 1 with
    /// `refused: <reason>` otherwise.
    Verify(approval_verify::VerifyArgs),
}

/// Runs a `keyward approval` command and returns its exit code. Results go to stdout, everything
/// else (progress, the reason of a failure) to stderr.
pub async fn run(command: ApprovalCommand) -> u8 {
    match command {
        ApprovalCommand::Request { connection, fields, output } => {
            match approval_request::request(&connection, fields, output).await {
                Ok(()) => exit::OK,
                Err(err) => error(&err),
            }
        }
        ApprovalCommand::Wait { connection, id, timeout, poll } => {
            match approval_wait::wait(&connection, &id, timeout, !poll).await {
                Ok(WaitOutcome::Approved { token }) => {
                    println!("{token}");
                    exit::OK
                }
                Ok(WaitOutcome::Rejected) => exit::REJECTED,
                Ok(WaitOutcome::Expired | WaitOutcome::TimedOut) => exit::EXPIRED,
                Err(err) => error(&err),
            }
        }
        ApprovalCommand::Verify(args) => match approval_verify::verify(args).await {
            Ok(claims) => {
                println!("{}", serde_json::to_string_pretty(&claims).expect("claims serialize"));
                exit::OK
            }
            Err(VerifyFailure::Refused(reason)) => {
                eprintln!("refused: {reason}");
                exit::REJECTED
            }
            Err(VerifyFailure::Error(err)) => error(&err),
        },
    }
}

fn error(err: &CliError) -> u8 {
    eprintln!("keyward: {err}");
    exit::ERROR
}

/// The argument of `--file`: a path, or `-` for stdin.
pub(crate) fn read_file_argument(path: &PathBuf) -> Result<String, CliError> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| CliError::Io(format!("cannot read stdin: {e}")))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| CliError::Io(format!("cannot read {}: {e}", path.display())))
}
