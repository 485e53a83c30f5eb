//! A simulated workflow engine speaking both vendor protocols (SPEC
//! section 4), for the demo, tests, local development and load generation.
//!
//! - AGNT5: `GET /ws?x-wf-endpoint=<endpoint>` with subprotocol
//!   `x-api-key.<key>` (echoed back; a wrong key gets HTTP 401, a missing
//!   endpoint 400). Replays the AGNT5 seed scenario, then generated load,
//!   and answers run requests with a short execution.
//! - Lyzr: `GET /ws/{flow_name}/{run_name}`. Replays the seed run of that
//!   flow/run (a generic run otherwise), answers `{"type":"ping"}`.
//!
//! Each stream (AGNT5 endpoint, Lyzr flow/run) keeps its position across
//! connections: a reconnecting client resumes where it left off, or a few
//! frames earlier with `--replay-last`.
//!
//! | module | holds |
//! |---|---|
//! | `config` | [`SimulatorConfig`] (the `simulate` flags) |
//! | `scenarios` | the seed scenarios |
//! | `stream` | per-stream frames and positions, load generation |
//! | `connection` | one client connection: handshake, sending, faults |

mod config;
mod connection;
pub mod scenarios;
mod stream;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info};

pub use config::SimulatorConfig;
pub use scenarios::Scenario;

/// Simulator failures.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// Accepting failed.
    #[error("accept failed: {0}")]
    Accept(std::io::Error),
}

/// What the simulator has seen and done.
#[derive(Debug, Default)]
pub struct Stats {
    /// WebSocket connections accepted (after the handshake).
    pub connections: AtomicU64,
    /// AGNT5 connections accepted.
    pub agnt5_connections: AtomicU64,
    /// Lyzr connections accepted.
    pub lyzr_connections: AtomicU64,
    /// Upgrades refused (bad key, bad path).
    pub rejected: AtomicU64,
    /// Frames sent (malformed ones included).
    pub frames_sent: AtomicU64,
    /// WebSocket pings and Lyzr application pings received.
    pub pings: AtomicU64,
    /// Close frames received from clients.
    pub close_frames: AtomicU64,
    /// AGNT5 run requests received (valid ones).
    pub run_requests: AtomicU64,
    /// Connections cut on purpose (`--cut-after`).
    pub cuts: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatsView {
    /// Connections accepted.
    pub connections: u64,
    /// AGNT5 connections.
    pub agnt5_connections: u64,
    /// Lyzr connections.
    pub lyzr_connections: u64,
    /// Upgrades refused.
    pub rejected: u64,
    /// Frames sent.
    pub frames_sent: u64,
    /// Pings received.
    pub pings: u64,
    /// Close frames received.
    pub close_frames: u64,
    /// Run requests received.
    pub run_requests: u64,
    /// Connections cut on purpose.
    pub cuts: u64,
}

impl Stats {
    /// A snapshot.
    pub fn view(&self) -> StatsView {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsView {
            connections: l(&self.connections),
            agnt5_connections: l(&self.agnt5_connections),
            lyzr_connections: l(&self.lyzr_connections),
            rejected: l(&self.rejected),
            frames_sent: l(&self.frames_sent),
            pings: l(&self.pings),
            close_frames: l(&self.close_frames),
            run_requests: l(&self.run_requests),
            cuts: l(&self.cuts),
        }
    }
}

/// Serves until `shutdown` is cancelled; every connection then gets a close
/// frame and ends.
///
/// # Errors
/// When accepting fails for good.
pub async fn serve(
    listener: TcpListener,
    cfg: SimulatorConfig,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) -> Result<(), SimulatorError> {
    let cfg = Arc::new(cfg);
    let streams = Arc::new(stream::Streams::new(cfg.clone()));
    let tasks = TaskTracker::new();
    let result = loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    debug!(%peer, "simulator: connection");
                    tasks.spawn(connection::handle(
                        socket,
                        cfg.clone(),
                        streams.clone(),
                        stats.clone(),
                        shutdown.clone(),
                    ));
                }
                Err(e) if is_transient(&e) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => break Err(SimulatorError::Accept(e)),
            },
        }
    };
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    result
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || e.raw_os_error() == Some(24) // EMFILE: wait for descriptors to free up
}

/// A simulator running in the background.
pub struct SimulatorHandle {
    addr: SocketAddr,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), SimulatorError>>,
}

/// Binds `cfg.listen` (port 0 picks a free port) and serves in the
/// background.
///
/// # Errors
/// When the address cannot be bound.
pub async fn start(cfg: SimulatorConfig) -> Result<SimulatorHandle, SimulatorError> {
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| SimulatorError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| SimulatorError::Bind {
            addr: cfg.listen,
            source,
        })?;
    info!(%addr, "simulator listening");
    let stats = Arc::new(Stats::default());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, cfg, stats.clone(), shutdown.clone()));
    Ok(SimulatorHandle {
        addr,
        stats,
        shutdown,
        task,
    })
}

impl SimulatorHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The AGNT5 base URL (`ws://addr/ws`; the relay adds the endpoint).
    pub fn agnt5_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The Lyzr base URL (`ws://addr/ws`; the relay appends flow and run).
    pub fn lyzr_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// What happened so far.
    pub fn stats(&self) -> StatsView {
        self.stats.view()
    }

    /// Stops: close frames to every client, then waits.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}
