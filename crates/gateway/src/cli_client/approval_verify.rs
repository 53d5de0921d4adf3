//! `keyward approval verify`: an approval token checked offline, before the runner applies:
//! signature (ES256, a key of the JWKS), expiry, and that it approves exactly this digest, stage,
//! environment (and run); with `--replay-cache`, at most once.

use std::path::PathBuf;

use keyward_domain::approval::{ApprovalClaims, ExpectedApproval, request_digest};

use super::CliError;
use super::approval::read_file_argument;
use super::approval_replay::FileReplayCache;
use crate::tokens::approval::verify_approval_offline;
use crate::tokens::{ReplayCache, load_jwks};

/// What the token must approve, and where its keys are.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct VerifyArgs {
    /// The approval token, or - to read it from stdin.
    #[arg(long)]
    pub token: String,
    /// The request digest it must approve (what `approval request` printed).
    #[arg(long, required_unless_present = "file")]
    pub digest: Option<String>,
    /// The stage about to run.
    #[arg(long, required_unless_present = "file")]
    pub stage: Option<String>,
    /// The environment it deploys to.
    #[arg(long, required_unless_present = "file")]
    pub environment: Option<String>,
    /// The run it must be for.
    #[arg(long)]
    pub run: Option<String>,
    /// The plan.json the request was made from: its digest, stage, environment and run are
    /// expected, instead of those flags.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["digest", "stage", "environment", "run"])]
    pub file: Option<PathBuf>,
    /// The JWKS: Keyward's <url>/.well-known/jwks.json, or a file holding it (default: from
    /// KEYWARD_URL).
    #[arg(long, value_name = "URL|FILE")]
    pub jwks: Option<String>,
    /// The issuer it must come from: Keyward's public_url without the trailing slash.
    #[arg(long)]
    pub issuer: Option<String>,
    /// A file remembering the tokens already accepted (JSON lines, locked while in use): each
    /// token is accepted once, even by verifiers running at the same time.
    #[arg(long, value_name = "FILE")]
    pub replay_cache: Option<PathBuf>,
}

/// Why `verify` did not accept.
#[derive(Debug)]
pub enum VerifyFailure {
    /// The token is refused: the reason (exit 1).
    Refused(String),
    /// Verification could not run (exit 3).
    Error(CliError),
}

impl From<CliError> for VerifyFailure {
    fn from(err: CliError) -> Self {
        Self::Error(err)
    }
}

/// The expectation, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// The digest.
    pub digest: String,
    /// The stage.
    pub stage: String,
    /// The environment.
    pub environment: String,
    /// The run, if it is to be checked.
    pub run: Option<String>,
    /// The issuer, if it is to be checked.
    pub issuer: Option<String>,
}

impl Expectation {
    /// As the verifier takes it.
    pub fn as_expected(&self) -> ExpectedApproval<'_> {
        ExpectedApproval {
            digest: &self.digest,
            stage: &self.stage,
            environment: &self.environment,
            run: self.run.as_deref(),
            issuer: self.issuer.as_deref(),
        }
    }
}

impl VerifyArgs {
    /// What the token must approve: from the plan file, or from the flags.
    pub fn expectation(&self) -> Result<Expectation, CliError> {
        let issuer = self.issuer.clone();
        if let Some(path) = &self.file {
            let text = read_file_argument(path)?;
            let input: keyward_domain::approval::ApprovalRequestInput = serde_json::from_str(&text).map_err(|e| {
                CliError::Usage(format!("{} is not an approval request (plan.json): {e}", path.display()))
            })?;
            return Ok(Expectation {
                digest: request_digest(&input),
                stage: input.stage,
                environment: input.environment,
                run: Some(input.run_id),
                issuer,
            });
        }
        let required = |value: &Option<String>, flag: &str| {
            value.clone().ok_or_else(|| CliError::Usage(format!("--{flag} is required (or give the plan with --file)")))
        };
        Ok(Expectation {
            digest: required(&self.digest, "digest")?,
            stage: required(&self.stage, "stage")?,
            environment: required(&self.environment, "environment")?,
            run: self.run.clone(),
            issuer,
        })
    }

    /// Where the keys are: `--jwks`, or KEYWARD_URL's JWKS.
    fn jwks_source(&self) -> Result<String, CliError> {
        if let Some(jwks) = &self.jwks {
            return Ok(jwks.clone());
        }
        match std::env::var("KEYWARD_URL") {
            Ok(url) if !url.trim().is_empty() => {
                Ok(format!("{}/{}", url.trim().trim_end_matches('/'), crate::tokens::JWKS_PATH.trim_start_matches('/')))
            }
            _ => Err(CliError::Usage("--jwks is required (or set KEYWARD_URL)".into())),
        }
    }
}

/// The token argument: itself, or stdin's first line for `-`.
fn token_argument(token: &str) -> Result<String, CliError> {
    if token != "-" {
        return Ok(token.trim().to_owned());
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::Io(format!("cannot read the token from stdin: {e}")))?;
    Ok(line.trim().to_owned())
}

/// Verifies the token; its claims when accepted.
pub async fn verify(args: VerifyArgs) -> Result<ApprovalClaims, VerifyFailure> {
    if args.token == "-" && args.file.as_ref().is_some_and(|f| f.as_os_str() == "-") {
        return Err(CliError::Usage("--token - and --file - cannot both read stdin".into()).into());
    }
    let expectation = args.expectation()?;
    let token = token_argument(&args.token)?;
    let keys = load_jwks(&args.jwks_source()?).await.map_err(|e| CliError::Io(format!("--jwks: {e}")))?;
    let now = chrono::Utc::now().timestamp();
    let replay_cache = args.replay_cache;
    // The lock may wait for other verifiers: off the async runtime.
    tokio::task::spawn_blocking(move || {
        let mut cache = replay_cache.as_deref().map(FileReplayCache::open).transpose()?;
        let replay = cache.as_mut().map(|c| c as &mut dyn ReplayCache);
        let verdict = verify_approval_offline(&token, expectation.as_expected(), &keys, now, replay);
        if let Some(failure) = cache.as_ref().and_then(|c| c.failure()) {
            return Err(VerifyFailure::Error(CliError::Io(failure.to_owned())));
        }
        verdict.map_err(|e| VerifyFailure::Refused(e.to_string()))
    })
    .await
    .map_err(|e| VerifyFailure::Error(CliError::Io(format!("verification stopped: {e}"))))?
}

#[cfg(test)]
mod tests {
    use keyward_domain::approval::{ApprovalRequestInput, ChangeSummary};

    use super::*;

    fn input() -> ApprovalRequestInput {
        ApprovalRequestInput {
            pipeline: "infra/deploy".into(),
            run_id: "77".into(),
            stage: "apply".into(),
            environment: "production".into(),
            commit_sha: "0123456789abcdef".into(),
            commit_author: "carol".into(),
            requester: "ci-bot".into(),
            change_summary: ChangeSummary::default(),
            plan_digest: "sha256:abc".into(),
            run_url: None,
        }
    }

    #[test]
    fn a_plan_file_gives_the_whole_expectation() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan.json");
        std::fs::write(&plan, serde_json::to_string(&input()).unwrap()).unwrap();
        let args = VerifyArgs { token: "t".into(), file: Some(plan), ..Default::default() };
        let expected = args.expectation().unwrap();
        assert_eq!(expected.digest, request_digest(&input()));
        assert_eq!((expected.stage.as_str(), expected.environment.as_str()), ("apply", "production"));
        assert_eq!(expected.run.as_deref(), Some("77"));
    }

    #[test]
    fn flags_give_it_otherwise() {
        let args = VerifyArgs {
            token: "t".into(),
            digest: Some("d".into()),
            stage: Some("s".into()),
            environment: Some("e".into()),
            ..Default::default()
        };
        let expected = args.expectation().unwrap();
        assert_eq!(expected.run, None, "the run is checked only when given");
        let err = VerifyArgs { stage: None, ..args }.expectation().unwrap_err().to_string();
        assert!(err.contains("--stage"), "{err}");
    }
}
