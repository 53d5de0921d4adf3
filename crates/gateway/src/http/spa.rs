//! The SPA: the build embedded in the binary (the default), or a directory on disk when
//! `static_dir` is set (SPA development: rebuild the app without rebuilding Keyward).
//!
//! Both answer a path that is no file with `index.html` (status 200), so the app's client-side
//! routes (`/org/members`) load the app. The security headers (the SPA's Content-Security-Policy
//! among them) come from the layer around every response, as for every other route.
//!
//! Embedded files carry the Content-Type the disk path gives (`mime_guess`, by extension), an
//! `ETag` (their SHA-256) that `If-None-Match` is answered against with a 304, and a
//! `Cache-Control`: the files under `assets/` are named by Vite after their content, so they are
//! `immutable` for a year; every other file (`index.html`, which names the current assets) is
//! `no-cache`: revalidated each time, so a new binary's app is loaded at once.

use std::borrow::Cow;
use std::path::Path;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};

/// `frontend/dist` at build time. `build.rs` refuses a release build without it; a debug build
/// without it embeds nothing, and the app then answers with [`not_built`].
#[derive(rust_embed::Embed)]
#[folder = "../../frontend/dist/"]
#[allow_missing = true]
pub struct Embedded;

/// Where the SPA comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The build embedded in the binary.
    Embedded,
    /// `static_dir`.
    Disk,
    /// Neither has an `index.html` (a debug build made before the SPA was).
    Missing,
}

/// Whether the binary holds a built SPA.
pub fn is_embedded() -> bool {
    Embedded::get("index.html").is_some()
}

/// Where the SPA is served from under `static_dir`.
pub fn source(static_dir: Option<&Path>) -> Source {
    match static_dir {
        Some(dir) if dir.join("index.html").is_file() => Source::Disk,
        Some(_) => Source::Missing,
        None if is_embedded() => Source::Embedded,
        None => Source::Missing,
    }
}

/// The router serving the SPA for every path no other route takes.
pub fn router(static_dir: Option<&Path>) -> Router {
    match (source(static_dir), static_dir) {
        (Source::Disk, Some(dir)) => {
            Router::new().fallback_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html"))))
        }
        (Source::Embedded, _) => Router::new().fallback(embedded),
        _ => Router::new().fallback(not_built),
    }
}

async fn not_built() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><title>Keyward</title><p>The web app is not built here. \
              The GraphQL API is at <a href=\"/graphql\">/graphql</a>.</p>",
        ),
    )
        .into_response()
}

/// The embedded file at `path` (a directory's `index.html`), else `index.html`: its name and file.
fn lookup(path: &str) -> (Cow<'static, str>, rust_embed::EmbeddedFile) {
    let path = path.trim_start_matches('/');
    let name = if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path.to_owned() };
    match Embedded::get(&name) {
        Some(file) => (Cow::Owned(name), file),
        None => (Cow::Borrowed("index.html"), Embedded::get("index.html").expect("checked by router()")),
    }
}

/// Serves an embedded file: GET and HEAD only (as ServeDir: 405 otherwise).
async fn embedded(method: Method, uri: Uri, request_headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET,HEAD")]).into_response();
    }
    let (name, file) = lookup(uri.path());
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache_control = if name.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    let matches = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    if matches {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    if let Ok(value) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let body = match file.data {
        Cow::Borrowed(bytes) => Bytes::from_static(bytes),
        Cow::Owned(bytes) => Bytes::from(bytes),
    };
    (StatusCode::OK, headers, Body::from(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_files_or_the_index() {
        if !is_embedded() {
            return; // a debug build made before the SPA: nothing to look up
        }
        assert_eq!(lookup("/").0, "index.html");
        assert_eq!(lookup("/org/members").0, "index.html");
        assert_eq!(lookup("/assets/").0, "index.html");
        assert_eq!(lookup("/../Cargo.toml").0, "index.html");
        let asset = Embedded::iter().find(|name| name.starts_with("assets/")).expect("the build has assets");
        assert_eq!(lookup(&format!("/{asset}")).0, asset);
    }

    #[test]
    fn a_set_static_dir_wins_and_needs_an_index() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(source(Some(dir.path())), Source::Missing);
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        assert_eq!(source(Some(dir.path())), Source::Disk);
        let unset = if is_embedded() { Source::Embedded } else { Source::Missing };
        assert_eq!(source(None), unset);
    }
}
