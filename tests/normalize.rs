//! Every example event of both seed documents normalizes to its expected
//! canonical event (one fixture per example, `tests/fixtures/normalize`),
//! valid against the shipped schema; every upstream type of the mapping
//! table; arbitrary JSON never panics and loses nothing.
//!
//! `EVENTRELAY_BLESS=1 cargo test --test normalize` rewrites the fixtures
//! after an intended change (review the diff).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use eventrelay::normalize::{frame_id, Frame, NormalizeConfig, Normalizer, StreamState};
use eventrelay::record::{Provider, RecordKind};
use eventrelay::simulator::Scenario;
use proptest::prelude::*;
use serde_json::{json, Value};

/// 2025-09-02T09:42:12.601Z, the spec example's receive time.
const RECEIVED: i64 = 1_756_806_132_601_000;

fn stream(s: Scenario) -> StreamState {
    match s.lyzr_run() {
        Some((flow, run)) => StreamState::new(
            Arc::from(s.name()),
            Provider::Lyzr,
            Arc::from(format!("wss://lao-socket.studio.lyzr.ai/ws/{flow}/{run}")),
            Some(flow.into()),
            Some(run.into()),
        ),
        None => StreamState::new(
            Arc::from(s.name()),
            Provider::Agnt5,
            Arc::from("wss://run.agnt5.me/ws?x-wf-endpoint=coffee-shop-e66b8d23"),
            None,
            None,
        ),
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/normalize")
        .join(format!("{name}.json"))
}

#[test]
fn every_seed_example_matches_its_fixture() {
    let bless = std::env::var_os("EVENTRELAY_BLESS").is_some();
    let n = Normalizer::new(&NormalizeConfig::default(), false);
    let mut checked = 0;
    for s in Scenario::ALL {
        let mut st = stream(s);
        for (i, frame) in s.frames().iter().enumerate() {
            let id = frame_id(s.name(), frame.as_bytes());
            let r = n.normalize(&mut st, Frame::Text(frame), id, RECEIVED);
            assert_eq!(r.kind, RecordKind::Event, "{frame}");
            let got: Value = serde_json::from_slice(&r.payload).unwrap();
            common::schema::assert_event(&got);
            let path = fixture(&format!("{}-{:02}", s.name(), i + 1));
            if bless {
                let doc =
                    json!({ "frame": serde_json::from_str::<Value>(frame).unwrap(), "event": got });
                std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
            }
            let doc: Value = serde_json::from_str(
                &std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            )
            .unwrap();
            assert_eq!(
                doc["frame"],
                serde_json::from_str::<Value>(frame).unwrap(),
                "{}",
                path.display()
            );
            assert_eq!(got, doc["event"], "{}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 7 + 4 + 14);
}

#[test]
fn secrets_of_the_seeds_never_survive() {
    let n = Normalizer::new(&NormalizeConfig::default(), false);
    for s in Scenario::ALL {
        let mut st = stream(s);
        for frame in s.frames() {
            let r = n.normalize(
                &mut st,
                Frame::Text(&frame),
                frame_id("x", frame.as_bytes()),
                RECEIVED,
            );
            let text = String::from_utf8_lossy(&r.payload);
            for secret in [
                "sk-prod-sentiment-key",
                "sf_prod_token_xyz",
                "sk-search-tool-key",
                "agnt5-llm-token",
            ] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
    }
}

#[test]
fn every_type_of_the_mapping_table() {
    let table = [
        (Provider::Agnt5, "execution_started", "execution.started"),
        (
            Provider::Agnt5,
            "execution_completed",
            "execution.completed",
        ),
        (Provider::Agnt5, "execution_failed", "execution.failed"),
        (
            Provider::Agnt5,
            "execution_cancelled",
            "execution.cancelled",
        ),
        (Provider::Agnt5, "workflow_start", "workflow.started"),
        (Provider::Agnt5, "workflow_end", "workflow.completed"),
        (Provider::Agnt5, "workflow_error", "workflow.failed"),
        (Provider::Agnt5, "task_start", "task.started"),
        (Provider::Agnt5, "task_end", "task.completed"),
        (Provider::Agnt5, "task_error", "task.failed"),
        (Provider::Agnt5, "llm_start", "llm.started"),
        (Provider::Agnt5, "llm_end", "llm.completed"),
        (Provider::Agnt5, "llm_error", "llm.failed"),
        (Provider::Agnt5, "tool_start", "tool.started"),
        (Provider::Agnt5, "tool_end", "tool.completed"),
        (Provider::Agnt5, "tool_error", "tool.failed"),
        (Provider::Agnt5, "something_new", "unknown"),
        (Provider::Lyzr, "flow_started", "execution.started"),
        (Provider::Lyzr, "flow_completed", "execution.completed"),
        (Provider::Lyzr, "flow_error", "execution.failed"),
        (Provider::Lyzr, "task_started", "task.started"),
        (Provider::Lyzr, "task_completed", "task.completed"),
        (Provider::Lyzr, "task_failed", "task.failed"),
        (Provider::Lyzr, "node_retry", "unknown"),
    ];
    let n = Normalizer::new(&NormalizeConfig::default(), false);
    for (provider, upstream, canonical) in table {
        let frame = match provider {
            Provider::Agnt5 => json!({"type": upstream, "data": {"timestamp": "2024-01-10T12:00:00Z", "details": {}, "execution_id": "exec_1"}}),
            Provider::Lyzr => json!({"event_type": upstream, "flow_name": "F", "run_name": "r", "timestamp": 1756806125.043}),
        }
        .to_string();
        let mut st = StreamState::new(
            Arc::from("s"),
            provider,
            Arc::from("ws://h/ws"),
            Some("F".into()),
            Some("r".into()),
        );
        let r = n.normalize(
            &mut st,
            Frame::Text(&frame),
            frame_id("s", frame.as_bytes()),
            RECEIVED,
        );
        assert_eq!(r.event_type, canonical, "{upstream}");
        let v: Value = serde_json::from_slice(&r.payload).unwrap();
        common::schema::assert_event(&v);
        assert_eq!(v["data"]["provider_type"], upstream);
        assert_eq!(
            v["executionid"],
            if provider == Provider::Agnt5 {
                "exec_1"
            } else {
                "F/r"
            }
        );
    }
}

fn leaves(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        other => out.push(other.clone()),
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z0-9 _./-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let n = Normalizer::new(&NormalizeConfig::default(), true);
        for provider in Provider::ALL {
            let mut st = StreamState::new(Arc::from("s"), provider, Arc::from("ws://h/ws"), None, None);
            let r = n.normalize(&mut st, Frame::Text(&text), frame_id("s", text.as_bytes()), RECEIVED);
            prop_assert!(serde_json::from_slice::<Value>(&r.payload).is_ok());
        }
    }

    #[test]
    fn arbitrary_json_never_panics_and_is_lossless(
        body in prop::collection::btree_map("[a-z_]{1,10}", arb_json(), 0..8),
        data in prop::collection::btree_map("[a-z_]{1,10}", arb_json(), 0..6),
        ty in prop_oneof![Just("task_end"), Just("llm_start"), Just("weird"), Just("flow_started"), Just("task_failed")],
    ) {
        // No redaction, so every leaf must come out somewhere.
        let cfg = NormalizeConfig { redact_keys: Vec::new() };
        let n = Normalizer::new(&cfg, false);
        for provider in Provider::ALL {
            let mut frame: serde_json::Map<String, Value> = body.clone().into_iter().collect();
            match provider {
                Provider::Agnt5 => {
                    frame.insert("type".into(), json!(ty));
                    frame.insert("data".into(), Value::Object(data.clone().into_iter().collect()));
                }
                Provider::Lyzr => {
                    frame.insert("event_type".into(), json!(ty));
                    frame.extend(data.clone());
                }
            }
            // Fields with a converted representation are checked elsewhere.
            for k in ["timestamp", "execution_time", "total_execution_time", "duration_ms"] {
                frame.remove(k);
                if let Some(Value::Object(d)) = frame.get_mut("data") {
                    d.remove(k);
                }
            }
            let text = Value::Object(frame.clone()).to_string();
            let mut st = StreamState::new(Arc::from("s"), provider, Arc::from("ws://h/ws"), None, None);
            let r = n.normalize(&mut st, Frame::Text(&text), frame_id("s", text.as_bytes()), RECEIVED);
            prop_assert_eq!(r.kind, RecordKind::Event);
            let out: Value = serde_json::from_slice(&r.payload).unwrap();
            common::schema::assert_event(&out);
            let mut have = Vec::new();
            leaves(&out["data"], &mut have);
            let mut want = Vec::new();
            leaves(&Value::Object(frame), &mut want);
            for leaf in want {
                // Ids are rendered as text in executionid (numbers included).
                let found = have.contains(&leaf)
                    || leaf.as_i64().is_some_and(|n| out.to_string().contains(&n.to_string()));
                prop_assert!(found, "{} lost in {}", leaf, out);
            }
        }
    }
}
