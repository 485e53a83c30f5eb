//! `eventrelay simulate` options.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::config::HumanDuration;

/// A simulated workflow engine speaking both vendor protocols.
#[derive(Clone, Debug, Args)]
pub struct SimulatorConfig {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub listen: SocketAddr,
    /// The AGNT5 API key accepted (`x-api-key.<key>` subprotocol).
    #[arg(long, default_value = "demo-key", env = "EVENTRELAY_SIMULATOR_API_KEY")]
    pub api_key: String,
    /// Replay the seed scenarios to matching connections (AGNT5: every
    /// endpoint; Lyzr: the seed flows/runs, a generic run otherwise).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub seeds: bool,
    /// Load mode: executions generated per AGNT5 connection.
    #[arg(long, default_value_t = 0)]
    pub executions: u64,
    /// Load mode: events per generated execution (started and completed
    /// included).
    #[arg(long, default_value_t = 10)]
    pub events_per_execution: u64,
    /// Load mode: events per second per connection (0 = as fast as
    /// possible).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Load mode: approximate size of each generated frame in bytes.
    #[arg(long, default_value_t = 300)]
    pub payload_bytes: usize,
    /// Pause between scenario frames.
    #[arg(long, default_value = "0s")]
    pub frame_delay: HumanDuration,
    /// Fault: drop the TCP connection (no close frame) after this many
    /// frames on a connection.
    #[arg(long)]
    pub cut_after: Option<u64>,
    /// Fault: with `--cut-after`, cut only the first connection of each
    /// stream (otherwise every connection).
    #[arg(long, default_value_t = false)]
    pub cut_once: bool,
    /// Fault: on a reconnect, send the last K frames of the stream again
    /// before going on.
    #[arg(long, default_value_t = 0)]
    pub replay_last: u64,
    /// Fault: refuse every AGNT5 upgrade with HTTP 401.
    #[arg(long, default_value_t = false)]
    pub reject_auth: bool,
    /// Fault: after every N frames, send a malformed one (cycling through
    /// not-JSON text, a binary frame and JSON without a type).
    #[arg(long)]
    pub malformed: Option<u64>,
    /// Fault: once the frames are sent, go silent (no pongs, no reads)
    /// while keeping TCP open.
    #[arg(long, default_value_t = false)]
    pub silent: bool,
    /// Send every event as a fragmented message: a first frame and
    /// continuation frames of at most this many bytes each.
    #[arg(long)]
    pub fragment: Option<usize>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8765)),
            api_key: "demo-key".into(),
            seeds: true,
            executions: 0,
            events_per_execution: 10,
            rate: 0,
            payload_bytes: 300,
            frame_delay: HumanDuration::from_secs(0),
            cut_after: None,
            cut_once: false,
            replay_last: 0,
            reject_auth: false,
            malformed: None,
            silent: false,
            fragment: None,
        }
    }
}

impl SimulatorConfig {
    /// The delay between scenario frames.
    pub fn frame_delay(&self) -> Duration {
        self.frame_delay.get()
    }
}
