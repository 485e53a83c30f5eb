//! Sources against the built-in simulator: reconnects, replays,
//! de-duplication, gap events, auth failures, Lyzr completion, idle
//! timeouts, run requests and close frames. In-process: records are read
//! straight from a memory buffer, no broker involved.

use std::sync::Arc;
use std::time::Duration;

use eventrelay::buffer::{self, BufferConfig, BufferReader};
use eventrelay::config::{self, Format};
use eventrelay::metrics::Metrics;
use eventrelay::normalize::{NormalizeConfig, Normalizer};
use eventrelay::record::{Record, RecordKind};
use eventrelay::router::{Route, Router};
use eventrelay::simulator::{self, Scenario, SimulatorConfig, SimulatorHandle};
use eventrelay::sinks::filter::TypeFilter;
use eventrelay::sinks::FilterConfig;
use eventrelay::sources::{
    Origin, RunRequest, Shared, SubscriptionConfig, SubscriptionState, Supervisor,
};

struct Harness {
    supervisor: Supervisor,
    reader: BufferReader,
    metrics: Metrics,
}

fn harness() -> Harness {
    let metrics = Metrics::new().unwrap();
    let (writer, reader) = buffer::open(
        "test",
        &BufferConfig::default(),
        std::path::Path::new("/nonexistent"),
        metrics.sink("test"),
    )
    .unwrap();
    let router = Router::new(vec![Route {
        sink: Arc::from("test"),
        filter: TypeFilter::new(&FilterConfig::default()).unwrap(),
        writer,
    }]);
    let supervisor = Supervisor::new(Shared {
        router,
        normalizer: Arc::new(Normalizer::new(&NormalizeConfig::default(), false)),
        metrics: metrics.clone(),
    });
    Harness {
        supervisor,
        reader,
        metrics,
    }
}

/// A subscription from TOML fields (the same path as the config file).
fn subscription(fields: &str) -> SubscriptionConfig {
    let text = format!("[[subscriptions]]\n{fields}\n[[sinks]]\nname = \"x\"\nkind = \"stdout\"\n");
    config::load_str(&text, Format::Toml, |_| None, Vec::new())
        .unwrap()
        .subscriptions
        .remove(0)
}

fn lyzr(sim: &SimulatorHandle, scenario: Scenario, extra: &str) -> SubscriptionConfig {
    let (flow, run) = scenario.lyzr_run().unwrap();
    subscription(&format!(
        "id = \"{}\"\nprovider = \"lyzr\"\nurl = \"{}\"\nflow_name = \"{flow}\"\nrun_name = \"{run}\"\nbackoff_initial = \"20ms\"\nbackoff_max = \"100ms\"\n{extra}",
        scenario.name(),
        sim.lyzr_url()
    ))
}

fn agnt5(sim: &SimulatorHandle, id: &str, extra: &str) -> SubscriptionConfig {
    agnt5_at(&sim.agnt5_url(), id, extra)
}

fn agnt5_at(url: &str, id: &str, extra: &str) -> SubscriptionConfig {
    let backoff_max = if extra.contains("backoff_max") {
        ""
    } else {
        "backoff_max = \"100ms\""
    };
    subscription(&format!(
        "id = \"{id}\"\nprovider = \"agnt5\"\nurl = \"{url}\"\nendpoint = \"ep-{id}\"\napi_key = \"demo-key\"\nbackoff_initial = \"20ms\"\n{backoff_max}\n{extra}"
    ))
}

async fn sim(cfg: SimulatorConfig) -> SimulatorHandle {
    let listen = if cfg.listen.port() == 8765 {
        "127.0.0.1:0".parse().unwrap()
    } else {
        cfg.listen
    };
    simulator::start(SimulatorConfig { listen, ..cfg })
        .await
        .unwrap()
}

/// Reads records until `n` arrived or 10 s passed.
async fn collect(reader: &mut BufferReader, n: usize) -> Vec<Arc<Record>> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        let mut batch = Vec::new();
        match tokio::time::timeout_at(deadline, reader.read_batch(&mut batch, 1024)).await {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                reader.ack(k).await.unwrap();
                out.extend(batch);
            }
        }
    }
    out
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn json(r: &Record) -> serde_json::Value {
    serde_json::from_slice(&r.payload).unwrap()
}

#[tokio::test]
async fn cut_and_replay_reconnect_without_duplicates_and_with_gap_events() {
    let sim = sim(SimulatorConfig {
        cut_after: Some(3),
        cut_once: true,
        replay_last: 2,
        ..SimulatorConfig::default()
    })
    .await;
    let mut h = harness();
    h.supervisor
        .add(
            lyzr(&sim, Scenario::LyzrCustomerSupport, ""),
            Origin::Config,
        )
        .unwrap();
    let frames = Scenario::LyzrCustomerSupport.frames().len();
    // Every frame once, plus one gap event for the execution in flight.
    let records = collect(&mut h.reader, frames + 1).await;
    assert_eq!(records.len(), frames + 1);
    let types: Vec<&str> = records.iter().map(|r| r.event_type.as_str()).collect();
    assert_eq!(types[3], "relay.gap", "{types:?}");
    let gap = json(&records[3]);
    assert_eq!(gap["executionid"], "Customer_Support_Pipeline/ticket_78453");
    assert!(
        gap["data"]["gap"]["from"].as_str().unwrap() <= gap["data"]["gap"]["to"].as_str().unwrap()
    );
    let mut ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), records.len(), "no duplicate ids");
    let seqs: Vec<u64> = records
        .iter()
        .map(|r| json(r)["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=records.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        h.metrics
            .events_duplicate
            .with_label_values(&["lyzr"])
            .get(),
        2
    );
    assert!(h.metrics.reconnects.with_label_values(&["lyzr"]).get() >= 1);
    assert!(
        h.metrics
            .disconnected_seconds
            .with_label_values(&["lyzr"])
            .get()
            > 0.0
    );
    let view = h.supervisor.get("lyzr-customer-support").unwrap();
    assert_eq!(view.status.counters.gaps, 1);
    wait_for("finished", || {
        h.supervisor
            .get("lyzr-customer-support")
            .unwrap()
            .status
            .state
            == SubscriptionState::Finished
    })
    .await;
    h.supervisor.shutdown().await;
    sim.stop().await;
}

/// Paused time: the clock only moves when every task waits, so the spacing
/// of retries is measured exactly, without sleeping for real.
#[tokio::test(start_paused = true)]
async fn auth_failure_is_reported_and_retried_at_the_cap() {
    let sim = sim(SimulatorConfig {
        reject_auth: true,
        ..SimulatorConfig::default()
    })
    .await;
    let h = harness();
    h.supervisor
        .add(
            agnt5(&sim, "denied", "backoff_max = \"30s\""),
            Origin::Config,
        )
        .unwrap();
    wait_for("auth_failed", || {
        h.supervisor.get("denied").unwrap().status.state == SubscriptionState::AuthFailed
    })
    .await;
    let first = tokio::time::Instant::now();
    assert_eq!(sim.stats().rejected, 1);
    // Retried at backoff_max, not at backoff_initial: nothing before 30 s...
    tokio::time::sleep(Duration::from_millis(29_900)).await;
    assert_eq!(sim.stats().rejected, 1, "no retry before backoff_max");
    // ...then exactly one attempt per 30 s, never a tight loop.
    tokio::time::sleep(Duration::from_secs(90)).await;
    let attempts = sim.stats().rejected;
    assert_eq!(
        attempts,
        4,
        "attempts at 0, 30, 60 and 90 s ({:?} of paused time)",
        first.elapsed()
    );
    assert_eq!(
        h.supervisor.get("denied").unwrap().status.state,
        SubscriptionState::AuthFailed
    );
    let view = h.supervisor.get("denied").unwrap();
    assert!(view.status.last_error.unwrap().contains("401"));
    let gauge = h
        .metrics
        .subscriptions
        .with_label_values(&["agnt5", "auth_failed"])
        .get();
    assert_eq!(gauge, 1);
    let body = serde_json::to_string(&h.supervisor.list()).unwrap();
    assert!(!body.contains("demo-key"), "no secret in the view");
    h.supervisor.shutdown().await;
    sim.stop().await;
}

#[tokio::test]
async fn lyzr_run_finishes_and_never_reconnects() {
    let sim = sim(SimulatorConfig::default()).await;
    let mut h = harness();
    h.supervisor
        .add(
            lyzr(&sim, Scenario::LyzrFinancialPipeline, ""),
            Origin::Config,
        )
        .unwrap();
    let records = collect(&mut h.reader, 4).await;
    assert_eq!(records.last().unwrap().event_type, "execution.failed");
    wait_for("finished", || {
        h.supervisor
            .get("lyzr-financial-pipeline")
            .unwrap()
            .status
            .state
            == SubscriptionState::Finished
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = sim.stats();
    assert_eq!(s.lyzr_connections, 1);
    assert_eq!(
        s.close_frames, 1,
        "the finished run's socket is closed cleanly"
    );
    h.supervisor.shutdown().await;
    sim.stop().await;
}

#[tokio::test]
async fn silent_connection_is_detected_by_the_idle_timeout() {
    let sim = sim(SimulatorConfig {
        silent: true,
        ..SimulatorConfig::default()
    })
    .await;
    let mut h = harness();
    h.supervisor
        .add(
            agnt5(
                &sim,
                "quiet",
                "ping_interval = \"50ms\"\nidle_timeout = \"200ms\"",
            ),
            Origin::Config,
        )
        .unwrap();
    let n = Scenario::Agnt5SearchCandidates.frames().len();
    assert_eq!(collect(&mut h.reader, n).await.len(), n);
    wait_for("a reconnect after the idle timeout", || {
        sim.stats().agnt5_connections >= 2
    })
    .await;
    let view = h.supervisor.get("quiet").unwrap();
    assert!(view
        .status
        .last_error
        .unwrap_or_default()
        .contains("idle_timeout"));
    h.supervisor.shutdown().await;
    sim.stop().await;
}

#[tokio::test]
async fn run_requests_wait_for_the_connection_and_shutdown_sends_a_close_frame() {
    // The engine is down when the run request is submitted.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut h = harness();
    h.supervisor
        .add(
            agnt5_at(&format!("ws://{addr}/ws"), "runs", ""),
            Origin::Config,
        )
        .unwrap();
    let req = RunRequest {
        name: "brew".into(),
        parameters: serde_json::json!({"size": "L"}),
        metadata: serde_json::json!({}),
    };
    let connection_id = h.supervisor.submit_run("runs", &req).unwrap();
    assert_eq!(connection_id.len(), 32);
    let too_big = RunRequest {
        parameters: serde_json::Value::String("x".repeat(70_000)),
        ..req.clone()
    };
    assert!(h
        .supervisor
        .submit_run("runs", &too_big)
        .unwrap_err()
        .to_string()
        .contains("65536"));
    let view = h.supervisor.get("runs").unwrap();
    assert_eq!(
        serde_json::to_value(view.status.runs[0].state).unwrap(),
        "queued"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sim = sim(SimulatorConfig {
        listen: addr,
        ..SimulatorConfig::default()
    })
    .await;
    let n = Scenario::Agnt5SearchCandidates.frames().len();
    let records = collect(&mut h.reader, n + 4).await;
    let run_events = records
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.payload).contains(&connection_id))
        .count();
    assert_eq!(run_events, 4, "the run request was answered once");
    let view = h.supervisor.get("runs").unwrap();
    assert_eq!(view.status.runs.len(), 1);
    assert_eq!(
        serde_json::to_value(view.status.runs[0].state).unwrap(),
        "sent"
    );
    h.supervisor.shutdown().await;
    wait_for("close frame", || sim.stats().close_frames == 1).await;
    sim.stop().await;
}

#[tokio::test]
async fn lyzr_pongs_are_heartbeats_not_dead_letters() {
    let sim = sim(SimulatorConfig {
        frame_delay: "80ms".parse().unwrap(),
        ..SimulatorConfig::default()
    })
    .await;
    let mut h = harness();
    h.supervisor
        .add(
            lyzr(
                &sim,
                Scenario::LyzrCustomerSupport,
                "ping_interval = \"30ms\"\nidle_timeout = \"1s\"",
            ),
            Origin::Config,
        )
        .unwrap();
    let records = collect(&mut h.reader, 7).await;
    assert_eq!(records.len(), 7);
    assert!(records.iter().all(|r| !r.is_dead_letter()));
    assert!(sim.stats().pings > 0, "the application ping was sent");
    h.supervisor.shutdown().await;
    sim.stop().await;
}

#[tokio::test]
async fn fragmented_messages_are_reassembled_and_oversize_ones_refused() {
    // Every event arrives as a text frame and continuation frames of 100 B.
    let sim_fragments = sim(SimulatorConfig {
        seeds: false,
        executions: 2,
        events_per_execution: 5,
        payload_bytes: 3000,
        fragment: Some(100),
        ..SimulatorConfig::default()
    })
    .await;
    let mut h = harness();
    h.supervisor
        .add(agnt5(&sim_fragments, "fragmented", ""), Origin::Config)
        .unwrap();
    let records = collect(&mut h.reader, 10).await;
    assert_eq!(records.len(), 10);
    for r in &records {
        assert!(matches!(r.kind, RecordKind::Event), "no dead letter");
        assert_ne!(r.event_type, "unknown");
        assert!(
            r.payload.len() > 3000,
            "whole event: {} bytes",
            r.payload.len()
        );
        json(r);
    }
    h.supervisor.shutdown().await;
    sim_fragments.stop().await;

    // A message over max_message_size is refused, named in the state, and
    // never buffered (memory stays bounded).
    let sim_big = sim(SimulatorConfig {
        seeds: false,
        executions: 1,
        events_per_execution: 3,
        payload_bytes: 8000,
        fragment: Some(1000),
        ..SimulatorConfig::default()
    })
    .await;
    let mut h = harness();
    h.supervisor
        .add(
            agnt5(&sim_big, "big", "max_message_size = \"4KiB\""),
            Origin::Config,
        )
        .unwrap();
    wait_for("refusal", || {
        h.supervisor
            .get("big")
            .unwrap()
            .status
            .last_error
            .is_some_and(|e| e.contains("max_message_size"))
    })
    .await;
    let mut batch = Vec::new();
    let got = tokio::time::timeout(
        Duration::from_millis(300),
        h.reader.read_batch(&mut batch, 10),
    )
    .await;
    assert!(got.is_err(), "nothing buffered: {batch:?}");
    h.supervisor.shutdown().await;
    sim_big.stop().await;
}
