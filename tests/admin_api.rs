//! The admin API end to end: a relay with a real listener, the simulator
//! as the engine, subscriptions managed over HTTP.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{http, parse_prometheus, HttpResponse};
use eventrelay::app::Relay;
use eventrelay::config::{self, Format};
use eventrelay::metrics::CONTRACT;
use eventrelay::simulator::{self, SimulatorConfig, SimulatorHandle};

const TOKEN: &str = "admin-secret-7f3a";
const KEY: &str = "demo-key";

/// POST with the admin token.
async fn post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> HttpResponse {
    http(addr, "POST", path, Some(TOKEN), Some(body)).await
}

async fn relay(data_dir: &Path, extra: &str) -> Relay {
    let text = format!(
        r#"
[relay]
data_dir = "{}"
shutdown_timeout = "5s"
[admin]
listen = "127.0.0.1:0"
token = "{TOKEN}"
{extra}
[[sinks]]
name = "archive"
kind = "file"
path = "{}/events.jsonl"
"#,
        data_dir.display(),
        data_dir.display()
    );
    let cfg = config::load_str(&text, Format::Toml, |_| None, Vec::new()).unwrap();
    Relay::start(cfg).await.unwrap()
}

async fn sim() -> SimulatorHandle {
    simulator::start(SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..SimulatorConfig::default()
    })
    .await
    .unwrap()
}

fn agnt5_body(sim: &SimulatorHandle, id: &str) -> String {
    serde_json::json!({
        "id": id, "provider": "agnt5", "url": sim.agnt5_url(),
        "endpoint": format!("ep-{id}"), "api_key": KEY, "backoff_initial": "50ms"
    })
    .to_string()
}

#[tokio::test]
async fn crud_auth_limits_and_persistence() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    let r = relay(dir.path(), "").await;
    let addr = r.admin_addr();

    // Auth on /v1 only.
    assert_eq!(
        http(addr, "GET", "/v1/subscriptions", None, None)
            .await
            .status,
        401
    );
    assert_eq!(
        http(addr, "GET", "/v1/subscriptions", Some("wrong"), None)
            .await
            .status,
        401
    );
    assert_eq!(http(addr, "GET", "/healthz", None, None).await.status, 200);

    // Add, duplicate, invalid.
    let body = agnt5_body(&sim, "cafe");
    let created = post(addr, "/v1/subscriptions", body.as_bytes()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["id"], "cafe");
    let dup = post(addr, "/v1/subscriptions", body.as_bytes()).await;
    assert_eq!(dup.status, 409);
    let bad = post(
        addr,
        "/v1/subscriptions",
        br#"{"id":"x","provider":"agnt5","url":"ws://h/ws","api_key":"sk-secret-value"}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("endpoint"), "{}", bad.body);
    let unknown = post(addr, "/v1/subscriptions", br#"{"id":"x","provider":"lyzr","url":"ws://h/ws","flow_name":"f","run_name":"r","colour":"blue"}"#).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.body.contains("colour"), "{}", unknown.body);
    let typed = post(
        addr,
        "/v1/subscriptions",
        br#"{"id":"x","provider":"agnt5","url":"ws://h/ws","endpoint":"e","api_key":12345678}"#,
    )
    .await;
    assert_eq!(typed.status, 400);
    assert!(!typed.body.contains("12345678"), "{}", typed.body);

    // Body limit.
    let huge = vec![b' '; 2 * 1024 * 1024];
    let too_big = post(addr, "/v1/subscriptions", &huge).await;
    assert_eq!(too_big.status, 413);

    // Inspect, list, run request.
    let mut connected = false;
    for _ in 0..200 {
        let one = http(addr, "GET", "/v1/subscriptions/cafe", Some(TOKEN), None).await;
        assert_eq!(one.status, 200);
        if one.json()["state"] == "connected" {
            connected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(connected);
    let run = post(
        addr,
        "/v1/subscriptions/cafe/runs",
        br#"{"name":"brew","parameters":{"size":"L"}}"#,
    )
    .await;
    assert_eq!(run.status, 202, "{}", run.body);
    assert_eq!(run.json()["connection_id"].as_str().unwrap().len(), 32);
    let list = http(addr, "GET", "/v1/subscriptions", Some(TOKEN), None).await;
    assert_eq!(list.json()["subscriptions"].as_array().unwrap().len(), 1);
    assert_eq!(
        http(addr, "GET", "/v1/subscriptions/nope", Some(TOKEN), None)
            .await
            .status,
        404
    );
    assert_eq!(
        http(
            addr,
            "POST",
            "/v1/subscriptions/nope/runs",
            Some(TOKEN),
            Some(b"{\"name\":\"x\"}")
        )
        .await
        .status,
        404
    );
    for resp in [&created, &list, &run, &bad, &dup] {
        assert!(!resp.body.contains(KEY) && !resp.body.contains("sk-secret-value"));
        assert!(!resp.body.contains(TOKEN));
    }
    let metrics = http(addr, "GET", "/metrics", None, None).await.body;
    assert!(!metrics.contains(KEY) && !metrics.contains(TOKEN));

    // A second one, then delete it: it must stay deleted after a restart.
    let gone = agnt5_body(&sim, "gone");
    assert_eq!(
        http(
            addr,
            "POST",
            "/v1/subscriptions",
            Some(TOKEN),
            Some(gone.as_bytes())
        )
        .await
        .status,
        201
    );
    assert_eq!(
        http(addr, "DELETE", "/v1/subscriptions/gone", Some(TOKEN), None)
            .await
            .status,
        204
    );
    assert_eq!(
        http(addr, "DELETE", "/v1/subscriptions/gone", Some(TOKEN), None)
            .await
            .status,
        404
    );
    r.stop().await;

    // Restart: "cafe" is back, "gone" is not.
    let r = relay(dir.path(), "").await;
    let addr = r.admin_addr();
    let list = http(addr, "GET", "/v1/subscriptions", Some(TOKEN), None)
        .await
        .json();
    let ids: Vec<&str> = list["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cafe"]);
    assert_eq!(list["subscriptions"][0]["origin"], "api");
    r.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn allow_list_guards_api_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let r = relay(dir.path(), "[upstream]\nallowed_hosts = [\"*.lyzr.ai\"]").await;
    let addr = r.admin_addr();
    let body = br#"{"id":"ssrf","provider":"lyzr","url":"ws://kubernetes.default.svc/ws","flow_name":"f","run_name":"r"}"#;
    let resp = http(addr, "POST", "/v1/subscriptions", Some(TOKEN), Some(body)).await;
    assert_eq!(resp.status, 400);
    assert!(resp.body.contains("allowed_hosts"), "{}", resp.body);
    let ok = br#"{"id":"fine","provider":"lyzr","url":"wss://lao-socket.studio.lyzr.ai/ws","flow_name":"f","run_name":"r","connect_timeout":"100ms"}"#;
    assert_eq!(
        http(addr, "POST", "/v1/subscriptions", Some(TOKEN), Some(ok))
            .await
            .status,
        201
    );
    r.stop().await;
}

#[tokio::test]
async fn metric_contract_and_bounded_labels_after_a_thousand_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    let r = relay(dir.path(), "").await;
    let addr = r.admin_addr();
    const RUNS: usize = 1000;
    for i in 0..RUNS {
        let body = serde_json::json!({
            "id": format!("run-{i}"), "provider": "lyzr", "url": sim.lyzr_url(),
            "flow_name": "Load_Flow", "run_name": format!("run_{i}")
        })
        .to_string();
        let resp = post(addr, "/v1/subscriptions", body.as_bytes()).await;
        assert_eq!(resp.status, 201, "{}", resp.body);
    }
    let mut finished = 0;
    for _ in 0..600 {
        let text = http(addr, "GET", "/metrics", None, None).await.body;
        let scrape = parse_prometheus(&text);
        finished = scrape.value(
            "eventrelay_subscriptions",
            &[("provider", "lyzr"), ("state", "finished")],
        ) as usize;
        if finished == RUNS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(finished, RUNS);

    let text = http(addr, "GET", "/metrics", None, None).await.body;
    let scrape = parse_prometheus(&text);
    for (name, ty, labels) in CONTRACT {
        assert_eq!(
            scrape.types.get(name).map(String::as_str),
            Some(ty),
            "{name}"
        );
        let samples: Vec<_> = scrape
            .samples
            .iter()
            .filter(|(n, _, _)| {
                n == name
                    || n.strip_prefix(name)
                        .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s))
            })
            .collect();
        assert!(!samples.is_empty(), "{name} has samples");
        for (_, l, _) in &samples {
            let keys: Vec<&str> = l
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "le")
                .collect();
            let mut want = labels.to_vec();
            want.sort_unstable();
            assert_eq!(keys, want, "{name} labels");
        }
    }
    // Bounded: a fixed set of series, whatever the number of runs.
    assert!(
        scrape.samples.len() < 200,
        "{} series",
        scrape.samples.len()
    );
    assert!(
        !text.contains("run_1") && !text.contains("Load_Flow"),
        "no per-run label values"
    );
    let received: f64 = scrape
        .samples
        .iter()
        .filter(|(n, l, _)| n == "eventrelay_events_received_total" && l["provider"] == "lyzr")
        .map(|s| s.2)
        .sum();
    assert_eq!(received as usize, RUNS * 4);
    r.stop().await;
    sim.stop().await;
}
