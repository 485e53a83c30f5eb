//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Bridges workflow engines' WebSocket event streams to Kafka and NATS as
/// CloudEvents.
#[derive(Debug, Parser)]
#[command(name = "eventrelay", version, about)]
pub struct Cli {
    /// Log line format on stderr (filter with RUST_LOG).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the relay.
    Run {
        /// Config file (.toml, .yaml, .yml).
        #[arg(short, long, env = "EVENTRELAY_CONFIG")]
        config: PathBuf,
    },
    /// Check a config file; exit 0 when valid, 2 naming the offending key.
    Validate {
        /// Config file (.toml, .yaml, .yml).
        #[arg(short, long, env = "EVENTRELAY_CONFIG")]
        config: PathBuf,
    },
    /// Run the embedded demo: simulator + relay + stdout sink, seed
    /// scenarios of both vendors; canonical events on stdout, a summary on
    /// stderr. No broker needed.
    Demo,
    /// Run a simulated workflow engine speaking the AGNT5 and Lyzr
    /// protocols (seed scenarios, load generation, fault modes).
    Simulate(crate::simulator::SimulatorConfig),
}
