//! File sink: JSON lines appended to a file (events and dead letters).

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use tokio::fs::{File, OpenOptions};

use super::{lines, PublishError, Sink, SinkError};
use crate::record::Record;

/// When the file sink calls fsync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fsync {
    /// Never: the OS writes back when it likes (fastest; a host crash may
    /// lose the last seconds).
    Never,
    /// After every batch, before the buffer is acknowledged. The default:
    /// an acknowledged event is on disk.
    #[default]
    Batch,
}

/// `kind = "file"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// File to append JSON lines to; created if missing. Required.
    pub path: PathBuf,
    /// `batch` (default) or `never`.
    #[serde(default)]
    pub fsync: Fsync,
}

impl FileConfig {
    /// Checks what serde cannot; `(key, reason)` relative to the sink.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.path.as_os_str().is_empty() {
            return Err(("path", "must not be empty".into()));
        }
        Ok(())
    }
}

/// Appends to a file.
pub struct FileSink {
    file: File,
    fsync: Fsync,
    redact: bool,
    scratch: Vec<u8>,
}

impl FileSink {
    /// Opens (creating) the file for appending.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub async fn open(name: &str, config: &FileConfig, redact: bool) -> Result<Self, SinkError> {
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| SinkError::Setup {
                    sink: name.to_owned(),
                    message: format!("cannot create {}: {e}", dir.display()),
                })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.path)
            .await
            .map_err(|e| SinkError::Setup {
                sink: name.to_owned(),
                message: format!("cannot open {}: {e}", config.path.display()),
            })?;
        Ok(Self {
            file,
            fsync: config.fsync,
            redact,
            scratch: Vec::new(),
        })
    }
}

impl Sink for FileSink {
    async fn publish<'a>(&'a mut self, batch: &'a [Arc<Record>]) -> Result<(), PublishError> {
        lines::write_batch(&mut self.file, batch, self.redact, &mut self.scratch).await?;
        if self.fsync == Fsync::Batch {
            self.file
                .sync_data()
                .await
                .map_err(|e| PublishError::new(0, format!("fsync failed: {e}")))?;
        }
        Ok(())
    }

    fn max_payload(&self) -> usize {
        usize::MAX
    }

    fn redacts(&self) -> bool {
        self.redact
    }
}
