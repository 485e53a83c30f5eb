//! Delivery guarantees on real brokers: broker outages mid-stream, the
//! relay killed with SIGKILL while a disk buffer holds events, and the two
//! `when_full` policies.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::brokers::{free_port, KafkaBroker, NatsServer};
use common::consume::{self, Received};
use common::process::RelayProcess;
use common::{http, parse_prometheus, relay};
use eventrelay::buffer::disk::codec;
use eventrelay::simulator::{SimulatorConfig, SimulatorHandle};

/// A load of `executions` × `per` AGNT5 events at `rate` per second.
fn load(executions: u64, per: u64, rate: u64) -> SimulatorConfig {
    SimulatorConfig {
        seeds: false,
        executions,
        events_per_execution: per,
        rate,
        ..SimulatorConfig::default()
    }
}

fn agnt5_subscription(url: &str) -> String {
    format!(
        "[[subscriptions]]\nid = \"load\"\nprovider = \"agnt5\"\nurl = \"{url}\"\nendpoint = \"load\"\napi_key = \"demo-key\"\nbackoff_initial = \"100ms\"\nbackoff_max = \"500ms\"\n"
    )
}

/// Every id once, and per execution the upstream order (`seq` in the
/// generated payload) strictly increasing.
fn assert_once_and_in_order(got: &[Received], expected: usize) {
    let mut ids = HashSet::new();
    let mut last: HashMap<String, u64> = HashMap::new();
    for m in got {
        let v = m.json();
        let id = v["id"].as_str().unwrap().to_owned();
        assert!(ids.insert(id.clone()), "{id} delivered twice");
        let exec = v["executionid"].as_str().unwrap().to_owned();
        let seq = v["data"]["extra"]["details"]["seq"].as_u64().unwrap();
        if let Some(prev) = last.insert(exec.clone(), seq) {
            assert!(seq > prev, "{exec}: {prev} then {seq}");
        }
    }
    assert_eq!(ids.len(), expected);
}

/// One AGNT5 load subscription and a Kafka sink that retries quickly.
fn kafka_outage_config(sim: &SimulatorHandle, brokers: &str) -> String {
    relay::config(
        "30s",
        &format!(
            "{}\n[[sinks]]\nname = \"events\"\nkind = \"kafka\"\nbrokers = \"{brokers}\"\ntopic = \"events\"\ndelivery_timeout = \"2s\"\n[sinks.librdkafka]\n\"reconnect.backoff.max.ms\" = 500\n",
            agnt5_subscription(&sim.agnt5_url())
        ),
    )
}

#[tokio::test]
async fn nats_restart_mid_stream_loses_nothing() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let sim = relay::simulator(load(20, 20, 100)).await;
    let r = relay::start(&relay::config(
        "30s",
        &format!(
            "{}\n[[sinks]]\nname = \"events\"\nkind = \"nats\"\nurl = \"{}\"\njetstream = true\nstream = \"EVENTS\"\ncreate_stream = true\nack_timeout = \"1s\"\n",
            agnt5_subscription(&sim.agnt5_url()),
            nats.url()
        ),
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    nats.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let up = r.metrics().sink_up.with_label_values(&["events"]).get();
    nats.restart();
    let got = consume::jetstream(&nats.url(), "EVENTS", 400, Duration::from_secs(60)).await;
    assert_eq!(up, 0, "sink_up reported the outage");
    assert_once_and_in_order(&got, 400);
    r.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn kafka_unreachable_mid_stream_loses_nothing() {
    // The broker vanishes from the network (connections reset, port closed)
    // for 3 s and comes back: the relay buffers, retries and delivers in
    // order. (A process restart of tansu 0.6 with sqlite storage fails in a
    // fraction of runs with `Storage(UnableToSend)`; see the ignored test
    // below.)
    let proxy_port = free_port();
    let Some(kafka) = KafkaBroker::start_behind(|_| format!("127.0.0.1:{proxy_port}")) else {
        return;
    };
    let proxy = common::proxy::Proxy::start(proxy_port, kafka.listen_addr()).await;
    kafka.create_topic("events", 3);
    kafka.create_topic("events.dlq", 1);
    let sim = relay::simulator(load(20, 20, 100)).await;
    let r = relay::start(&kafka_outage_config(&sim, &proxy.addr())).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    proxy.cut().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let up = r.metrics().sink_up.with_label_values(&["events"]).get();
    proxy.restore().await;
    let published = r.metrics().events_published.with_label_values(&["events"]);
    for _ in 0..900 {
        if published.get() >= 400 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        published.get(),
        400,
        "every event acknowledged after the outage"
    );
    assert_eq!(up, 0, "sink_up reported the outage");
    let got = consume::kafka(&proxy.addr(), &["events"], 400, Duration::from_secs(30)).await;
    assert_once_and_in_order(&got, 400);
    r.stop().await;
    sim.stop().await;
}

#[tokio::test]
#[ignore = "tansu 0.6 with sqlite storage fails after a restart in some runs (Storage(UnableToSend))"]
async fn kafka_restart_mid_stream_loses_nothing() {
    let Some(mut kafka) = KafkaBroker::start_persistent() else {
        return;
    };
    kafka.create_topic("events", 3);
    kafka.create_topic("events.dlq", 1);
    let sim = relay::simulator(load(20, 20, 100)).await;
    let r = relay::start(&kafka_outage_config(&sim, &kafka.bootstrap())).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    kafka.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    kafka.restart();
    let published = r.metrics().events_published.with_label_values(&["events"]);
    for _ in 0..900 {
        if published.get() >= 400 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        published.get(),
        400,
        "the relay had every event acknowledged; broker log tail:
{}",
        kafka.log().lines().rev().take(40).collect::<Vec<_>>().join(
            "
"
        )
    );
    let got = consume::kafka(
        &kafka.bootstrap(),
        &["events"],
        400,
        Duration::from_secs(30),
    )
    .await;
    // Redelivered copies are allowed (at least once) only if the producer's
    // idempotence could not cover them; count them, then check each id.
    let mut first_copies = Vec::new();
    let mut seen = HashSet::new();
    for m in got {
        if seen.insert(m.json()["id"].as_str().unwrap().to_owned()) {
            first_copies.push(m);
        }
    }
    assert_once_and_in_order(&first_copies, 400);
    r.stop().await;
    sim.stop().await;
}

/// A relay process config: data under `data_dir`, admin on `admin`, one
/// AGNT5 load subscription and a JetStream sink with a disk buffer.
fn disk_buffer_config(
    data_dir: &std::path::Path,
    admin: std::net::SocketAddr,
    shutdown_timeout: &str,
    sim: &SimulatorHandle,
    nats_url: &str,
) -> String {
    format!(
        "[relay]\ndata_dir = \"{}\"\nshutdown_timeout = \"{shutdown_timeout}\"\n[admin]\nlisten = \"{admin}\"\n{}\n[[sinks]]\nname = \"events\"\nkind = \"nats\"\nurl = \"{nats_url}\"\njetstream = true\nstream = \"EVENTS\"\ncreate_stream = true\nack_timeout = \"1s\"\n[sinks.buffer]\ntype = \"disk\"\nmax_size = \"64MiB\"\n",
        data_dir.display(),
        agnt5_subscription(&sim.agnt5_url()),
    )
}

#[tokio::test]
async fn sigkill_with_a_disk_buffer_loses_nothing() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    // The engine replays its last frames on a reconnect, as a real one may:
    // frames the killed relay had read but not yet written are sent again,
    // and their deterministic ids let the stream drop what it already has.
    let sim = relay::simulator(SimulatorConfig {
        replay_last: 200,
        ..load(20, 20, 200)
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let admin: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        disk_buffer_config(dir.path(), admin, "2s", &sim, &nats.url()),
    )
    .unwrap();
    let log = dir.path().join("relay.log");
    let p = RelayProcess::start(&config, admin, &log).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.stop();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let buffered = sample(admin, "eventrelay_buffer_events", &[("sink", "events")]).await;
    assert!(
        buffered > 0.0,
        "events wait in the disk buffer while NATS is down"
    );
    assert_eq!(p.signal("-KILL").await, None, "killed by a signal");

    nats.restart();
    let p = RelayProcess::start(&config, admin, &log).await;
    let got = consume::jetstream(&nats.url(), "EVENTS", 400, Duration::from_secs(60)).await;
    assert_once_and_in_order(&got, 400);
    assert_eq!(p.signal("-TERM").await, Some(0));
    sim.stop().await;
}

/// One sample of a relay process's metrics (0 when absent).
async fn sample(admin: std::net::SocketAddr, name: &str, labels: &[(&str, &str)]) -> f64 {
    parse_prometheus(&http(admin, "GET", "/metrics", None, None).await.body).value(name, labels)
}

#[tokio::test]
async fn corrupt_disk_buffer_is_skipped_and_counted_at_start() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let sim = relay::simulator(load(10, 20, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    let admin: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.path().join("relay.toml");
    let write_config = |nats_url: &str| {
        std::fs::write(
            &config,
            disk_buffer_config(dir.path(), admin, "1s", &sim, nats_url),
        )
        .unwrap();
    };
    // First run: the broker is unreachable, all 200 events wait on disk.
    write_config(&format!("nats://127.0.0.1:{}", free_port()));
    let log = dir.path().join("relay.log");
    let p = RelayProcess::start(&config, admin, &log).await;
    let mut buffered = 0.0;
    for _ in 0..200 {
        buffered = sample(admin, "eventrelay_buffer_events", &[("sink", "events")]).await;
        if buffered >= 200.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(buffered, 200.0, "every event waits in the disk buffer");
    assert_eq!(p.signal("-TERM").await, Some(0));

    // Damage the log: flip a byte inside the 100th record's body and tear
    // the tail of the last one.
    let seg = std::fs::read_dir(dir.path().join("buffers/events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a segment file");
    let mut data = std::fs::read(&seg).unwrap();
    let mut off = 0;
    for _ in 0..99 {
        let (len, _) = codec::header(&data[off..]).expect("a record header");
        off += codec::HEADER + len;
    }
    data[off + codec::HEADER + 20] ^= 0xff;
    data.truncate(data.len() - 7);
    std::fs::write(&seg, &data).unwrap();

    // Second run, broker up: the relay starts, skips both, counts them and
    // delivers the other 198 once each, in order.
    write_config(&nats.url());
    let p = RelayProcess::start(&config, admin, &log).await;
    let got = consume::jetstream(&nats.url(), "EVENTS", 198, Duration::from_secs(30)).await;
    assert_once_and_in_order(&got, 198);
    let corrupt = sample(
        admin,
        "eventrelay_events_dropped_total",
        &[("sink", "events"), ("reason", "corrupt")],
    )
    .await;
    assert_eq!(corrupt, 2.0, "one bad checksum, one torn tail");
    assert_eq!(http(admin, "GET", "/readyz", None, None).await.status, 200);
    assert_eq!(p.signal("-TERM").await, Some(0));
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("skipping a corrupt record"), "logged");
    sim.stop().await;
}

/// One AGNT5 load subscription and a NATS sink whose server never answers,
/// with a memory buffer of `max_events` and the given `when_full`.
fn dead_sink_config(sim: &SimulatorHandle, when_full: &str, max_events: usize) -> String {
    relay::config(
        "1s",
        &format!(
            "{}\n[[sinks]]\nname = \"down\"\nkind = \"nats\"\nurl = \"nats://127.0.0.1:{}\"\n[sinks.buffer]\nmax_events = {max_events}\nwhen_full = \"{when_full}\"\n",
            agnt5_subscription(&sim.agnt5_url()),
            free_port()
        ),
    )
}

#[tokio::test]
async fn block_stops_reading_the_socket() {
    let sim = relay::simulator(SimulatorConfig {
        payload_bytes: 8000,
        ..load(50, 100, 0)
    })
    .await;
    let r = relay::start(&dead_sink_config(&sim, "block", 50)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = sim.stats().frames_sent;
    let received = r.supervisor().get("load").unwrap().status.counters.frames;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        received <= 50 + 50 + 2,
        "relay holds at most the buffer and one batch: {received}"
    );
    assert!(
        sent < 5000,
        "the engine was pushed back: {sent} of 5000 sent"
    );
    assert_eq!(sim.stats().frames_sent, sent, "and stays stalled");
    assert_eq!(
        r.supervisor().get("load").unwrap().status.counters.frames,
        received
    );
    r.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn drop_newest_counts_what_it_drops() {
    let sim = relay::simulator(load(20, 100, 0)).await;
    let r = relay::start(&dead_sink_config(&sim, "drop_newest", 100)).await;
    let mut received = 0;
    for _ in 0..500 {
        received = r.supervisor().get("load").unwrap().status.counters.frames;
        if received == 2000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(received, 2000, "drop_newest never pushes back");
    let m = r.metrics();
    let dropped = m
        .events_dropped
        .with_label_values(&["down", "buffer_full"])
        .get();
    let buffered = m.buffer_events.with_label_values(&["down"]).get() as u64;
    assert!(dropped >= 2000 - 200, "{dropped} dropped");
    assert_eq!(
        dropped + buffered,
        2000,
        "every event is buffered or counted as dropped"
    );
    r.stop().await;
    sim.stop().await;
}
