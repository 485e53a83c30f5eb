//! Sinks: where events go. Each sink owns a buffer and a task
//! ([`driver::run`]) that reads batches from it, hands them to the sink's
//! [`Sink::publish`], and acknowledges the buffer only after the broker
//! acknowledged the events. Sinks only send and acknowledge; buffering,
//! retries, dead-lettering of oversized events and accounting live in the
//! driver, once for every kind.

mod config;
pub mod driver;
pub mod file;
pub mod filter;
pub mod kafka;
mod lines;
pub mod nats;
pub mod stdout;

use std::future::Future;
use std::sync::Arc;

pub use config::{FilterConfig, SinkConfig, SinkKind};
pub use file::FileConfig;
pub use stdout::StdoutConfig;

use crate::record::Record;

/// A publish that did not complete: the first `delivered` records of the
/// batch were acknowledged, the rest must be sent again.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PublishError {
    /// How many records from the start of the batch the broker acknowledged.
    pub delivered: usize,
    /// The broker refused record `delivered` for good (too large, invalid):
    /// retrying cannot help, it goes to the dead-letter destination instead.
    pub rejected: bool,
    /// What went wrong, free of secrets.
    pub message: String,
}

impl PublishError {
    /// A transient failure after `delivered` acknowledged records.
    pub fn new(delivered: usize, message: impl Into<String>) -> Self {
        Self {
            delivered,
            rejected: false,
            message: message.into(),
        }
    }

    /// Record `delivered` was refused for good.
    pub fn rejected(delivered: usize, message: impl Into<String>) -> Self {
        Self {
            rejected: true,
            ..Self::new(delivered, message)
        }
    }
}

/// Sink construction failures.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The sink could not be set up (bad option, unreachable file...).
    #[error("sink {sink}: {message}")]
    Setup {
        /// Sink name.
        sink: String,
        /// Why, free of secrets.
        message: String,
    },
}

/// A destination for records.
pub trait Sink: Send + 'static {
    /// Publishes `batch` in order and resolves once the broker acknowledged
    /// every record. Dead letters (`Record::is_dead_letter`) go to the sink's
    /// dead-letter destination. On failure, says how many records from the
    /// start were acknowledged.
    fn publish<'a>(
        &'a mut self,
        batch: &'a [Arc<Record>],
    ) -> impl Future<Output = Result<(), PublishError>> + Send + 'a;

    /// The largest payload the broker accepts; larger events are turned into
    /// `too_large` dead letters by the driver.
    fn max_payload(&self) -> usize;

    /// Whether this sink sends redacted payloads (`redact = true`).
    fn redacts(&self) -> bool {
        true
    }

    /// Flushes and closes, on shutdown.
    fn close(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}
