//! Disk buffer: an append-only log of checksummed records in segment files
//! under `relay.data_dir/buffers/<sink>/`, with the read position in a
//! small `ack` file.
//!
//! - Writing: producers encode (in their own tasks) and hand frames to one
//!   writer thread, which appends a whole batch and calls `fdatasync` once
//!   for it (group commit); only then does the reader see the records.
//! - Reading: records are read back from the files in order, handed to the
//!   sink, and released by `ack` once the broker acknowledged them; the
//!   position is saved (no fsync: after a crash the last batch is sent
//!   again — at least once) and segments wholly behind it are deleted.
//! - Corruption: a frame with a bad checksum is skipped; a bad header or a
//!   length past the end of a sealed segment skips the rest of that
//!   segment (a torn tail after a crash). Each skip is logged and counted
//!   in `eventrelay_events_dropped_total{reason="corrupt"}`; the relay goes
//!   on with the next records.
//! - Restart: existing segments are scanned (headers and checksums) to
//!   restore the depth gauges; writing resumes in a fresh segment.

pub mod codec;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, Notify};
use tracing::{error, info, warn};

use super::{BufferConfig, BufferError, WhenFull};
use crate::metrics::SinkMetrics;
use crate::record::Record;

/// Largest segment file before the writer starts the next one.
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Frames taken by the writer per group commit.
const WRITE_BATCH: usize = 4096;
/// Frames waiting for the writer thread.
const QUEUE: usize = 4096;
const ACK_FILE: &str = "ack";
/// Pause before retrying a failed write.
const WRITE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// A position in the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Pos {
    segment: u64,
    offset: u64,
}

struct State {
    /// End of what is durable (fsynced) in the log.
    durable: Pos,
    writer_done: bool,
}

struct Shared {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes of records written (or reserved) and not acknowledged.
    bytes: AtomicU64,
    /// Records written and not acknowledged.
    records: AtomicU64,
    state: Mutex<State>,
    data: Notify,
    room: Notify,
    metrics: SinkMetrics,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn fill_ratio(&self) -> f64 {
        (self.bytes.load(Ordering::Relaxed) as f64 / self.max_bytes as f64).min(1.0)
    }

    fn gauges(&self) {
        self.metrics
            .buffer_events
            .set(self.records.load(Ordering::Relaxed) as i64);
        self.metrics
            .buffer_bytes
            .set(self.bytes.load(Ordering::Relaxed) as i64);
    }

    /// Reserves room for `size` bytes; an empty buffer always takes one.
    fn reserve(&self, size: u64) -> bool {
        let mut cur = self.bytes.load(Ordering::Relaxed);
        loop {
            if cur > 0 && cur + size > self.max_bytes {
                return false;
            }
            match self.bytes.compare_exchange_weak(
                cur,
                cur + size,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }
}

/// Producer side.
#[derive(Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<Vec<u8>>,
    when_full: WhenFull,
    shared: Arc<Shared>,
}

struct OpenSegment {
    id: u64,
    reader: BufReader<File>,
    /// Offset of the reader in the file (`u64::MAX`: unknown, seek first).
    pos: u64,
    /// Final length of the file, read once the writer has moved past it.
    sealed_len: Option<u64>,
}

/// Consumer side.
pub(super) struct Reader {
    shared: Arc<Shared>,
    read: Pos,
    acked: Pos,
    in_flight: VecDeque<(Pos, u64)>,
    /// The open segment: id, reader, position of the reader, length seen.
    file: Option<OpenSegment>,
    ack_file: File,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BufferError + '_ {
    move |source| BufferError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut ids: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".seg")?.parse().ok()
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Opens (or creates) the disk buffer of `sink` under `data_dir`.
pub(super) fn open(
    sink: &str,
    config: &BufferConfig,
    data_dir: &Path,
    metrics: SinkMetrics,
) -> Result<(Writer, Reader), BufferError> {
    let dir = data_dir.join("buffers").join(sink);
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let ack_path = dir.join(ACK_FILE);
    let mut ack_file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&ack_path)
        .map_err(io(&ack_path))?;
    let ids = segments(&dir).map_err(io(&dir))?;
    let saved = read_ack(&mut ack_file);
    let first = ids.first().copied().unwrap_or(1);
    let start = match saved {
        Some(p) if ids.contains(&p.segment) => p,
        Some(p) if ids.iter().all(|id| *id > p.segment) => Pos {
            segment: first,
            offset: 0,
        },
        Some(_) | None => Pos {
            segment: first,
            offset: 0,
        },
    };
    for id in ids.iter().filter(|id| **id < start.segment) {
        let _ = fs::remove_file(segment_path(&dir, *id));
    }
    let (records, bytes) = scan(&dir, &ids, start);
    let next_segment = ids.last().map_or(1, |l| l + 1);
    if records > 0 {
        info!(
            sink,
            records, bytes, "disk buffer holds events from a previous run"
        );
    }
    let shared = Arc::new(Shared {
        dir: dir.clone(),
        max_bytes: config.max_size.0.max(1),
        bytes: AtomicU64::new(bytes),
        records: AtomicU64::new(records),
        state: Mutex::new(State {
            durable: Pos {
                segment: next_segment,
                offset: 0,
            },
            writer_done: false,
        }),
        data: Notify::new(),
        room: Notify::new(),
        metrics,
    });
    shared.gauges();
    let (tx, rx) = mpsc::channel(QUEUE);
    let seg_path = segment_path(&dir, next_segment);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&seg_path)
        .map_err(io(&seg_path))?;
    sync_dir(&dir);
    let writer_shared = shared.clone();
    let name = sink.to_owned();
    std::thread::Builder::new()
        .name(format!("buffer-{sink}"))
        .spawn(move || write_loop(rx, writer_shared, next_segment, file, &name))
        .map_err(io(&dir))?;
    Ok((
        Writer {
            tx,
            when_full: config.when_full,
            shared: shared.clone(),
        },
        Reader {
            shared,
            read: start,
            acked: start,
            in_flight: VecDeque::new(),
            file: None,
            ack_file,
        },
    ))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn read_ack(f: &mut File) -> Option<Pos> {
    let mut b = [0u8; 20];
    f.seek(SeekFrom::Start(0)).ok()?;
    f.read_exact(&mut b).ok()?;
    let segment = u64::from_le_bytes(b[0..8].try_into().ok()?);
    let offset = u64::from_le_bytes(b[8..16].try_into().ok()?);
    let sum = u32::from_le_bytes(b[16..20].try_into().ok()?);
    (codec::checksum(&b[..16]) == sum).then_some(Pos { segment, offset })
}

fn write_ack(f: &mut File, p: Pos) -> std::io::Result<()> {
    let mut b = [0u8; 20];
    b[0..8].copy_from_slice(&p.segment.to_le_bytes());
    b[8..16].copy_from_slice(&p.offset.to_le_bytes());
    let sum = codec::checksum(&b[..16]);
    b[16..20].copy_from_slice(&sum.to_le_bytes());
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&b)
}

/// Counts the valid records (and their bytes) from `start` on.
fn scan(dir: &Path, ids: &[u64], start: Pos) -> (u64, u64) {
    let (mut records, mut bytes) = (0, 0);
    for id in ids.iter().filter(|id| **id >= start.segment) {
        let Ok(data) = fs::read(segment_path(dir, *id)) else {
            continue;
        };
        let mut off = if *id == start.segment {
            start.offset as usize
        } else {
            0
        };
        while off + codec::HEADER <= data.len() {
            let Some((len, sum)) = codec::header(&data[off..]) else {
                break;
            };
            let end = off + codec::HEADER + len;
            if end > data.len() {
                break;
            }
            if codec::checksum(&data[off + codec::HEADER..end]) == sum {
                records += 1;
                bytes += (end - off) as u64;
            }
            off = end;
        }
    }
    (records, bytes)
}

fn write_loop(
    mut rx: mpsc::Receiver<Vec<u8>>,
    shared: Arc<Shared>,
    mut segment: u64,
    mut file: File,
    sink: &str,
) {
    let mut offset = 0u64;
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(WRITE_BATCH);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(f) => batch.push(f),
                Err(_) => break,
            }
        }
        if offset >= SEGMENT_BYTES {
            let path = segment_path(&shared.dir, segment + 1);
            match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(f) => {
                    segment += 1;
                    offset = 0;
                    file = f;
                    sync_dir(&shared.dir);
                }
                Err(e) => {
                    error!(sink, error = %e, "cannot start a new buffer segment; appending to the current one")
                }
            }
        }
        buf.clear();
        for f in batch.drain(..) {
            buf.extend_from_slice(&f);
        }
        if !append_durably(&mut file, &buf, offset, &rx, sink) {
            break;
        }
        offset += buf.len() as u64;
        shared.lock().durable = Pos { segment, offset };
        shared.data.notify_one();
    }
    shared.lock().writer_done = true;
    shared.data.notify_one();
}

/// Appends `buf` at `offset` and fsyncs it. A failed write (disk full, I/O
/// error) is cut back and retried every second: meanwhile the queue fills
/// and producers wait, as with a full buffer, so nothing accepted is
/// dropped. Gives up (`false`) only once every producer is gone (shutdown).
fn append_durably(
    file: &mut File,
    buf: &[u8],
    offset: u64,
    rx: &mpsc::Receiver<Vec<u8>>,
    sink: &str,
) -> bool {
    let mut failures = 0u32;
    while let Err(e) = file.write_all(buf).and_then(|()| file.sync_data()) {
        let _ = file.set_len(offset);
        if failures == 0 {
            error!(sink, error = %e, "disk buffer write failed; retrying every second, producers wait");
        }
        failures = failures.saturating_add(1);
        if rx.is_closed() {
            error!(
                sink,
                "shutting down while disk buffer writes fail; the last batch is lost"
            );
            return false;
        }
        std::thread::sleep(WRITE_RETRY);
    }
    if failures > 0 {
        info!(sink, failures, "disk buffer writes resumed");
    }
    true
}

impl Writer {
    pub(super) async fn push(&self, record: Arc<Record>) -> Result<(), BufferError> {
        let frame = codec::encode(&record);
        let size = frame.len() as u64;
        loop {
            let room = self.shared.room.notified();
            if self.shared.reserve(size) {
                break;
            }
            match self.when_full {
                WhenFull::DropNewest => {
                    self.shared.metrics.dropped_full.inc();
                    return Ok(());
                }
                WhenFull::Block => room.await,
            }
        }
        if self.tx.send(frame).await.is_err() {
            self.shared.bytes.fetch_sub(size, Ordering::Relaxed);
            return Err(BufferError::Closed);
        }
        self.shared.records.fetch_add(1, Ordering::Relaxed);
        self.shared.gauges();
        Ok(())
    }

    pub(super) fn fill_ratio(&self) -> f64 {
        self.shared.fill_ratio()
    }
}

/// The outcome of reading one frame.
enum Read1 {
    Record(Record, Pos),
    Skip(Pos, &'static str),
    End,
}

impl Reader {
    pub(super) async fn read_batch(&mut self, out: &mut Vec<Arc<Record>>, max: usize) -> usize {
        let shared = self.shared.clone();
        loop {
            let data = shared.data.notified();
            let (durable, done) = {
                let s = self.shared.lock();
                (s.durable, s.writer_done)
            };
            if self.read < durable {
                let n = self.read_until(durable, out, max.max(1));
                if n > 0 {
                    return n;
                }
                continue;
            }
            if done {
                return 0;
            }
            data.await;
        }
    }

    /// Reads up to `max` records before `end`; skips what is corrupt.
    fn read_until(&mut self, end: Pos, out: &mut Vec<Arc<Record>>, max: usize) -> usize {
        let mut n = 0;
        while n < max && self.read < end {
            match self.read_one(end) {
                Read1::Record(r, next) => {
                    let size = next.offset.saturating_sub(self.read.offset);
                    self.in_flight.push_back((next, size));
                    self.read = next;
                    out.push(Arc::new(r));
                    n += 1;
                }
                Read1::Skip(next, why) => {
                    self.shared.metrics.dropped_corrupt.inc();
                    warn!(
                        dir = %self.shared.dir.display(),
                        segment = self.read.segment,
                        offset = self.read.offset,
                        why,
                        "skipping a corrupt record in the disk buffer"
                    );
                    self.read = next;
                }
                Read1::End => break,
            }
        }
        n
    }

    /// Where reading resumes when the rest of the current segment is
    /// unreadable: the next segment, or the durable end in the live one.
    /// Only called on a skip: listing the directory per record would be
    /// I/O on the hot path.
    fn rest_of_segment(&self, end: Pos) -> Pos {
        if self.read.segment < end.segment {
            self.next_segment(end)
        } else {
            end
        }
    }

    fn next_segment(&self, end: Pos) -> Pos {
        let next = segments(&self.shared.dir)
            .unwrap_or_default()
            .into_iter()
            .find(|id| *id > self.read.segment && *id <= end.segment)
            .unwrap_or(end.segment);
        Pos {
            segment: next,
            offset: 0,
        }
    }

    fn read_one(&mut self, end: Pos) -> Read1 {
        let seg = self.read.segment;
        if self.file.as_ref().map(|f| f.id) != Some(seg) {
            match File::open(segment_path(&self.shared.dir, seg)) {
                Ok(f) => {
                    self.file = Some(OpenSegment {
                        id: seg,
                        reader: BufReader::with_capacity(256 * 1024, f),
                        pos: u64::MAX,
                        sealed_len: None,
                    })
                }
                Err(_) if seg < end.segment => {
                    return Read1::Skip(self.next_segment(end), "segment missing")
                }
                Err(_) => return Read1::End,
            }
        }
        let Some(open) = self.file.as_mut() else {
            return Read1::End;
        };
        // The active segment is read up to the durable end only (bytes past
        // it may be half written). A segment behind it is sealed: its length
        // is final, read once after it was sealed.
        let limit = if seg == end.segment {
            end.offset
        } else {
            *open.sealed_len.get_or_insert_with(|| {
                open.reader
                    .get_ref()
                    .metadata()
                    .map(|m| m.len())
                    .unwrap_or(0)
            })
        };
        if self.read.offset >= limit {
            if seg < end.segment {
                self.file = None;
                self.read = self.next_segment(end);
                return if self.read < end {
                    self.read_one(end)
                } else {
                    Read1::End
                };
            }
            return Read1::End;
        }
        if open.pos != self.read.offset {
            if open.reader.seek(SeekFrom::Start(self.read.offset)).is_err() {
                open.pos = u64::MAX;
                return Read1::Skip(self.rest_of_segment(end), "unreadable segment");
            }
            open.pos = self.read.offset;
        }
        let mut header = [0u8; codec::HEADER];
        if open.reader.read_exact(&mut header).is_err() {
            open.pos = u64::MAX;
            return Read1::Skip(self.rest_of_segment(end), "truncated header");
        }
        open.pos += codec::HEADER as u64;
        let Some((len, sum)) = codec::header(&header) else {
            return Read1::Skip(self.rest_of_segment(end), "bad header");
        };
        let next = Pos {
            segment: seg,
            offset: self.read.offset + (codec::HEADER + len) as u64,
        };
        if next.offset > limit {
            return Read1::Skip(self.rest_of_segment(end), "truncated record");
        }
        let mut body = vec![0u8; len];
        if open.reader.read_exact(&mut body).is_err() {
            open.pos = u64::MAX;
            return Read1::Skip(self.rest_of_segment(end), "truncated record");
        }
        open.pos += len as u64;
        if codec::checksum(&body) != sum {
            return Read1::Skip(next, "checksum mismatch");
        }
        match codec::decode(&body) {
            Ok(r) => Read1::Record(r, next),
            Err(_) => Read1::Skip(next, "undecodable record"),
        }
    }

    pub(super) async fn ack(&mut self, n: usize) -> Result<(), BufferError> {
        let mut bytes = 0;
        let mut last = None;
        for _ in 0..n.min(self.in_flight.len()) {
            if let Some((pos, size)) = self.in_flight.pop_front() {
                bytes += size;
                last = Some(pos);
            }
        }
        let Some(pos) = last else { return Ok(()) };
        let old = self.acked;
        self.acked = pos;
        self.shared.bytes.fetch_sub(
            bytes.min(self.shared.bytes.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        let k = n.min(self.shared.records.load(Ordering::Relaxed) as usize) as u64;
        self.shared.records.fetch_sub(k, Ordering::Relaxed);
        self.shared.gauges();
        self.shared.room.notify_waiters();
        let path = self.shared.dir.join(ACK_FILE);
        write_ack(&mut self.ack_file, pos).map_err(io(&path))?;
        if pos.segment > old.segment {
            for id in segments(&self.shared.dir).unwrap_or_default() {
                if id < pos.segment {
                    let _ = fs::remove_file(segment_path(&self.shared.dir, id));
                }
            }
        }
        Ok(())
    }

    pub(super) fn fill_ratio(&self) -> f64 {
        self.shared.fill_ratio()
    }

    pub(super) fn len(&self) -> usize {
        self.shared.records.load(Ordering::Relaxed) as usize
    }
}

#[cfg(test)]
mod tests;
