//! `eventrelay demo`: the embedded default. Starts the simulator and a relay
//! in-process with a stdout sink, replays the seed scenarios of both
//! vendors, sends one AGNT5 run request, prints canonical events on stdout
//! (one JSON object a line) and a human summary on stderr.

use std::fmt::Write as _;
use std::time::Duration;

use crate::app::{AppError, Relay};
use crate::config::{self, ConfigError, Format};
use crate::simulator::{self, Scenario, SimulatorConfig, SimulatorError};
use crate::sources::{RunRequest, SubscriptionState, SubscriptionView};

/// How long the demo waits for the scenarios before it stops anyway.
const DEMO_TIMEOUT: Duration = Duration::from_secs(20);
/// AGNT5 subscription id of the demo.
const AGNT5_ID: &str = "coffee-shop";

/// Demo failures.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The simulator did not start.
    #[error(transparent)]
    Simulator(#[from] SimulatorError),
    /// The embedded config is invalid (a bug).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The relay did not start.
    #[error(transparent)]
    Relay(#[from] AppError),
    /// The scenarios did not complete in time.
    #[error("the seed scenarios did not complete within {0:?}:\n{1}")]
    Timeout(Duration, String),
}

/// The demo's relay config for a simulator at `url`.
pub fn config_text(url: &str) -> String {
    let mut c = format!(
        r#"
[relay]
shutdown_timeout = "5s"
data_dir = "{data_dir}"

[admin]
listen = "127.0.0.1:0"

[[subscriptions]]
id = "{AGNT5_ID}"
provider = "agnt5"
url = "{url}"
endpoint = "{endpoint}"
api_key = "demo-key"
"#,
        data_dir = std::env::temp_dir()
            .join("eventrelay-demo")
            .display()
            .to_string()
            .replace('\\', "/"),
        endpoint = Scenario::Agnt5SearchCandidates
            .agnt5_endpoint()
            .unwrap_or_default(),
    );
    for s in Scenario::ALL {
        if let Some((flow, run)) = s.lyzr_run() {
            let _ = write!(
                c,
                "\n[[subscriptions]]\nid = \"{}\"\nprovider = \"lyzr\"\nurl = \"{url}\"\nflow_name = \"{flow}\"\nrun_name = \"{run}\"\n",
                s.name()
            );
        }
    }
    c.push_str("\n[[sinks]]\nname = \"stdout\"\nkind = \"stdout\"\n");
    c
}

/// Runs the demo; returns the summary printed on stderr.
///
/// # Errors
/// When the simulator or relay cannot start, or the scenarios stall.
pub async fn run() -> Result<String, DemoError> {
    let sim = simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0"
            .parse()
            .unwrap_or(SimulatorConfig::default().listen),
        ..SimulatorConfig::default()
    })
    .await?;
    let cfg = config::load_str(
        &config_text(&sim.agnt5_url()),
        Format::Toml,
        |_| None,
        Vec::new(),
    )?;
    let relay = Relay::start(cfg).await?;
    let agnt5_frames = Scenario::Agnt5SearchCandidates.frames().len() as u64;
    let run_request = RunRequest {
        name: "brew-coffee".into(),
        parameters: serde_json::json!({"size": "large", "milk": "oat"}),
        metadata: serde_json::json!({"requested_by": "eventrelay demo"}),
    };
    let mut run_sent = false;
    let deadline = tokio::time::Instant::now() + DEMO_TIMEOUT;
    let done = loop {
        let subs = relay.supervisor().list();
        let lyzr_done = subs
            .iter()
            .filter(|s| s.id != AGNT5_ID)
            .all(|s| s.status.state == SubscriptionState::Finished);
        let agnt5_events = subs
            .iter()
            .find(|s| s.id == AGNT5_ID)
            .map_or(0, |s| s.status.counters.events);
        if !run_sent && agnt5_events >= agnt5_frames {
            relay
                .supervisor()
                .submit_run(AGNT5_ID, &run_request)
                .map_err(|e| DemoError::Timeout(DEMO_TIMEOUT, e.to_string()))?;
            run_sent = true;
        }
        if lyzr_done && agnt5_events >= agnt5_frames + 4 {
            break true;
        }
        if tokio::time::Instant::now() >= deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let subs = relay.supervisor().list();
    let published = relay
        .metrics()
        .events_published
        .with_label_values(&["stdout"]);
    relay.stop().await;
    sim.stop().await;
    let summary = summarize(&subs, published.get());
    if done {
        Ok(summary)
    } else {
        Err(DemoError::Timeout(DEMO_TIMEOUT, summary))
    }
}

fn summarize(subs: &[SubscriptionView], published: u64) -> String {
    let mut s = String::from("\neventrelay demo: seed scenarios relayed as canonical events\n\n");
    let _ = writeln!(
        s,
        "  {:<26} {:<6} {:<10} {:>6} {:>6} {:>5} {:>5}",
        "subscription", "vendor", "state", "frames", "events", "dead", "runs"
    );
    for v in subs {
        let c = &v.status.counters;
        let _ = writeln!(
            s,
            "  {:<26} {:<6} {:<10} {:>6} {:>6} {:>5} {:>5}",
            v.id,
            v.provider.as_str(),
            v.status.state.as_str(),
            c.frames,
            c.events,
            c.dead_letters,
            v.status.runs.len()
        );
    }
    let _ = writeln!(
        s,
        "\n  {published} events published to stdout (one CloudEvents JSON object per line).\n  Redacted on the way: input.config.api_key, headers.Authorization and other secret-looking keys.\n  Next: `eventrelay simulate --listen 127.0.0.1:8765` and `eventrelay run -c <config>` with a Kafka or NATS sink."
    );
    s
}
