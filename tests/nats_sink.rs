//! Simulator → relay → nats-server: JetStream with stream creation,
//! subjects from the template, headers and `Nats-Msg-Id`, de-duplication by
//! the stream, dead letters in `<stream>_DLQ`, and a core NATS alerts sink
//! with a filter.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::brokers::NatsServer;
use common::{consume, relay, schema};
use eventrelay::simulator::SimulatorConfig;

#[tokio::test]
async fn jetstream_subjects_headers_order_dedup_dead_letters_and_core_alerts() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let mut alerts = consume::NatsCollector::subscribe(&nats.url(), "alerts.>").await;
    let sim = relay::simulator(SimulatorConfig {
        executions: 20,
        events_per_execution: 10,
        malformed: Some(25),
        ..SimulatorConfig::default()
    })
    .await;
    let config = relay::config(
        "10s",
        &format!(
            r#"
{subs}
[[sinks]]
name = "events"
kind = "nats"
url = "{url}"
jetstream = true
stream = "WORKFLOW_EVENTS"
create_stream = true

[[sinks]]
name = "alerts"
kind = "nats"
url = "{url}"
subject = "alerts.{{subscription}}.{{type}}"
dead_letter_subject = "alerts-dlq.{{subscription}}"
filter = {{ types = ["*.failed", "execution.cancelled"] }}
"#,
            subs = relay::seed_subscriptions(&sim),
            url = nats.url()
        ),
    );
    let r = relay::start(&config).await;
    let subs = relay::wait_for_frames(&r, &sim, Duration::from_secs(30)).await;
    let (events, dead) = relay::totals(&subs);

    let got = consume::jetstream(
        &nats.url(),
        "WORKFLOW_EVENTS",
        events,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(got.len(), events);
    let mut ids = HashSet::new();
    let mut last_seq: HashMap<String, u64> = HashMap::new();
    let mut failed = 0;
    for m in &got {
        let v = m.json();
        schema::assert_event(&v);
        let id = v["id"].as_str().unwrap();
        assert!(ids.insert(id.to_owned()));
        let exec = v["executionid"].as_str().unwrap();
        let ty = v["type"].as_str().unwrap();
        let expected = format!(
            "workflow.events.{}.{}.{}",
            v["provider"].as_str().unwrap(),
            exec.replace('.', "_"),
            ty.replace('.', "_")
        );
        assert_eq!(m.destination, expected);
        assert_eq!(m.headers["Nats-Msg-Id"], id);
        assert_eq!(m.headers["ce_id"], id);
        assert_eq!(m.headers["ce_type"], ty);
        assert_eq!(m.headers["content-type"], "application/cloudevents+json");
        let seq = v["sequence"].as_u64().unwrap();
        let key = format!("{}/{exec}", v["subscription"].as_str().unwrap());
        if let Some(prev) = last_seq.insert(key, seq) {
            assert!(seq > prev, "order kept per execution");
        }
        if ty.ends_with(".failed") {
            failed += 1;
        }
    }

    let dlq = consume::jetstream(
        &nats.url(),
        "WORKFLOW_EVENTS_DLQ",
        dead,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(dlq.len(), dead);
    for m in &dlq {
        let v = m.json();
        schema::assert_dead_letter(&v);
        assert_eq!(
            m.destination,
            format!(
                "eventrelay.dlq.{}",
                v["subscription"].as_str().unwrap().replace('.', "_")
            )
        );
    }

    // The stream drops a publish that repeats a Nats-Msg-Id.
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let first = &got[0];
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", first.headers["Nats-Msg-Id"].as_str());
    let ack = js
        .publish_with_headers(
            first.destination.clone(),
            headers,
            first.payload.clone().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(ack.duplicate, "JetStream de-duplicates by Nats-Msg-Id");
    let mut stream = js.get_stream("WORKFLOW_EVENTS").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages as usize, events);

    // Core alerts sink: only failures (plus dead letters on their own subject).
    let alert_msgs = alerts.take(failed + 1, Duration::from_secs(3)).await;
    assert_eq!(alert_msgs.len(), failed);
    assert!(alert_msgs
        .iter()
        .all(|m| m.destination.ends_with("_failed")));
    r.stop().await;
    sim.stop().await;
}
