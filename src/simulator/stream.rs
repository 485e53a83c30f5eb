//! The streams the simulator serves: frames by index (seed scenario, then
//! generated load) and each stream's position across connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::scenarios::{self, Scenario};
use super::SimulatorConfig;

/// A stream's identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StreamKey {
    /// An AGNT5 endpoint.
    Agnt5(String),
    /// A Lyzr flow/run.
    Lyzr(String, String),
}

/// One stream's frames and position.
pub struct StreamState {
    seeds: Vec<String>,
    generated: u64,
    executions: u64,
    prefix: String,
    padding: String,
    /// Index of the next frame to send.
    pub next: u64,
    /// Connections so far.
    pub connections: u64,
}

impl StreamState {
    /// Frames in the stream.
    pub fn len(&self) -> u64 {
        self.seeds.len() as u64 + self.generated
    }

    /// Frame `i` (`i < len`).
    pub fn frame(&self, i: u64) -> String {
        match usize::try_from(i).ok().and_then(|i| self.seeds.get(i)) {
            Some(f) => f.clone(),
            None => self.generate(i - self.seeds.len() as u64),
        }
    }

    /// Generated load frame `n`: executions interleaved, each going
    /// `execution_started`, task/llm/tool events, `execution_completed`.
    fn generate(&self, n: u64) -> String {
        let execs = self.executions.max(1);
        let exec = n % execs;
        let step = n / execs;
        let per = self.generated / execs;
        let ty = if step == 0 {
            "execution_started"
        } else if step + 1 >= per {
            "execution_completed"
        } else {
            [
                "task_start",
                "llm_start",
                "llm_end",
                "tool_start",
                "tool_end",
                "task_end",
            ][(step as usize - 1) % 6]
        };
        let ms = n % 1000;
        let secs = n / 1000 % 60;
        format!(
            r#"{{"type":"{ty}","data":{{"timestamp":"2026-01-01T00:00:{secs:02}.{ms:03}Z","execution_id":"{}-{exec}","details":{{"task_name":"step_{step}","seq":{n},"output":{{"pad":"{}"}}}}}}}}"#,
            self.prefix, self.padding
        )
    }
}

/// Every stream, created on first connection.
pub struct Streams {
    cfg: Arc<SimulatorConfig>,
    inner: Mutex<HashMap<StreamKey, Arc<Mutex<StreamState>>>>,
}

impl Streams {
    /// No streams yet.
    pub fn new(cfg: Arc<SimulatorConfig>) -> Self {
        Self {
            cfg,
            inner: Mutex::default(),
        }
    }

    /// The stream for `key`, created on first use.
    pub fn get(&self, key: &StreamKey) -> Arc<Mutex<StreamState>> {
        let mut map = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        map.entry(key.clone())
            .or_insert_with(|| Arc::new(Mutex::new(self.create(key))))
            .clone()
    }

    fn create(&self, key: &StreamKey) -> StreamState {
        let cfg = &self.cfg;
        let (seeds, generated, prefix) = match key {
            StreamKey::Agnt5(endpoint) => {
                let seeds = if cfg.seeds {
                    Scenario::Agnt5SearchCandidates.frames()
                } else {
                    Vec::new()
                };
                let per = cfg.events_per_execution.max(2);
                (
                    seeds,
                    cfg.executions.saturating_mul(per),
                    sanitize(endpoint),
                )
            }
            StreamKey::Lyzr(flow, run) => {
                let frames = match Scenario::for_lyzr(flow, run) {
                    Some(s) if cfg.seeds => s.frames(),
                    _ => scenarios::generic_lyzr(flow, run),
                };
                (frames, 0, String::new())
            }
        };
        // About payload_bytes per frame: the envelope takes ~170 bytes.
        let padding = "x".repeat(cfg.payload_bytes.saturating_sub(170));
        StreamState {
            seeds,
            generated,
            executions: cfg.executions,
            prefix,
            padding,
            next: 0,
            connections: 0,
        }
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
