//! Dead-letter records: what a frame becomes when it cannot be understood,
//! or an event when a sink cannot take it. Nothing is dropped silently.
//!
//! Shape: `{"reason", "subscription", "received_at", "payload" | "payload_base64"}`
//! plus `id`, `provider` and `source` so an operator can trace it back.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use serde::Serialize;

use crate::record::{DeadLetterReason, Provider, Record, RecordKind};
use crate::time::rfc3339_micros;

#[derive(Serialize)]
struct DeadLetterBody<'a> {
    reason: &'static str,
    subscription: &'a str,
    provider: &'static str,
    source: &'a str,
    id: &'a str,
    received_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_base64: Option<String>,
    /// Size of the original payload, when `payload` holds only its start.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<usize>,
    /// Whether `payload` holds only the start of the original.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

/// What a dead letter is made from.
pub struct DeadLetterInput<'a> {
    /// Why.
    pub reason: DeadLetterReason,
    /// The subscription the frame came from.
    pub subscription: &'a Arc<str>,
    /// Its provider.
    pub provider: Provider,
    /// Its source URL (free of secrets).
    pub source: &'a str,
    /// The frame's deterministic id.
    pub id: &'a str,
    /// When the frame was received (µs since the epoch).
    pub received_at_us: i64,
    /// The frame (or event) bytes.
    pub raw: &'a [u8],
    /// Keep at most this many bytes of `raw` (the rest is cut, and the
    /// record says so with `truncated` and `size`).
    pub limit: usize,
}

/// Builds the dead-letter record. Valid UTF-8 goes in `payload` as a string,
/// anything else in `payload_base64`.
pub fn build(input: DeadLetterInput<'_>) -> Record {
    let truncated = input.raw.len() > input.limit;
    let raw = if truncated {
        // Cut on a character boundary when the payload is text.
        let end = (0..4)
            .map(|back| input.limit.saturating_sub(back))
            .find(|end| std::str::from_utf8(&input.raw[..*end]).is_ok())
            .unwrap_or(input.limit);
        &input.raw[..end]
    } else {
        input.raw
    };
    let text = if input.reason == DeadLetterReason::BinaryFrame {
        None
    } else {
        std::str::from_utf8(raw).ok()
    };
    let body = DeadLetterBody {
        reason: input.reason.as_str(),
        subscription: input.subscription,
        provider: input.provider.as_str(),
        source: input.source,
        id: input.id,
        received_at: rfc3339_micros(input.received_at_us),
        payload: text,
        payload_base64: match text {
            Some(_) => None,
            None => Some(base64::engine::general_purpose::STANDARD.encode(raw)),
        },
        size: truncated.then_some(input.raw.len()),
        truncated,
    };
    // Serializing a struct of strings cannot fail; keep a valid record anyway.
    let payload = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    Record {
        kind: RecordKind::DeadLetter(input.reason),
        id: input.id.to_owned(),
        key: input.subscription.to_string(),
        event_type: String::new(),
        source: input.source.to_owned(),
        provider: input.provider,
        subscription: input.subscription.clone(),
        received_at_us: input.received_at_us,
        payload: Bytes::from(payload),
        unredacted: None,
    }
}

/// Room for the dead-letter envelope around a truncated payload.
const ENVELOPE: usize = 1024;

/// Turns an event a sink cannot take into a dead letter for that sink,
/// small enough for it: at most `max_payload` bytes (an over-size event
/// keeps only the start of its payload, marked `truncated`).
pub fn from_event(
    event: &Record,
    reason: DeadLetterReason,
    redact: bool,
    max_payload: usize,
) -> Record {
    build(DeadLetterInput {
        reason,
        subscription: &event.subscription,
        provider: event.provider,
        source: &event.source,
        id: &event.id,
        received_at_us: event.received_at_us,
        raw: event.payload_for(redact),
        // JSON escaping can double text; base64 grows it by a third.
        limit: max_payload.saturating_sub(ENVELOPE) / 2,
    })
}

/// No limit: frames are kept whole in their dead letters (the socket's
/// `max_message_size` already bounds them).
pub const UNLIMITED: usize = usize::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_binary_payloads() {
        let sub: Arc<str> = Arc::from("s1");
        let text = build(DeadLetterInput {
            reason: DeadLetterReason::NotJson,
            subscription: &sub,
            provider: Provider::Lyzr,
            source: "ws://h/ws/f/r",
            id: "00",
            received_at_us: 1_700_000_000_000_000,
            raw: b"hello",
            limit: UNLIMITED,
        });
        let v: serde_json::Value = serde_json::from_slice(&text.payload).expect("json");
        assert_eq!(v["reason"], "not_json");
        assert_eq!(v["payload"], "hello");
        assert_eq!(v["subscription"], "s1");
        assert_eq!(v["received_at"], "2023-11-14T22:13:20.000000Z");
        let bin = build(DeadLetterInput {
            reason: DeadLetterReason::BinaryFrame,
            raw: &[0xff, 0x00],
            ..DeadLetterInput {
                reason: DeadLetterReason::NotJson,
                subscription: &sub,
                provider: Provider::Lyzr,
                source: "",
                id: "01",
                received_at_us: 0,
                raw: b"",
                limit: UNLIMITED,
            }
        });
        let v: serde_json::Value = serde_json::from_slice(&bin.payload).expect("json");
        assert_eq!(v["payload_base64"], "/wA=");
        assert!(v.get("payload").is_none());
    }
}
