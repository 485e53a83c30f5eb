//! The disk buffer's log against an embedded store (redb), on this
//! machine's disk: N records of ~400 B written with group commits (fsync
//! per batch), then read back and released in order. Prints events/s.
//! `cargo bench --bench disk_buffer` (`RECORDS=200000` to change N).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use eventrelay::buffer::{self, BufferConfig, BufferType};
use eventrelay::config::ByteSize;
use eventrelay::metrics::Metrics;
use eventrelay::record::{Provider, Record, RecordKind};
use redb::{Database, ReadableTable, TableDefinition};

const TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("buffer");
const BATCH: usize = 1024;

fn record(i: u64) -> Record {
    Record {
        kind: RecordKind::Event,
        id: format!("{i:032x}"),
        key: format!("exec-{}", i % 100),
        event_type: "task.completed".into(),
        source: "wss://run.agnt5.me/ws?x-wf-endpoint=bench".into(),
        provider: Provider::Agnt5,
        subscription: Arc::from("bench"),
        received_at_us: 1_700_000_000_000_000,
        payload: Bytes::from(format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(240))),
        unredacted: None,
    }
}

async fn log(dir: &std::path::Path, n: u64) -> (f64, f64) {
    let m = Metrics::new().unwrap();
    let cfg = BufferConfig {
        kind: BufferType::Disk,
        max_size: ByteSize::gib(4),
        ..BufferConfig::default()
    };
    let (w, mut r) = buffer::open("bench", &cfg, dir, m.sink("bench")).unwrap();
    let records: Vec<Arc<Record>> = (0..n).map(|i| Arc::new(record(i))).collect();
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        for rec in records {
            w.push(rec).await.unwrap();
        }
    });
    // Durable = visible to the reader; read everything, then release it.
    let mut read = 0;
    let mut batch = Vec::with_capacity(BATCH);
    while read < n {
        batch.clear();
        let k = r.read_batch(&mut batch, BATCH).await;
        r.ack(k).await.unwrap();
        read += k as u64;
    }
    let total = start.elapsed().as_secs_f64();
    writer.await.unwrap();
    (n as f64 / total, total)
}

fn redb_store(dir: &std::path::Path, n: u64) -> (f64, f64) {
    let db = Database::create(dir.join("buffer.redb")).unwrap();
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| serde_json::to_vec(&record(i)).unwrap())
        .collect();
    let start = Instant::now();
    for (b, chunk) in frames.chunks(BATCH).enumerate() {
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(TABLE).unwrap();
            for (i, f) in chunk.iter().enumerate() {
                t.insert((b * BATCH + i) as u64, f.as_slice()).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let mut next = 0u64;
    while next < n {
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(TABLE).unwrap();
            let keys: Vec<u64> = t
                .range(next..next + BATCH as u64)
                .unwrap()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    let _: Record = serde_json::from_slice(v.value()).unwrap();
                    k.value()
                })
                .collect();
            for k in &keys {
                t.remove(*k).unwrap();
            }
            next += keys.len() as u64;
        }
        tx.commit().unwrap();
    }
    let total = start.elapsed().as_secs_f64();
    (n as f64 / total, total)
}

fn main() {
    let n: u64 = std::env::var("RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let a = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (log_rate, log_secs) = rt.block_on(log(a.path(), n));
    let b = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (redb_rate, redb_secs) = redb_store(b.path(), n);
    println!("{n} records of ~400 B, fsync per batch of up to {BATCH}, write + read + release:");
    println!("eventrelay segment log: {log_rate:>9.0} events/s ({log_secs:.2} s)");
    println!(
        "redb 2 (B-tree, ACID):  {redb_rate:>9.0} events/s ({redb_secs:.2} s)  → log/redb = {:.1}x",
        log_rate / redb_rate
    );
}
