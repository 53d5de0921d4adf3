//! Backup and restore as the operations guide describes it: `pg_dump` a PostgreSQL database, restore
//! it into a fresh one with `pg_restore`, and `keyward audit verify` the copy against the head
//! recorded before the backup. A row changed after the restore is named.

use std::path::Path;
use std::process::Command;

use keyward_domain::audit::{Actor, AuditRecord};
use keyward_domain::repo::AuditRepo;
use keyward_storage::{Database, DatabaseOptions};
use keyward_testkit::{bootstrap, postgres_url};

/// The server URL with `database` as its database.
fn url_of(database: &str) -> String {
    let mut url = url::Url::parse(&postgres_url()).unwrap();
    url.set_path(database);
    url.to_string()
}

fn tool(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{program} {args:?}: {text}");
    text
}

/// `keyward audit …` against `database_url`; (exit code, stdout and stderr).
fn keyward_audit(dir: &Path, database_url: &str, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command.current_dir(dir).arg("audit").args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("KEYWARD_") {
            command.env_remove(key);
        }
    }
    let output = command.env("KEYWARD_DATABASE_URL", database_url).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

/// Drops the test's databases even when an assertion fails.
struct Databases(Vec<String>);

impl Drop for Databases {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("psql")
                .args([&postgres_url(), "-c", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")])
                .output();
        }
    }
}

#[tokio::test]
async fn a_restored_backup_verifies_against_the_head_recorded_before_it() {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (source, copy) = (format!("kw_backup_{suffix}"), format!("kw_restore_{suffix}"));
    let _cleanup = Databases(vec![source.clone(), copy.clone()]);
    for name in [&source, &copy] {
        tool("psql", &[&postgres_url(), "-c", &format!("CREATE DATABASE {name}")]);
    }
    let db = Database::connect(&DatabaseOptions::new(url_of(&source))).await.unwrap();
    db.migrate().await.unwrap();
    let (org, admin) = bootstrap(&db).await;
    for i in 0..5 {
        let record = AuditRecord::new(Actor::Member(admin.id), "session.logout").details(serde_json::json!({ "n": i }));
        db.append_audit(org.id, record).await.unwrap();
    }
    drop(db);

    let dir = tempfile::tempdir().unwrap();
    let (code, head) = keyward_audit(dir.path(), &url_of(&source), &["head"]);
    assert_eq!(code, 0, "{head}");
    let head = head.lines().find(|l| l.starts_with("org=acme ")).expect("the organization's head").to_owned();
    let seq = head.split_whitespace().find_map(|f| f.strip_prefix("seq=")).unwrap().to_owned();
    let hash = head.split_whitespace().find_map(|f| f.strip_prefix("hash=")).unwrap().to_owned();

    let dump = dir.path().join("keyward.dump");
    tool("pg_dump", &["--format=custom", "--file", dump.to_str().unwrap(), &url_of(&source)]);
    tool("pg_restore", &["--no-owner", "--dbname", &url_of(&copy), dump.to_str().unwrap()]);

    let expect = format!("{seq}:{hash}");
    let (code, verdict) =
        keyward_audit(dir.path(), &url_of(&copy), &["verify", "--org", "acme", "--expect-head", &expect]);
    assert_eq!(code, 0, "the restored chain verifies against the head taken before the backup: {verdict}");

    // A copy that was altered after the backup does not.
    let tamper = format!("UPDATE audit_events SET action = 'member.created' WHERE seq = 3 AND org_id = '{}'", org.id);
    tool("psql", &[&url_of(&copy), "-c", &tamper]);
    let (code, verdict) =
        keyward_audit(dir.path(), &url_of(&copy), &["verify", "--org", "acme", "--expect-head", &expect]);
    assert_eq!(code, 1, "{verdict}");
    assert!(verdict.contains('3'), "the broken event is named: {verdict}");
}
