//! JSON lines to any async writer: shared by the stdout and file sinks.

use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::PublishError;
use crate::record::Record;

/// Writes each record's payload followed by a newline, then flushes.
pub(super) async fn write_batch<W: AsyncWrite + Unpin>(
    out: &mut W,
    batch: &[Arc<Record>],
    redact: bool,
    scratch: &mut Vec<u8>,
) -> Result<(), PublishError> {
    scratch.clear();
    for r in batch {
        scratch.extend_from_slice(r.payload_for(redact));
        scratch.push(b'\n');
    }
    out.write_all(scratch)
        .await
        .map_err(|e| PublishError::new(0, format!("write failed: {e}")))?;
    out.flush()
        .await
        .map_err(|e| PublishError::new(0, format!("flush failed: {e}")))
}
