//! The shipped JSON Schemas, compiled once, to validate what the relay
//! publishes.

use std::sync::OnceLock;

fn compile(text: &str) -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

/// Panics with every violation when `event` is not a valid canonical event,
/// or when the CloudEvents SDK reads it differently (interop check: what
/// consumers using the SDK see).
pub fn assert_event(event: &serde_json::Value) {
    assert_cloudevents_sdk_reads(event);
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    let v = V.get_or_init(|| compile(include_str!("../../schema/canonical-event.schema.json")));
    let errors: Vec<String> = v
        .iter_errors(event)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "invalid canonical event {event}:\n{}",
        errors.join("\n")
    );
}

/// Panics when `record` is not a valid dead-letter record.
pub fn assert_dead_letter(record: &serde_json::Value) {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    let v = V.get_or_init(|| compile(include_str!("../../schema/dead-letter.schema.json")));
    let errors: Vec<String> = v
        .iter_errors(record)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "invalid dead letter {record}:\n{}",
        errors.join("\n")
    );
}

/// Decodes `event` with the CloudEvents Rust SDK (structured JSON mode) and
/// compares the attributes, extensions and data it sees.
fn assert_cloudevents_sdk_reads(event: &serde_json::Value) {
    use cloudevents::event::ExtensionValue;
    use cloudevents::{AttributesReader, Data, Event};
    let ce: Event = serde_json::from_value(event.clone())
        .unwrap_or_else(|e| panic!("CloudEvents SDK cannot read {event}: {e}"));
    assert_eq!(ce.specversion().as_str(), "1.0");
    assert_eq!(Some(ce.id()), event["id"].as_str());
    assert_eq!(Some(ce.ty()), event["type"].as_str());
    assert_eq!(Some(ce.source().as_str()), event["source"].as_str());
    assert_eq!(
        ce.time().map(|t| t.timestamp_micros()),
        event["time"].as_str().map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .expect("RFC 3339 time")
                .timestamp_micros()
        })
    );
    for name in ["executionid", "partitionkey"] {
        let Some(want) = event[name].as_str() else {
            continue;
        };
        match ce.extension(name) {
            Some(ExtensionValue::String(s)) => assert_eq!(s, want, "{name}"),
            other => panic!("SDK sees {name} as {other:?}"),
        }
    }
    match ce.data() {
        Some(Data::Json(data)) => assert_eq!(data, &event["data"]),
        other => panic!("SDK sees data as {other:?}"),
    }
}
