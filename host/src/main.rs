//! `codex-claude-proxy`: the native proxy and its CLI.
//!
//! Conversions live in `proxy-core`; this crate moves bytes, keeps accounts and serves HTTP.

#![forbid(unsafe_code)]

mod accounts;
mod claude_setup;
mod cli;
mod clock;
mod config;
mod config_file;
mod edge_cli;
mod http;
mod settings;

use clap::{Args, Parser, Subcommand};
use config::{Config, Overrides};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run Claude Code and other Anthropic clients on the ChatGPT Codex backend or any
/// OpenAI-compatible Chat Completions provider.
#[derive(Parser, Debug)]
#[command(name = "codex-claude-proxy", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone, Default)]
struct Common {
    /// Configuration file (default: <data-dir>/config.toml; env CCP_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (default: ~/.codex-claude-proxy; env CCP_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the proxy (default 127.0.0.1:8081).
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to bind (a non-loopback address needs a client key).
        #[arg(long)]
        host: Option<String>,
        /// Port to bind.
        #[arg(long)]
        port: Option<u16>,
        /// Log format.
        #[arg(long, value_parser = ["pretty", "json"])]
        log_format: Option<String>,
    },
    /// Manage ChatGPT accounts (sign in, import, list, remove, switch, refresh, status).
    Accounts {
        #[command(subcommand)]
        action: AccountsAction,
    },
    /// Point Claude Code's ~/.claude/settings.json at this proxy (or back, with --direct).
    Claude {
        #[command(subcommand)]
        action: ClaudeAction,
    },
    /// The models each ChatGPT account can use, from the Codex backend's catalog: profile,
    /// efforts, input window, fast tier, plans.
    Models {
        #[command(flatten)]
        common: Common,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Hand accounts to your deployed edge Worker (docs/EDGE.md), or see what it holds.
    Edge {
        #[command(subcommand)]
        action: EdgeAction,
    },
}

#[derive(Args, Debug, Clone)]
struct EdgeOpts {
    /// The Worker's URL (https://…).
    #[arg(long, env = "CCP_EDGE_URL")]
    url: String,
    /// The Worker's ADMIN_KEY secret.
    #[arg(long, env = "CCP_EDGE_ADMIN_KEY", hide_env_values = true)]
    admin_key: String,
}

#[derive(Subcommand, Debug)]
enum EdgeAction {
    /// Send stored accounts (all, or the named ones) to the Worker, sealed there in KV.
    Push {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        edge: EdgeOpts,
        /// Account ids, emails or tags (default: every stored account).
        accounts: Vec<String>,
        /// Remove them here afterwards, so only the Worker spends their refresh tokens.
        #[arg(long = "move")]
        move_them: bool,
    },
    /// What the Worker holds (no tokens).
    Status {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        edge: EdgeOpts,
    },
}

#[derive(Subcommand, Debug)]
enum AccountsAction {
    /// Sign in with ChatGPT (opens a browser; --no-browser to paste; --device for a code).
    Add {
        #[command(flatten)]
        common: Common,
        /// Print the sign-in URL and read the pasted callback URL (or code) from stdin.
        #[arg(long)]
        no_browser: bool,
        /// Use the device-code flow (a code to enter at auth.openai.com).
        #[arg(long, conflicts_with = "no_browser")]
        device: bool,
        /// Listen for the callback on exactly this port (default: 1455, then 1457).
        #[arg(long)]
        callback_port: Option<u16>,
    },
    /// Import accounts from the Codex CLI (~/.codex/auth.json) and the Node version
    /// (~/.codex-claude-proxy/accounts.json), or from FILE.
    Import {
        #[command(flatten)]
        common: Common,
        /// A file to import (either format); default: both known locations.
        file: Option<PathBuf>,
    },
    /// List accounts and their state.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Remove an account (by account id, email or tag).
    Remove {
        #[command(flatten)]
        common: Common,
        /// Account id, email or tag.
        account: String,
    },
    /// Make an account the preferred one (by account id, email or tag).
    Switch {
        #[command(flatten)]
        common: Common,
        /// Account id, email or tag.
        account: String,
    },
    /// Refresh tokens now (one account, or --all).
    Refresh {
        #[command(flatten)]
        common: Common,
        /// Account id, email or tag.
        #[arg(required_unless_present = "all")]
        account: Option<String>,
        /// Every account.
        #[arg(long)]
        all: bool,
    },
    /// Each account's live quota from the backend.
    Status {
        #[command(flatten)]
        common: Common,
    },
    /// Test aid: rewrite one account file in a loop, printing a dot per write (for the
    /// crash-safety test that kills the writer mid-write).
    #[command(hide = true)]
    StressWrite {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand, Debug)]
enum ClaudeAction {
    /// Write the env keys Claude Code needs, keeping every other setting (a backup is made).
    Setup {
        #[command(flatten)]
        common: Common,
        /// Remove the proxy's keys instead (use Anthropic directly again).
        #[arg(long)]
        direct: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigAction {
    /// Print the effective configuration (file ← environment ← flags), secrets masked.
    Print {
        #[command(flatten)]
        common: Common,
    },
}

fn load(common: &Common, mut flags: Overrides) -> Result<Config, ExitCode> {
    flags.data_dir = common.data_dir.clone();
    Config::load(common.config.as_deref(), &flags).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CCP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// jemalloc, not the system's glibc malloc: ~10-20 % less CPU per request, and at 1,000
/// streams in flight a lower peak RSS, since glibc's bins fragment under many connections'
/// buffers (docs/PERFORMANCE.md). Its options are set at build time (`.cargo/config.toml`).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    // One TLS provider for every client (reqwest and the Codex WebSocket): rustls picks none
    // by itself once two crates could bring theirs.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    match cli.command {
        Command::Accounts { action } => accounts(action),
        Command::Edge { action } => edge(action),
        Command::Claude {
            action: ClaudeAction::Setup { common, direct },
        } => {
            let cfg = match load(&common, Overrides::default()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match claude_setup::setup(&cfg, direct, None) {
                Ok(r) => {
                    if r.changes.is_empty() {
                        println!(
                            "{} already {}",
                            r.path.display(),
                            if direct {
                                "uses Anthropic directly"
                            } else {
                                "points at this proxy"
                            }
                        );
                    } else {
                        println!("Updated {}:", r.path.display());
                        for c in &r.changes {
                            println!("  {c}");
                        }
                        if let Some(b) = r.backup {
                            println!("Backup: {}", b.display());
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Models { common } => {
            let cfg = match load(&common, Overrides::default()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let Some(rt) = runtime() else {
                return ExitCode::FAILURE;
            };
            rt.block_on(cli::models(&cfg))
        }
        Command::Config {
            action: ConfigAction::Print { common },
        } => match load(&common, Overrides::default()) {
            Ok(cfg) => {
                print!("{}", cfg.masked_toml());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Serve {
            common,
            host,
            port,
            log_format,
        } => {
            let flags = Overrides {
                host,
                port,
                log_format,
                data_dir: None,
            };
            let cfg = match load(&common, flags) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logging(&cfg.log_format);
            let rt = match serving_runtime() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            rt.block_on(serve(cfg))
        }
    }
}

/// The first of SIGTERM and Ctrl-C (SIGINT).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The runtime `serve` runs on: a single thread, the accepting one (listen.rs starts the
/// other serving threads, each with a runtime of its own).
fn serving_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Serving threads for `workers` (0: one per core).
fn serving_threads(workers: usize) -> usize {
    match workers {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| eprintln!("error: cannot start the runtime: {e}"))
        .ok()
}

fn accounts(action: AccountsAction) -> ExitCode {
    let common = match &action {
        AccountsAction::Add { common, .. }
        | AccountsAction::Import { common, .. }
        | AccountsAction::List { common }
        | AccountsAction::Remove { common, .. }
        | AccountsAction::Switch { common, .. }
        | AccountsAction::Refresh { common, .. }
        | AccountsAction::Status { common }
        | AccountsAction::StressWrite { common } => common.clone(),
    };
    let cfg = match load(&common, Overrides::default()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    match action {
        AccountsAction::Add {
            no_browser,
            device,
            callback_port,
            ..
        } => rt.block_on(cli::add(
            &cfg,
            cli::AddOptions {
                no_browser,
                device,
                callback_port,
            },
        )),
        AccountsAction::Import { file, .. } => cli::import(&cfg, file.as_deref()),
        AccountsAction::List { .. } => cli::list(&cfg),
        AccountsAction::Remove { account, .. } => cli::remove(&cfg, &account),
        AccountsAction::Switch { account, .. } => cli::switch(&cfg, &account),
        AccountsAction::Refresh { account, all, .. } => rt.block_on(cli::refresh(
            &cfg,
            if all { None } else { account.as_deref() },
        )),
        AccountsAction::Status { .. } => rt.block_on(cli::status(&cfg)),
        AccountsAction::StressWrite { .. } => cli::stress_write(&cfg),
    }
}

fn edge(action: EdgeAction) -> ExitCode {
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    let target = |o: EdgeOpts| edge_cli::EdgeTarget {
        url: o.url,
        admin_key: o.admin_key,
    };
    match action {
        EdgeAction::Push {
            common,
            edge,
            accounts,
            move_them,
        } => {
            let cfg = match load(&common, Overrides::default()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            rt.block_on(edge_cli::push(&cfg, &target(edge), &accounts, move_them))
        }
        EdgeAction::Status { edge, .. } => rt.block_on(edge_cli::status(&target(edge))),
    }
}

/// The startup line saying where each Claude model family goes.
fn log_routes(st: &http::state::AppState) {
    let routes = http::state::family_routes(st);
    let describe = |f: &str| {
        let r = &routes[f];
        match r["provider"].as_str() {
            Some(p) => format!("{f} → {p} {}", r["model"].as_str().unwrap_or("")),
            None => format!("{f} → Codex {}", r["model"].as_str().unwrap_or("")),
        }
    };
    tracing::info!(
        "routes: {}, {}, {}",
        describe("opus"),
        describe("sonnet"),
        describe("haiku")
    );
}

async fn serve(cfg: Config) -> ExitCode {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let listener = match http::listen::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::from(3);
        }
    };
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or(addr);
    let open_files = http::listen::raise_open_files();
    let state = http::state::AppState::new(cfg);
    tracing::info!(
        address = %local,
        accounts = state.pool.len(),
        open_files = open_files.unwrap_or(0),
        "codex-claude-proxy listening; point ANTHROPIC_BASE_URL at http://{local}"
    );
    // Where each family goes, once an account's catalog is in (the default table follows it).
    let shown = state.clone();
    tokio::spawn(async move {
        shown.warm_catalog().await;
        log_routes(&shown);
    });
    let cfg = state.cfg();
    let limits = http::listen::Limits {
        header_read_timeout: std::time::Duration::from_secs_f64(cfg.header_read_timeout_secs),
        max_header_bytes: cfg.max_header_bytes,
        max_connections: cfg.max_connections,
        threads: serving_threads(cfg.workers),
    };
    let serving = http::listen::Serving::start(http::server::router(state.clone()), limits);
    // Tests read this line to learn the port when binding port 0.
    println!("listening on http://{local}");
    // Background: refresh tokens before they expire, and pick up accounts added by the CLI.
    let bg = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            tick.tick().await;
            crate::http::state::reload_accounts(&bg).await;
            bg.pool.refresh_due(crate::clock::now_secs(), 600).await;
        }
    });
    // The dashboard's charts: one bucket of the metrics' series every 10 s.
    let sampled = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        tick.tick().await;
        loop {
            tick.tick().await;
            sampled.metrics.sample(crate::clock::now_ms());
        }
    });
    // SIGTERM (systemd, docker, kubernetes) or Ctrl-C: stop accepting at once, let requests in
    // flight finish for the drain time, then end the streams still running with an error event
    // (the watch the relay listens to), and exit when the last connection is gone.
    let drain = std::time::Duration::from_secs_f64(state.cfg().drain_timeout_secs);
    let drainer = state.clone();
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!(
            drain_secs = drain.as_secs_f64(),
            "shutting down: no new connections; requests in flight may finish"
        );
        tokio::spawn(async move {
            tokio::time::sleep(drain).await;
            tracing::info!("drain time over: ending the streams still open");
            let _ = drainer.drain_over.send(true);
            // Ended streams close their connections at once; a client that does not read what
            // is left gets this long before the process goes anyway.
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            tracing::warn!("connections still open 5 s after the drain: exiting");
            std::process::exit(0);
        });
    };
    serving.run(listener, shutdown).await;
    ExitCode::SUCCESS
}
