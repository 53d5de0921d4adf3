//! The `keyward` binary: configuration errors, first-start bootstrap, graceful shutdown, and
//! racing first starts.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use keyward_domain::repo::OrganizationRepo;
use keyward_testkit::{fresh_pg_schema, postgres_url};

fn keyward(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command.current_dir(dir).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("KEYWARD_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command.env("KEYWARD_LISTEN", "127.0.0.1:0").env("KEYWARD_MANAGEMENT_LISTEN", "127.0.0.1:0");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let output = keyward(dir, args, env).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bad_configuration_exits_non_zero_naming_key_and_source_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(dir.path(), &["serve"], &[("KEYWARD_SESSION__IDLE_TTL", "soon")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("session.idle_ttl") && stderr.contains("KEYWARD_SESSION__IDLE_TTL"), "{stderr}");
    assert!(!dir.path().join("data").exists(), "nothing is half-created");

    std::fs::write(dir.path().join("keyward.toml"), "listen = \"127.0.0.1:0\"\nlisen = 1\n").unwrap();
    let (code, _, stderr) = run(dir.path(), &["serve"], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("lisen") && stderr.contains("keyward.toml"), "{stderr}");
    assert!(!dir.path().join("data").exists());
}

#[test]
fn unreachable_database_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) =
        run(dir.path(), &["serve"], &[("KEYWARD_DATABASE_URL", "postgres://postgres:hunter2@127.0.0.1:1/keyward")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("database at postgres://postgres:***@127.0.0.1:1/keyward"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "passwords are redacted");
}

#[test]
fn schema_command_prints_the_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(dir.path(), &["schema"], &[]);
    assert_eq!(code, 0);
    assert_eq!(stdout, keyward_gateway::graphql::sdl());
    assert!(stdout.contains("viewer: Viewer"));
}

fn start_serving(dir: &Path) -> (Child, Vec<String>) {
    let mut child = keyward(dir, &["serve"], &[("KEYWARD_LOG__LEVEL", "warn")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.starts_with("keyward: listening on");
        lines.push(line);
        if done {
            break;
        }
    }
    (child, lines)
}

fn terminate(mut child: Child) -> i32 {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    child.wait().unwrap().code().unwrap_or(-1)
}

#[test]
fn first_start_prints_backup_credentials_once_and_sigterm_is_graceful() {
    let dir = tempfile::tempdir().unwrap();
    let (child, first) = start_serving(dir.path());
    let output = first.join("\n");
    assert!(output.contains("organization: default"), "{output}");
    assert!(output.contains("username:     admin"), "{output}");
    let secret_line = first.iter().find(|l| l.contains("secret:")).expect("a secret line");
    let secret = secret_line.split("secret:").nth(1).unwrap().trim_matches([' ', '|']).trim();
    assert_eq!(secret.len(), 43, "32 random bytes, base64url");
    assert!(dir.path().join("data/keyward.db").exists(), "the default SQLite file under ./data");
    assert_eq!(terminate(child), 0);

    let (child, second) = start_serving(dir.path());
    let output = second.join("\n");
    assert!(!output.contains("secret:"), "restarts never print credentials: {output}");
    assert_eq!(terminate(child), 0);
}

/// Two gateways starting together on one empty PostgreSQL create exactly one organization.
#[tokio::test]
async fn racing_first_starts_create_one_organization() {
    let schema = fresh_pg_schema().await;
    let connect = || async {
        let mut options = keyward_storage::DatabaseOptions::new(postgres_url());
        options.schema = Some(schema.clone());
        let db = keyward_storage::Database::connect(&options).await.unwrap();
        db.migrate().await.unwrap();
        Arc::new(db)
    };
    let (a, b) = (connect().await, connect().await);
    let start = |db: Arc<keyward_storage::Database>| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let store = Arc::new(keyward_storage::MemoryStore::new());
        keyward_gateway::start_with(common::test_config(), listener, db, keyward_gateway::Stores::shared(store))
            .await
            .unwrap()
    };
    let (first, second) = tokio::join!(start(Arc::clone(&a)), start(b));
    let printed = [first.credentials.is_some(), second.credentials.is_some()];
    assert_eq!(printed.iter().filter(|p| **p).count(), 1, "{printed:?}");
    assert_eq!(a.organizations().await.unwrap().len(), 1);
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn audit_verify_and_export_from_the_command_line() {
    use keyward_domain::audit::{Actor, AuditRecord};
    use keyward_domain::repo::AuditRepo;
    use sea_orm::ConnectionTrait;

    let test_db = keyward_testkit::TestDb::sqlite().await;
    let (org, _) = keyward_testkit::bootstrap(&test_db.db).await;
    for i in 0..4 {
        test_db.db.append_audit(org.id, AuditRecord::new(Actor::System, format!("test.{i}"))).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let env = [("KEYWARD_DATABASE_URL", test_db.url.as_str())];
    let (code, stdout, stderr) = run(dir.path(), &["audit", "verify"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("acme: ok, 5 events checked"), "{stdout}");
    let (code, stdout, _) = run(dir.path(), &["audit", "export", "--format", "jsonl", "--organization", "acme"], &env);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    assert_eq!(lines[4]["action"], "test.3");

    test_db
        .db
        .connection()
        .execute_unprepared("UPDATE audit_events SET action = 'forged' WHERE seq = 3")
        .await
        .unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["audit", "verify"], &env);
    assert_eq!(code, 1);
    assert!(stdout.contains("acme: BROKEN at event 3"), "{stdout}");
    assert!(stderr.contains("audit chain broken"), "{stderr}");
}

/// `audit head` prints what `audit verify --expect-head` checks later: deleting the newest event
/// is reported, and still caught when the stored head is rewritten or the event replaced.
async fn audit_head_anchors_verification_from_the_command_line(test_db: keyward_testkit::TestDb, url: String) {
    use keyward_domain::audit::{Actor, AuditRecord};
    use keyward_domain::repo::AuditRepo;
    use sea_orm::ConnectionTrait;

    let (org, _) = keyward_testkit::bootstrap(&test_db.db).await;
    for i in 0..3 {
        test_db.db.append_audit(org.id, AuditRecord::new(Actor::System, format!("test.{i}"))).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let env = [("KEYWARD_DATABASE_URL", url.as_str())];
    let (code, stdout, stderr) = run(dir.path(), &["audit", "head", "--org", "acme"], &env);
    assert_eq!(code, 0, "{stderr}");
    let head = test_db.db.audit_head(org.id).await.unwrap().unwrap();
    assert_eq!(stdout, format!("org=acme seq=4 hash={}\n", head.hash));
    let expect = format!("4:{}", head.hash);
    let (code, stdout, _) = run(dir.path(), &["audit", "verify", "--expect-head", &expect], &env);
    assert_eq!(code, 0);
    assert!(stdout.contains(&format!("acme: ok, 4 events checked, verified head {expect}")), "{stdout}");

    let sql = test_db.db.connection();
    sql.execute_unprepared("DELETE FROM audit_events WHERE seq = 4").await.unwrap();
    let (code, stdout, stderr) = run(dir.path(), &["audit", "verify"], &env);
    assert_eq!(code, 1);
    assert!(stdout.contains("acme: BROKEN at event 4 (3 events checked): event 4 is missing"), "{stdout}");
    assert!(stderr.contains("audit chain broken: acme: event 4 is missing"), "{stderr}");

    // The stored head rewritten to match the truncated chain: only the recorded head knows.
    let third = test_db.db.audit_chain(org.id, 2, 1).await.unwrap().remove(0);
    sql.execute_unprepared(&format!("UPDATE audit_heads SET seq = 3, hash = '{}'", third.hash)).await.unwrap();
    assert_eq!(run(dir.path(), &["audit", "verify"], &env).0, 0);
    let (code, _, stderr) = run(dir.path(), &["audit", "verify", "--expect-head", &expect], &env);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("event 4 is missing: the expected head is at event 4, but the chain ends at event 3"),
        "{stderr}"
    );
    // A forged event 4, properly chained and hashed, with the head moved along.
    test_db.db.append_audit(org.id, AuditRecord::new(Actor::System, "forged")).await.unwrap();
    assert_eq!(run(dir.path(), &["audit", "verify"], &env).0, 0);
    let (code, _, stderr) = run(dir.path(), &["audit", "verify", "--expect-head", &expect], &env);
    assert_eq!(code, 1);
    assert!(stderr.contains("event 4 has another hash than the expected head"), "{stderr}");

    let (code, _, stderr) = run(dir.path(), &["audit", "verify", "--expect-head", "4"], &env);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--expect-head") && stderr.contains("<seq>:<hash>"), "{stderr}");
}

#[tokio::test]
async fn audit_head_anchors_verification_from_the_command_line_on_sqlite() {
    let test_db = keyward_testkit::TestDb::sqlite().await;
    let url = test_db.url.clone();
    audit_head_anchors_verification_from_the_command_line(test_db, url).await;
}

#[tokio::test]
async fn audit_head_anchors_verification_from_the_command_line_on_postgres() {
    let test_db = keyward_testkit::TestDb::postgres().await;
    let schema = test_db.schema.clone().unwrap();
    let url = format!("{}?options=-c%20search_path%3D{schema}", test_db.url);
    audit_head_anchors_verification_from_the_command_line(test_db, url).await;
}

/// The export carries the request context and name snapshots, with keys in the order the SPA's
/// `auditJsonLines` writes them, so one tool reads both.
#[tokio::test]
async fn the_jsonl_export_has_the_fields_the_spa_export_mirrors() {
    use keyward_domain::audit::{Actor, AuditRecord, RequestMeta};
    use keyward_domain::repo::AuditRepo;

    let test_db = keyward_testkit::TestDb::sqlite().await;
    let (org, admin) = keyward_testkit::bootstrap(&test_db.db).await;
    let record = AuditRecord::new(Actor::Member(admin.id), "session.logout").target(format!("member:{}", admin.id));
    let meta = RequestMeta::new(Some("req-7"), Some("curl/8.5"));
    keyward_storage::request_context::scope(meta, test_db.db.append_audit(org.id, record)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) =
        run(dir.path(), &["audit", "export", "--org", "acme"], &[("KEYWARD_DATABASE_URL", test_db.url.as_str())]);
    assert_eq!(code, 0, "{stderr}");
    let line = stdout.lines().nth(1).unwrap();
    let keys: Vec<String> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line).unwrap().keys().cloned().collect();
    // frontend/src/auditExport.ts writes exactly these, in this order.
    let spa = "action actor actor_name at details hash hash_version ip org_id organization outcome prev_hash request_id seq target target_name user_agent";
    assert_eq!(keys.join(" "), spa);
    assert!(line.contains(r#""actor_name":"admin","#) && line.contains(r#""target_name":"admin","#), "{line}");
    assert!(line.contains(r#""request_id":"req-7","#) && line.contains(r#""user_agent":"curl/8.5"}"#), "{line}");
    assert!(line.contains(r#""hash_version":2,"#), "{line}");
}
