//! The unit that flows from sources to sinks: one upstream frame turned into
//! either a canonical event or a dead-letter record, serialized once.
//!
//! A [`Record`] is built once by the normalizer and shared (`Arc<Record>`) by
//! every sink it is routed to, so fan-out costs a reference count, not a copy.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The workflow engine a subscription talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// AGNT5 (`wss://run.agnt5.me/ws?x-wf-endpoint=...`).
    Agnt5,
    /// Lyzr (`wss://lao-socket.studio.lyzr.ai/ws/{flow}/{run}`).
    Lyzr,
}

impl Provider {
    /// Every provider, for metric pre-registration.
    pub const ALL: [Provider; 2] = [Provider::Agnt5, Provider::Lyzr];

    /// The lowercase name used in config, events and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::Agnt5 => "agnt5",
            Provider::Lyzr => "lyzr",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a frame or event went to a dead-letter destination. The string form
/// labels `eventrelay_events_dead_lettered_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// A text frame that is not JSON.
    NotJson,
    /// A binary WebSocket frame.
    BinaryFrame,
    /// JSON without a recognisable event type field.
    NoType,
    /// An event larger than the sink accepts.
    TooLarge,
    /// The broker refused the event permanently (not a transient failure).
    Rejected,
}

impl DeadLetterReason {
    /// Every reason, for metric pre-registration.
    pub const ALL: [DeadLetterReason; 5] = [
        DeadLetterReason::NotJson,
        DeadLetterReason::BinaryFrame,
        DeadLetterReason::NoType,
        DeadLetterReason::TooLarge,
        DeadLetterReason::Rejected,
    ];

    /// The snake_case name used in dead-letter records and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::NotJson => "not_json",
            DeadLetterReason::BinaryFrame => "binary_frame",
            DeadLetterReason::NoType => "no_type",
            DeadLetterReason::TooLarge => "too_large",
            DeadLetterReason::Rejected => "rejected",
        }
    }
}

impl fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a record is a canonical event or a dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordKind {
    /// A canonical CloudEvents event.
    Event,
    /// A dead-letter record (`{"reason","subscription","received_at","payload"|"payload_base64"}`).
    DeadLetter(DeadLetterReason),
}

/// One message on its way to the sinks, already serialized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Event or dead letter.
    pub kind: RecordKind,
    /// The CloudEvents `id` (32 lowercase hex); for a dead letter, the id of
    /// the frame it came from. Downstream de-duplication key.
    pub id: String,
    /// Partition key: the execution id for events, the subscription id for
    /// dead letters.
    pub key: String,
    /// The canonical `type` (`task.completed`, `relay.gap`, `unknown`);
    /// empty for dead letters.
    pub event_type: String,
    /// The CloudEvents `source` (the subscription's URL, free of secrets).
    pub source: String,
    /// The provider of the subscription that produced it.
    pub provider: Provider,
    /// The subscription id that produced it.
    pub subscription: Arc<str>,
    /// When the frame was received, in microseconds since the Unix epoch
    /// (publish latency is measured from here to the broker's ack).
    pub received_at_us: i64,
    /// The serialized JSON, with secret-looking values redacted.
    #[serde(with = "bytes_serde")]
    pub payload: Bytes,
    /// The serialized JSON without redaction; present only when some sink
    /// turned redaction off.
    #[serde(with = "opt_bytes_serde", default)]
    pub unredacted: Option<Bytes>,
}

impl Record {
    /// The payload a sink sends, given whether that sink redacts.
    pub fn payload_for(&self, redact: bool) -> &Bytes {
        match (&self.unredacted, redact) {
            (Some(raw), false) => raw,
            _ => &self.payload,
        }
    }

    /// Whether this is a dead letter.
    pub fn is_dead_letter(&self) -> bool {
        matches!(self.kind, RecordKind::DeadLetter(_))
    }

    /// Approximate memory held by the record, for buffer accounting.
    pub fn size_hint(&self) -> usize {
        self.payload.len()
            + self.unredacted.as_ref().map_or(0, Bytes::len)
            + self.id.len()
            + self.key.len()
            + self.event_type.len()
            + self.source.len()
            + 64
    }
}

mod bytes_serde {
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        Ok(Bytes::from(<Vec<u8>>::deserialize(d)?))
    }
}

mod opt_bytes_serde {
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &Option<Bytes>, s: S) -> Result<S::Ok, S::Error> {
        match b {
            Some(b) => s.serialize_some(&b[..]),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Bytes>, D::Error> {
        Ok(<Option<Vec<u8>>>::deserialize(d)?.map(Bytes::from))
    }
}
