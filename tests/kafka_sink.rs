//! Simulator → relay → Kafka-protocol broker (tansu) → consumer: keys,
//! CloudEvents headers, order per execution, dead letters, and filters
//! routing failures to an alerts sink while a warehouse sink takes all.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::brokers::KafkaBroker;
use common::{consume, relay, schema};
use eventrelay::simulator::SimulatorConfig;

#[tokio::test]
async fn events_keys_headers_order_dead_letters_and_filters() {
    let Some(kafka) = KafkaBroker::start() else {
        return;
    };
    for (topic, partitions) in [
        ("workflow-events", 3),
        ("workflow-events.dlq", 1),
        ("alerts", 1),
        ("alerts.dlq", 1),
    ] {
        kafka.create_topic(topic, partitions);
    }
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
name = "warehouse"
kind = "kafka"
brokers = "{b}"
topic = "workflow-events"

[[sinks]]
name = "alerts"
kind = "kafka"
brokers = "{b}"
topic = "alerts"
filter = {{ types = ["*.failed"] }}
"#,
            subs = relay::seed_subscriptions(&sim),
            b = kafka.bootstrap()
        ),
    );
    let r = relay::start(&config).await;
    let subs = relay::wait_for_frames(&r, &sim, Duration::from_secs(30)).await;
    let (events, dead) = relay::totals(&subs);
    assert!(
        events > 200 && dead > 0,
        "{events} events, {dead} dead letters"
    );

    let got = consume::kafka(
        &kafka.bootstrap(),
        &["workflow-events"],
        events,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(got.len(), events, "{}", kafka.log());
    let mut ids = HashSet::new();
    let mut last_seq: HashMap<(String, String), u64> = HashMap::new();
    let mut failed = 0;
    let mut partition_of: HashMap<String, i32> = HashMap::new();
    for m in &got {
        let v = m.json();
        schema::assert_event(&v);
        let id = v["id"].as_str().unwrap();
        assert!(ids.insert(id.to_owned()), "duplicate {id}");
        let exec = v["executionid"].as_str().unwrap().to_owned();
        assert_eq!(m.key.as_deref(), Some(exec.as_str()), "key = execution id");
        assert_eq!(m.headers["content-type"], "application/cloudevents+json");
        assert_eq!(m.headers["ce_id"], id);
        assert_eq!(m.headers["ce_type"], v["type"].as_str().unwrap());
        assert_eq!(m.headers["ce_source"], v["source"].as_str().unwrap());
        assert_eq!(
            *partition_of.entry(exec.clone()).or_insert(m.partition),
            m.partition
        );
        let seq = v["sequence"].as_u64().unwrap();
        let key = (v["subscription"].as_str().unwrap().to_owned(), exec);
        if let Some(prev) = last_seq.insert(key.clone(), seq) {
            assert!(
                seq > prev,
                "order kept per execution: {key:?} {prev} then {seq}"
            );
        }
        if v["type"].as_str().unwrap().ends_with(".failed") {
            failed += 1;
        }
    }
    let text = serde_json::to_string(&got.iter().map(|m| m.json()).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains("sk-prod-sentiment-key") && !text.contains("sf_prod_token_xyz"));
    assert!(!text.contains("sk-search-tool-key") && !text.contains("agnt5-llm-token"));

    let dlq = consume::kafka(
        &kafka.bootstrap(),
        &["workflow-events.dlq"],
        dead,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(dlq.len(), dead);
    for m in &dlq {
        schema::assert_dead_letter(&m.json());
        assert_eq!(m.headers["content-type"], "application/json");
    }

    assert!(failed >= 3, "the seeds hold task, tool and flow failures");
    let alerts = consume::kafka(
        &kafka.bootstrap(),
        &["alerts"],
        failed + 1,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        alerts.len(),
        failed,
        "alerts take exactly the *.failed events"
    );
    assert!(alerts
        .iter()
        .all(|m| m.json()["type"].as_str().unwrap().ends_with(".failed")));

    let published = r
        .metrics()
        .events_published
        .with_label_values(&["warehouse"])
        .get();
    assert_eq!(published as usize, events);
    r.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn events_over_the_broker_limit_become_truncated_dead_letters() {
    let Some(kafka) = KafkaBroker::start() else {
        return;
    };
    kafka.create_topic("big", 1);
    kafka.create_topic("big.dlq", 1);
    let sim = relay::simulator(SimulatorConfig {
        seeds: false,
        executions: 2,
        events_per_execution: 5,
        payload_bytes: 30_000,
        ..SimulatorConfig::default()
    })
    .await;
    let config = relay::config(
        "30s",
        &format!(
            "[[subscriptions]]\nid = \"big\"\nprovider = \"agnt5\"\nurl = \"{}\"\nendpoint = \"big\"\napi_key = \"demo-key\"\n[[sinks]]\nname = \"small\"\nkind = \"kafka\"\nbrokers = \"{}\"\ntopic = \"big\"\n[sinks.librdkafka]\n\"message.max.bytes\" = 20000\n",
            sim.agnt5_url(),
            kafka.bootstrap()
        ),
    );
    let r = relay::start(&config).await;
    let dlq = consume::kafka(
        &kafka.bootstrap(),
        &["big.dlq"],
        10,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(dlq.len(), 10);
    for m in &dlq {
        let v = m.json();
        schema::assert_dead_letter(&v);
        assert_eq!(v["reason"], "too_large");
        assert_eq!(v["truncated"], true);
        assert!(v["size"].as_u64().unwrap() > 30_000);
        assert!(m.payload.len() < 20_000);
    }
    let m = r.metrics();
    assert_eq!(
        m.events_dead_lettered
            .with_label_values(&["small", "too_large"])
            .get(),
        10
    );
    r.stop().await;
    sim.stop().await;
}
