//! The shipped JSON Schemas, compiled once, to validate what the relay
//! publishes.

use std::sync::OnceLock;

fn compile(text: &str) -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

/// Panics with every violation when `event` is not a valid canonical event.
pub fn assert_event(event: &serde_json::Value) {
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
