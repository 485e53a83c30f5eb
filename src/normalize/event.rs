//! The canonical event: a CloudEvents 1.0 event in structured JSON mode
//! (SPEC section 5). Serialized once per frame, straight into bytes.

use serde::Serialize;
use serde_json::{Map, Value};

/// CloudEvents spec version.
pub const SPECVERSION: &str = "1.0";
/// `datacontenttype` of every canonical event.
pub const DATA_CONTENT_TYPE: &str = "application/json";

/// A canonical event, borrowing what it can.
#[derive(Debug, Serialize)]
pub struct CanonicalEvent<'a> {
    /// Always `1.0`.
    pub specversion: &'static str,
    /// Deterministic 32-hex id.
    pub id: &'a str,
    /// The subscription's socket URL (secret-free).
    pub source: &'a str,
    /// `<scope>.<status>`, `relay.gap` or `unknown`.
    #[serde(rename = "type")]
    pub event_type: &'a str,
    /// The task name, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'a str>,
    /// Upstream time, RFC 3339 UTC (receive time as fallback).
    pub time: String,
    /// Always `application/json`.
    pub datacontenttype: &'static str,
    /// Execution id (extension).
    pub executionid: &'a str,
    /// Partition key = execution id (extension).
    pub partitionkey: &'a str,
    /// `agnt5` or `lyzr` (extension).
    pub provider: &'static str,
    /// Subscription id (extension).
    pub subscription: &'a str,
    /// Per-subscription sequence, from 1 (extension).
    pub sequence: u64,
    /// The normalized payload.
    pub data: EventData<'a>,
}

/// `data` of a canonical event.
#[derive(Debug, Serialize)]
pub struct EventData<'a> {
    /// The upstream type (`task_completed`), `null` for relay events.
    pub provider_type: Option<&'a str>,
    /// Execution id.
    pub execution_id: &'a str,
    /// Workflow (Lyzr flow name).
    pub workflow: &'a Value,
    /// Run (Lyzr run name).
    pub run: &'a Value,
    /// `execution workflow task llm tool relay`, `null` when unknown.
    pub scope: Option<&'static str>,
    /// `started completed failed cancelled gap`, `null` when unknown.
    pub status: Option<&'static str>,
    /// `{"id", "name"}` of the task, when the event is about one.
    pub task: Option<&'a TaskRef>,
    /// Duration in milliseconds (Lyzr `execution_time` ×1000).
    pub duration_ms: Option<i64>,
    /// Input.
    pub input: &'a Value,
    /// Output.
    pub output: &'a Value,
    /// Upstream error object (`type`, `message`, `code`, `details`).
    pub error: &'a Value,
    /// Human message.
    pub message: &'a Value,
    /// Lyzr partial results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_results: Option<&'a Value>,
    /// `{"from", "to"}` of a `relay.gap` event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
    /// When the relay received the frame, RFC 3339 UTC.
    pub received_at: String,
    /// Every upstream field not mapped above.
    pub extra: &'a Map<String, Value>,
}

/// A task reference.
#[derive(Debug, Serialize)]
pub struct TaskRef {
    /// Task id.
    pub id: Value,
    /// Task name.
    pub name: Value,
}

/// The window of a `relay.gap` event.
#[derive(Debug, Serialize)]
pub struct Gap {
    /// Last frame before the drop.
    pub from: String,
    /// Reconnect time.
    pub to: String,
}

/// Scope and status of a canonical type.
pub type Kind = (&'static str, &'static str);

/// The mapping table of SPEC section 5: upstream type → (scope, status).
pub fn map_type(provider_type: &str) -> Option<Kind> {
    Some(match provider_type {
        // AGNT5
        "execution_started" => ("execution", "started"),
        "execution_completed" => ("execution", "completed"),
        "execution_failed" => ("execution", "failed"),
        "execution_cancelled" => ("execution", "cancelled"),
        "workflow_start" => ("workflow", "started"),
        "workflow_end" => ("workflow", "completed"),
        "workflow_error" => ("workflow", "failed"),
        "task_start" => ("task", "started"),
        "task_end" => ("task", "completed"),
        "task_error" => ("task", "failed"),
        "llm_start" => ("llm", "started"),
        "llm_end" => ("llm", "completed"),
        "llm_error" => ("llm", "failed"),
        "tool_start" => ("tool", "started"),
        "tool_end" => ("tool", "completed"),
        "tool_error" => ("tool", "failed"),
        // Lyzr
        "flow_started" => ("execution", "started"),
        "flow_completed" => ("execution", "completed"),
        "flow_error" => ("execution", "failed"),
        "task_started" => ("task", "started"),
        "task_completed" => ("task", "completed"),
        "task_failed" => ("task", "failed"),
        _ => return None,
    })
}

/// The canonical `type` string of a kind, without allocating.
pub fn type_name(kind: Option<Kind>) -> &'static str {
    match kind {
        None => "unknown",
        Some((scope, status)) => match (scope, status) {
            ("execution", "started") => "execution.started",
            ("execution", "completed") => "execution.completed",
            ("execution", "failed") => "execution.failed",
            ("execution", "cancelled") => "execution.cancelled",
            ("workflow", "started") => "workflow.started",
            ("workflow", "completed") => "workflow.completed",
            ("workflow", "failed") => "workflow.failed",
            ("task", "started") => "task.started",
            ("task", "completed") => "task.completed",
            ("task", "failed") => "task.failed",
            ("llm", "started") => "llm.started",
            ("llm", "completed") => "llm.completed",
            ("llm", "failed") => "llm.failed",
            ("tool", "started") => "tool.started",
            ("tool", "completed") => "tool.completed",
            ("tool", "failed") => "tool.failed",
            ("relay", "gap") => "relay.gap",
            _ => "unknown",
        },
    }
}
