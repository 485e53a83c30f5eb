//! In-memory buffer: a bounded channel plus the accounting of records handed
//! out but not yet acknowledged.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{BufferConfig, BufferError, WhenFull};
use crate::metrics::SinkMetrics;
use crate::record::Record;

struct Shared {
    capacity: usize,
    /// Records pushed and not yet acknowledged (channel + in flight).
    len: AtomicUsize,
    metrics: SinkMetrics,
}

#[derive(Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<Arc<Record>>,
    when_full: WhenFull,
    shared: Arc<Shared>,
}

pub(super) struct Reader {
    rx: mpsc::Receiver<Arc<Record>>,
    /// Sizes of handed-out records, oldest first, released by `ack`.
    in_flight: VecDeque<usize>,
    shared: Arc<Shared>,
}

pub(super) fn channel(config: &BufferConfig, metrics: SinkMetrics) -> (Writer, Reader) {
    let (tx, rx) = mpsc::channel(config.max_events);
    let shared = Arc::new(Shared {
        capacity: config.max_events,
        len: AtomicUsize::new(0),
        metrics,
    });
    (
        Writer {
            tx,
            when_full: config.when_full,
            shared: shared.clone(),
        },
        Reader {
            rx,
            in_flight: VecDeque::new(),
            shared,
        },
    )
}

impl Writer {
    pub(super) async fn push(&self, record: Arc<Record>) -> Result<(), BufferError> {
        let size = record.size_hint();
        match self.when_full {
            WhenFull::Block => {
                self.tx
                    .send(record)
                    .await
                    .map_err(|_| BufferError::Closed)?;
            }
            WhenFull::DropNewest => match self.tx.try_send(record) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.shared.metrics.dropped_full.inc();
                    return Ok(());
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(BufferError::Closed),
            },
        }
        self.shared.len.fetch_add(1, Ordering::Relaxed);
        self.shared.metrics.buffer_events.inc();
        self.shared.metrics.buffer_bytes.add(size as i64);
        Ok(())
    }

    pub(super) fn fill_ratio(&self) -> f64 {
        self.shared.fill_ratio()
    }
}

impl Shared {
    fn fill_ratio(&self) -> f64 {
        (self.len.load(Ordering::Relaxed) as f64 / self.capacity as f64).min(1.0)
    }
}

impl Reader {
    pub(super) async fn read_batch(&mut self, out: &mut Vec<Arc<Record>>, max: usize) -> usize {
        let start = out.len();
        let n = self.rx.recv_many(out, max.max(1)).await;
        self.in_flight
            .extend(out[start..].iter().map(|r| r.size_hint()));
        n
    }

    pub(super) fn ack(&mut self, n: usize) {
        let n = n.min(self.in_flight.len());
        let bytes: usize = self.in_flight.drain(..n).sum();
        self.shared.len.fetch_sub(n, Ordering::Relaxed);
        self.shared.metrics.buffer_events.sub(n as i64);
        self.shared.metrics.buffer_bytes.sub(bytes as i64);
    }

    pub(super) fn fill_ratio(&self) -> f64 {
        self.shared.fill_ratio()
    }

    pub(super) fn len(&self) -> usize {
        self.shared.len.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use crate::record::{Provider, RecordKind};
    use bytes::Bytes;

    fn record(i: u32) -> Arc<Record> {
        Arc::new(Record {
            kind: RecordKind::Event,
            id: format!("{i:032x}"),
            key: "exec".into(),
            event_type: "task.started".into(),
            source: "ws://x".into(),
            provider: Provider::Agnt5,
            subscription: "s".into(),
            received_at_us: 0,
            payload: Bytes::from_static(b"{}"),
            unredacted: None,
        })
    }

    fn config(max: usize, when_full: WhenFull) -> BufferConfig {
        BufferConfig {
            max_events: max,
            when_full,
            ..BufferConfig::default()
        }
    }

    #[tokio::test]
    async fn drop_newest_counts_drops_and_keeps_order() {
        let m = Metrics::new().expect("metrics");
        let sm = m.sink("t");
        let (w, mut r) = channel(&config(2, WhenFull::DropNewest), sm.clone());
        for i in 0..5 {
            w.push(record(i)).await.expect("push");
        }
        assert_eq!(sm.dropped_full.get(), 3);
        assert_eq!(sm.buffer_events.get(), 2);
        let mut out = Vec::new();
        assert_eq!(r.read_batch(&mut out, 10).await, 2);
        assert_eq!(out[0].id, format!("{:032x}", 0));
        assert_eq!(out[1].id, format!("{:032x}", 1));
        assert_eq!(
            r.len(),
            2,
            "handed out but unacknowledged records still count"
        );
        r.ack(2);
        assert_eq!(sm.buffer_events.get(), 0);
        assert_eq!(sm.buffer_bytes.get(), 0);
    }

    #[tokio::test]
    async fn block_waits_for_room() {
        let m = Metrics::new().expect("metrics");
        let (w, mut r) = channel(&config(1, WhenFull::Block), m.sink("t"));
        w.push(record(0)).await.expect("push");
        let w2 = w.clone();
        let pending = tokio::spawn(async move { w2.push(record(1)).await });
        tokio::task::yield_now().await;
        assert!(!pending.is_finished(), "second push must wait for room");
        let mut out = Vec::new();
        r.read_batch(&mut out, 1).await;
        pending.await.expect("join").expect("push");
        drop(w);
        out.clear();
        assert_eq!(r.read_batch(&mut out, 10).await, 1);
        out.clear();
        assert_eq!(r.read_batch(&mut out, 10).await, 0, "closed and drained");
    }
}
