//! Three gateways on PostgreSQL and Redis behind a real nginx (Debian's package, round robin,
//! started here on loopback): a login ceremony begun on one gateway finishes on another;
//! enforcement made on one refuses the next request on each of the others; and a rolling restart
//! (each gateway shut down gracefully and started again, one at a time) under a bounded stream of
//! authenticated requests answers every request, nginx retrying the ones a stopped gateway refused.
//!
//! The gateways run in this process and stop through the same graceful shutdown that SIGTERM
//! triggers in `keyward serve` (that signal path is tested in `startup.rs`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use common::authn::ORIGIN;
use keyward_domain::repo::OrganizationRepo;
use keyward_domain::session::SessionStage;
use keyward_gateway::{Running, Stores};
use keyward_storage::Database;
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

/// Three gateways sharing one database and one Redis.
struct Gateways {
    db: Arc<Database>,
    stores: Stores,
    ports: Vec<u16>,
    running: Vec<Option<Running>>,
}

impl Gateways {
    async fn gateway(db: &Arc<Database>, stores: &Stores, port: u16) -> Running {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        keyward_gateway::start_with(common::test_config(), listener, Arc::clone(db), stores.clone()).await.unwrap()
    }

    /// Stops gateway `i` gracefully (what SIGTERM does), leaves it down for `down`, and starts it
    /// again on the same port.
    async fn restart(&mut self, i: usize, down: Duration) {
        if let Some(running) = self.running[i].take() {
            running.stop().await;
        }
        tokio::time::sleep(down).await;
        self.running[i] = Some(Self::gateway(&self.db, &self.stores, self.ports[i]).await);
    }

    fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
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
    let redis = keyward_testkit::redis_store().await;
    let stores = Stores::shared(Arc::new(redis.clone()));
    let db = Arc::clone(&test_db.db);
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut running = Vec::new();
    for port in &ports {
        running.push(Some(Gateways::gateway(&db, &stores, *port).await));
    }
    let secret = running.iter().flatten().find_map(|r| r.credentials.clone()).expect("one start bootstrapped").secret;
    let mut gateways = Gateways { db: Arc::clone(&db), stores, ports, running };
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), &gateways.ports);
    let client = reqwest::Client::new();
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
    let mut keyless = Vec::new();
    for _ in 0..3 {
        let (member_token, new) = keyward_testkit::sso_session(&alice, SessionStage::Authenticated);
        let state = &gateways.running[0].as_ref().unwrap().state;
        state.sessions.create(new, state.lifetimes, chrono::Utc::now()).await.unwrap();
        keyless.push(member_token.expose());
    }
    let keys = "{ securityKeys { id } }";
    for (i, member_token) in keyless.iter().enumerate() {
        let (body, _) = post(&client, &gateways.url(i), keys, json!({}), Some(member_token)).await;
        assert!(body.get("errors").is_none(), "alice works on gateway {i} before: {body}");
    }
    let enforce = "mutation { mfaEnforcementSet(input: { enabled: true }) { revokedSessions } }";
    let (body, _) = post(&client, &gateways.url(0), enforce, json!({}), Some(&token)).await;
    assert!(data(&body, "mfaEnforcementSet")["revokedSessions"].as_u64().unwrap() >= 3, "{body}");
    for (i, member_token) in keyless.iter().enumerate() {
        let (body, _) = post(&client, &gateways.url(i), keys, json!({}), Some(member_token)).await;
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
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        gateways.restart(i, Duration::from_millis(300)).await;
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
    for running in gateways.running.iter_mut().filter_map(Option::take) {
        running.stop().await;
    }
    redis.delete_namespace().await.unwrap();
}
