//! `keyward-bench`: measures Keyward against physical floors measured in the same run, and writes
//! `bench/report.md` and `bench/report.json`. Run it through `make bench`.
//!
//! `keyward-bench [--quick] [--only session|login|flush|step-up|approvals|storage] [--out PREFIX] [--criterion DIR]`
//! runs every scenario (or one); the
//! `serve-gateway` and `serve-baseline` subcommands are the servers under test, started as child
//! processes of the run so their memory can be read on their own.

mod approval_token;
mod approvals;
mod baseline;
mod flush;
mod load;
mod login_verify;
mod micro;
mod report;
mod session_check;
mod stack;
mod step_up;
mod storage;

use std::path::PathBuf;
use std::time::Instant;

use report::Figure;

/// mimalloc rather than the system allocator: a request makes many small short-lived
/// allocations, and on the session check glibc's malloc spent its time in arena locks
/// (measured with `make bench`; see the README's Sizing section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long each scenario runs.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    /// Shorter loads and smaller session counts (a smoke run).
    pub quick: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    match args.first().map(String::as_str) {
        Some("serve-gateway") => runtime.block_on(baseline::serve_gateway()),
        Some("serve-baseline") => runtime.block_on(baseline::serve_baseline()),
        _ => runtime.block_on(run(&args)),
    }
}

fn flag_value(args: &[String], flag: &str) -> Option<String> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned()
}

async fn run(args: &[String]) {
    let scale = Scale { quick: args.iter().any(|a| a == "--quick") };
    let out = PathBuf::from(flag_value(args, "--out").unwrap_or_else(|| "bench/report".into()));
    let criterion = flag_value(args, "--criterion").map(PathBuf::from);
    let started = Instant::now();
    let mut figures: Vec<Figure> = Vec::new();

    let only = flag_value(args, "--only");
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if wanted("session") {
        eprintln!("[bench] session check (load generator against the gateway and a bare axum + Redis GET)");
        figures.extend(session_check::run(scale).await);
    }
    if wanted("login") {
        eprintln!("[bench] login verify (mfaLoginFinish, the ceremony alone, bare P-256 verify)");
        figures.extend(login_verify::run(scale).await);
    }
    if wanted("flush") {
        eprintln!("[bench] enforcement flush (10, 1,000 and 100,000 live sessions) and Redis bytes per session");
        figures.extend(flush::run(scale).await);
    }
    if wanted("step-up") {
        eprintln!("[bench] step-up (forward auth against the session-check floor, Rego policy against built-in)");
        figures.extend(step_up::run(scale).await);
    }
    if wanted("approvals") {
        eprintln!("[bench] approvals (request, two key approvals, token, offline verify; verify alone vs bare ES256)");
        figures.extend(approvals::run(scale).await);
    }
    if wanted("storage") {
        eprintln!("[bench] storage (member listing at 10,000 members against hand-written SQL)");
        figures.extend(storage::run(scale).await);
    }
    if let Some(dir) = criterion {
        figures.extend(micro::read(&dir));
    }

    let missed = figures.iter().filter(|f| f.met == Some(false)).count();
    let header = format!(
        "# Keyward benchmark report\n\nMeasured on {} ({} cores) in {:.0} s{}. Ratios compare Keyward with a baseline \
         measured in the same run; 1.00x means as fast (or as small) as the baseline. {missed} target(s) missed.",
        host(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        started.elapsed().as_secs_f64(),
        if scale.quick { " with --quick" } else { "" },
    );
    report::write(&out, &header, &figures).expect("write the report");
    println!("{header}\n\n{}", report::markdown(&figures));
    println!("wrote {} and {}", out.with_extension("md").display(), out.with_extension("json").display());
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "this host".into())
}

/// A client address for request `n`: rate limits count per address, and the bench must measure
/// the limiter's cost without tripping it.
pub fn client_ip(n: usize) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
