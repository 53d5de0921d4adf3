//! What a pipeline asks to have approved, and its digest: SHA-256 over the canonical JSON of
//! every field, so any change to any field is another request.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::canonical::canonical_json;
use crate::error::DomainError;

/// Longest single text field (pipeline, stage, a resource name, ...).
pub const FIELD_MAX_CHARS: usize = 300;
/// Most entries in one list of the change summary.
pub const LIST_MAX_ENTRIES: usize = 500;
/// Longest run URL.
pub const URL_MAX_CHARS: usize = 2048;

/// What the change touches, as the pipeline reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeSummary {
    /// Resources created, changed or destroyed (e.g. `aws_db_instance.main`).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Names of environment variables changed.
    #[serde(default)]
    pub env_vars_changed: Vec<String>,
    /// Names of secrets rotated.
    #[serde(default)]
    pub secrets_rotated: Vec<String>,
    /// Flags the pipeline raises (e.g. `destroys-data`, `iam-change`).
    #[serde(default)]
    pub sensitive_flags: Vec<String>,
}

/// An approval request as a pipeline sends it (also the CLI's `--file plan.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalRequestInput {
    /// The pipeline (e.g. `infra/deploy`).
    pub pipeline: String,
    /// The CI system's run ID.
    pub run_id: String,
    /// The stage asking (e.g. `apply`).
    pub stage: String,
    /// The target environment (e.g. `production`).
    pub environment: String,
    /// The commit being deployed.
    pub commit_sha: String,
    /// Its author (username or e-mail).
    pub commit_author: String,
    /// Who started the run (username or e-mail).
    pub requester: String,
    /// What the change touches.
    pub change_summary: ChangeSummary,
    /// The digest of the plan that will be applied (e.g. `sha256:…` of `terraform show -json`).
    pub plan_digest: String,
    /// A link back to the CI run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
}

impl ApprovalRequestInput {
    /// The request digest: lowercase hex SHA-256 of the RFC 8785 canonical JSON of the request
    /// (camelCase field names, `runUrl` left out when absent, lists in the order given).
    pub fn digest(&self) -> String {
        request_digest(self)
    }

    /// Checks every field; the first fault is named with the API's spelling of its field.
    pub fn validate(&self) -> Result<(), DomainError> {
        let required = [
            ("pipeline", &self.pipeline),
            ("runId", &self.run_id),
            ("stage", &self.stage),
            ("environment", &self.environment),
            ("commitSha", &self.commit_sha),
            ("commitAuthor", &self.commit_author),
            ("requester", &self.requester),
            ("planDigest", &self.plan_digest),
        ];
        for (field, value) in required {
            check_text(field, value)?;
        }
        let sha = &self.commit_sha;
        if !(7..=64).contains(&sha.len()) || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(DomainError::bad_input("commitSha", "a commit SHA is 7 to 64 hexadecimal characters"));
        }
        let summary = &self.change_summary;
        let lists = [
            ("changeSummary.resources", &summary.resources),
            ("changeSummary.envVarsChanged", &summary.env_vars_changed),
            ("changeSummary.secretsRotated", &summary.secrets_rotated),
            ("changeSummary.sensitiveFlags", &summary.sensitive_flags),
        ];
        for (field, list) in lists {
            if list.len() > LIST_MAX_ENTRIES {
                return Err(DomainError::bad_input(field, format!("at most {LIST_MAX_ENTRIES} entries")));
            }
            for entry in list {
                check_text(field, entry)?;
            }
        }
        if let Some(url) = &self.run_url {
            let parsed = url::Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
            if url.chars().count() > URL_MAX_CHARS || parsed.is_none() {
                return Err(DomainError::bad_input("runUrl", "an http(s) URL of at most 2048 characters"));
            }
        }
        Ok(())
    }
}

fn check_text(field: &str, value: &str) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::bad_input(field, "must not be empty"));
    }
    if value.chars().count() > FIELD_MAX_CHARS {
        return Err(DomainError::bad_input(field, format!("at most {FIELD_MAX_CHARS} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(DomainError::bad_input(field, "must not contain control characters"));
    }
    Ok(())
}

/// See [`ApprovalRequestInput::digest`].
pub fn request_digest(input: &ApprovalRequestInput) -> String {
    // Serializing a struct of strings cannot fail, and it holds no numbers for JCS to refuse.
    let value = serde_json::to_value(input).unwrap_or_default();
    let canonical = canonical_json(&value).unwrap_or_default();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A production deploy request used across the approval tests.
    pub fn sample() -> ApprovalRequestInput {
        ApprovalRequestInput {
            pipeline: "infra/deploy".into(),
            run_id: "1234".into(),
            stage: "apply".into(),
            environment: "production".into(),
            commit_sha: "0123456789abcdef0123456789abcdef01234567".into(),
            commit_author: "carol".into(),
            requester: "ci-bot".into(),
            change_summary: ChangeSummary {
                resources: vec!["aws_db_instance.main".into()],
                env_vars_changed: vec![],
                secrets_rotated: vec![],
                sensitive_flags: vec!["database".into()],
            },
            plan_digest: "sha256:abc".into(),
            run_url: Some("https://ci.example.com/runs/1234".into()),
        }
    }

    #[test]
    fn the_digest_is_sha256_of_the_canonical_json() {
        let input = sample();
        let canonical = concat!(
            r#"{"changeSummary":{"envVarsChanged":[],"resources":["aws_db_instance.main"],"secretsRotated":[],"#,
            r#""sensitiveFlags":["database"]},"commitAuthor":"carol","commitSha":"0123456789abcdef0123456789abcdef01234567","#,
            r#""environment":"production","pipeline":"infra/deploy","planDigest":"sha256:abc","requester":"ci-bot","#,
            r#""runId":"1234","runUrl":"https://ci.example.com/runs/1234","stage":"apply"}"#
        );
        assert_eq!(input.digest(), hex::encode(Sha256::digest(canonical.as_bytes())));
    }

    #[test]
    fn every_field_changes_the_digest() {
        let base = sample().digest();
        let changes: Vec<fn(&mut ApprovalRequestInput)> = vec![
            |i| i.pipeline.push('x'),
            |i| i.run_id.push('x'),
            |i| i.stage.push('x'),
            |i| i.environment.push('x'),
            |i| i.commit_sha.push('a'),
            |i| i.commit_author.push('x'),
            |i| i.requester.push('x'),
            |i| i.change_summary.resources.push("x".into()),
            |i| i.change_summary.env_vars_changed.push("x".into()),
            |i| i.change_summary.secrets_rotated.push("x".into()),
            |i| i.change_summary.sensitive_flags.push("x".into()),
            |i| i.plan_digest.push('x'),
            |i| i.run_url = None,
        ];
        for change in changes {
            let mut input = sample();
            change(&mut input);
            assert_ne!(input.digest(), base, "{input:?}");
        }
        assert_eq!(sample().digest(), base, "the digest is stable");
    }

    #[test]
    fn the_file_format_is_the_camel_case_input() {
        let text = serde_json::to_string(&sample()).unwrap();
        let back: ApprovalRequestInput = serde_json::from_str(&text).unwrap();
        assert_eq!(back, sample());
        let unknown = text.replacen("\"stage\"", "\"stagee\"", 1);
        assert!(serde_json::from_str::<ApprovalRequestInput>(&unknown).is_err(), "unknown fields are refused");
    }

    #[test]
    fn validation_names_the_field() {
        let mut input = sample();
        input.commit_sha = "xyz".into();
        assert!(matches!(input.validate(), Err(DomainError::BadInput { field, .. }) if field == "commitSha"));
        let mut input = sample();
        input.stage = " ".into();
        assert!(matches!(input.validate(), Err(DomainError::BadInput { field, .. }) if field == "stage"));
        let mut input = sample();
        input.run_url = Some("javascript:alert(1)".into());
        assert!(matches!(input.validate(), Err(DomainError::BadInput { field, .. }) if field == "runUrl"));
        let mut input = sample();
        input.change_summary.resources = vec!["a\u{7}".into()];
        assert!(input.validate().is_err());
        assert!(sample().validate().is_ok());
    }
}
