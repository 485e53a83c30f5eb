//! Configuration of a sink's buffer (`[sinks.buffer]`).

use serde::Deserialize;

use crate::config::ByteSize;

/// Default memory buffer capacity in events: a few seconds of a busy relay,
/// a bounded amount of memory.
pub const DEFAULT_MAX_EVENTS: usize = 100_000;
/// Default disk buffer capacity (as Vector: large enough to ride out a long
/// broker outage, small enough for a modest volume).
pub const DEFAULT_MAX_SIZE: ByteSize = ByteSize::gib(1);
/// Default readiness high-water mark: `/readyz` turns 503 above 80% full.
pub const DEFAULT_HIGH_WATER: f64 = 0.8;

const fn default_max_events() -> usize {
    DEFAULT_MAX_EVENTS
}
const fn default_max_size() -> ByteSize {
    DEFAULT_MAX_SIZE
}
const fn default_high_water() -> f64 {
    DEFAULT_HIGH_WATER
}

/// Where a sink keeps events until the broker acknowledges them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BufferType {
    /// In memory, bounded by `max_events`; lost on crash. The default.
    #[default]
    Memory,
    /// On disk under `relay.data_dir/buffers/<sink>`, bounded by `max_size`;
    /// survives a crash or restart.
    Disk,
}

/// What a full buffer does with a new event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Wait for room: backpressure all the way to the sockets. The default.
    #[default]
    Block,
    /// Drop the new event and count it in
    /// `eventrelay_events_dropped_total{reason="buffer_full"}`.
    DropNewest,
}

/// A sink's buffer.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferConfig {
    /// `memory` or `disk`. Default `memory`.
    #[serde(rename = "type", default)]
    pub kind: BufferType,
    /// Memory buffer capacity in events. Default `100000`.
    #[serde(default = "default_max_events")]
    pub max_events: usize,
    /// Disk buffer capacity in bytes. Default `1GiB`.
    #[serde(default = "default_max_size")]
    pub max_size: ByteSize,
    /// `block` or `drop_newest`. Default `block`.
    #[serde(default)]
    pub when_full: WhenFull,
    /// Fill ratio above which the sink reports not ready. Default `0.8`.
    #[serde(default = "default_high_water")]
    pub high_water: f64,
}

impl Default for BufferConfig {
    fn default() -> Self {
        Self {
            kind: BufferType::default(),
            max_events: DEFAULT_MAX_EVENTS,
            max_size: DEFAULT_MAX_SIZE,
            when_full: WhenFull::default(),
            high_water: DEFAULT_HIGH_WATER,
        }
    }
}

impl BufferConfig {
    /// Checks ranges; returns `(key, reason)` relative to the buffer table.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_events == 0 {
            return Err(("max_events", "must be greater than zero".into()));
        }
        if self.max_size.0 < 1024 * 1024 {
            return Err(("max_size", "must be at least 1MiB".into()));
        }
        if !(self.high_water > 0.0 && self.high_water <= 1.0) {
            return Err(("high_water", "must be in (0, 1]".into()));
        }
        Ok(())
    }
}
