//! End-to-end throughput on this machine, printed as figures and ratios:
//! the simulator streams N AGNT5 events (~300 B) over one WebSocket, and
//!
//! 1. a bare forwarder (read frame → core NATS publish, no parsing) and
//! 2. eventrelay (normalize, redact, buffer, NATS sink acknowledged by
//!    flush; then JetStream acknowledged by PubAck)
//!
//! move them to a `nats-server` started for the run. Target: eventrelay at
//! 60% of the bare forwarder or better. `cargo bench --bench throughput`
//! (needs nats-server; `EVENTS=200000` to change the count).

#[allow(dead_code)]
#[path = "../tests/common/brokers.rs"]
mod brokers;

use std::time::{Duration, Instant};

use eventrelay::app::Relay;
use eventrelay::config::{self, Format};
use eventrelay::simulator::{self, SimulatorConfig, SimulatorHandle};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const EXECUTIONS: u64 = 100;

/// The binary's allocator, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn simulator(events: u64) -> SimulatorHandle {
    simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        seeds: false,
        executions: EXECUTIONS,
        events_per_execution: events / EXECUTIONS,
        payload_bytes: 300,
        ..SimulatorConfig::default()
    })
    .await
    .unwrap()
}

async fn bare(nats_url: &str, events: u64) -> f64 {
    let sim = simulator(events).await;
    let nats = async_nats::connect(nats_url).await.unwrap();
    let mut req = format!("{}?x-wf-endpoint=bare", sim.agnt5_url())
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "x-api-key.demo-key".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut n = 0;
    let start = Instant::now();
    while n < events {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                nats.publish("bare.events", t.as_bytes().to_vec().into())
                    .await
                    .unwrap();
                n += 1;
            }
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    nats.flush().await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    sim.stop().await;
    n as f64 / secs
}

async fn relay(nats_url: &str, events: u64, jetstream: bool) -> f64 {
    let sim = simulator(events).await;
    let js = if jetstream {
        "jetstream = true\nstream = \"BENCH\"\ncreate_stream = true\nsubject = \"bench.{provider}.{execution_id}.{type}\"\n"
    } else {
        ""
    };
    let text = format!(
        "[relay]\ndata_dir = \"/nonexistent\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[[subscriptions]]\nid = \"bench\"\nprovider = \"agnt5\"\nurl = \"{}\"\nendpoint = \"bench\"\napi_key = \"demo-key\"{rbs}\n[[sinks]]\nname = \"nats\"\nkind = \"nats\"\nurl = \"{nats_url}\"\n{js}",
        sim.agnt5_url(),
        // READ_BUFFER=4KiB (say) to compare with the provider's default.
        rbs = std::env::var("READ_BUFFER")
            .map(|b| format!("\nread_buffer_size = \"{b}\""))
            .unwrap_or_default()
    );
    let cfg = config::load_str(&text, Format::Toml, |_| None, Vec::new()).unwrap();
    let start = Instant::now();
    let r = Relay::start(cfg).await.unwrap();
    let published = r.metrics().events_published.with_label_values(&["nats"]);
    let deadline = Instant::now() + Duration::from_secs(300);
    while published.get() < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    let done = published.get();
    r.stop().await;
    sim.stop().await;
    done as f64 / secs
}

fn main() {
    let events: u64 = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let Some(nats) = brokers::NatsServer::start() else {
        eprintln!("nats-server not found; skipping");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if std::env::var("ONLY").as_deref() == Ok("relay") {
            let rate = relay(&nats.url(), events, false).await;
            println!("eventrelay → core NATS: {rate:.0} events/s");
            return;
        }
        // Warm-up.
        let _ = bare(&nats.url(), 20_000).await;
        let bare_rate = bare(&nats.url(), events).await;
        let relay_rate = relay(&nats.url(), events, false).await;
        let js_rate = relay(&nats.url(), events / 4, true).await;
        println!("events per run: {events} (~300 B AGNT5 frames, one socket, {EXECUTIONS} executions interleaved)");
        println!("bare forwarder (ws → core NATS, no parsing): {bare_rate:>10.0} events/s");
        println!(
            "eventrelay → core NATS (flush-acknowledged):   {relay_rate:>10.0} events/s  ({:.0}% of bare; target 60%)",
            100.0 * relay_rate / bare_rate
        );
        println!(
            "eventrelay → JetStream (PubAck, {} events):  {js_rate:>10.0} events/s  ({:.0}% of bare)",
            events / 4,
            100.0 * js_rate / bare_rate
        );
    });
}
