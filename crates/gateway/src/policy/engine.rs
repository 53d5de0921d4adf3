//! The Rego engine (regorus) behind step-up policies: compiled once per organization and version,
//! evaluated under a time limit, and failing closed on every error, timeout or panic.

use std::num::{NonZeroU32, NonZeroUsize};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use keyward_domain::DomainError;
use keyward_domain::step_up::{Decision, PolicyInput};
use regorus::Engine;
use regorus::utils::limits::{ExecutionTimerConfig, PolicyLengthConfig};

/// The package every step-up policy declares.
pub const PACKAGE: &str = "keyward.step_up";
/// The file name errors point into.
const FILE: &str = "step_up.rego";
/// The largest policy accepted on save (below `limits.body_bytes`, so the request carrying it fits).
pub const MAX_POLICY_BYTES: usize = 32 * 1024;
/// How long one evaluation may run before it is stopped and denied.
pub const EVALUATION_LIMIT: Duration = Duration::from_millis(50);

/// Why a policy could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The text is not a valid step-up policy.
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
        /// The line at fault, when the engine named one.
        line: Option<u32>,
    },
    /// The evaluation failed, ran out of time or panicked.
    #[error("the step-up policy could not be evaluated: {0}")]
    Evaluation(String),
}

impl PolicyError {
    /// The API error for a policy someone tried to save.
    pub fn into_bad_input(self) -> DomainError {
        match self {
            PolicyError::Invalid { message, line: Some(line) } => DomainError::bad_input_at("rego", line, message),
            PolicyError::Invalid { message, line: None } => DomainError::bad_input("rego", message),
            PolicyError::Evaluation(message) => DomainError::bad_input("rego", message),
        }
    }
}

/// Reads `--> <file>.rego:LINE:COL` and the final `error: …` line out of a regorus message.
fn invalid(err: &impl std::fmt::Display) -> PolicyError {
    let text = err.to_string();
    let position = text.find("--> ").and_then(|at| {
        let rest = &text[at..];
        rest.find(".rego:").map(|m| &rest[m + ".rego:".len()..])
    });
    let line = position.and_then(|rest| rest.split(':').next()).and_then(|n| n.parse().ok());
    let column = position.and_then(|rest| rest.split([':', '\n']).nth(1)).and_then(|n| n.trim().parse::<u32>().ok());
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("invalid policy").trim();
    let message = match (line, column) {
        (Some(line), Some(column)) => format!("line {line}, column {column}: {last}"),
        (Some(line), None) => format!("line {line}: {last}"),
        _ => last.to_owned(),
    };
    PolicyError::Invalid { message, line }
}

fn length_limits() -> PolicyLengthConfig {
    PolicyLengthConfig {
        max_col: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
        max_file_bytes: NonZeroUsize::new(MAX_POLICY_BYTES).unwrap_or(NonZeroUsize::MIN),
        max_lines: NonZeroUsize::new(5000).unwrap_or(NonZeroUsize::MIN),
    }
}

/// Compiles `rego` as `file`, which must be `package <package>` and define `decision`; returns
/// the engine (for dry runs over the whole package) and `decision` compiled on its own.
pub(crate) fn compile_module(
    rego: &str,
    package: &str,
    file: &str,
) -> Result<(Engine, regorus::CompiledPolicy), PolicyError> {
    if rego.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::Invalid {
            message: format!("a policy is at most {} KiB; this one is {} bytes", MAX_POLICY_BYTES / 1024, rego.len()),
            line: None,
        });
    }
    let compiled = catch_unwind(AssertUnwindSafe(|| -> Result<(Engine, regorus::CompiledPolicy), PolicyError> {
        let mut engine = Engine::new();
        engine.set_policy_length_config(length_limits());
        let limit = ExecutionTimerConfig {
            limit: EVALUATION_LIMIT,
            check_interval: NonZeroU32::new(32).unwrap_or(NonZeroU32::MIN),
        };
        engine.set_execution_timer_config(limit);
        // A compiled rule evaluates in an engine of its own, which takes the process-wide limit;
        // every policy in this process runs under the same limit.
        regorus::utils::limits::set_fallback_execution_timer_config(Some(limit));
        let found = engine.add_policy(file.to_owned(), rego.to_owned()).map_err(|e| invalid(&e))?;
        if found != format!("data.{package}") {
            return Err(PolicyError::Invalid {
                message: format!("the policy must be `package {package}`, not `{}`", found.trim_start_matches("data.")),
                line: Some(1),
            });
        }
        if !engine.has_declared_rule_rooted_at(file, "decision").unwrap_or(false) {
            return Err(PolicyError::Invalid {
                message: "the policy must define the rule `decision` (see the README's policy contract)".into(),
                line: None,
            });
        }
        let rule = format!("data.{package}.decision");
        let decision = engine.compile_with_entrypoint(&rule.into()).map_err(|e| invalid(&e))?;
        Ok((engine, decision))
    }));
    compiled.unwrap_or_else(|_| {
        Err(PolicyError::Invalid { message: "the policy engine failed on this text".into(), line: None })
    })
}

/// Evaluates a compiled `decision` rule for `input`; errors, timeouts and panics all come back as
/// [`PolicyError::Evaluation`].
pub(crate) fn eval_rule(
    rule: &regorus::CompiledPolicy,
    input: serde_json::Value,
) -> Result<serde_json::Value, PolicyError> {
    let outcome = catch_unwind(AssertUnwindSafe(|| rule.eval_with_input(regorus::Value::from(input))));
    match outcome {
        Ok(Ok(value)) => to_json(&value),
        Ok(Err(err)) => Err(PolicyError::Evaluation(first_line(&err.to_string()))),
        Err(_) => Err(PolicyError::Evaluation("the policy engine panicked".into())),
    }
}

/// Evaluates the whole package for `input` (dry runs: which rules produced a value).
pub(crate) fn eval_package(
    engine: &Engine,
    input: serde_json::Value,
    package: &str,
) -> Result<serde_json::Value, PolicyError> {
    let mut engine = engine.clone();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        engine.set_input(regorus::Value::from(input));
        engine.eval_query(format!("data.{package}"), false)
    }));
    let results = match outcome {
        Ok(Ok(results)) => results,
        Ok(Err(err)) => return Err(PolicyError::Evaluation(first_line(&err.to_string()))),
        Err(_) => return Err(PolicyError::Evaluation("the policy engine panicked".into())),
    };
    match results.result.first().and_then(|r| r.expressions.first()) {
        Some(expression) => to_json(&expression.value),
        None => Ok(serde_json::Value::Null),
    }
}

/// How many decisions one compiled policy remembers before it forgets them all.
const MEMO_LIMIT: usize = 4096;

/// A step-up policy compiled and ready to evaluate.
pub struct CompiledPolicy {
    engine: Engine,
    /// `decision` compiled on its own, for the request path.
    decision: regorus::CompiledPolicy,
    /// Decisions by input document. A policy is a function of its input, so a repeated input
    /// (a tool's page loading its assets within the same second) is answered without Rego;
    /// bounded, so distinct inputs cannot grow it.
    memo: std::sync::Mutex<std::collections::HashMap<String, Decision>>,
}

impl std::fmt::Debug for CompiledPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompiledPolicy")
    }
}

impl CompiledPolicy {
    /// Parses and prepares `rego`, which must be package `keyward.step_up` and define `decision`.
    pub fn compile(rego: &str) -> Result<CompiledPolicy, PolicyError> {
        if rego.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::Invalid {
                message: format!(
                    "a policy is at most {} KiB; this one is {} bytes",
                    MAX_POLICY_BYTES / 1024,
                    rego.len()
                ),
                line: None,
            });
        }
        let (engine, decision) = compile_module(rego, PACKAGE, FILE)?;
        Ok(CompiledPolicy { engine, decision, memo: Default::default() })
    }

    /// Evaluates the decision for `input`. Errors, timeouts and panics all come back as
    /// [`PolicyError::Evaluation`]: the caller denies.
    pub fn decide(&self, input: &PolicyInput) -> Result<Decision, PolicyError> {
        let key = input.0.to_string();
        if let Some(decision) = self.memo.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(decision.clone());
        }
        let decision = self.evaluate_decision(input)?;
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        if memo.len() >= MEMO_LIMIT {
            memo.clear();
        }
        memo.insert(key, decision.clone());
        Ok(decision)
    }

    fn evaluate_decision(&self, input: &PolicyInput) -> Result<Decision, PolicyError> {
        let value = eval_rule(&self.decision, input.0.clone())?;
        Decision::from_policy_output(&value).map_err(PolicyError::Evaluation)
    }

    /// A dry run: the decision, the package's rules that produced a value, and the time taken.
    pub fn explain(&self, input: &PolicyInput) -> Result<(Decision, Vec<String>, Duration), PolicyError> {
        let started = Instant::now();
        let package = eval_package(&self.engine, input.0.clone(), PACKAGE)?;
        let elapsed = started.elapsed();
        let fired = match &package {
            serde_json::Value::Object(rules) => rules.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let decision = Decision::from_policy_output(package.get("decision").unwrap_or(&serde_json::Value::Null))
            .map_err(PolicyError::Evaluation)?;
        Ok((decision, fired, elapsed))
    }

    /// Compiles `rego` and evaluates it against every built-in sample input, as a save does.
    pub fn validate(rego: &str) -> Result<CompiledPolicy, PolicyError> {
        let compiled = CompiledPolicy::compile(rego)?;
        for sample in PolicyInput::samples() {
            compiled.decide(&sample).map_err(|err| PolicyError::Invalid {
                message: format!("evaluating the sample input for {}: {err}", sample.0["action"]),
                line: None,
            })?;
        }
        Ok(compiled)
    }
}

fn first_line(text: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("unknown error").chars().take(300).collect()
}

fn to_json(value: &regorus::Value) -> Result<serde_json::Value, PolicyError> {
    if *value == regorus::Value::Undefined {
        return Ok(serde_json::Value::Null);
    }
    serde_json::to_value(value).map_err(|e| PolicyError::Evaluation(format!("the decision is not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_domain::step_up::{DEFAULT_POLICY, Reuse};
    use serde_json::json;

    fn input(action: &str) -> PolicyInput {
        PolicyInput::sample(action, "ADMIN", Some(30))
    }

    #[test]
    fn the_default_policy_text_is_the_built_in_rule() {
        let policy = CompiledPolicy::validate(DEFAULT_POLICY).unwrap();
        for action in [
            "security_key.delete",
            "security_key.rename",
            "recovery_codes.generate",
            "sso.link",
            "member.security_key.delete",
            "org.mfa_enforcement.set",
            "org.step_up_policy.set",
            "backup_credentials.rotate",
            "k8s.exec",
        ] {
            assert_eq!(policy.decide(&input(action)).unwrap(), Decision::built_in(action), "{action}");
        }
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let broken =
            "package keyward.step_up\n\nimport rego.v1\n\ndecision := {\"max_age_seconds\": } if {\n\ttrue\n}\n";
        let PolicyError::Invalid { message, line } = CompiledPolicy::compile(broken).unwrap_err() else {
            panic!("not an invalid-policy error");
        };
        assert_eq!(line, Some(5), "{message}");
        assert!(message.starts_with("line 5"), "{message}");
        let bad_input = PolicyError::Invalid { message, line }.into_bad_input();
        assert!(matches!(bad_input, DomainError::BadInput { line: Some(5), .. }));
    }

    #[test]
    fn the_package_and_the_rule_are_required() {
        let other = CompiledPolicy::compile("package other\nimport rego.v1\ndecision := {}\n").unwrap_err();
        assert!(other.to_string().contains("package keyward.step_up"), "{other}");
        let no_rule = CompiledPolicy::compile("package keyward.step_up\nimport rego.v1\nallow := true\n").unwrap_err();
        assert!(no_rule.to_string().contains("decision"), "{no_rule}");
    }

    #[test]
    fn a_policy_over_the_size_limit_is_refused_before_parsing() {
        let huge = format!("package keyward.step_up\n# {}\n", "x".repeat(MAX_POLICY_BYTES));
        assert!(CompiledPolicy::compile(&huge).unwrap_err().to_string().contains("KiB"));
    }

    #[test]
    fn a_decision_of_the_wrong_shape_fails_evaluation() {
        let policy = CompiledPolicy::compile("package keyward.step_up\nimport rego.v1\ndecision := \"yes\"\n").unwrap();
        assert!(matches!(policy.decide(&input("k8s.exec")), Err(PolicyError::Evaluation(_))));
        assert!(CompiledPolicy::validate("package keyward.step_up\nimport rego.v1\ndecision := \"yes\"\n").is_err());
    }

    #[test]
    fn a_runaway_policy_is_stopped_by_the_time_limit() {
        let looping = r#"package keyward.step_up
import rego.v1
n := count([x | some x in numbers.range(1, 5000000); x % 7 == 0])
decision := {"max_age_seconds": 60} if n > 0
"#;
        let policy = CompiledPolicy::compile(looping).unwrap();
        let started = Instant::now();
        let outcome = policy.decide(&input("k8s.exec"));
        assert!(matches!(outcome, Err(PolicyError::Evaluation(_))), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(30), "the limit stopped it");
        assert!(CompiledPolicy::validate(looping).is_err(), "and it cannot be saved");
    }

    #[test]
    fn repeated_inputs_are_answered_from_the_memo_and_it_stays_bounded() {
        let policy = CompiledPolicy::compile(DEFAULT_POLICY).unwrap();
        let first = policy.decide(&input("k8s.exec")).unwrap();
        assert_eq!(policy.decide(&input("k8s.exec")).unwrap(), first);
        assert_eq!(policy.memo.lock().unwrap().len(), 1);
        for i in 0..(MEMO_LIMIT + 10) {
            policy.decide(&input(&format!("tool.action{i}"))).unwrap();
        }
        assert!(policy.memo.lock().unwrap().len() <= MEMO_LIMIT);
    }

    #[test]
    fn recursion_is_refused() {
        let recursive = "package keyward.step_up\nimport rego.v1\na := b\nb := a\ndecision := {} if a\n";
        assert!(CompiledPolicy::validate(recursive).is_err());
    }

    #[test]
    fn explain_lists_the_rules_that_produced_a_value() {
        let text = r#"package keyward.step_up
import rego.v1
prod if input.resource.environment == "prod"
friday if input.request.weekday == "Mon"
decision := {"deny": true, "reason": "no prod"} if prod
"#;
        let policy = CompiledPolicy::validate(text).unwrap();
        let (decision, fired, _) = policy.explain(&input("k8s.exec")).unwrap();
        assert!(decision.deny);
        assert!(fired.contains(&"prod".to_owned()) && fired.contains(&"decision".to_owned()), "{fired:?}");
        assert!(!fired.contains(&"friday".to_owned()), "{fired:?}");
    }

    #[test]
    fn policies_see_the_whole_input() {
        let text = r#"package keyward.step_up
import rego.v1
decision := {"max_age_seconds": 60, "reuse": "class"} if {
    input.principal.role == "ADMIN"
    "platform" in input.principal.groups
    input.session.key.user_verified
}
"#;
        let policy = CompiledPolicy::validate(text).unwrap();
        let decision = policy.decide(&input("db.restart")).unwrap();
        assert_eq!((decision.max_age_seconds, decision.reuse), (60, Reuse::Class));
        let member = policy.decide(&PolicyInput::sample("db.restart", "MEMBER", None)).unwrap();
        assert_eq!(member, Decision::default());
        let _ = json!({});
    }
}
