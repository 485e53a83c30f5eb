//! The binary: exit codes of `validate`, and `run` serving the admin
//! endpoints then stopping cleanly on SIGTERM within the shutdown timeout.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_eventrelay");

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn validate(path: &std::path::Path, env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["validate", "-c"])
        .arg(path)
        .env_remove("EVENTRELAY_CONFIG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = r#"
[admin]
token = "${ADMIN_TOKEN}"
[[subscriptions]]
id = "coffee-shop"
provider = "agnt5"
url = "wss://run.agnt5.me/ws"
endpoint = "coffee-shop-e66b8d23"
api_key = "${AGNT5_API_KEY}"
backoff_initial = "200ms"
[[sinks]]
name = "out"
kind = "stdout"
"#;

#[test]
fn validate_exit_codes_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("ADMIN_TOKEN", "t0k3n-value"),
        ("AGNT5_API_KEY", "sk-live-123"),
    ];
    let good = write(&dir, "good.toml", GOOD);
    let (code, err) = validate(&good, &env);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("sk-live-123") && !err.contains("t0k3n-value"));

    let yaml = write(
        &dir,
        "good.yaml",
        "sinks:\n  - name: out\n    kind: file\n    path: /tmp/x.jsonl\n",
    );
    assert_eq!(validate(&yaml, &[]).0, 0);

    let unknown = write(
        &dir,
        "unknown.toml",
        &GOOD.replace("backoff_initial", "backof_initial"),
    );
    let (code, err) = validate(&unknown, &env);
    assert_eq!(code, 2);
    assert!(err.contains("backof_initial"), "{err}");

    let (code, err) = validate(&good, &[("ADMIN_TOKEN", "x")]);
    assert_eq!(code, 2);
    assert!(err.contains("AGNT5_API_KEY"), "{err}");

    let bad = write(&dir, "bad.toml", &GOOD.replace("\"200ms\"", "\"soon\""));
    let (code, err) = validate(&bad, &env);
    assert_eq!(code, 2);
    assert!(err.contains("backoff_initial"), "{err}");

    let (code, err) = validate(&dir.path().join("missing.toml"), &env);
    assert_eq!(code, 2);
    assert!(err.contains("missing.toml"), "{err}");

    let usage = Command::new(BIN).arg("frobnicate").output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[tokio::test]
async fn run_serves_admin_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::brokers::free_port();
    let cfg = write(
        &dir,
        "relay.toml",
        &format!(
            "[relay]\ndata_dir = \"{}\"\nshutdown_timeout = \"3s\"\n[admin]\nlisten = \"127.0.0.1:{port}\"\n[[sinks]]\nname = \"archive\"\nkind = \"file\"\npath = \"{}/events.jsonl\"\n",
            dir.path().display(),
            dir.path().display()
        ),
    );
    let mut child = Command::new(BIN)
        .args(["--log-format", "json", "run"])
        .env("EVENTRELAY_CONFIG", &cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut up = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "admin port open");
    assert_eq!(
        common::http(addr, "GET", "/healthz", None, None)
            .await
            .status,
        200
    );
    let ready = common::http(addr, "GET", "/readyz", None, None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    let metrics = common::http(addr, "GET", "/metrics", None, None).await;
    assert!(metrics.body.contains("eventrelay_build_info"));

    let sent = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "stopped within the timeout"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0));
    let logs = logs.join().unwrap();
    assert!(logs.iter().any(|l| l.contains("relay stopped")), "{logs:?}");
    assert!(logs.iter().all(|l| l.starts_with('{')), "json logs");
}

#[test]
fn demo_prints_schema_valid_events_of_both_vendors() {
    let out = Command::new(BIN)
        .arg("demo")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    // 7 + 4 Lyzr seed frames, 14 AGNT5 seed frames, 4 events of the run request.
    assert_eq!(events.len(), 29);
    for e in &events {
        common::schema::assert_event(e);
    }
    for provider in ["agnt5", "lyzr"] {
        assert!(events.iter().any(|e| e["provider"] == provider));
    }
    for secret in [
        "sk-prod-sentiment-key",
        "sf_prod_token_xyz",
        "sk-search-tool-key",
    ] {
        assert!(!stdout.contains(secret), "{secret} redacted");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("events published to stdout"), "{stderr}");
}
