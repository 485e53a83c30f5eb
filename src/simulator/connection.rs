//! One client connection: the upgrade (routing, AGNT5 key check and
//! subprotocol echo), the frames of its stream, faults, and answers to
//! pings and run requests.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::scenarios;
use super::stream::{StreamKey, StreamState, Streams};
use super::{SimulatorConfig, Stats};
use crate::sources::agnt5::MAX_MESSAGE_BYTES;

type Ws = WebSocketStream<TcpStream>;

/// Frames written before a flush when sending as fast as possible.
const FLUSH_EVERY: u64 = 64;

/// Serves one connection until it ends or the simulator stops.
pub async fn handle(
    socket: TcpStream,
    cfg: Arc<SimulatorConfig>,
    streams: Arc<Streams>,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
) {
    let _ = socket.set_nodelay(true);
    let mut route: Option<StreamKey> = None;
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| upgrade(req, resp, &cfg, &mut route);
    let ws = match tokio_tungstenite::accept_hdr_async(socket, callback).await {
        Ok(ws) => ws,
        Err(e) => {
            stats.rejected.fetch_add(1, Ordering::Relaxed);
            debug!(error = %e, "simulator: upgrade refused");
            return;
        }
    };
    let Some(key) = route else { return };
    stats.connections.fetch_add(1, Ordering::Relaxed);
    match key {
        StreamKey::Agnt5(_) => stats.agnt5_connections.fetch_add(1, Ordering::Relaxed),
        StreamKey::Lyzr(..) => stats.lyzr_connections.fetch_add(1, Ordering::Relaxed),
    };
    let stream = streams.get(&key);
    let mut conn = Connection {
        ws,
        cfg,
        stats,
        shutdown,
        key,
    };
    conn.run(&stream).await;
}

/// Routes the upgrade request; refuses bad keys and paths. (The error type
/// is tungstenite's handshake callback contract.)
#[allow(clippy::result_large_err)]
fn upgrade(
    req: &Request,
    mut resp: Response,
    cfg: &SimulatorConfig,
    route: &mut Option<StreamKey>,
) -> Result<Response, ErrorResponse> {
    let path = req.uri().path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["ws"] => {
            let endpoint = req.uri().query().and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "x-wf-endpoint")
                    .map(|(_, v)| v.into_owned())
            });
            let Some(endpoint) = endpoint.filter(|e| !e.is_empty()) else {
                return Err(refuse(StatusCode::BAD_REQUEST, "missing x-wf-endpoint"));
            };
            let wanted = format!("x-api-key.{}", cfg.api_key);
            let offered = req
                .headers()
                .get_all("sec-websocket-protocol")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .any(|p| p == wanted);
            if cfg.reject_auth || !offered {
                return Err(refuse(StatusCode::UNAUTHORIZED, "invalid API key"));
            }
            if let Ok(v) = HeaderValue::from_str(&wanted) {
                resp.headers_mut().insert("sec-websocket-protocol", v);
            }
            *route = Some(StreamKey::Agnt5(endpoint));
            Ok(resp)
        }
        ["ws", flow, run] if !flow.is_empty() && !run.is_empty() => {
            let decode = |s: &str| percent_decode(s);
            *route = Some(StreamKey::Lyzr(decode(flow), decode(run)));
            Ok(resp)
        }
        _ => Err(refuse(StatusCode::NOT_FOUND, "unknown path")),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn refuse(status: StatusCode, why: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(why.to_owned()));
    *r.status_mut() = status;
    r
}

struct Connection {
    ws: Ws,
    cfg: Arc<SimulatorConfig>,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
    key: StreamKey,
}

/// How the sending phase ended.
enum Sent {
    All,
    Cut,
    Shutdown,
    Gone,
}

impl Connection {
    async fn run(&mut self, stream: &Arc<Mutex<StreamState>>) {
        match self.send_stream(stream).await {
            Sent::All => {}
            Sent::Cut => {
                self.stats.cuts.fetch_add(1, Ordering::Relaxed);
                return; // dropping the socket without a close frame
            }
            Sent::Shutdown => {
                self.close().await;
                return;
            }
            Sent::Gone => return,
        }
        if self.cfg.silent {
            // Keep TCP open, read nothing, answer nothing.
            self.shutdown.cancelled().await;
            return;
        }
        self.converse().await;
    }

    async fn send_stream(&mut self, stream: &Arc<Mutex<StreamState>>) -> Sent {
        let (start, total, connection) = {
            let mut s = lock(stream);
            s.connections += 1;
            let start = if s.connections > 1 {
                s.next.saturating_sub(self.cfg.replay_last)
            } else {
                s.next
            };
            (start, s.len(), s.connections)
        };
        let cut_at = self
            .cfg
            .cut_after
            .filter(|_| !self.cfg.cut_once || connection == 1);
        let delay = self.cfg.frame_delay();
        let started = Instant::now();
        let mut sent_here = 0u64;
        let mut i = start;
        while i < total {
            if self.shutdown.is_cancelled() {
                return Sent::Shutdown;
            }
            if cut_at == Some(sent_here) {
                let _ = self.ws.flush().await;
                return Sent::Cut;
            }
            let frame = lock(stream).frame(i);
            if self.feed_event(frame).await.is_err() {
                return Sent::Gone;
            }
            sent_here += 1;
            i += 1;
            {
                let mut s = lock(stream);
                s.next = s.next.max(i);
            }
            self.stats.frames_sent.fetch_add(1, Ordering::Relaxed);
            if let Some(every) = self.cfg.malformed.filter(|n| *n > 0) {
                if sent_here.is_multiple_of(every) {
                    let bad = match (sent_here / every) % 3 {
                        1 => Message::text("this is not json {"),
                        2 => Message::binary(vec![0xde, 0xad, 0xbe, 0xef]),
                        _ => Message::text(r#"{"data":{"note":"no type here"}}"#),
                    };
                    if self.ws.feed(bad).await.is_err() {
                        return Sent::Gone;
                    }
                    self.stats.frames_sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            if !delay.is_zero() {
                if self.ws.flush().await.is_err() {
                    return Sent::Gone;
                }
                // Between paced frames, answer what the client sends
                // (application pings, run requests) as a live engine does.
                let wake = Instant::now() + delay;
                loop {
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return Sent::Shutdown,
                        _ = tokio::time::sleep_until(wake) => break,
                        msg = self.ws.next() => {
                            if !self.on_message(msg).await {
                                return Sent::Gone;
                            }
                        }
                    }
                }
            } else if sent_here.is_multiple_of(FLUSH_EVERY) {
                if self.ws.flush().await.is_err() {
                    return Sent::Gone;
                }
                if self.cfg.rate > 0 {
                    let due =
                        started + Duration::from_secs_f64(sent_here as f64 / self.cfg.rate as f64);
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return Sent::Shutdown,
                        _ = tokio::time::sleep_until(due) => {}
                    }
                }
            }
        }
        if self.ws.flush().await.is_err() {
            return Sent::Gone;
        }
        Sent::All
    }

    /// After the stream: answer pings and run requests until the client
    /// leaves or the simulator stops.
    async fn converse(&mut self) {
        loop {
            let msg = tokio::select! {
                _ = self.shutdown.cancelled() => {
                    self.close().await;
                    return;
                }
                msg = self.ws.next() => msg,
            };
            if !self.on_message(msg).await {
                return;
            }
        }
    }

    /// Queues one event, whole or (with `fragment`) as a text frame and
    /// continuation frames.
    async fn feed_event(&mut self, text: String) -> Result<(), ()> {
        let Some(size) = self.cfg.fragment.filter(|n| *n > 0 && *n < text.len()) else {
            return self.ws.feed(Message::text(text)).await.map_err(|_| ());
        };
        let bytes = bytes::Bytes::from(text);
        let mut start = 0;
        while start < bytes.len() {
            let end = (start + size).min(bytes.len());
            let opcode = if start == 0 {
                OpCode::Data(Data::Text)
            } else {
                OpCode::Data(Data::Continue)
            };
            let frame = Frame::message(bytes.slice(start..end), opcode, end == bytes.len());
            self.ws.feed(Message::Frame(frame)).await.map_err(|_| ())?;
            start = end;
        }
        Ok(())
    }

    /// Handles one message from the client; `false` once the connection is
    /// over (closed, failed or gone).
    async fn on_message(
        &mut self,
        msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> bool {
        match msg {
            Some(Ok(Message::Ping(_))) => {
                self.stats.pings.fetch_add(1, Ordering::Relaxed);
                true
            }
            Some(Ok(Message::Text(t))) => self.on_text(t.as_str()).await.is_ok(),
            Some(Ok(Message::Close(_))) => {
                self.stats.close_frames.fetch_add(1, Ordering::Relaxed);
                let _ = self.ws.close(None).await;
                false
            }
            Some(Ok(_)) => true,
            Some(Err(_)) | None => false,
        }
    }

    async fn on_text(&mut self, text: &str) -> Result<(), ()> {
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        match &self.key {
            StreamKey::Lyzr(..) => {
                if v["type"] == "ping" {
                    self.stats.pings.fetch_add(1, Ordering::Relaxed);
                    return self.send(r#"{"type":"pong"}"#.to_owned()).await;
                }
                Ok(())
            }
            StreamKey::Agnt5(endpoint) => {
                if text.len() > MAX_MESSAGE_BYTES {
                    return self
                        .send(
                            r#"{"type":"error","data":{"message":"message exceeds 64KB"}}"#
                                .to_owned(),
                        )
                        .await;
                }
                let (Some(name), Some(connection_id)) =
                    (v["name"].as_str(), v["connection_id"].as_str())
                else {
                    return self
                        .send(
                            r#"{"type":"error","data":{"message":"invalid run request"}}"#
                                .to_owned(),
                        )
                        .await;
                };
                let n = self.stats.run_requests.fetch_add(1, Ordering::Relaxed);
                let execution = format!("exec_{endpoint}_{n}");
                for frame in scenarios::agnt5_run(&execution, name, connection_id) {
                    self.send(frame).await?;
                }
                Ok(())
            }
        }
    }

    async fn send(&mut self, text: String) -> Result<(), ()> {
        self.stats.frames_sent.fetch_add(1, Ordering::Relaxed);
        self.ws.send(Message::text(text)).await.map_err(|_| ())
    }

    async fn close(&mut self) {
        let frame = CloseFrame {
            code: CloseCode::Away,
            reason: "simulator stopping".into(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(Some(frame))).await;
    }
}

fn lock(s: &Arc<Mutex<StreamState>>) -> std::sync::MutexGuard<'_, StreamState> {
    match s.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
