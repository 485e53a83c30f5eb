//! Vendor frame → the fields of a canonical event. Every upstream field
//! lands in a mapped field or in `extra`: nothing is lost.

use serde_json::{Map, Value};

use super::event::{map_type, Kind, TaskRef};
use super::timestamp;
use crate::record::Provider;

/// What a frame says, vendor differences resolved.
#[derive(Debug, Default)]
pub struct Fields {
    /// Upstream type.
    pub provider_type: String,
    /// Scope and status, `None` when the type is not in the mapping table.
    pub kind: Option<Kind>,
    /// Execution id, when the frame names one.
    pub execution_id: Option<String>,
    /// Workflow.
    pub workflow: Value,
    /// Run.
    pub run: Value,
    /// Task.
    pub task: Option<TaskRef>,
    /// Upstream time (µs), when present and parseable.
    pub time_us: Option<i64>,
    /// Duration (ms).
    pub duration_ms: Option<i64>,
    /// Input.
    pub input: Value,
    /// Output.
    pub output: Value,
    /// Error.
    pub error: Value,
    /// Message.
    pub message: Value,
    /// Partial results.
    pub partial_results: Option<Value>,
    /// Everything else.
    pub extra: Map<String, Value>,
}

/// Why a JSON frame is not an event.
#[derive(Debug, PartialEq, Eq)]
pub struct NoType;

/// Extracts the fields of a frame of `provider`.
pub fn extract(provider: Provider, frame: Map<String, Value>) -> Result<Fields, NoType> {
    match provider {
        Provider::Agnt5 => agnt5(frame),
        Provider::Lyzr => lyzr(frame),
    }
}

fn take_string(m: &mut Map<String, Value>, key: &str) -> Option<String> {
    match m.remove(key) {
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            m.insert(key.to_owned(), other);
            None
        }
        None => None,
    }
}

/// A value as an id: strings as they are, numbers as text.
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Takes `key` as a timestamp; an unparseable one goes to `extra`.
fn take_time(m: &mut Map<String, Value>, key: &str, extra: &mut Map<String, Value>) -> Option<i64> {
    let v = m.remove(key)?;
    let t = timestamp::parse(&v);
    if t.is_none() && !v.is_null() {
        extra.insert(key.to_owned(), v);
    }
    t
}

/// Seconds (number) → whole milliseconds; anything else stays in `extra`.
fn take_seconds(
    m: &mut Map<String, Value>,
    key: &str,
    extra: &mut Map<String, Value>,
) -> Option<i64> {
    let v = m.remove(key)?;
    match v.as_f64() {
        Some(s) if s.is_finite() && s.abs() < 1e12 => Some((s * 1000.0).round() as i64),
        _ => {
            extra.insert(key.to_owned(), v);
            None
        }
    }
}

/// `{"type": ..., "data": {"timestamp", "details", "execution_id"}}`.
fn agnt5(mut frame: Map<String, Value>) -> Result<Fields, NoType> {
    let provider_type = take_string(&mut frame, "type").ok_or(NoType)?;
    let mut f = Fields {
        kind: map_type(&provider_type),
        provider_type,
        ..Fields::default()
    };
    let mut data = match frame.remove("data") {
        Some(Value::Object(d)) => d,
        Some(other) => {
            f.extra.insert("data".into(), other);
            Map::new()
        }
        None => Map::new(),
    };
    if let Some(v) = data.remove("execution_id") {
        match id_text(&v) {
            Some(id) => f.execution_id = Some(id),
            None => {
                f.extra.insert("execution_id".into(), v);
            }
        }
    }
    f.time_us = take_time(&mut data, "timestamp", &mut f.extra);
    if let Some(details) = data.remove("details") {
        match details {
            Value::Object(mut d) => {
                lift_details(&mut d, &mut f);
                if !d.is_empty() {
                    f.extra.insert("details".into(), Value::Object(d));
                }
            }
            Value::Null => {}
            other => {
                f.extra.insert("details".into(), other);
            }
        }
    }
    // Unknown keys: data's first, then the frame's top level (which wins
    // only where data has no such key, so neither is lost).
    for (k, v) in data {
        f.extra.insert(k, v);
    }
    for (k, v) in frame {
        let mut key = k;
        while f.extra.contains_key(&key) {
            key.insert(0, '_');
        }
        f.extra.insert(key, v);
    }
    Ok(f)
}

/// AGNT5 `details` carry what the event is about; well-known keys are
/// lifted into mapped fields, the rest stays under `extra.details`.
fn lift_details(d: &mut Map<String, Value>, f: &mut Fields) {
    for (key, slot) in [
        ("input", &mut f.input),
        ("output", &mut f.output),
        ("error", &mut f.error),
        ("message", &mut f.message),
    ] {
        if let Some(v) = d.remove(key) {
            *slot = v;
        }
    }
    let id = d.remove("task_id");
    let name = d.remove("task_name");
    if id.is_some() || name.is_some() {
        f.task = Some(TaskRef {
            id: id.unwrap_or(Value::Null),
            name: name.unwrap_or(Value::Null),
        });
    }
    if let Some(v) = d.remove("duration_ms") {
        match v.as_f64() {
            Some(ms) if ms.is_finite() && ms.abs() < 1e15 => {
                f.duration_ms = Some(ms.round() as i64)
            }
            _ => {
                d.insert("duration_ms".into(), v);
            }
        }
    }
}

/// Flat `{"event_type", "task_id", "task_name", "flow_name", "run_name",
/// "timestamp", ...}`.
fn lyzr(mut frame: Map<String, Value>) -> Result<Fields, NoType> {
    let provider_type = take_string(&mut frame, "event_type").ok_or(NoType)?;
    let mut f = Fields {
        kind: map_type(&provider_type),
        provider_type,
        ..Fields::default()
    };
    f.workflow = frame.remove("flow_name").unwrap_or(Value::Null);
    f.run = frame.remove("run_name").unwrap_or(Value::Null);
    if let (Some(flow), Some(run)) = (id_text(&f.workflow), id_text(&f.run)) {
        f.execution_id = Some(format!("{flow}/{run}"));
    }
    let id = frame.remove("task_id");
    let name = frame.remove("task_name");
    if id.is_some() || name.is_some() {
        f.task = Some(TaskRef {
            id: id.unwrap_or(Value::Null),
            name: name.unwrap_or(Value::Null),
        });
    }
    f.time_us = take_time(&mut frame, "timestamp", &mut f.extra);
    // `execution_time` (a task) or `total_execution_time` (a flow); when
    // both come, the second stays in `extra` as sent.
    f.duration_ms = take_seconds(&mut frame, "execution_time", &mut f.extra);
    if f.duration_ms.is_none() {
        f.duration_ms = take_seconds(&mut frame, "total_execution_time", &mut f.extra);
    }
    for (key, slot) in [
        ("input", &mut f.input),
        ("output", &mut f.output),
        ("error", &mut f.error),
        ("message", &mut f.message),
    ] {
        if let Some(v) = frame.remove(key) {
            *slot = v;
        }
    }
    f.partial_results = frame.remove("partial_results");
    f.extra.extend(frame);
    Ok(f)
}
