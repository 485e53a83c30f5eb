use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::*;

fn cfg() -> SimulatorConfig {
    SimulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..SimulatorConfig::default()
    }
}

async fn agnt5(
    sim: &SimulatorHandle,
    key: &str,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tokio_tungstenite::tungstenite::Error,
> {
    let mut req = format!("{}?x-wf-endpoint=coffee-shop", sim.agnt5_url())
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        format!("x-api-key.{key}").parse().unwrap(),
    );
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

async fn texts(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
    n: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(std::time::Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => out.push(t.to_string()),
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    out
}

#[tokio::test]
async fn agnt5_handshake_scenario_and_run_request() {
    let sim = start(cfg()).await.unwrap();
    assert!(agnt5(&sim, "wrong").await.is_err());
    let mut ws = agnt5(&sim, "demo-key").await.unwrap();
    let seed = Scenario::Agnt5SearchCandidates.frames();
    assert_eq!(texts(&mut ws, seed.len()).await, seed);
    ws.send(Message::text(
        r#"{"name":"brew","parameters":{},"metadata":{},"connection_id":"c1"}"#,
    ))
    .await
    .unwrap();
    let run = texts(&mut ws, 4).await;
    assert!(run[0].contains("execution_started") && run[3].contains("execution_completed"));
    assert!(run[0].contains("\"c1\""));
    let s = sim.stats();
    assert_eq!((s.rejected, s.agnt5_connections, s.run_requests), (1, 1, 1));
    sim.stop().await;
}

#[tokio::test]
async fn lyzr_seed_run_and_app_ping() {
    let sim = start(cfg()).await.unwrap();
    let url = format!(
        "{}/Financial_Data_Pipeline/daily_batch_20240215",
        sim.lyzr_url()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let frames = texts(&mut ws, 4).await;
    assert_eq!(frames, Scenario::LyzrFinancialPipeline.frames());
    ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    assert_eq!(
        texts(&mut ws, 1).await,
        vec![r#"{"type":"pong"}"#.to_owned()]
    );
    ws.close(None).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(sim.stats().close_frames, 1);
    sim.stop().await;
}

#[tokio::test]
async fn cut_then_replay_on_reconnect() {
    let sim = start(SimulatorConfig {
        cut_after: Some(3),
        cut_once: true,
        replay_last: 2,
        ..cfg()
    })
    .await
    .unwrap();
    let url = format!("{}/Customer_Support_Pipeline/ticket_78453", sim.lyzr_url());
    let all = Scenario::LyzrCustomerSupport.frames();
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let first = texts(&mut ws, 10).await;
    assert_eq!(first, all[..3]);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let second = texts(&mut ws, all.len() - 1).await;
    assert_eq!(second, all[1..]);
    assert_eq!(sim.stats().cuts, 1);
    sim.stop().await;
}

#[tokio::test]
async fn load_mode_and_malformed_frames() {
    let sim = start(SimulatorConfig {
        seeds: false,
        executions: 5,
        events_per_execution: 4,
        malformed: Some(5),
        ..cfg()
    })
    .await
    .unwrap();
    let mut ws = agnt5(&sim, "demo-key").await.unwrap();
    let mut texts_seen = 0;
    let mut binary = 0;
    while texts_seen + binary < 24 {
        match tokio::time::timeout(std::time::Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => texts_seen += 1,
            Ok(Some(Ok(Message::Binary(_)))) => binary += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((texts_seen, binary), (23, 1));
    sim.stop().await;
}
