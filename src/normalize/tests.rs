use serde_json::{json, Value};

use super::*;

const T0: i64 = 1_756_806_132_601_000; // 2025-09-02T09:42:12.601Z

fn lyzr_stream() -> StreamState {
    StreamState::new(
        "support-ticket-78453".into(),
        Provider::Lyzr,
        "wss://lao-socket.studio.lyzr.ai/ws/Customer_Support_Pipeline/ticket_78453".into(),
        Some("Customer_Support_Pipeline".into()),
        Some("ticket_78453".into()),
    )
}

fn agnt5_stream() -> StreamState {
    StreamState::new(
        "coffee-shop".into(),
        Provider::Agnt5,
        "wss://run.agnt5.me/ws?x-wf-endpoint=coffee-shop-e66b8d23".into(),
        None,
        None,
    )
}

fn normalizer() -> Normalizer {
    Normalizer::new(&NormalizeConfig::default(), false)
}

fn run(stream: &mut StreamState, text: &str) -> (Record, Value) {
    let id = frame_id(&stream.subscription.clone(), text.as_bytes());
    let r = normalizer().normalize(stream, Frame::Text(text), id, T0);
    let v = serde_json::from_slice(&r.payload).unwrap();
    (r, v)
}

#[test]
fn spec_example_task_completed() {
    let frame = r#"{"event_type":"task_completed","task_id":"b29aa07f-9341-4ac5-9160-4f7e1f594654","task_name":"sentiment_analyzer","flow_name":"Customer_Support_Pipeline","run_name":"ticket_78453","timestamp":1756806132.567,"execution_time":5.33,"output":{"sentiment":"highly_negative","confidence":0.94}}"#;
    let mut s = lyzr_stream();
    for _ in 0..3 {
        s.next_sequence();
    }
    let (r, v) = run(&mut s, frame);
    let expected = json!({
      "specversion": "1.0",
      "id": r.id,
      "source": "wss://lao-socket.studio.lyzr.ai/ws/Customer_Support_Pipeline/ticket_78453",
      "type": "task.completed",
      "subject": "sentiment_analyzer",
      "time": "2025-09-02T09:42:12.567Z",
      "datacontenttype": "application/json",
      "executionid": "Customer_Support_Pipeline/ticket_78453",
      "partitionkey": "Customer_Support_Pipeline/ticket_78453",
      "provider": "lyzr",
      "subscription": "support-ticket-78453",
      "sequence": 4,
      "data": {
        "provider_type": "task_completed",
        "execution_id": "Customer_Support_Pipeline/ticket_78453",
        "workflow": "Customer_Support_Pipeline",
        "run": "ticket_78453",
        "scope": "task",
        "status": "completed",
        "task": {"id": "b29aa07f-9341-4ac5-9160-4f7e1f594654", "name": "sentiment_analyzer"},
        "duration_ms": 5330,
        "input": null,
        "output": {"sentiment": "highly_negative", "confidence": 0.94},
        "error": null,
        "message": null,
        "received_at": "2025-09-02T09:42:12.601Z",
        "extra": {}
      }
    });
    assert_eq!(v, expected);
    assert_eq!(r.key, "Customer_Support_Pipeline/ticket_78453");
    assert_eq!(r.event_type, "task.completed");
    assert_eq!(r.id.len(), 32);
}

#[test]
fn ids_are_deterministic_per_subscription() {
    let f = br#"{"event_type":"flow_started"}"#;
    assert_eq!(frame_id("a", f), frame_id("a", f));
    assert_ne!(frame_id("a", f), frame_id("b", f));
    assert!(frame_id("a", f)
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
}

#[test]
fn agnt5_event_and_unknown_type() {
    let mut s = agnt5_stream();
    let (r, v) = run(
        &mut s,
        r#"{"type":"llm_end","data":{"timestamp":"2024-01-10T12:00:00Z","execution_id":"exec_abc123","details":{"task_name":"summarize","model":"gpt-4o","output":{"text":"hi"},"api_key":"sk-1"}},"extra_top":1}"#,
    );
    assert_eq!(r.event_type, "llm.completed");
    assert_eq!(r.key, "exec_abc123");
    assert_eq!(v["time"], "2024-01-10T12:00:00.000Z");
    assert_eq!(v["subject"], "summarize");
    assert_eq!(v["data"]["output"], json!({"text": "hi"}));
    assert_eq!(
        v["data"]["extra"]["details"],
        json!({"model": "gpt-4o", "api_key": REDACTED})
    );
    assert_eq!(v["data"]["extra"]["extra_top"], 1);
    assert_eq!(v["sequence"], 1);
    let (r, v) = run(
        &mut s,
        r#"{"type":"heartbeat_tick","data":{"execution_id":"e1"}}"#,
    );
    assert_eq!(r.event_type, "unknown");
    assert_eq!(v["data"]["provider_type"], "heartbeat_tick");
    assert_eq!(v["data"]["scope"], Value::Null);
    assert_eq!(v["time"], "2025-09-02T09:42:12.601Z");
    assert_eq!(v["sequence"], 2);
}

#[test]
fn malformed_frames_become_dead_letters() {
    let mut s = agnt5_stream();
    let n = normalizer();
    let cases: [(Frame<'_>, DeadLetterReason); 5] = [
        (Frame::Text("not json"), DeadLetterReason::NotJson),
        (
            Frame::Binary(&[0, 159, 146, 150]),
            DeadLetterReason::BinaryFrame,
        ),
        (Frame::Text(r#"{"data":{}}"#), DeadLetterReason::NoType),
        (Frame::Text(r#"[1,2]"#), DeadLetterReason::NoType),
        (
            Frame::Text(r#"{"type":7,"token":"x"}"#),
            DeadLetterReason::NoType,
        ),
    ];
    for (frame, reason) in cases {
        let r = n.normalize(&mut s, frame, "0".repeat(32), T0);
        assert_eq!(r.kind, RecordKind::DeadLetter(reason), "{frame:?}");
        let v: Value = serde_json::from_slice(&r.payload).unwrap();
        assert_eq!(v["reason"], reason.as_str());
        assert!(!String::from_utf8_lossy(&r.payload).contains("\"x\""));
    }
    assert_eq!(s.sequence(), 0, "dead letters take no sequence number");
}

#[test]
fn unredacted_copy_only_when_asked_and_needed() {
    let mut s = lyzr_stream();
    let n = Normalizer::new(&NormalizeConfig::default(), true);
    let f = r#"{"event_type":"task_started","input":{"config":{"api_key":"sk-prod"}},"headers":{"Authorization":"Bearer t"}}"#;
    let r = n.normalize(&mut s, Frame::Text(f), "a".repeat(32), T0);
    let red = String::from_utf8_lossy(&r.payload);
    assert!(!red.contains("sk-prod") && !red.contains("Bearer t"));
    let raw = String::from_utf8_lossy(r.unredacted.as_ref().unwrap());
    assert!(raw.contains("sk-prod") && raw.contains("Bearer t"));
    let clean = n.normalize(
        &mut s,
        Frame::Text(r#"{"event_type":"task_started"}"#),
        "b".repeat(32),
        T0,
    );
    assert!(clean.unredacted.is_none());
}

#[test]
fn gap_events() {
    let mut s = lyzr_stream();
    let r = gap_event(&mut s, "F/r", T0, T0 + 5_000_000, T0 + 5_000_000);
    let v: Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(v["type"], "relay.gap");
    assert_eq!(
        v["data"]["gap"],
        json!({"from": "2025-09-02T09:42:12.601Z", "to": "2025-09-02T09:42:17.601Z"})
    );
    assert_eq!(v["sequence"], 1);
    assert_eq!(r.key, "F/r");
    let again = gap_event(&mut s, "F/r", T0, T0 + 5_000_000, T0 + 5_000_000);
    assert_eq!(again.id, r.id);
}
