//! Three `keyward serve` processes on PostgreSQL and the Redis Cluster behind a real nginx
//! (Debian's package, round robin, started here on loopback): a login ceremony begun on one
//! gateway finishes on another; enforcement made on one refuses the next request on each of the
//! others; and a rolling restart (SIGTERM to one gateway at a time, which drains what is in flight
//! and exits 0, then the same binary started again) under a bounded stream of authenticated
//! requests answers every request, nginx retrying the ones a stopped gateway refused.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::authn::ORIGIN;
use common::server::Server;
use keyward_domain::repo::OrganizationRepo;
use keyward_domain::session::{SessionLifetimes, SessionStage};
use keyward_domain::store::SessionStore;
use keyward_testkit::browser;
use serde_json::{Value, json};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// Requests the stream sends at most; it stops earlier once the restarts are over and it has sent
/// a hundred more.
const STREAM_LIMIT: usize = 3000;

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().map(PathBuf::from).find(|p| p.exists()).unwrap_or_else(|| {
        panic!("nginx is missing: `make test` installs it (scripts/install-nginx.sh); or apt-get install -y nginx")
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// nginx in front of `upstreams`, on its own port, with everything it writes in `dir`.
struct Nginx {
    child: Child,
    url: String,
}

impl Nginx {
    fn start(dir: &Path, upstreams: &[u16]) -> Self {
        let port = free_port();
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let servers: String = upstreams.iter().map(|p| format!("    server 127.0.0.1:{p} max_fails=0;\n")).collect();
        let d = dir.display();
        let conf = format!(
            "master_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n\
             \x20 fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
             \x20 upstream keyward {{\n{servers}  }}\n  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
             \x20     proxy_pass http://keyward;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n\
             \x20     proxy_connect_timeout 1s;\n      proxy_next_upstream error timeout http_502 http_503;\n\
             \x20     proxy_next_upstream_tries 3;\n      add_header X-Upstream $upstream_addr always;\n    }}\n  }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(nginx_binary())
            .args(["-p", &dir.display().to_string(), "-c", &dir.join("nginx.conf").display().to_string()])
            .args(["-g", "daemon off;"])
            // One process (master_process off), with no pipe of ours: killing it ends it all.
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `keyward serve` process on a fixed port (so nginx finds it again after a restart).
struct Gateway {
    server: Option<Server>,
    port: u16,
    env: Vec<(&'static str, String)>,
}

impl Gateway {
    fn start(port: u16, mut env: Vec<(&'static str, String)>) -> Self {
        env.extend([("KEYWARD_LISTEN", format!("127.0.0.1:{port}")), ("KEYWARD_LOG__LEVEL", "warn".to_owned())]);
        let mut gateway = Self { server: None, port, env };
        gateway.restart();
        gateway
    }

    /// Starts the binary again on its port; returns once it listens.
    fn restart(&mut self) {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // The spawn waits for the server on this thread; the request stream runs on the other.
        self.server = Some(tokio::task::block_in_place(|| Server::spawn(&env)));
    }

    /// SIGTERM: the server drains what is in flight and exits 0 (asserted by `terminate`).
    async fn terminate(&mut self) {
        self.server.take().expect("running").terminate().await;
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
    token: Option<&str>,
) -> (Value, String) {
    let mut request = client.post(format!("{url}/graphql")).json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let upstream = response.headers().get("x-upstream").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (response.json().await.unwrap_or(Value::Null), upstream)
}

fn data(body: &Value, field: &str) -> Value {
    assert!(body.get("errors").is_none(), "{field}: {body}");
    body["data"][field].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_gateways_behind_nginx_share_everything_and_restart_without_errors() {
    let test_db = keyward_testkit::TestDb::postgres().await;
    let schema = test_db.schema.clone().unwrap();
    let database_url = format!("{}?options=-c%20search_path%3D{schema}", test_db.url);
    let redis_url = keyward_testkit::redis_cluster_url();
    let db = Arc::clone(&test_db.db);
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let env = vec![("KEYWARD_DATABASE_URL", database_url), ("KEYWARD_REDIS_URL", redis_url.clone())];
    // The first start bootstraps the organization and prints the admin's backup secret once.
    let mut gateways: Vec<Gateway> = (0..3).map(|_| Gateway::start(free_port(), env.clone())).collect();
    let secret = gateways[0].server.as_ref().unwrap().backup_secret.clone().expect("the first start prints the secret");
    let ports: Vec<u16> = gateways.iter().map(|g| g.port).collect();
    let nginx = Nginx::start(dir.path(), &ports);
    let lb = nginx.url.clone();
    for _ in 0..50 {
        if client.get(format!("{lb}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The admin logs in and registers a key through nginx.
    let login = "mutation($s: String!) { backupCredentialsLogin(organization: \"default\", username: \"admin\", secret: $s) { sessionToken } }";
    let (body, _) = post(&client, &lb, login, json!({ "s": secret }), None).await;
    let mut token = data(&body, "backupCredentialsLogin")["sessionToken"].as_str().unwrap().to_owned();
    let mut key = SoftPasskey::new(true);
    let begin = "mutation { securityKeyRegistrationBegin(name: \"Desk\") { ceremonyId options } }";
    let (body, _) = post(&client, &lb, begin, json!({}), Some(&token)).await;
    let started = data(&body, "securityKeyRegistrationBegin");
    let response = browser::create(&mut key, &started["options"], ORIGIN);
    let finish =
        "mutation($c: ID!, $r: JSON!) { securityKeyRegistrationFinish(ceremonyId: $c, response: $r) { sessionToken } }";
    let (body, _) =
        post(&client, &lb, finish, json!({ "c": started["ceremonyId"], "r": response }), Some(&token)).await;
    token = data(&body, "securityKeyRegistrationFinish")["sessionToken"].as_str().unwrap().to_owned();

    // A login whose key step begins on one gateway and finishes on another.
    let (body, _) = post(&client, &lb, login, json!({ "s": secret }), None).await;
    let pending = data(&body, "backupCredentialsLogin")["sessionToken"].as_str().unwrap().to_owned();
    let (body, began_on) =
        post(&client, &lb, "mutation { mfaLoginBegin { ceremonyId options } }", json!({}), Some(&pending)).await;
    let challenge = data(&body, "mfaLoginBegin");
    let assertion = browser::get(&mut key, &challenge["options"], ORIGIN);
    let mfa_finish = "mutation($c: ID!, $r: JSON!) { mfaLoginFinish(ceremonyId: $c, response: $r) { stage } }";
    let (body, finished_on) =
        post(&client, &lb, mfa_finish, json!({ "c": challenge["ceremonyId"], "r": assertion }), Some(&pending)).await;
    assert_eq!(data(&body, "mfaLoginFinish")["stage"], "AUTHENTICATED");
    assert!(!began_on.is_empty() && began_on != finished_on, "begun on {began_on}, finished on {finished_on}");

    // Enforcement made on gateway 0 refuses a keyless member's next request on every gateway.
    let org = db.organizations().await.unwrap()[0].id;
    let alice = keyward_testkit::member(&db, org, "alice").await;
    let store = keyward_storage::RedisStore::connect(&redis_url, "kw").await.unwrap();
    let lifetimes = SessionLifetimes {
        absolute: chrono::Duration::hours(12),
        idle: chrono::Duration::minutes(30),
        pending: chrono::Duration::minutes(10),
    };
    let mut keyless = Vec::new();
    for _ in 0..3 {
        let (member_token, new) = keyward_testkit::sso_session(&alice, SessionStage::Authenticated);
        store.create(new, lifetimes, Utc::now()).await.unwrap();
        keyless.push(member_token.expose());
    }
    let keys = "{ securityKeys { id } }";
    for (i, member_token) in keyless.iter().enumerate() {
        let (body, _) = post(&client, &gateways[i].url(), keys, json!({}), Some(member_token)).await;
        assert!(body.get("errors").is_none(), "alice works on gateway {i} before: {body}");
    }
    let enforce = "mutation { mfaEnforcementSet(input: { enabled: true }) { revokedSessions } }";
    let (body, _) = post(&client, &gateways[0].url(), enforce, json!({}), Some(&token)).await;
    assert!(data(&body, "mfaEnforcementSet")["revokedSessions"].as_u64().unwrap() >= 3, "{body}");
    for (i, member_token) in keyless.iter().enumerate() {
        let (body, _) = post(&client, &gateways[i].url(), keys, json!({}), Some(member_token)).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "gateway {i}: {body}");
    }

    // A rolling restart under a stream of authenticated requests: none is answered with an error.
    let restarts_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stream = {
        let (client, lb, token, done) = (client.clone(), lb.clone(), token.clone(), Arc::clone(&restarts_done));
        tokio::spawn(async move {
            let (mut served, mut retried, mut failures, mut after) = (0usize, 0usize, Vec::new(), 0usize);
            for _ in 0..STREAM_LIMIT {
                let result = client
                    .post(format!("{lb}/graphql"))
                    .bearer_auth(&token)
                    .json(&json!({ "query": "{ viewer { id } }" }))
                    .send()
                    .await;
                match result {
                    Ok(response) => {
                        let status = response.status();
                        let upstream =
                            response.headers().get("x-upstream").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                        let body: Value = response.json().await.unwrap_or(Value::Null);
                        if status.is_success() && body["data"]["viewer"]["id"].is_string() {
                            served += 1;
                            retried += usize::from(upstream.contains(','));
                        } else {
                            failures.push(format!("{status} via {upstream}: {body}"));
                        }
                    }
                    Err(err) => failures.push(err.to_string()),
                }
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    after += 1;
                    if after >= 100 {
                        break;
                    }
                }
            }
            (served, retried, failures)
        })
    };
    for gateway in &mut gateways {
        tokio::time::sleep(Duration::from_millis(300)).await;
        gateway.terminate().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        gateway.restart();
    }
    restarts_done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (served, retried, failures) = stream.await.unwrap();
    println!("rolling restart: {served} requests served, {retried} retried by nginx, {} errors", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {:?}",
        failures.len(),
        served + failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(served > 100, "the stream ran through the restarts ({served} served)");
    assert!(retried > 0, "requests reached a stopped gateway and nginx retried them elsewhere");

    drop(nginx);
    for gateway in &mut gateways {
        gateway.terminate().await;
    }
}
