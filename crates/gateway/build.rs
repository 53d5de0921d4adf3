//! The `keyward` binary embeds the SPA's build, `frontend/dist` (see `src/http/spa.rs`).
//!
//! A release build (`cargo install`, `scripts/build-dist.sh`, the Dockerfile) fails without it,
//! naming the command that builds it: a binary that ships must hold the app. A debug build (lint,
//! tests, `cargo run`) only warns, so `cargo clippy` and `cargo test` work on a fresh clone
//! before the SPA exists; such a binary answers `/` with a page saying the app is not built.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dist = manifest_dir.join("../../frontend/dist");
    // A directory is scanned as a whole: a file added, changed or removed by `npm run build`
    // re-embeds the build. While it is missing, every build looks again.
    println!("cargo::rerun-if-changed={}", dist.display());
    println!("cargo::rerun-if-changed=build.rs");
    if dist.join("index.html").is_file() {
        return;
    }
    let what = "frontend/dist/index.html is missing: the keyward binary embeds the web app's build";
    let how = "run `make frontend` (cd frontend && npm ci && npm run build) first";
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        eprintln!("error: {what}; {how}");
        std::process::exit(1);
    }
    println!("cargo::warning={what}; this debug build serves a page saying the app is not built ({how})");
}
