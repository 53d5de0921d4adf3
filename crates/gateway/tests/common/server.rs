//! The real `keyward serve` as a child process: configured by environment variables only (none of
//! the test runner's `KEYWARD_*`, `OTEL_*` or `RUST_LOG`), its logs in a file, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `keyward serve`.
pub struct Server {
    child: Option<Child>,
    /// Where it listens, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The backup secret its first start printed.
    pub backup_secret: Option<String>,
    dir: tempfile::TempDir,
}

impl Server {
    /// On a fresh PostgreSQL schema and the test Redis.
    pub async fn on_postgres_and_redis(env: &[(&str, &str)]) -> Self {
        let schema = keyward_testkit::fresh_pg_schema().await;
        let base = keyward_testkit::postgres_url();
        let separator = if base.contains('?') { '&' } else { '?' };
        let database_url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        let redis_url = keyward_testkit::redis_url();
        let mut all = vec![("KEYWARD_DATABASE_URL", database_url.as_str()), ("KEYWARD_REDIS_URL", redis_url.as_str())];
        all.extend_from_slice(env);
        Self::spawn(&all)
    }

    /// On a SQLite file of its own, with the in-process session store.
    pub fn on_sqlite(env: &[(&str, &str)]) -> Self {
        Self::spawn(env)
    }

    /// With exactly the settings in `env` (which may set `KEYWARD_LISTEN` to a fixed address, to
    /// start a server again where it was); returns once it listens.
    pub fn spawn(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
        command.current_dir(dir.path()).arg("serve");
        for (key, _) in std::env::vars() {
            if key.starts_with("KEYWARD_") || key.starts_with("OTEL_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command.env("KEYWARD_LISTEN", "127.0.0.1:0").env("KEYWARD_MANAGEMENT_LISTEN", "127.0.0.1:0");
        command.envs(env.iter().copied());
        let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, printed) = mpsc::channel();
        // Reads stdout to its end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut server = Self { child: Some(child), url: String::new(), backup_secret: None, dir };
        loop {
            let line = match printed.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => line,
                Err(err) => panic!("keyward serve did not say where it listens ({err}):\n{}", server.logs()),
            };
            if let Some(secret) = line.split("secret:").nth(1) {
                server.backup_secret = Some(secret.trim_matches([' ', '|']).trim().to_owned());
            }
            if let Some(rest) = line.strip_prefix("keyward: listening on ") {
                server.url = format!("http://{}", rest.split_whitespace().next().unwrap());
                return server;
            }
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("stderr.log")
    }

    /// What it wrote to stderr.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (at most 20 s) for a clean exit.
    pub async fn terminate(mut self) {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -TERM");
        for _ in 0..200 {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "keyward serve exited with {status}:\n{}", self.logs());
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("keyward serve did not stop within 20 s of SIGTERM:\n{}", self.logs());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
