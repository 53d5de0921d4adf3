//! `keyward approval` and the CI integrations end to end: the real binary against the real app,
//! members approving and rejecting through GraphQL with software keys. The GitHub action's step
//! runs exactly as GitHub would run it (its inputs, defaults and environment read from
//! action.yml), and so does the GitLab template's before_script.

mod common;

#[path = "approval_cli/ci.rs"]
mod ci;
#[path = "approval_cli/tokens.rs"]
mod tokens;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::TestApp;
use common::approvals::{Approver, REJECT, TWO_APPROVERS};
use keyward_domain::approval::ExpectedApproval;
use keyward_gateway::tokens::approval::verify_approval_offline;
use keyward_gateway::tokens::load_jwks;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_keyward");
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
/// Longest a child process may take once the decision is made.
const FINISH: Duration = Duration::from_secs(30);

/// `keyward approval …` with no KEYWARD_* variables of the test's own environment.
fn keyward(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.arg("approval").args(args).env_remove("KEYWARD_URL").env_remove("KEYWARD_API_KEY");
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    command
}

fn with_api(mut command: Command, app: &TestApp, key: &str) -> Command {
    command.env("KEYWARD_URL", &app.url).env("KEYWARD_API_KEY", key);
    command
}

async fn finished(child: Child) -> Output {
    tokio::time::timeout(FINISH, child.wait_with_output()).await.expect("the command finishes").unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh admin's API key with the approvals:request scope, after saving `policy` if given.
async fn pipeline_key(app: &TestApp, policy: Option<&str>) -> String {
    let (admin, _) = app.admin_with_key().await;
    if let Some(rego) = policy {
        app.ok("mutation($r: String!) { approvalPolicySet(rego: $r) { version } }", json!({ "r": rego }), Some(&admin))
            .await;
    }
    app.api_key(&admin, &["APPROVALS_REQUEST"]).await
}

async fn approve(app: &TestApp, who: &mut Approver, id: &str) -> Value {
    let body = app.approve(who, id).await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["approvalFinish"].clone()
}

async fn reject(app: &TestApp, who: &mut Approver, id: &str, reason: &str) -> Value {
    let (ceremony, response) = app.approval_touch(who, id).await;
    let vars = json!({ "id": id, "c": ceremony, "r": response, "why": reason });
    app.ok(REJECT, vars, Some(&who.token)).await["approvalReject"].clone()
}

/// The newest pending request, once a pipeline has created one.
async fn pending_request(app: &TestApp, token: &str) -> Value {
    let query = "{ approvalRequests(status: PENDING, first: 1) { id digest pipeline runId stage environment commitAuthor requester planDigest runUrl changeSummary { resources envVarsChanged secretsRotated sensitiveFlags } } }";
    for _ in 0..200 {
        let data = app.ok(query, json!({}), Some(token)).await;
        if let Some(request) = data["approvalRequests"].get(0) {
            return request.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no pending request appeared")
}

/// `approval request` with flags for `run` (stage apply, environment production); its JSON output.
async fn request(app: &TestApp, key: &str, run: &str) -> Value {
    let args = [
        "request",
        "--output",
        "json",
        "--pipeline",
        "infra/deploy",
        "--run-id",
        run,
        "--stage",
        "apply",
        "--environment",
        "production",
        "--commit-sha",
        COMMIT,
        "--commit-author",
        "carol",
        "--requester",
        "ci-bot",
        "--plan-digest",
        "sha256:abc",
        "--resource",
        "aws_db_instance.main",
    ];
    let output = finished(with_api(keyward(&args), app, key).spawn().unwrap()).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn jwks_url(app: &TestApp) -> String {
    format!("{}/.well-known/jwks.json", app.url)
}

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn github_context() -> Vec<(&'static str, &'static str)> {
    vec![
        ("repository", "acme/shop"),
        ("workflow", "deploy"),
        ("run_id", "4242"),
        ("run_attempt", "1"),
        ("sha", COMMIT),
        ("actor", "ci-bot"),
        ("server_url", "https://github.example.com"),
        ("event.head_commit.author.email", "carol@example.com"),
    ]
}

async fn the_github_action_gates_a_job(app: &TestApp) {
    let key = pipeline_key(app, Some(TWO_APPROVERS)).await;
    let dir = tempfile::tempdir().unwrap();
    let (tfplan, outputs) = (dir.path().join("tfplan"), dir.path().join("github_output"));
    std::fs::write(&tfplan, "~ aws_ecs_service.web image: v1 -> v2\n").unwrap();
    std::fs::write(&outputs, "").unwrap();
    let action = ci::read_action();
    let with = [
        ("keyward-url", app.url.as_str()),
        ("api-key", key.as_str()),
        ("stage", "deploy"),
        ("environment", "production"),
        ("plan-artifact", tfplan.to_str().unwrap()),
        ("resources", "aws_ecs_service.web\naws_iam_role.deploy"),
        ("sensitive", "iam, database"),
        ("timeout", "2m"),
        ("keyward-bin", BIN),
    ];
    let env = ci::step_env(&action, &with, &github_context());
    let mut step = Command::new("bash");
    step.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &action.run]).envs(env);
    step.env("GITHUB_ACTION_PATH", ci::repo_root().join("integrations/github-action"));
    step.env("GITHUB_OUTPUT", &outputs).env("GITHUB_ACTIONS", "true");
    step.stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let step = step.spawn().unwrap();

    let (mut alice, mut bob) = (app.approver("alice").await, app.approver("bob").await);
    let request = pending_request(app, &alice.token).await;
    let id = request["id"].as_str().unwrap();
    assert_eq!(request["pipeline"], "acme/shop/deploy");
    assert_eq!(request["runId"], "4242-1");
    assert_eq!(
        (request["commitAuthor"].as_str(), request["requester"].as_str()),
        (Some("carol@example.com"), Some("ci-bot"))
    );
    assert_eq!(request["planDigest"], sha256_file(&tfplan));
    assert_eq!(request["runUrl"], "https://github.example.com/acme/shop/actions/runs/4242");
    assert_eq!(request["changeSummary"]["resources"], json!(["aws_ecs_service.web", "aws_iam_role.deploy"]));
    assert_eq!(request["changeSummary"]["sensitiveFlags"], json!(["iam", "database"]));
    assert_eq!(approve(app, &mut alice, id).await["approvalsNeeded"], 1);
    assert_eq!(approve(app, &mut bob, id).await["status"], "APPROVED");

    let output = finished(step).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("approved by alice, bob"), "{stderr}");
    assert!(!stderr.contains("polling"), "the wait followed the subscription: {stderr}");
    let outputs: HashMap<String, String> = std::fs::read_to_string(&outputs)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    assert_eq!(outputs["request-id"], id);
    assert_eq!(outputs["digest"], request["digest"].as_str().unwrap());
    assert_eq!(outputs["approval-url"], format!("http://localhost:8080/approvals/{id}"));
    assert!(text(&output.stdout).contains(&format!("::add-mask::{}", outputs["token"])), "the token is masked");

    let jwks = load_jwks(&jwks_url(app)).await.unwrap();
    let expected = ExpectedApproval {
        digest: &outputs["digest"],
        stage: "deploy",
        environment: "production",
        run: Some("4242-1"),
        issuer: Some("http://localhost:8080"),
    };
    let now = chrono::Utc::now().timestamp();
    let claims = verify_approval_offline(&outputs["token"], expected, &jwks, now, None).unwrap();
    assert_eq!(claims.approvers.len(), 2);
    assert_eq!(claims.amr, ["hwk"]);
    assert_eq!((claims.sub.as_str(), claims.pipeline.as_str()), (id, "acme/shop/deploy"));
}

async fn the_gitlab_template_gates_a_job(app: &TestApp) {
    let key = pipeline_key(app, None).await;
    let job = ci::read_gitlab_job();
    let ci_vars: HashMap<String, String> = [
        ("CI_JOB_STAGE", "deploy"),
        ("CI_ENVIRONMENT_NAME", "staging"),
        ("CI_PROJECT_PATH", "acme/shop"),
        ("CI_PIPELINE_ID", "77"),
        ("CI_JOB_ID", "901"),
        ("GITLAB_USER_LOGIN", "ci-bot"),
        ("CI_JOB_URL", "https://gitlab.example.com/acme/shop/-/jobs/901"),
        ("CI_COMMIT_SHA", COMMIT),
        ("CI_COMMIT_AUTHOR", "Carol <carol@example.com>"),
        ("KEYWARD_URL", &app.url),
        ("KEYWARD_API_KEY", &key),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut env = ci_vars.clone();
    for (name, value) in &job.variables {
        env.insert(name.clone(), ci::expand(value, &ci_vars));
    }
    env.insert("KEYWARD_BIN".into(), BIN.into());
    env.insert("KEYWARD_PLAN_DIGEST".into(), "sha256:feed".into());
    env.insert("KEYWARD_RESOURCES".into(), "aws_s3_bucket.assets, aws_cloudfront.cdn".into());
    // The job's script runs in the same shell after the before_script.
    let script = format!("{}\nprintf 'token=%s\\n' \"$KEYWARD_APPROVAL_TOKEN\"\n", job.before_script);
    let mut shell = Command::new("sh");
    shell.args(["-c", &script]).envs(&env).env_remove("KEYWARD_TIMEOUT");
    shell.stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let shell = shell.spawn().unwrap();

    let mut dana = app.approver("dana").await;
    let request = pending_request(app, &dana.token).await;
    assert_eq!((request["stage"].as_str(), request["environment"].as_str()), (Some("deploy"), Some("staging")));
    assert_eq!(
        (request["runId"].as_str(), request["commitAuthor"].as_str()),
        (Some("77-901"), Some("carol@example.com"))
    );
    assert_eq!(request["changeSummary"]["resources"], json!(["aws_s3_bucket.assets", "aws_cloudfront.cdn"]));
    approve(app, &mut dana, request["id"].as_str().unwrap()).await;

    let output = finished(shell).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("keyward: approved, and the token checks out"), "{stdout}");
    let token = stdout.lines().find_map(|l| l.strip_prefix("token=")).unwrap();
    assert_eq!(token.split('.').count(), 3, "the script sees the token: {stdout}");
}

/// A rejection ends the wait with exit 1, the rejecter and the reason on stderr, nothing on stdout;
/// here the wait polls, so both ways of following a request are exercised.
async fn a_rejection_ends_the_wait_with_1(app: &TestApp) {
    let key = pipeline_key(app, None).await;
    let created = request(app, &key, "r-1").await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["approvalUrl"], format!("http://localhost:8080/approvals/{id}"));
    let wait = with_api(keyward(&["wait", id, "--poll"]), app, &key).spawn().unwrap();
    let mut erin = app.approver("erin").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reject(app, &mut erin, id, "the migration is not reviewed").await["status"], "REJECTED");
    let output = finished(wait).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no token: {}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("rejected by erin: the migration is not reviewed"), "{stderr}");
    // Waiting on a decided request answers at once.
    let again = finished(with_api(keyward(&["wait", id]), app, &key).spawn().unwrap()).await;
    assert_eq!(again.status.code(), Some(1));
}

/// A request that expires ends the wait with 2, live (the sweeper's update) and polling; so does
/// `--timeout`. An unknown request or a refused key is an error: 3.
async fn expiry_and_timeouts_end_the_wait_with_2(app: &TestApp) {
    let key = pipeline_key(app, None).await;
    let created = request(app, &key, "r-2").await;
    let id = created["id"].as_str().unwrap();
    let started = std::time::Instant::now();
    let timed_out = finished(with_api(keyward(&["wait", id, "--timeout", "1s"]), app, &key).spawn().unwrap()).await;
    assert_eq!(timed_out.status.code(), Some(2), "{}", text(&timed_out.stderr));
    assert!(text(&timed_out.stderr).contains("gave up after 1s"), "{}", text(&timed_out.stderr));
    assert!(started.elapsed() < Duration::from_secs(10));

    let live = with_api(keyward(&["wait", id]), app, &key).spawn().unwrap();
    let polling = with_api(keyward(&["wait", id, "--poll"]), app, &key).spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.db.connection().execute_unprepared("UPDATE approval_requests SET expires_at = created_at").await.unwrap();
    keyward_gateway::auth::approval::expire_due(&app.running.state, chrono::Utc::now()).await.unwrap();
    let swept = std::time::Instant::now();
    let live = finished(live).await;
    assert!(swept.elapsed() < Duration::from_secs(10), "the sweeper's update reached the subscription");
    for output in [live, finished(polling).await] {
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("expired at"), "{stderr}");
        assert!(output.stdout.is_empty());
    }

    let unknown = uuid::Uuid::new_v4().to_string();
    let missing = finished(with_api(keyward(&["wait", &unknown]), app, &key).spawn().unwrap()).await;
    assert_eq!(missing.status.code(), Some(3), "{}", text(&missing.stderr));
    let bad_key = finished(with_api(keyward(&["wait", id]), app, "kwk_nope").spawn().unwrap()).await;
    assert_eq!(bad_key.status.code(), Some(3), "{}", text(&bad_key.stderr));
}

/// `verify` against the app's JWKS URL expecting digest "d1", run "r1", stage "apply" and environment
/// "production", unless `extra` gives those flags.
async fn verify(app: &TestApp, token: &str, extra: &[&str]) -> Output {
    let mut args = vec!["verify", "--token", token];
    let jwks = jwks_url(app);
    let defaults = [
        ("--jwks", jwks.as_str()),
        ("--digest", "d1"),
        ("--stage", "apply"),
        ("--environment", "production"),
        ("--run", "r1"),
    ];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend(extra);
    finished(keyward(&args).spawn().unwrap()).await
}

async fn refused(app: &TestApp, token: &str, extra: &[&str], reason: &str) {
    let output = verify(app, token, extra).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{extra:?}: {stderr}");
    assert!(stderr.starts_with("refused: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.to_lowercase().contains(reason), "{extra:?}: {stderr:?} should name {reason:?}");
    assert!(output.stdout.is_empty());
}

/// Every way a token can be wrong is refused, naming why, with exit 1.
async fn verify_refuses_naming_the_reason(app: &TestApp) {
    let claims = tokens::claims("d1", "r1", "apply", "production");
    let good = tokens::signed(app, &claims).await;
    let output = verify(app, &good, &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["jti"], claims["jti"]);

    refused(app, &good, &["--stage", "migrate"], "stage").await;
    refused(app, &good, &["--environment", "staging"], "environment").await;
    refused(app, &good, &["--digest", "d2"], "digest").await;
    refused(app, &good, &["--run", "r2"], "run").await;
    refused(app, &good, &["--issuer", "https://evil.example.com"], "issue").await;

    let mut expired = claims.clone();
    expired["iat"] = json!(claims["iat"].as_i64().unwrap() - 7200);
    expired["exp"] = json!(claims["iat"].as_i64().unwrap() - 3600);
    refused(app, &tokens::signed(app, &expired).await, &[], "expired").await;
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    refused(app, &tokens::signed(app, &no_exp).await, &[], "exp").await;
    let mut step_up = claims.clone();
    step_up["token_use"] = json!("step_up");
    refused(app, &tokens::signed(app, &step_up).await, &[], "approval").await;

    let (unknown_kid, borrowed_kid) = tokens::foreign(app, &claims).await;
    refused(app, &unknown_kid, &[], "no key").await;
    refused(app, &borrowed_kid, &[], "signature").await;
    refused(app, &tokens::unsigned(app, &claims).await, &[], "none").await;
    let jwks = load_jwks(&jwks_url(app)).await.unwrap();
    refused(app, &tokens::hs256_with_public_key(&jwks, &claims), &[], "hs256").await;
    refused(app, "not.a.jwt", &[], "malformed").await;

    // The JWKS from a file works the same; an unreadable JWKS is an error (3), not a refusal.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, serde_json::to_string(&jwks).unwrap()).unwrap();
    assert_eq!(verify(app, &good, &["--jwks", file.to_str().unwrap()]).await.status.code(), Some(0));
    assert_eq!(verify(app, &good, &["--jwks", "/nonexistent/jwks.json"]).await.status.code(), Some(3));
}

/// N verifiers presenting one token with one replay-cache file at the same moment: exactly one
/// accepts; the others name the replay. A refused token does not use up the jti.
async fn concurrent_verifiers_accept_a_token_once(app: &TestApp) {
    let claims = tokens::claims("d1", "r1", "apply", "production");
    let token = tokens::signed(app, &claims).await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("replay.jsonl");
    let cache = cache.to_str().unwrap();
    let wrong = verify(app, &token, &["--stage", "migrate", "--replay-cache", cache]).await;
    assert_eq!(wrong.status.code(), Some(1));

    let jwks = jwks_url(app);
    let children: Vec<Child> = (0..8)
        .map(|_| {
            let args = [
                "verify",
                "--token",
                &token,
                "--digest",
                "d1",
                "--stage",
                "apply",
                "--environment",
                "production",
                "--jwks",
                &jwks,
                "--replay-cache",
                cache,
            ];
            keyward(&args).spawn().unwrap()
        })
        .collect();
    let outputs = futures::future::join_all(children.into_iter().map(finished)).await;
    let accepted = outputs.iter().filter(|o| o.status.code() == Some(0)).count();
    assert_eq!(accepted, 1, "{:?}", outputs.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>());
    for output in outputs.iter().filter(|o| o.status.code() != Some(0)) {
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(stderr.starts_with("refused: ") && stderr.contains("already"), "{stderr}");
    }
    let remembered = std::fs::read_to_string(cache).unwrap();
    assert_eq!(remembered.lines().count(), 1);
    assert!(remembered.contains(claims["jti"].as_str().unwrap()));
}

/// `examples/pipeline-demo.sh` prints "deploying…" only once the token verified; a rejection ends
/// it with the wait's exit code and nothing deployed.
async fn the_demo_pipeline_deploys_only_after_verify(app: &TestApp) {
    let key = pipeline_key(app, None).await;
    let demo = |run: &str| {
        let mut demo = Command::new(ci::repo_root().join("examples/pipeline-demo.sh"));
        demo.env("KEYWARD_BIN", BIN).env("KEYWARD_URL", &app.url).env("KEYWARD_API_KEY", &key);
        demo.env("RUN_ID", run).env("COMMIT_SHA", COMMIT).env("DEPLOY_SECONDS", "0");
        demo.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        demo.spawn().unwrap()
    };
    let mut frank = app.approver("frank").await;

    let approved = demo("demo-1");
    let request = pending_request(app, &frank.token).await;
    assert_eq!((request["requester"].as_str(), request["runId"].as_str()), (Some("ci-bot"), Some("demo-1")));
    approve(app, &mut frank, request["id"].as_str().unwrap()).await;
    let output = finished(approved).await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{}", text(&output.stderr));
    let verified = stdout.find("token verified").expect("verified");
    let deploying = stdout.find("deploying…").expect("deployed");
    assert!(verified < deploying, "{stdout}");
    assert!(
        stdout.contains(&format!("approval-url: http://localhost:8080/approvals/{}", request["id"].as_str().unwrap()))
    );

    let rejected = demo("demo-2");
    let request = pending_request(app, &frank.token).await;
    reject(app, &mut frank, request["id"].as_str().unwrap(), "not today").await;
    let output = finished(rejected).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(!text(&output.stdout).contains("deploying…"), "{}", text(&output.stdout));
    assert!(text(&output.stdout).contains("rejected: not deploying"));
}

on_both_backends!(
    the_github_action_gates_a_job,
    the_gitlab_template_gates_a_job,
    a_rejection_ends_the_wait_with_1,
    expiry_and_timeouts_end_the_wait_with_2,
    verify_refuses_naming_the_reason,
    concurrent_verifiers_accept_a_token_once,
    the_demo_pipeline_deploys_only_after_verify,
);
