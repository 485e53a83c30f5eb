//! Per-sink buffers: events wait here until the sink's broker acknowledged
//! them. Declared in the sink's config (`[sinks.buffer]`); the sink code only
//! reads, publishes and acknowledges.
//!
//! Contract, the same for every buffer type:
//! - [`BufferWriter::push`] stores a record, waiting for room (`block`) or
//!   dropping and counting it (`drop_newest`) when full.
//! - [`BufferReader::read_batch`] hands out the next records in order.
//! - [`BufferReader::ack`] releases the oldest handed-out records once the
//!   broker acknowledged them; until then they count in the buffer's depth
//!   (and, for a disk buffer, are read again after a restart).

mod config;
pub mod disk;
mod memory;

use std::path::Path;
use std::sync::Arc;

pub use config::{BufferConfig, BufferType, WhenFull};

use crate::metrics::SinkMetrics;
use crate::record::Record;

/// Buffer failures.
#[derive(Debug, thiserror::Error)]
pub enum BufferError {
    /// The sink's reader is gone (the relay is shutting down).
    #[error("buffer closed")]
    Closed,
    /// Disk I/O failed.
    #[error("buffer I/O error in {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The writing end; cheap to clone, one per source task.
#[derive(Clone)]
pub struct BufferWriter {
    inner: WriterKind,
}

#[derive(Clone)]
enum WriterKind {
    Memory(memory::Writer),
    Disk(disk::Writer),
}

/// The reading end, owned by the sink task.
pub struct BufferReader {
    inner: ReaderKind,
}

enum ReaderKind {
    Memory(memory::Reader),
    Disk(disk::Reader),
}

/// Opens the buffer of sink `sink` as configured.
///
/// # Errors
/// When the buffer type is unavailable or its directory cannot be opened.
pub fn open(
    sink: &str,
    config: &BufferConfig,
    data_dir: &Path,
    metrics: SinkMetrics,
) -> Result<(BufferWriter, BufferReader), BufferError> {
    match config.kind {
        BufferType::Memory => {
            let (w, r) = memory::channel(config, metrics);
            Ok((
                BufferWriter {
                    inner: WriterKind::Memory(w),
                },
                BufferReader {
                    inner: ReaderKind::Memory(r),
                },
            ))
        }
        BufferType::Disk => {
            let (w, r) = disk::open(sink, config, data_dir, metrics)?;
            Ok((
                BufferWriter {
                    inner: WriterKind::Disk(w),
                },
                BufferReader {
                    inner: ReaderKind::Disk(r),
                },
            ))
        }
    }
}

impl BufferWriter {
    /// Stores `record`, or drops and counts it when full under
    /// `drop_newest`. Waits for room under `block`.
    ///
    /// # Errors
    /// [`BufferError::Closed`] when the reader is gone.
    pub async fn push(&self, record: Arc<Record>) -> Result<(), BufferError> {
        match &self.inner {
            WriterKind::Memory(w) => w.push(record).await,
            WriterKind::Disk(w) => w.push(record).await,
        }
    }

    /// How full the buffer is, from 0.0 to 1.0.
    pub fn fill_ratio(&self) -> f64 {
        match &self.inner {
            WriterKind::Memory(w) => w.fill_ratio(),
            WriterKind::Disk(w) => w.fill_ratio(),
        }
    }
}

impl BufferReader {
    /// Waits for at least one record and appends up to `max` records to
    /// `out`. Returns how many were appended; 0 means every writer is gone
    /// and the buffer is empty.
    pub async fn read_batch(&mut self, out: &mut Vec<Arc<Record>>, max: usize) -> usize {
        match &mut self.inner {
            ReaderKind::Memory(r) => r.read_batch(out, max).await,
            ReaderKind::Disk(r) => r.read_batch(out, max).await,
        }
    }

    /// Releases the `n` oldest records handed out: the broker has them.
    ///
    /// # Errors
    /// When a disk buffer cannot persist its position.
    pub async fn ack(&mut self, n: usize) -> Result<(), BufferError> {
        match &mut self.inner {
            ReaderKind::Memory(r) => {
                r.ack(n);
                Ok(())
            }
            ReaderKind::Disk(r) => r.ack(n).await,
        }
    }

    /// How full the buffer is, from 0.0 to 1.0.
    pub fn fill_ratio(&self) -> f64 {
        match &self.inner {
            ReaderKind::Memory(r) => r.fill_ratio(),
            ReaderKind::Disk(r) => r.fill_ratio(),
        }
    }

    /// Records stored and not yet acknowledged.
    pub fn len(&self) -> usize {
        match &self.inner {
            ReaderKind::Memory(r) => r.len(),
            ReaderKind::Disk(r) => r.len(),
        }
    }

    /// Whether no record waits for acknowledgement.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
