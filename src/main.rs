//! The `eventrelay` binary: parses the command line, sets up logging, loads
//! the config and hands over to the library. Exit codes: 0 success, 2 bad
//! command line or config, 1 any other fatal error.

use std::process::ExitCode;

/// mimalloc: the relay allocates many small, short-lived buffers per
/// event; glibc's malloc showed up at the top of its profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use eventrelay::cli::{Cli, Command, LogFormat};
use eventrelay::{app, config, demo, shutdown, simulator};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo's stderr is for its summary: only warnings unless RUST_LOG.
    let default_level = match cli.command {
        Command::Demo => "warn",
        _ => "info",
    };
    init_logging(cli.log_format, default_level);
    match cli.command {
        Command::Validate { config } => match config::load(&config) {
            Ok(c) => {
                eprintln!(
                    "{}: valid ({} subscriptions, {} sinks)",
                    config.display(),
                    c.subscriptions.len(),
                    c.sinks.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => config_error(&e),
        },
        Command::Demo => runtime_then(|| async {
            let summary = demo::run().await?;
            eprintln!("{summary}");
            Ok(())
        }),
        Command::Simulate(cfg) => runtime_then(|| async move {
            let shutdown = tokio_util::sync::CancellationToken::new();
            let listener = tokio::net::TcpListener::bind(cfg.listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
            eprintln!(
                "simulating AGNT5 (ws://{0}/ws?x-wf-endpoint=...) and Lyzr (ws://{0}/ws/FLOW/RUN); Ctrl-C to stop",
                cfg.listen
            );
            let stop = shutdown.clone();
            tokio::spawn(async move {
                shutdown::os_signal().await;
                stop.cancel();
            });
            let stats = std::sync::Arc::new(simulator::Stats::default());
            simulator::serve(listener, cfg, stats.clone(), shutdown).await?;
            eprintln!("{:?}", stats.view());
            Ok(())
        }),
        Command::Run { config } => {
            let c = match config::load(&config) {
                Ok(c) => c,
                Err(e) => return config_error(&e),
            };
            runtime_then(|| async move {
                app::run(c, shutdown::os_signal())
                    .await
                    .map_err(anyhow::Error::from)
            })
        }
    }
}

fn config_error(e: &config::ConfigError) -> ExitCode {
    eprintln!("error: invalid config: {e}");
    ExitCode::from(2)
}

fn runtime_then<F, Fut>(f: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(f()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat, default_level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
