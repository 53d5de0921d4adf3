//! `keyward approval request`: the request from flags or a plan.json, the digest computed here
//! and compared with the server's, and the approval page (as a QR code on a terminal).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use keyward_domain::approval::{ApprovalRequestInput, ChangeSummary, request_digest};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::CliError;
use super::approval::{Connection, read_file_argument};
use super::approval_api::{ApprovalApi, RequestView};
use super::prompt::qr_code;

/// How `request` prints what it created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Lines for people (and a QR code on a terminal).
    #[default]
    Text,
    /// `{"id","digest","approvalUrl","status"}` on one line, for scripts.
    Json,
}

/// The request: every field as a flag, or all of them in a plan.json.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct RequestFields {
    /// The whole request as JSON (an ApprovalRequestInput, camelCase; - for stdin), instead of
    /// the flags below.
    #[arg(long, value_name = "FILE", conflicts_with = "flag_fields")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub flags: FieldFlags,
}

/// The request's fields as flags.
#[derive(Clone, Debug, Default, clap::Args)]
#[group(id = "flag_fields", multiple = true)]
pub struct FieldFlags {
    /// The pipeline, e.g. infra/deploy.
    #[arg(long, required_unless_present = "file")]
    pub pipeline: Option<String>,
    /// The CI run (a retry is a new request).
    #[arg(long, required_unless_present = "file")]
    pub run_id: Option<String>,
    /// The stage asking, e.g. deploy.
    #[arg(long, required_unless_present = "file")]
    pub stage: Option<String>,
    /// The target environment, e.g. production.
    #[arg(long, required_unless_present = "file")]
    pub environment: Option<String>,
    /// The commit being shipped (7 to 64 hex characters).
    #[arg(long, required_unless_present = "file")]
    pub commit_sha: Option<String>,
    /// Its author: a Keyward username or verified e-mail.
    #[arg(long, required_unless_present = "file")]
    pub commit_author: Option<String>,
    /// Who asks: a Keyward username or verified e-mail.
    #[arg(long, required_unless_present = "file")]
    pub requester: Option<String>,
    /// The digest of the plan that will be applied, e.g. the SHA-256 of a terraform plan.
    #[arg(long, required_unless_present = "file")]
    pub plan_digest: Option<String>,
    /// A resource the change touches (repeat the flag for more).
    #[arg(long = "resource", value_name = "NAME")]
    pub resources: Vec<String>,
    /// An environment variable the change sets or removes (repeatable).
    #[arg(long = "env-var-changed", value_name = "NAME")]
    pub env_vars_changed: Vec<String>,
    /// A secret the change rotates (repeatable).
    #[arg(long = "secret-rotated", value_name = "NAME")]
    pub secrets_rotated: Vec<String>,
    /// A sensitive flag raised by the pipeline, e.g. destroys-data (repeatable).
    #[arg(long = "sensitive", value_name = "FLAG")]
    pub sensitive_flags: Vec<String>,
    /// A link back to the CI run, shown to approvers.
    #[arg(long, value_name = "URL")]
    pub run_url: Option<String>,
}

impl RequestFields {
    /// The request these fields describe, checked as the server checks it.
    pub fn input(self) -> Result<ApprovalRequestInput, CliError> {
        let input = match &self.file {
            Some(path) => {
                let text = read_file_argument(path)?;
                serde_json::from_str(&text).map_err(|e| {
                    CliError::Usage(format!("{} is not an approval request (plan.json): {e}", path.display()))
                })?
            }
            None => self.flags.input()?,
        };
        input.validate().map_err(|e| CliError::Usage(format!("the request is not valid: {e}")))?;
        Ok(input)
    }
}

impl FieldFlags {
    fn input(self) -> Result<ApprovalRequestInput, CliError> {
        let required = |value: Option<String>, flag: &str| {
            value.ok_or_else(|| CliError::Usage(format!("--{flag} is required (or give the request with --file)")))
        };
        Ok(ApprovalRequestInput {
            pipeline: required(self.pipeline, "pipeline")?,
            run_id: required(self.run_id, "run-id")?,
            stage: required(self.stage, "stage")?,
            environment: required(self.environment, "environment")?,
            commit_sha: required(self.commit_sha, "commit-sha")?,
            commit_author: required(self.commit_author, "commit-author")?,
            requester: required(self.requester, "requester")?,
            change_summary: ChangeSummary {
                resources: self.resources,
                env_vars_changed: self.env_vars_changed,
                secrets_rotated: self.secrets_rotated,
                sensitive_flags: self.sensitive_flags,
            },
            plan_digest: required(self.plan_digest, "plan-digest")?,
            run_url: self.run_url,
        })
    }
}

/// What `--output json` prints.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    /// The request's ID.
    pub id: String,
    /// Its digest (equal to the one computed here).
    pub digest: String,
    /// The page to approve it on.
    pub approval_url: String,
    /// `PENDING`, or already `APPROVED`/`REJECTED` by the policy.
    pub status: String,
}

/// Refuses a server whose digest is not the one computed here: the two would not agree on what
/// is being approved.
pub fn check_digest(local: &str, server: &str) -> Result<(), CliError> {
    if local == server {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "digest mismatch: this CLI computed {local} for the request, the server {server}; refusing to go on \
         (are the CLI and the server different versions?)"
    )))
}

/// Creates the request and prints it. Exit 3 (an `Err`) on a digest mismatch.
pub async fn request(connection: &Connection, fields: RequestFields, output: Output) -> Result<(), CliError> {
    let input = fields.input()?;
    let local = request_digest(&input);
    let api = ApprovalApi::new(connection)?;
    let (view, created) = api.create(&input).await?;
    check_digest(&local, &view.digest)?;
    let printed = Created {
        id: view.id.clone(),
        digest: view.digest.clone(),
        approval_url: view.approval_url.clone(),
        status: view.status.as_str().to_owned(),
    };
    if !created {
        eprintln!("keyward: an identical request already existed; this is the same request");
    }
    let mut out = std::io::stdout().lock();
    let written = match output {
        Output::Json => writeln!(out, "{}", serde_json::to_string(&printed).expect("JSON")),
        Output::Text => {
            write!(out, "{}", text(&view)).and_then(|()| match out.is_terminal().then(|| qr_code(&view.approval_url)) {
                Some(Some(qr)) => writeln!(out, "\n{qr}"),
                _ => Ok(()),
            })
        }
    };
    written.map_err(|e| CliError::Io(format!("cannot write to stdout: {e}")))
}

/// The text output: ID, status, digest and where to approve.
pub fn text(view: &RequestView) -> String {
    let mut lines = format!("request:  {}\nstatus:   {}", view.id, view.status.as_str());
    if let Some(reason) = &view.reason {
        lines.push_str(&format!(" ({reason})"));
    }
    lines.push_str(&format!("\ndigest:   {}\napprove:  {}\n", view.digest, view.approval_url));
    lines
}

/// The request as the GraphQL variables of `approvalRequestCreate`.
pub fn variables(input: &ApprovalRequestInput) -> serde_json::Value {
    json!({ "input": input })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        fields: RequestFields,
    }

    fn parse(args: &[&str]) -> Result<RequestFields, clap::Error> {
        Args::try_parse_from(std::iter::once("request").chain(args.iter().copied())).map(|a| a.fields)
    }

    const FLAGS: &[&str] = &[
        "--pipeline",
        "infra/deploy",
        "--run-id",
        "1234",
        "--stage",
        "apply",
        "--environment",
        "production",
        "--commit-sha",
        "0123456789abcdef0123456789abcdef01234567",
        "--commit-author",
        "carol",
        "--requester",
        "ci-bot",
        "--plan-digest",
        "sha256:abc",
        "--resource",
        "aws_db_instance.main",
        "--sensitive",
        "database",
        "--resource",
        "aws_iam_role.deploy",
        "--run-url",
        "https://ci.example.com/runs/1234",
    ];

    #[test]
    fn flags_make_the_same_request_as_a_plan_file() {
        let from_flags = parse(FLAGS).unwrap().input().unwrap();
        assert_eq!(
            from_flags.change_summary.resources,
            vec!["aws_db_instance.main", "aws_iam_role.deploy"],
            "repeated flags keep their order"
        );
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan.json");
        std::fs::write(&plan, serde_json::to_string_pretty(&from_flags).unwrap()).unwrap();
        let from_file = parse(&["--file", plan.to_str().unwrap()]).unwrap().input().unwrap();
        assert_eq!(from_file, from_flags);
        assert_eq!(request_digest(&from_file), request_digest(&from_flags));
        let json = variables(&from_file);
        assert_eq!(json["input"]["changeSummary"]["envVarsChanged"], json!([]));
        assert_eq!(json["input"]["runUrl"], "https://ci.example.com/runs/1234");
    }

    #[test]
    fn flags_and_a_file_do_not_mix_and_missing_fields_are_named() {
        assert!(parse(&["--file", "plan.json", "--stage", "apply"]).is_err());
        let missing = parse(&FLAGS[2..]).err().unwrap().to_string();
        assert!(missing.contains("--pipeline"), "{missing}");
        let mut bad = FLAGS.to_vec();
        bad[9] = "not-hex";
        let err = parse(&bad).unwrap().input().unwrap_err().to_string();
        assert!(err.contains("commitSha"), "{err}");
    }

    #[test]
    fn a_plan_file_with_unknown_fields_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan.json");
        std::fs::write(&plan, r#"{"pipeline":"p","stagee":"x"}"#).unwrap();
        let err = parse(&["--file", plan.to_str().unwrap()]).unwrap().input().unwrap_err().to_string();
        assert!(err.contains("is not an approval request"), "{err}");
    }

    #[test]
    fn a_different_server_digest_is_refused() {
        assert!(check_digest("ab", "ab").is_ok());
        let err = check_digest("ab", "cd").unwrap_err().to_string();
        assert!(err.starts_with("digest mismatch: this CLI computed ab"), "{err}");
    }

    #[test]
    fn json_output_has_the_four_fields_in_order() {
        let created =
            Created { id: "1".into(), digest: "d".into(), approval_url: "u".into(), status: "PENDING".into() };
        assert_eq!(
            serde_json::to_string(&created).unwrap(),
            r#"{"id":"1","digest":"d","approvalUrl":"u","status":"PENDING"}"#
        );
    }
}
