//! Starting a relay and the simulator in-process for end-to-end tests.

use std::time::Duration;

use eventrelay::app::Relay;
use eventrelay::config::{self, Format};
use eventrelay::simulator::{self, SimulatorConfig, SimulatorHandle};
use eventrelay::sources::{SubscriptionState, SubscriptionView};

/// Starts a relay from TOML text (admin on a free port).
pub async fn start(toml: &str) -> Relay {
    if std::env::var_os("EVENTRELAY_TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,librdkafka=debug"))
            .with_test_writer()
            .try_init();
    }
    let cfg = config::load_str(toml, Format::Toml, |_| None, Vec::new())
        .unwrap_or_else(|e| panic!("test config: {e}\n{toml}"));
    Relay::start(cfg).await.expect("relay starts")
}

/// A relay config: `[relay]` (no data dir, the given shutdown timeout) and
/// `[admin]` on a free port, followed by `rest` (subscriptions and sinks).
pub fn config(shutdown_timeout: &str, rest: &str) -> String {
    format!(
        "[relay]\ndata_dir = \"/nonexistent\"\nshutdown_timeout = \"{shutdown_timeout}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n{rest}"
    )
}

/// Starts the simulator on a free port.
pub async fn simulator(cfg: SimulatorConfig) -> SimulatorHandle {
    simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..cfg
    })
    .await
    .expect("simulator starts")
}

/// `[[subscriptions]]` for the three seed scenarios against `sim`.
pub fn seed_subscriptions(sim: &SimulatorHandle) -> String {
    format!(
        r#"
[[subscriptions]]
id = "coffee-shop"
provider = "agnt5"
url = "{0}"
endpoint = "coffee-shop-e66b8d23"
api_key = "demo-key"

[[subscriptions]]
id = "support-ticket-78453"
provider = "lyzr"
url = "{0}"
flow_name = "Customer_Support_Pipeline"
run_name = "ticket_78453"

[[subscriptions]]
id = "financial-batch"
provider = "lyzr"
url = "{0}"
flow_name = "Financial_Data_Pipeline"
run_name = "daily_batch_20240215"
"#,
        sim.agnt5_url()
    )
}

/// Waits until every Lyzr subscription finished and the simulator's frames
/// were all received; returns the subscriptions' final views.
pub async fn wait_for_frames(
    relay: &Relay,
    sim: &SimulatorHandle,
    timeout: Duration,
) -> Vec<SubscriptionView> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let subs = relay.supervisor().list();
        let frames: u64 = subs.iter().map(|s| s.status.counters.frames).sum();
        let lyzr_done = subs
            .iter()
            .filter(|s| s.provider.as_str() == "lyzr")
            .all(|s| s.status.state == SubscriptionState::Finished);
        if lyzr_done && frames >= sim.stats().frames_sent && frames > 0 {
            return subs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "frames not all received: relay {frames}, simulator {:?}",
            sim.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Total events and dead letters the subscriptions emitted.
pub fn totals(subs: &[SubscriptionView]) -> (usize, usize) {
    subs.iter().fold((0, 0), |(e, d), s| {
        (
            e + s.status.counters.events as usize,
            d + s.status.counters.dead_letters as usize,
        )
    })
}
