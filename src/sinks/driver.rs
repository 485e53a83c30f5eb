//! The loop every sink runs: read a batch from the buffer, publish it,
//! acknowledge the buffer once the broker acknowledged, retry with backoff
//! (never dropping) while the broker is away.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{PublishError, Sink};
use crate::buffer::BufferReader;
use crate::dead_letter;
use crate::metrics::SinkMetrics;
use crate::readiness::Latch;
use crate::record::{DeadLetterReason, Record, RecordKind};
use crate::time::now_micros;

/// Largest batch handed to a sink at once.
pub const MAX_BATCH: usize = 1024;
/// First retry delay after a failed publish.
const RETRY_INITIAL: Duration = Duration::from_millis(100);
/// Retry delay cap: short, so a returning broker is used within seconds.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// What the driver needs besides the sink.
pub struct DriverContext {
    /// Sink name, for logs.
    pub name: String,
    /// The sink's metric handles.
    pub metrics: SinkMetrics,
    /// The sink's readiness latch.
    pub latch: Latch,
    /// Fill ratio above which the sink is not ready while its broker is away.
    pub high_water: f64,
    /// Cancelled when the shutdown deadline passed: stop at once, leaving
    /// what is left in the buffer (a disk buffer keeps it).
    pub deadline: CancellationToken,
}

/// Runs `sink` until its buffer is closed and drained, or the deadline.
pub async fn run<S: Sink>(mut sink: S, mut reader: BufferReader, ctx: DriverContext) {
    let mut batch: Vec<Arc<Record>> = Vec::with_capacity(MAX_BATCH);
    let redact = sink.redacts();
    ctx.latch.ready();
    ctx.metrics.up.set(1);
    loop {
        batch.clear();
        let n = tokio::select! {
            biased;
            _ = ctx.deadline.cancelled() => break,
            n = reader.read_batch(&mut batch, MAX_BATCH) => n,
        };
        if n == 0 {
            break;
        }
        let max_payload = sink.max_payload();
        for r in batch.iter_mut() {
            if !r.is_dead_letter() && r.payload_for(redact).len() > max_payload {
                *r = Arc::new(dead_letter::from_event(
                    r,
                    DeadLetterReason::TooLarge,
                    redact,
                    max_payload,
                ));
            }
        }
        if !deliver(&mut sink, &mut batch, &reader, &ctx, redact).await {
            break;
        }
        if let Err(e) = reader.ack(n).await {
            warn!(sink = %ctx.name, error = %e, "cannot record delivery in the buffer; events may be sent again after a restart");
        }
    }
    if !reader.is_empty() {
        info!(sink = %ctx.name, left = reader.len(), "sink stopped with events left in its buffer");
    }
    sink.close().await;
    ctx.metrics.up.set(0);
}

/// Publishes `batch` until every record is acknowledged; false when the
/// deadline passed first.
async fn deliver<S: Sink>(
    sink: &mut S,
    batch: &mut [Arc<Record>],
    reader: &BufferReader,
    ctx: &DriverContext,
    redact: bool,
) -> bool {
    let mut start = 0;
    let mut delay = RETRY_INITIAL;
    let mut failures = 0u32;
    let mut last_error = String::new();
    while start < batch.len() {
        let result = tokio::select! {
            biased;
            _ = ctx.deadline.cancelled() => return false,
            r = sink.publish(&batch[start..]) => r,
        };
        match result {
            Ok(()) => {
                account(&batch[start..], &ctx.metrics);
                start = batch.len();
            }
            Err(PublishError {
                delivered,
                rejected,
                message,
            }) => {
                let delivered = delivered.min(batch.len() - start);
                account(&batch[start..start + delivered], &ctx.metrics);
                start += delivered;
                if rejected && start < batch.len() {
                    if reject(&mut batch[start], &message, ctx, redact, sink.max_payload()) {
                        start += 1;
                    }
                    continue;
                }
                failures += 1;
                if failures == 1 || message != last_error {
                    warn!(sink = %ctx.name, error = %message, failures, "publish failed; buffering and retrying");
                }
                last_error = message.clone();
                ctx.metrics.up.set(0);
                if reader.fill_ratio() >= ctx.high_water {
                    ctx.latch.not_ready(format!(
                        "broker unreachable and buffer above {:.0}% ({message})",
                        ctx.high_water * 100.0
                    ));
                }
                tokio::select! {
                    biased;
                    _ = ctx.deadline.cancelled() => return false,
                    _ = tokio::time::sleep(jitter(delay)) => {}
                }
                delay = (delay * 2).min(RETRY_MAX);
            }
        }
    }
    if failures > 0 {
        info!(sink = %ctx.name, failures, "publishing again");
    }
    ctx.metrics.up.set(1);
    ctx.latch.ready();
    true
}

/// Turns a refused event into a `rejected` dead letter; a refused dead
/// letter is dropped, counted and logged (nothing is left to send).
/// Returns whether the record is to be skipped.
fn reject(
    record: &mut Arc<Record>,
    message: &str,
    ctx: &DriverContext,
    redact: bool,
    max_payload: usize,
) -> bool {
    if record.is_dead_letter() {
        ctx.metrics.dropped_rejected.inc();
        tracing::error!(sink = %ctx.name, id = %record.id, error = %message, "broker refused a dead letter; dropped");
        return true;
    }
    warn!(sink = %ctx.name, id = %record.id, error = %message, "broker refused an event; sending it to the dead-letter destination");
    *record = Arc::new(dead_letter::from_event(
        record,
        DeadLetterReason::Rejected,
        redact,
        max_payload,
    ));
    false
}

fn account(records: &[Arc<Record>], m: &SinkMetrics) {
    let now = now_micros();
    let mut published = 0;
    for r in records {
        match r.kind {
            RecordKind::Event => published += 1,
            RecordKind::DeadLetter(reason) => m.dead_lettered(reason).inc(),
        }
        let secs = (now - r.received_at_us).max(0) as f64 / 1e6;
        m.latency.observe(secs);
    }
    m.published.inc_by(published);
}

/// Half fixed, half random: spreads retries of many sinks apart.
fn jitter(d: Duration) -> Duration {
    let half = d / 2;
    half + half.mul_f64(rand::random::<f64>())
}
