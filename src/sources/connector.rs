//! The connection loop every subscription runs, whatever its provider:
//! connect (TLS, handshake headers, subprotocol), read frames, heartbeat,
//! idle timeout, reconnect with backoff, gap events, de-duplication, and a
//! clean close frame on shutdown. Providers differ only in the target URL,
//! the application ping, run requests and the end of a run.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{sleep, sleep_until, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{header::SEC_WEBSOCKET_PROTOCOL, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::backoff::Backoff;
use super::dedup::{DedupWindow, DEFAULT_WINDOW};
use super::status::{RunState, Status, SubscriptionState};
use super::target::Target;
use super::{lyzr, SubscriptionConfig};
use crate::metrics::Metrics;
use crate::normalize::{frame_id, gap_event, Frame, Normalizer, StreamState};
use crate::record::{Provider, Record};
use crate::router::Router;
use crate::time::now_micros;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Largest number of executions tracked per subscription for gap events.
const MAX_IN_FLIGHT: usize = 10_000;
/// How long a shutdown waits for the engine to answer the close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Spacing of AGNT5 run requests: at most 100 messages per second.
const RUN_SPACING: Duration = Duration::from_millis(10);

/// What every subscription task shares.
pub struct Shared {
    /// Where records go.
    pub router: Router,
    /// Frame → record.
    pub normalizer: Arc<Normalizer>,
    /// Metric handles.
    pub metrics: Metrics,
}

/// An AGNT5 run request waiting to be written.
#[derive(Debug)]
pub struct QueuedRun {
    /// Its generated `connection_id`.
    pub connection_id: String,
    /// The encoded message (size already checked).
    pub message: String,
}

/// One subscription's task state.
pub struct Task {
    /// Its config.
    pub cfg: SubscriptionConfig,
    /// Where it connects.
    pub target: Target,
    /// Its observable status.
    pub status: Arc<Status>,
    /// Shared handles.
    pub shared: Arc<Shared>,
    /// Cancelled on delete or shutdown.
    pub cancel: CancellationToken,
    /// Run requests (AGNT5).
    pub runs: mpsc::Receiver<QueuedRun>,
}

/// How a connection ended.
#[derive(Debug)]
enum Ended {
    Shutdown,
    Finished,
    Dropped(String),
}

/// Why a connection attempt failed.
#[derive(Debug)]
enum ConnectError {
    Auth(u16),
    Other(String),
}

/// What survives reconnections.
struct Session {
    stream: StreamState,
    dedup: DedupWindow,
    in_flight: HashSet<String>,
    in_flight_full_logged: bool,
    last_frame_us: Option<i64>,
    pending_run: Option<QueuedRun>,
    next_run_at: Instant,
    /// `eventrelay_events_received_total{provider}`, resolved once.
    received: prometheus::IntCounter,
    /// `eventrelay_events_duplicate_total{provider}`, resolved once.
    duplicates: prometheus::IntCounter,
}

/// Runs a subscription until it is deleted, finished, or the relay stops.
pub async fn run(mut task: Task) {
    let provider = task.cfg.provider;
    let mut session = Session {
        stream: task.target.stream_state(&task.cfg),
        dedup: DedupWindow::new(DEFAULT_WINDOW),
        in_flight: HashSet::new(),
        in_flight_full_logged: false,
        last_frame_us: None,
        pending_run: None,
        next_run_at: Instant::now(),
        received: task
            .shared
            .metrics
            .events_received
            .with_label_values(&[provider.as_str()]),
        duplicates: task
            .shared
            .metrics
            .events_duplicate
            .with_label_values(&[provider.as_str()]),
    };
    let mut backoff = Backoff::new(task.cfg.backoff_initial.get(), task.cfg.backoff_max.get());
    let mut dropped_at: Option<i64> = None;
    let mut attempts = 0u64;
    let id = task.cfg.id.clone();
    info!(subscription = %id, provider = %provider, source = %task.target.source, "subscription started");
    loop {
        task.status.set_state(SubscriptionState::Connecting);
        if attempts > 0 {
            task.shared
                .metrics
                .reconnects
                .with_label_values(&[provider.as_str()])
                .inc();
            task.status
                .counters
                .reconnects
                .fetch_add(1, Ordering::Relaxed);
        }
        attempts += 1;
        let attempt = tokio::select! {
            biased;
            _ = task.cancel.cancelled() => break,
            r = connect(&task.target, &task.cfg) => r,
        };
        let delay = match attempt {
            Ok(ws) => {
                task.status.set_state(SubscriptionState::Connected);
                info!(subscription = %id, "connected");
                if let Some(t) = dropped_at.take() {
                    if !emit_gaps(&task, &mut session, t).await {
                        break;
                    }
                }
                let since = Instant::now();
                let frames_before = task.status.counters.frames.load(Ordering::Relaxed);
                match read_loop(ws, &mut task, &mut session).await {
                    Ended::Shutdown => break,
                    Ended::Finished => {
                        task.status.set_state(SubscriptionState::Finished);
                        info!(subscription = %id, "run finished; not reconnecting");
                        break;
                    }
                    Ended::Dropped(reason) => {
                        warn!(subscription = %id, reason = %reason, "connection lost; reconnecting");
                        task.status.set_error(reason);
                        dropped_at = Some(now_micros());
                        let worked = task.status.counters.frames.load(Ordering::Relaxed)
                            > frames_before
                            || since.elapsed() >= backoff.max();
                        if worked {
                            backoff.reset();
                        }
                        task.status.set_state(SubscriptionState::Backoff);
                        backoff.next_delay()
                    }
                }
            }
            Err(ConnectError::Auth(code)) => {
                let msg = format!(
                    "HTTP {code} on upgrade: credentials refused; retrying every {:?}",
                    backoff.max()
                );
                warn!(subscription = %id, "{msg}");
                task.status.set_error(msg);
                task.status.set_state(SubscriptionState::AuthFailed);
                dropped_at.get_or_insert_with(now_micros);
                backoff.max()
            }
            Err(ConnectError::Other(e)) => {
                debug!(subscription = %id, error = %e, "connection attempt failed");
                task.status.set_error(e);
                task.status.set_state(SubscriptionState::Backoff);
                dropped_at.get_or_insert_with(now_micros);
                backoff.next_delay()
            }
        };
        tokio::select! {
            biased;
            _ = task.cancel.cancelled() => break,
            _ = sleep(delay) => {}
        }
    }
    if let Some(t) = dropped_at {
        count_disconnected(&task, t);
    }
    fail_queued_runs(&mut task, &mut session);
    info!(subscription = %id, "subscription stopped");
}

fn count_disconnected(task: &Task, since_us: i64) {
    let secs = (now_micros() - since_us).max(0) as f64 / 1e6;
    task.shared
        .metrics
        .disconnected_seconds
        .with_label_values(&[task.cfg.provider.as_str()])
        .inc_by(secs);
}

/// After a reconnect: counts the time away and publishes one `relay.gap`
/// event per execution in flight. False when the relay is shutting down.
async fn emit_gaps(task: &Task, session: &mut Session, dropped_at: i64) -> bool {
    count_disconnected(task, dropped_at);
    let now = now_micros();
    let from = session.last_frame_us.unwrap_or(dropped_at);
    let mut executions: Vec<String> = session.in_flight.iter().cloned().collect();
    executions.sort();
    for execution in executions {
        let record = gap_event(&mut session.stream, &execution, from, now, now);
        task.status.counters.gaps.fetch_add(1, Ordering::Relaxed);
        task.status.counters.events.fetch_add(1, Ordering::Relaxed);
        if !dispatch(task, record).await {
            return false;
        }
    }
    true
}

fn fail_queued_runs(task: &mut Task, session: &mut Session) {
    task.runs.close();
    let pending = session.pending_run.take();
    let mut failed = 0;
    for run in pending
        .into_iter()
        .chain(std::iter::from_fn(|| task.runs.try_recv().ok()))
    {
        task.status.run_state(&run.connection_id, RunState::Failed);
        failed += 1;
    }
    if failed > 0 {
        warn!(subscription = %task.cfg.id, failed, "run requests not sent before the subscription stopped");
    }
}

async fn connect(target: &Target, cfg: &SubscriptionConfig) -> Result<Ws, ConnectError> {
    let mut request = target
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectError::Other(format!("bad request: {e}")))?;
    if let Some(p) = &target.subprotocol {
        let value = HeaderValue::from_str(p.expose()).map_err(|_| {
            ConnectError::Other("api_key holds characters not allowed in a header".into())
        })?;
        request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, value);
    }
    let max = usize::try_from(cfg.max_message_size.0).unwrap_or(usize::MAX);
    let read_buffer = usize::try_from(cfg.read_buffer().0).unwrap_or(4096);
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(0)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let timeout = cfg.connect_timeout.get();
    let attempt = tokio_tungstenite::connect_async_with_config(request, Some(ws_config), true);
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Err(ConnectError::Other(format!(
            "connect timed out after {timeout:?}"
        ))),
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(WsError::Http(resp))) => {
            let code = resp.status().as_u16();
            if code == 401 || code == 403 {
                Err(ConnectError::Auth(code))
            } else {
                Err(ConnectError::Other(format!("HTTP {code} on upgrade")))
            }
        }
        Ok(Err(e)) => Err(ConnectError::Other(e.to_string())),
    }
}

async fn read_loop(ws: Ws, task: &mut Task, session: &mut Session) -> Ended {
    let (mut write, mut read) = ws.split();
    let idle = task.cfg.idle_timeout.get();
    let period = task.cfg.ping_interval.get();
    let mut ping = tokio::time::interval_at(Instant::now() + period, period);
    let mut deadline = Instant::now() + idle;
    let is_agnt5 = task.cfg.provider == Provider::Agnt5;
    if let Some(run) = session.pending_run.take() {
        if let Err(e) = send_run(&mut write, task, session, run).await {
            return Ended::Dropped(e);
        }
    }
    loop {
        tokio::select! {
            biased;
            _ = task.cancel.cancelled() => {
                close(&mut write, &mut read).await;
                return Ended::Shutdown;
            }
            _ = sleep_until(deadline) => {
                return Ended::Dropped(format!("nothing received for {idle:?} (idle_timeout)"));
            }
            msg = read.next() => {
                deadline = Instant::now() + idle;
                let frame = match &msg {
                    Some(Ok(Message::Text(t))) => Frame::Text(t.as_str()),
                    Some(Ok(Message::Binary(b))) => Frame::Binary(b),
                    Some(Ok(Message::Close(c))) => {
                        let why = c.as_ref().map(|c| format!("{} {}", u16::from(c.code), c.reason)).unwrap_or_default();
                        return Ended::Dropped(format!("engine closed the connection {why}").trim_end().to_owned());
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(WsError::Capacity(e))) => {
                        return Ended::Dropped(format!("message refused: {e} (max_message_size)"));
                    }
                    Some(Err(e)) => return Ended::Dropped(e.to_string()),
                    None => return Ended::Dropped("connection closed".into()),
                };
                match handle_frame(task, session, frame).await {
                    Flow::Continue => {}
                    Flow::Finished => {
                        close(&mut write, &mut read).await;
                        return Ended::Finished;
                    }
                    Flow::Shutdown => return Ended::Shutdown,
                }
            }
            _ = ping.tick() => {
                if let Err(e) = write.send(Message::Ping(Default::default())).await {
                    return Ended::Dropped(format!("ping: {e}"));
                }
                if task.cfg.provider == Provider::Lyzr {
                    if let Err(e) = write.send(Message::text(lyzr::APP_PING)).await {
                        return Ended::Dropped(format!("ping: {e}"));
                    }
                }
            }
            Some(run) = task.runs.recv(), if is_agnt5 => {
                if let Err(e) = send_run(&mut write, task, session, run).await {
                    return Ended::Dropped(e);
                }
            }
        }
    }
}

async fn send_run(
    write: &mut SplitSink<Ws, Message>,
    task: &Task,
    session: &mut Session,
    run: QueuedRun,
) -> Result<(), String> {
    sleep_until(session.next_run_at).await;
    match write.send(Message::text(run.message.clone())).await {
        Ok(()) => {
            session.next_run_at = Instant::now() + RUN_SPACING;
            task.status.run_state(&run.connection_id, RunState::Sent);
            info!(subscription = %task.cfg.id, connection_id = %run.connection_id, "run request sent");
            Ok(())
        }
        Err(e) => {
            session.pending_run = Some(run);
            Err(format!("sending a run request: {e}"))
        }
    }
}

/// Sends a close frame and waits briefly for the engine's answer.
async fn close(write: &mut SplitSink<Ws, Message>, read: &mut SplitStream<Ws>) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "eventrelay closing".into(),
    };
    if write.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(_)) = read.next().await {}
    })
    .await;
}

enum Flow {
    Continue,
    Finished,
    Shutdown,
}

async fn handle_frame(task: &Task, session: &mut Session, frame: Frame<'_>) -> Flow {
    if let (Provider::Lyzr, Frame::Text(t)) = (task.cfg.provider, frame) {
        if lyzr::is_pong(t) {
            return Flow::Continue; // a heartbeat: the idle deadline was reset already
        }
    }
    let now = now_micros();
    task.status.frame_at(now);
    session.last_frame_us = Some(now);
    session.received.inc();
    let bytes = match frame {
        Frame::Text(t) => t.as_bytes(),
        Frame::Binary(b) => b,
    };
    let id = frame_id(&task.cfg.id, bytes);
    if !session.dedup.insert(&id) {
        task.status
            .counters
            .duplicates
            .fetch_add(1, Ordering::Relaxed);
        session.duplicates.inc();
        return Flow::Continue;
    }
    let record = task
        .shared
        .normalizer
        .normalize(&mut session.stream, frame, id, now);
    let finished = track(task, session, &record);
    if !dispatch(task, record).await {
        return Flow::Shutdown;
    }
    if finished {
        Flow::Finished
    } else {
        Flow::Continue
    }
}

/// Hands a record to the router; waits while a `block` buffer is full
/// (backpressure: the socket is not read meanwhile). False when the relay
/// is stopping.
async fn dispatch(task: &Task, record: Record) -> bool {
    tokio::select! {
        biased;
        r = task.shared.router.dispatch(Arc::new(record)) => r.is_ok(),
        _ = task.cancel.cancelled() => {
            warn!(subscription = %task.cfg.id, "shutdown while a full buffer blocked a record; it was not buffered");
            false
        }
    }
}

/// Keeps the set of executions in flight (for gap events) and tells whether
/// the record ends a Lyzr run.
fn track(task: &Task, session: &mut Session, record: &Record) -> bool {
    if record.is_dead_letter() {
        task.status
            .counters
            .dead_letters
            .fetch_add(1, Ordering::Relaxed);
        return false;
    }
    task.status.counters.events.fetch_add(1, Ordering::Relaxed);
    let terminal = matches!(
        record.event_type.as_str(),
        "execution.completed" | "execution.failed" | "execution.cancelled"
    );
    if terminal {
        session.in_flight.remove(&record.key);
    } else if !session.in_flight.contains(&record.key) {
        if session.in_flight.len() < MAX_IN_FLIGHT {
            session.in_flight.insert(record.key.clone());
        } else if !session.in_flight_full_logged {
            session.in_flight_full_logged = true;
            warn!(subscription = %task.cfg.id, "over {MAX_IN_FLIGHT} executions in flight; new ones get no gap events");
        }
    }
    task.cfg.provider == Provider::Lyzr && lyzr::ends_run(&record.event_type)
}
