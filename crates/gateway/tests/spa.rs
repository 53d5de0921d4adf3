//! The web app is inside the `keyward` binary: started from an empty working directory with no
//! `static_dir`, it serves the embedded build (its files, and `index.html` for the app's own
//! routes) with the SPA's security headers; with `static_dir` set, the files on disk instead, with
//! the same Content-Type; a `static_dir` without `index.html` is a configuration error.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use keyward_gateway::http::spa::{Embedded, is_embedded};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};

const SPA_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn keyward(dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command.current_dir(dir).arg("serve");
    for (key, _) in std::env::vars() {
        if key.starts_with("KEYWARD_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command
        .env("KEYWARD_LISTEN", "127.0.0.1:0")
        .env("KEYWARD_MANAGEMENT_LISTEN", "127.0.0.1:0")
        .env("KEYWARD_LOG__LEVEL", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// A `keyward serve` this test started; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `keyward serve` in `dir` (SQLite under `dir/data`) and waits for its "listening" line.
fn serve(dir: &Path, env: &[(&str, &str)]) -> Server {
    let mut child = keyward(dir, env).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut printed = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("keyward: listening on ") {
            let addr = rest.split_whitespace().next().unwrap().to_owned();
            return Server { child, url: format!("http://{addr}") };
        }
        printed.push(line);
    }
    let status = child.wait().unwrap();
    panic!("keyward serve ended ({status}) before listening:\n{}", printed.join("\n"));
}

async fn get(client: &reqwest::Client, server: &Server, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = client.get(format!("{}{path}", server.url)).send().await.unwrap();
    (response.status(), response.headers().clone(), response.bytes().await.unwrap().to_vec())
}

fn embedded(name: &str) -> Vec<u8> {
    Embedded::get(name).unwrap_or_else(|| panic!("{name} is embedded")).data.into_owned()
}

/// An embedded file under `assets/` (Vite names them after their content).
fn an_asset() -> String {
    Embedded::iter().find(|name| name.starts_with("assets/") && name.ends_with(".js")).expect("a script").into_owned()
}

fn require_embedded_build() {
    assert!(
        is_embedded(),
        "this test binary was built before the SPA (frontend/dist/index.html was missing): \
         run `make frontend` (cd frontend && npm ci && npm run build), then the tests again"
    );
}

#[tokio::test]
async fn from_any_directory_the_binary_serves_its_embedded_app() {
    require_embedded_build();
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let client = reqwest::Client::new();
    let index = embedded("index.html");
    let asset = an_asset();

    for path in ["/", "/index.html", "/org/members", "/org/members/", "/assets/", "/no/such/file.js"] {
        let (status, headers, body) = get(&client, &server, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, index, "{path}: the app's index");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html", "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{path}: revalidated, so a new binary's app loads");
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], SPA_CSP, "{path}");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
    }

    let (status, headers, body) = get(&client, &server, &format!("/{asset}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, embedded(&asset));
    assert_eq!(headers[header::CONTENT_TYPE], "text/javascript");
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(headers[header::CONTENT_SECURITY_POLICY], SPA_CSP);
    let etag = headers[header::ETAG].clone();

    // Revalidation: the same ETag is answered with a 304 and no body.
    let response =
        client.get(format!("{}/{asset}", server.url)).header(header::IF_NONE_MATCH, etag.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()[header::ETAG], etag);
    assert!(response.bytes().await.unwrap().is_empty());

    // Only GET and HEAD, as from disk; the API routes are not shadowed.
    let response = client.post(format!("{}/org/members", server.url)).body("x").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let response = client.head(format!("{}/{asset}", server.url)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_LENGTH], embedded(&asset).len().to_string().as_str());
    let (status, _, body) = get(&client, &server, "/healthz").await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, br#"{"status":"ok"}"#.as_slice()));

    assert!(dir.path().join("data/keyward.db").exists(), "the working directory holds only the database");
    assert!(!dir.path().join("frontend").exists());
}

#[tokio::test]
async fn a_set_static_dir_serves_the_app_from_disk_with_the_same_types() {
    require_embedded_build();
    // A copy of the embedded build whose index is marked, so the test can tell where it came from.
    let spa = tempfile::tempdir().unwrap();
    for name in Embedded::iter() {
        let path = spa.path().join(name.as_ref());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, embedded(&name)).unwrap();
    }
    let mut index = embedded("index.html");
    index.extend_from_slice(b"<!-- served from static_dir -->");
    std::fs::write(spa.path().join("index.html"), &index).unwrap();

    let (embedded_dir, disk_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let from_binary = serve(embedded_dir.path(), &[]);
    let from_disk = serve(disk_dir.path(), &[("KEYWARD_STATIC_DIR", spa.path().to_str().unwrap())]);
    let client = reqwest::Client::new();

    for path in ["/", "/index.html", "/org/members"] {
        let (status, headers, body) = get(&client, &from_disk, path).await;
        assert_eq!((status, body.as_slice()), (StatusCode::OK, index.as_slice()), "{path}");
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], SPA_CSP, "{path}");
    }
    for name in Embedded::iter() {
        let path = format!("/{name}");
        let (disk_status, disk_headers, disk_body) = get(&client, &from_disk, &path).await;
        let (status, headers, body) = get(&client, &from_binary, &path).await;
        assert_eq!((disk_status, status), (StatusCode::OK, StatusCode::OK), "{path}");
        assert_eq!(disk_headers[header::CONTENT_TYPE], headers[header::CONTENT_TYPE], "{path}: the same type");
        assert_eq!(disk_headers[header::CONTENT_SECURITY_POLICY], headers[header::CONTENT_SECURITY_POLICY], "{path}");
        if name != "index.html" {
            assert_eq!(disk_body, body, "{path}");
        }
    }
}

#[test]
fn a_static_dir_without_an_index_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let output = keyward(dir.path(), &[("KEYWARD_STATIC_DIR", empty.path().to_str().unwrap())]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("static_dir") && stderr.contains("KEYWARD_STATIC_DIR"), "{stderr}");
    assert!(stderr.contains("has no index.html"), "{stderr}");
    assert!(!dir.path().join("data").exists(), "nothing is created");
}
