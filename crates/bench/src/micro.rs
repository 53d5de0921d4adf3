//! Criterion's micro-benchmarks (`crates/domain/benches/hot_paths.rs`), read back from the
//! estimates criterion leaves under `target/criterion`, each beside its baseline from the same run.

use std::path::Path;

use crate::report::{Better, Figure};

/// Mean time per iteration in nanoseconds, from `<dir>/<group>/<bench>/new/estimates.json`.
fn mean_ns(dir: &Path, group: &str, bench: &str) -> Option<f64> {
    let path = dir.join(group).join(bench).join("new").join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates["mean"]["point_estimate"].as_f64()
}

/// The micro-benchmark figures; missing estimates are reported as such on stderr.
pub fn read(dir: &Path) -> Vec<Figure> {
    let pairs = [
        (
            "stage decision per request (live, stage, touch, gate)",
            "stage_decision",
            "baseline_clock_read",
            "decide",
            "baseline: one clock read",
        ),
        (
            "audit hashing per event (canonical JSON + SHA-256)",
            "audit_hash",
            "baseline_sha256_same_bytes",
            "seal_event",
            "baseline: SHA-256 over the same bytes",
        ),
    ];
    let mut figures = Vec::new();
    for (name, group, baseline, measured, note) in pairs {
        match (mean_ns(dir, group, baseline), mean_ns(dir, group, measured)) {
            (Some(b), Some(m)) => figures.push(Figure::new(name, b, m, "ns", Better::Lower, None).note(note)),
            _ => eprintln!("[bench] no criterion estimates for {group} under {}", dir.display()),
        }
    }
    figures
}
