//! `keyward`: serve (default), migrate, schema, audit; and the terminal commands login, gql and
//! step-up, which talk to a server and need no configuration.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keyward_domain::audit::AuditHead;
use keyward_gateway::bootstrap::banner;
use keyward_gateway::cli_client::approval::ApprovalCommand;
use keyward_gateway::cli_client::{CliError, ClientCommand};
use keyward_gateway::config::{Config, LogFormat};
use keyward_gateway::http::spa::Source;
use keyward_gateway::telemetry::Telemetry;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// mimalloc rather than the system allocator: a request makes many small short-lived
/// allocations, and on the session check glibc's malloc spent its time in arena locks
/// (measured with `make bench`; see the README's Sizing section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keyward: IdP-independent MFA with FIDO2 security keys.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve the API and web app (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Exit 0 when the server answers `GET /healthz` with 200, else 1: a container's
    /// HEALTHCHECK with no curl in the image. Asks this configuration's management listener.
    Healthcheck {
        /// Another URL to ask instead, e.g. http://127.0.0.1:8080/healthz
        #[arg(long)]
        url: Option<String>,
    },
    /// Work with the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Log this terminal in: approve it in the browser with your security key; the session is
    /// saved in $XDG_CONFIG_HOME/keyward/credentials.json (mode 0600).
    Login {
        /// Keyward's URL (its public_url), e.g. https://keyward.example.com
        #[arg(long)]
        url: String,
    },
    /// Send a GraphQL request with the saved session and print the JSON answer; when the
    /// request needs a fresh key check (STEP_UP_REQUIRED) approve it in the browser, and the
    /// request is sent once more. Exits 1 naming the error code on GraphQL errors.
    Gql {
        /// The query or mutation.
        query: String,
        /// Variables, a JSON object.
        #[arg(long)]
        variables: Option<String>,
    },
    /// A fresh security-key check for one action, approved in the browser: the grant lands on
    /// the saved session; with --token a step-up JWT is printed on stdout.
    StepUp(StepUpArgs),
    /// A pipeline's approvals, with an API key (KEYWARD_URL, KEYWARD_API_KEY): request one, wait
    /// for members to approve it with their keys, verify the token offline. Exit codes: 0 ok,
    /// 1 rejected (or token refused), 2 expired or timed out, 3 error.
    Approval {
        #[command(subcommand)]
        command: ApprovalCommand,
    },
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct StepUpArgs {
    #[command(subcommand)]
    command: Option<StepUpCommand>,
    /// The action, e.g. security_key.delete
    #[arg(long, required = true)]
    action: Option<String>,
    /// The resource, e.g. security_key:<id>
    #[arg(long)]
    resource: Option<String>,
    /// Print a step-up JWT (ES256) on stdout, for a tool that verifies it offline.
    #[arg(long)]
    token: bool,
    /// Keyward's URL, when no session is saved (or the saved one is another server's).
    #[arg(long)]
    url: Option<String>,
}

#[derive(Subcommand)]
enum StepUpCommand {
    /// Check a step-up JWT offline (signature against the JWKS, issuer, expiry, action,
    /// resource); print its claims, or exit 1 naming why it is refused.
    Verify {
        /// The JWT, or - to read it from stdin.
        #[arg(long)]
        token: String,
        /// The action it must be for.
        #[arg(long)]
        action: String,
        /// The resource it must be for (empty for a token without one).
        #[arg(long, default_value = "")]
        resource: String,
        /// The JWKS: Keyward's <public_url>/.well-known/jwks.json, or a file holding it.
        #[arg(long, value_name = "URL|FILE")]
        jwks: String,
        /// The issuer it must come from: Keyward's public_url without the trailing slash.
        #[arg(long)]
        issuer: Option<String>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and compare its end with the stored head; exit 1 and name the
    /// first broken or missing event if it does not hold.
    Verify {
        /// Only this organization (slug); default: all.
        #[arg(long, visible_alias = "org")]
        organization: Option<String>,
        /// A head printed earlier by `keyward audit head` (`<seq>:<hash>`) that must still be in the
        /// chain, unchanged: catches deleted newest events even when the stored head was rewritten.
        #[arg(long, value_name = "SEQ:HASH")]
        expect_head: Option<AuditHead>,
    },
    /// Print each organization's stored head (`org=<slug> seq=<n> hash=<hex>`) to record outside
    /// the database; run `verify` first.
    Head {
        /// Only this organization (slug); default: all.
        #[arg(long, visible_alias = "org")]
        organization: Option<String>,
    },
    /// Write the trail to stdout, oldest first.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Only this organization (slug); default: all.
        #[arg(long, visible_alias = "org")]
        organization: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
}

impl From<AuditCommand> for keyward_gateway::cli::AuditCommand {
    fn from(command: AuditCommand) -> Self {
        match command {
            AuditCommand::Verify { organization, expect_head } => Self::Verify { organization, expect_head },
            AuditCommand::Head { organization } => Self::Head { organization },
            AuditCommand::Export { format: ExportFormat::Jsonl, organization } => Self::ExportJsonl { organization },
        }
    }
}

/// Logs to stderr (stdout carries command output: `audit export`, the bootstrap banner); with
/// `traced` and `otel.endpoint` set, spans also go to the OTLP collector. Call it inside the
/// runtime: the exporter runs on it.
fn init_logging(config: &Config, traced: bool) -> Result<Option<Telemetry>, String> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    if !(traced && keyward_gateway::telemetry::enabled(config)) {
        let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
        match config.log.format {
            LogFormat::Json => builder.json().init(),
            LogFormat::Pretty => builder.init(),
        }
        return Ok(None);
    }
    let telemetry = Telemetry::start(&config.otel)?;
    // The log filter applies to the log lines only: the trace layer has its own (INFO and above).
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match config.log.format {
        LogFormat::Json => logs.json().with_filter(filter).boxed(),
        LogFormat::Pretty => logs.with_filter(filter).boxed(),
    };
    tracing_subscriber::registry().with(logs).with(telemetry.layer()).init();
    Ok(Some(telemetry))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // `keyward approval` gives exit 2 its own meaning (expired): its usage errors are 3.
        Err(err) if err.use_stderr() && std::env::args().nth(1).as_deref() == Some("approval") => {
            let _ = err.print();
            return ExitCode::from(keyward_gateway::cli_client::approval::exit::ERROR);
        }
        Err(err) => err.exit(),
    };
    let command = match cli.command.unwrap_or(Command::Serve) {
        Command::Schema => {
            print!("{}", keyward_gateway::graphql::sdl());
            return ExitCode::SUCCESS;
        }
        Command::Login { url } => return run_client(ClientCommand::Login { url }),
        Command::Gql { query, variables } => return run_client(ClientCommand::Gql { query, variables }),
        Command::Approval { command } => return run_approval(command),
        Command::StepUp(StepUpArgs {
            command: Some(StepUpCommand::Verify { token, action, resource, jwks, issuer }),
            ..
        }) => {
            return run_client(ClientCommand::StepUpVerify { token, action, resource, jwks, issuer });
        }
        Command::StepUp(StepUpArgs { command: None, action, resource, token, url }) => {
            let action = action.unwrap_or_default();
            return run_client(ClientCommand::StepUp { action, resource, token, url });
        }
        server => server,
    };
    let config = match Config::load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("keyward: {err}");
            return ExitCode::from(2);
        }
    };
    if let Command::Healthcheck { url } = command {
        let addr = config.management_listen;
        // A wildcard listener answers on loopback.
        let host = match addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
            ip if ip.is_unspecified() => "[::1]".to_owned(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        return healthcheck(&url.unwrap_or_else(|| format!("http://{host}:{}/healthz", addr.port())));
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("keyward: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Only `serve` traces: its requests are what the traces are for.
    let telemetry = {
        let _inside = runtime.enter();
        init_logging(&config, matches!(command, Command::Serve))
    };
    let telemetry = match telemetry {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("keyward: {err}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Migrate => migrate(config).await,
            Command::Audit { command } => keyward_gateway::cli::audit(config, command.into()).await,
            _ => serve(config).await,
        }
    });
    // After the server has stopped, while the runtime still runs the exporter.
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("keyward: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `keyward healthcheck`: one GET, at most 5 seconds.
fn healthcheck(url: &str) -> ExitCode {
    let check = async {
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build()?;
        client.get(url).send().await?.error_for_status().map(|_| ())
    };
    let result = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(check).map_err(|err| err.to_string()),
        Err(err) => Err(format!("cannot start the async runtime: {err}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyward: healthcheck {url}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a terminal command: no configuration, no logging, errors as `keyward: <message>`.
fn run_client(command: ClientCommand) -> ExitCode {
    let result = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(keyward_gateway::cli_client::run(command, None)),
        Err(err) => Err(CliError::Io(format!("cannot start the async runtime: {err}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyward: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `keyward approval`: no configuration, no logging, its own exit codes.
fn run_approval(command: ApprovalCommand) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => ExitCode::from(runtime.block_on(keyward_gateway::cli_client::approval::run(command))),
        Err(err) => {
            eprintln!("keyward: cannot start the async runtime: {err}");
            ExitCode::from(keyward_gateway::cli_client::approval::exit::ERROR)
        }
    }
}

async fn migrate(config: Config) -> Result<(), String> {
    keyward_gateway::open_database(&config).await.map_err(|e| e.to_string())?;
    println!("keyward: database at {} is up to date", keyward_gateway::redact(&config.database_url));
    Ok(())
}

async fn serve(config: Config) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {} (setting listen): {e}", config.listen))?;
    let public_url = config.public_url.to_string();
    if config.secrets_key.is_none() {
        tracing::warn!("secrets_key is not set: SSO client secrets are stored unencrypted in the database");
    }
    if config.redis_url.is_none() {
        tracing::warn!("redis_url is not set: sessions live in this process; run one instance only");
    }
    match keyward_gateway::http::spa::source(config.static_dir.as_deref()) {
        Source::Embedded => tracing::info!("serving the web app embedded in this binary"),
        Source::Disk => tracing::info!(static_dir = ?config.static_dir, "serving the web app from static_dir"),
        Source::Missing => tracing::warn!(
            "this binary holds no web app: it was built before frontend/dist (run make frontend, then build again)"
        ),
    }
    // Install the signal handlers before announcing readiness, so a SIGTERM sent right after the
    // "listening" line is handled gracefully.
    let shutdown = shutdown_signal()?;
    let mut running = keyward_gateway::start(config, listener).await.map_err(|e| e.to_string())?;
    if let Some(credentials) = &running.credentials {
        println!("{}", banner(credentials, &public_url));
    }
    println!("keyward: metrics and readiness on http://{}/ (management_listen)", running.management_addr);
    println!("keyward: listening on {} — open {public_url} (GraphQL at {public_url}graphql)", running.addr);
    shutdown.await;
    tracing::info!("shutting down: finishing in-flight requests");
    running.shutdown();
    running.wait().await.map_err(|e| e.to_string())
}

fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot install the SIGTERM handler: {e}"))?;
    Ok(async move {
        #[cfg(unix)]
        let terminate = async move {
            terminate.recv().await;
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = terminate => {},
        }
    })
}
