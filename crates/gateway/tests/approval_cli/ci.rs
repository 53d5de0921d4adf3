//! The CI integrations as their CI runs them: the GitHub action's inputs, defaults and step
//! environment read from `integrations/github-action/action.yml` (with `${{ }}` expressions
//! evaluated against a fake `github` context), and the GitLab template's variables and
//! `before_script` from `integrations/gitlab-ci.yml`. Only the YAML shapes those two files use are
//! understood; a change to them that this cannot read fails the tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn key_value(line: &str) -> (String, String) {
    let (key, value) = line.trim().split_once(':').unwrap_or_else(|| panic!("not `key: value`: {line:?}"));
    (key.trim().to_owned(), unquote(value.trim()))
}

fn unquote(value: &str) -> String {
    for quote in ['\'', '"'] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return value[1..value.len() - 1].to_owned();
        }
    }
    value.to_owned()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The composite action: each input's default, and the one step's `run` and `env`.
pub struct Action {
    pub defaults: HashMap<String, String>,
    pub required: Vec<String>,
    pub run: String,
    pub env: Vec<(String, String)>,
}

pub fn read_action() -> Action {
    let text = std::fs::read_to_string(repo_root().join("integrations/github-action/action.yml")).unwrap();
    let (mut section, mut input, mut in_env) = (String::new(), String::new(), false);
    let mut action = Action { defaults: HashMap::new(), required: vec![], run: String::new(), env: vec![] };
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')) {
        if indent(line) == 0 {
            section = key_value(line).0;
            continue;
        }
        let (key, value) = if line.trim().ends_with(':') {
            (line.trim().trim_end_matches(':').to_owned(), String::new())
        } else if line.trim().starts_with("- ") || !line.contains(':') {
            continue;
        } else {
            key_value(line)
        };
        match (section.as_str(), indent(line)) {
            ("inputs", 2) => input = key,
            ("inputs", 4) if key == "default" => {
                action.defaults.insert(input.clone(), value);
            }
            ("inputs", 4) if key == "required" && value == "true" => action.required.push(input.clone()),
            ("runs", _) if key == "run" => action.run = value,
            ("runs", _) if key == "env" => in_env = true,
            ("runs", 8) if in_env => action.env.push((key, value)),
            _ => {}
        }
    }
    assert!(action.run.contains("gate.sh"), "the action runs gate.sh: {:?}", action.run);
    action
}

/// Evaluates the `${{ a.b || c.d }}` expressions in `template`.
pub fn evaluate(template: &str, contexts: &HashMap<&str, HashMap<String, String>>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("a closed expression") + start;
        let expression = &rest[start + 3..end];
        let value = expression.split("||").find_map(|alternative| {
            let (context, path) = alternative.trim().split_once('.').expect("context.path");
            let known = contexts.get(context).unwrap_or_else(|| panic!("no context {context}"));
            known.get(path).filter(|v| !v.is_empty()).cloned()
        });
        out.push_str(&value.unwrap_or_default());
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The step's environment for a `with:` block, as GitHub computes it.
pub fn step_env(action: &Action, with: &[(&str, &str)], github: &[(&str, &str)]) -> Vec<(String, String)> {
    let github: HashMap<String, String> = github.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut contexts = HashMap::from([("github", github)]);
    for (name, _) in with {
        assert!(action.defaults.contains_key(*name) || action.required.iter().any(|r| r == name), "no input {name}");
    }
    for required in &action.required {
        assert!(with.iter().any(|(name, _)| name == required), "input {required} is required");
    }
    let mut inputs: HashMap<String, String> =
        action.defaults.iter().map(|(name, default)| (name.clone(), evaluate(default, &contexts))).collect();
    inputs.extend(with.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    contexts.insert("inputs", inputs);
    action.env.iter().map(|(name, value)| (name.clone(), evaluate(value, &contexts))).collect()
}

/// The GitLab template's hidden job: its variables and its before_script.
pub struct GitlabJob {
    pub variables: Vec<(String, String)>,
    pub before_script: String,
}

pub fn read_gitlab_job() -> GitlabJob {
    let text = std::fs::read_to_string(repo_root().join("integrations/gitlab-ci.yml")).unwrap();
    let mut job = GitlabJob { variables: vec![], before_script: String::new() };
    let (mut in_job, mut section) = (false, String::new());
    for line in text.lines() {
        if line.trim_start().starts_with('#') && indent(line) < 6 || line.trim().is_empty() && section != "script" {
            continue;
        }
        match indent(line) {
            0 if !line.trim().is_empty() => in_job = line.trim() == ".keyward-approval:",
            2 if in_job => section = line.trim().trim_end_matches(':').to_owned(),
            4 if in_job && section == "variables" => job.variables.push(key_value(line)),
            4 if in_job && section == "before_script" && line.trim() == "- |" => section = "script".into(),
            _ if in_job && section == "script" => {
                job.before_script.push_str(line.get(6..).unwrap_or(""));
                job.before_script.push('\n');
            }
            _ => {}
        }
    }
    assert!(job.before_script.contains("approval wait"), "read the before_script: {}", job.before_script);
    job
}

/// GitLab's expansion of `$NAME` and `${NAME}` in a variable's value.
pub fn expand(value: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if !(n.is_ascii_alphanumeric() || n == '_') {
                break;
            }
            name.push(n);
            chars.next();
        }
        if braced {
            chars.next();
        }
        out.push_str(vars.get(&name).map(String::as_str).unwrap_or(""));
    }
    out
}

#[test]
fn the_readers_understand_both_files() {
    let action = read_action();
    assert!(action.required.contains(&"api-key".to_string()));
    assert_eq!(action.defaults["run-id"], "${{ github.run_id }}-${{ github.run_attempt }}");
    let env = step_env(
        &action,
        &[("keyward-url", "http://kw"), ("api-key", "kwk_x"), ("stage", "deploy"), ("environment", "production")],
        &[("run_id", "42"), ("run_attempt", "2"), ("actor", "octo")],
    );
    let env: HashMap<_, _> = env.into_iter().collect();
    assert_eq!(env["KEYWARD_RUN_ID"], "42-2");
    assert_eq!(env["KEYWARD_COMMIT_AUTHOR"], "octo", "the first non-empty alternative");
    assert_eq!(env["KEYWARD_STAGE"], "deploy");
    assert_eq!(env["KEYWARD_PLAN_FILE"], "");

    let job = read_gitlab_job();
    let vars: HashMap<_, _> = job.variables.iter().cloned().collect();
    assert_eq!(vars["KEYWARD_RUN_ID"], "$CI_PIPELINE_ID-$CI_JOB_ID");
    let ci = HashMap::from([("CI_PIPELINE_ID".to_string(), "7".to_string()), ("CI_JOB_ID".into(), "9".into())]);
    assert_eq!(expand(&vars["KEYWARD_RUN_ID"], &ci), "7-9");
    assert_eq!(expand("${CI_JOB_ID}x", &ci), "9x");
    assert!(job.before_script.starts_with("set -e\n"), "{}", job.before_script);
}
