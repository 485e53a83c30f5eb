//! Normalization: vendor frames become canonical events (CloudEvents 1.0,
//! SPEC section 5) or dead letters (section 6), serialized once.
//!
//! | module | holds |
//! |---|---|
//! | `event` | the canonical event and the type mapping table |
//! | `fields` | AGNT5 and Lyzr frames → event fields, losslessly |
//! | `timestamp` | ISO 8601 / epoch-seconds parsing |
//! | `redact` | secret-looking keys at any depth |
//! | `config` | `[normalize]` |
//!
//! The envelope is written with serde rather than the `cloudevents-sdk`
//! crate: its protocol bindings pin older rdkafka and async-nats releases
//! than the relay's, and the structured JSON envelope is a dozen fields.

mod config;
pub mod event;
mod fields;
pub mod redact;
pub mod timestamp;

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

pub use config::{NormalizeConfig, DEFAULT_REDACT_KEYS};
pub use event::{CanonicalEvent, EventData, Gap, TaskRef};
pub use redact::{Redactor, REDACTED};

use crate::dead_letter::{self, DeadLetterInput};
use crate::record::{DeadLetterReason, Provider, Record, RecordKind};
use crate::time::rfc3339_millis;

/// One WebSocket data frame.
#[derive(Clone, Copy, Debug)]
pub enum Frame<'a> {
    /// A text frame.
    Text(&'a str),
    /// A binary frame (always a dead letter: both vendors send text).
    Binary(&'a [u8]),
}

impl Frame<'_> {
    /// The frame's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Frame::Text(t) => t.as_bytes(),
            Frame::Binary(b) => b,
        }
    }
}

/// Per-subscription state of the normalizer.
#[derive(Clone, Debug)]
pub struct StreamState {
    subscription: Arc<str>,
    provider: Provider,
    source: Arc<str>,
    /// `<flow>/<run>` for Lyzr subscriptions: the execution of frames that
    /// do not name theirs.
    default_execution: Option<String>,
    sequence: u64,
}

impl StreamState {
    /// State of subscription `subscription` whose events come from
    /// `source`; Lyzr subscriptions pass their flow and run names.
    pub fn new(
        subscription: Arc<str>,
        provider: Provider,
        source: Arc<str>,
        flow_name: Option<String>,
        run_name: Option<String>,
    ) -> Self {
        let default_execution = match (flow_name, run_name) {
            (Some(f), Some(r)) => Some(format!("{f}/{r}")),
            _ => None,
        };
        Self {
            subscription,
            provider,
            source,
            default_execution,
            sequence: 0,
        }
    }

    /// The sequence number of the last event emitted (0 before the first).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    fn next_sequence(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }
}

/// The deterministic id of a frame on a subscription: the first 16 bytes
/// of BLAKE3(subscription, NUL, frame) in lowercase hex. The same frame on
/// the same subscription always gets the same id.
pub fn frame_id(subscription: &str, frame: &[u8]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(subscription.as_bytes());
    h.update(&[0]);
    h.update(frame);
    hex16(h.finalize().as_bytes())
}

fn hex16(bytes: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(32);
    for b in &bytes[..16] {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// Turns frames into records.
#[derive(Clone, Debug)]
pub struct Normalizer {
    redactor: Redactor,
    keep_unredacted: bool,
}

impl Normalizer {
    /// A normalizer redacting `cfg.redact_keys`; with `keep_unredacted`
    /// (some sink has `redact = false`) records also carry the unredacted
    /// serialization when something was redacted.
    pub fn new(cfg: &NormalizeConfig, keep_unredacted: bool) -> Self {
        Self {
            redactor: Redactor::new(&cfg.redact_keys),
            keep_unredacted,
        }
    }

    /// Normalizes one frame received at `received_at_us`, whose id is
    /// `id` ([`frame_id`]). Never fails: what cannot be understood becomes a
    /// dead letter.
    pub fn normalize(
        &self,
        stream: &mut StreamState,
        frame: Frame<'_>,
        id: String,
        received_at_us: i64,
    ) -> Record {
        let text = match frame {
            Frame::Binary(b) => {
                return dead(
                    stream,
                    DeadLetterReason::BinaryFrame,
                    &id,
                    received_at_us,
                    b,
                )
            }
            Frame::Text(t) => t,
        };
        let mut obj: Map<String, Value> = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(other) => {
                return self.no_type(stream, &id, received_at_us, other);
            }
            Err(_) => {
                return dead(
                    stream,
                    DeadLetterReason::NotJson,
                    &id,
                    received_at_us,
                    text.as_bytes(),
                )
            }
        };
        let original = self.keep_unredacted.then(|| obj.clone());
        let redacted = self.redactor.redact_map(&mut obj);
        let fields = match fields::extract(stream.provider, obj) {
            Ok(f) => f,
            Err(fields::NoType) => {
                // Re-parse is avoided: the redacted map is gone into extract;
                // rebuild the redacted value from the original text.
                let mut v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                self.redactor.redact(&mut v);
                return self.no_type(stream, &id, received_at_us, v);
            }
        };
        let sequence = stream.next_sequence();
        let execution = execution_id(stream, &fields);
        let payload = serialize(stream, &fields, &execution, &id, sequence, received_at_us);
        let unredacted = match (original, redacted) {
            (Some(orig), true) => fields::extract(stream.provider, orig)
                .ok()
                .map(|f| serialize(stream, &f, &execution, &id, sequence, received_at_us)),
            _ => None,
        };
        Record {
            kind: RecordKind::Event,
            id,
            key: execution,
            event_type: event::type_name(fields.kind).to_owned(),
            source: stream.source.to_string(),
            provider: stream.provider,
            subscription: stream.subscription.clone(),
            received_at_us,
            payload,
            unredacted,
        }
    }

    fn no_type(&self, stream: &StreamState, id: &str, received_at_us: i64, mut v: Value) -> Record {
        self.redactor.redact(&mut v);
        let raw = serde_json::to_vec(&v).unwrap_or_default();
        dead(stream, DeadLetterReason::NoType, id, received_at_us, &raw)
    }
}

/// The execution an event belongs to: the frame's, else the Lyzr run of
/// the subscription, else the subscription itself (so events that name no
/// execution still have a stable partition key).
fn execution_id(stream: &StreamState, f: &fields::Fields) -> String {
    f.execution_id
        .clone()
        .or_else(|| stream.default_execution.clone())
        .unwrap_or_else(|| stream.subscription.to_string())
}

fn serialize(
    stream: &StreamState,
    f: &fields::Fields,
    execution: &str,
    id: &str,
    sequence: u64,
    received_at_us: i64,
) -> Bytes {
    let subject = f
        .task
        .as_ref()
        .and_then(|t| t.name.as_str())
        .filter(|s| !s.is_empty());
    let event = CanonicalEvent {
        specversion: event::SPECVERSION,
        id,
        source: &stream.source,
        event_type: event::type_name(f.kind),
        subject,
        time: rfc3339_millis(f.time_us.unwrap_or(received_at_us)),
        datacontenttype: event::DATA_CONTENT_TYPE,
        executionid: execution,
        partitionkey: execution,
        provider: stream.provider.as_str(),
        subscription: &stream.subscription,
        sequence,
        data: EventData {
            provider_type: Some(&f.provider_type),
            execution_id: execution,
            workflow: &f.workflow,
            run: &f.run,
            scope: f.kind.map(|k| k.0),
            status: f.kind.map(|k| k.1),
            task: f.task.as_ref(),
            duration_ms: f.duration_ms,
            input: &f.input,
            output: &f.output,
            error: &f.error,
            message: &f.message,
            partial_results: f.partial_results.as_ref(),
            gap: None,
            received_at: rfc3339_millis(received_at_us),
            extra: &f.extra,
        },
    };
    to_bytes(&event)
}

fn to_bytes(event: &CanonicalEvent<'_>) -> Bytes {
    let mut buf = Vec::with_capacity(512);
    // Serializing strings, numbers and `Value`s into a Vec cannot fail.
    if serde_json::to_writer(&mut buf, event).is_err() {
        buf.clear();
    }
    Bytes::from(buf)
}

fn dead(
    stream: &StreamState,
    reason: DeadLetterReason,
    id: &str,
    received_at_us: i64,
    raw: &[u8],
) -> Record {
    dead_letter::build(DeadLetterInput {
        reason,
        subscription: &stream.subscription,
        provider: stream.provider,
        source: &stream.source,
        id,
        received_at_us,
        raw,
        limit: dead_letter::UNLIMITED,
    })
}

/// A `relay.gap` event in `execution_id`'s stream: events between `from_us`
/// (last frame before the drop) and `to_us` (reconnect) may be missing.
pub fn gap_event(
    stream: &mut StreamState,
    execution_id: &str,
    from_us: i64,
    to_us: i64,
    received_at_us: i64,
) -> Record {
    let mut h = blake3::Hasher::new();
    h.update(stream.subscription.as_bytes());
    h.update(b"\0relay.gap\0");
    h.update(execution_id.as_bytes());
    h.update(&from_us.to_le_bytes());
    h.update(&to_us.to_le_bytes());
    let id = hex16(h.finalize().as_bytes());
    let sequence = stream.next_sequence();
    let message = Value::String(
        "connection to the engine was lost; events in this window may be missing".into(),
    );
    let extra = Map::new();
    let event = CanonicalEvent {
        specversion: event::SPECVERSION,
        id: &id,
        source: &stream.source,
        event_type: "relay.gap",
        subject: None,
        time: rfc3339_millis(to_us),
        datacontenttype: event::DATA_CONTENT_TYPE,
        executionid: execution_id,
        partitionkey: execution_id,
        provider: stream.provider.as_str(),
        subscription: &stream.subscription,
        sequence,
        data: EventData {
            provider_type: None,
            execution_id,
            workflow: &Value::Null,
            run: &Value::Null,
            scope: Some("relay"),
            status: Some("gap"),
            task: None,
            duration_ms: None,
            input: &Value::Null,
            output: &Value::Null,
            error: &Value::Null,
            message: &message,
            partial_results: None,
            gap: Some(Gap {
                from: rfc3339_millis(from_us),
                to: rfc3339_millis(to_us),
            }),
            received_at: rfc3339_millis(received_at_us),
            extra: &extra,
        },
    };
    let payload = to_bytes(&event);
    Record {
        kind: RecordKind::Event,
        id,
        key: execution_id.to_owned(),
        event_type: "relay.gap".to_owned(),
        source: stream.source.to_string(),
        provider: stream.provider,
        subscription: stream.subscription.clone(),
        received_at_us,
        payload,
        unredacted: None,
    }
}

#[cfg(test)]
mod tests;
