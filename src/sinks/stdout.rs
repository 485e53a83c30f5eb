//! Standard-output sink: one JSON object a line (events and dead letters).

use std::sync::Arc;

use serde::Deserialize;

use super::{lines, PublishError, Sink};
use crate::record::Record;

/// `kind = "stdout"`: takes no options.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {}

/// Writes to the process's standard output.
pub struct StdoutSink {
    out: tokio::io::Stdout,
    redact: bool,
    scratch: Vec<u8>,
}

impl StdoutSink {
    /// A sink on standard output.
    pub fn new(redact: bool) -> Self {
        Self {
            out: tokio::io::stdout(),
            redact,
            scratch: Vec::new(),
        }
    }
}

impl Sink for StdoutSink {
    async fn publish<'a>(&'a mut self, batch: &'a [Arc<Record>]) -> Result<(), PublishError> {
        lines::write_batch(&mut self.out, batch, self.redact, &mut self.scratch).await
    }

    fn max_payload(&self) -> usize {
        usize::MAX
    }

    fn redacts(&self) -> bool {
        self.redact
    }
}
