//! Reading back what the relay published: a Kafka consumer (rdkafka) and
//! NATS subscribers (core and JetStream), each bounded in time.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::ClientConfig;

/// One message read back.
#[derive(Clone, Debug)]
pub struct Received {
    /// Kafka topic or NATS subject.
    pub destination: String,
    /// Kafka key.
    pub key: Option<String>,
    /// Headers.
    pub headers: BTreeMap<String, String>,
    /// The value.
    pub payload: Vec<u8>,
    /// Kafka partition.
    pub partition: i32,
}

impl Received {
    /// The payload as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// Reads up to `n` messages from `topics` (from the beginning), for at most
/// `timeout`.
pub async fn kafka(bootstrap: &str, topics: &[&str], n: usize, timeout: Duration) -> Vec<Received> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("test-{:x}", rand::random::<u64>()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(topics).expect("subscribe");
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while out.len() < n {
        let msg = match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Err(_) => break,
            Ok(Err(e)) => {
                eprintln!("consumer: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Ok(Ok(m)) => m,
        };
        let mut headers = BTreeMap::new();
        if let Some(h) = msg.headers() {
            for i in 0..h.count() {
                let hd = h.get(i);
                headers.insert(
                    hd.key.to_owned(),
                    String::from_utf8_lossy(hd.value.unwrap_or_default()).into_owned(),
                );
            }
        }
        out.push(Received {
            destination: msg.topic().to_owned(),
            key: msg.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            headers,
            payload: msg.payload().unwrap_or_default().to_vec(),
            partition: msg.partition(),
        });
    }
    out
}

/// Reads every message of a JetStream stream (up to `n`, at most
/// `timeout`) with an ordered consumer.
pub async fn jetstream(url: &str, stream: &str, n: usize, timeout: Duration) -> Vec<Received> {
    let client = async_nats::connect(url).await.expect("nats connect");
    let js = async_nats::jetstream::new(client);
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    let s = loop {
        match js.get_stream(stream).await {
            Ok(s) => break s,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("stream {stream}: {e}"),
        }
    };
    let consumer = s
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("messages");
    while out.len() < n {
        match tokio::time::timeout_at(deadline, messages.next()).await {
            Ok(Some(Ok(m))) => out.push(from_nats(&m)),
            Ok(Some(Err(e))) => eprintln!("jetstream: {e}"),
            _ => break,
        }
    }
    out
}

fn from_nats(m: &async_nats::Message) -> Received {
    let mut headers = BTreeMap::new();
    if let Some(h) = &m.headers {
        for (k, v) in h.iter() {
            if let Some(first) = v.first() {
                headers.insert(k.to_string(), first.to_string());
            }
        }
    }
    Received {
        destination: m.subject.to_string(),
        key: None,
        headers,
        payload: m.payload.to_vec(),
        partition: 0,
    }
}

/// A core NATS subscription collecting in the background.
pub struct NatsCollector {
    rx: tokio::sync::mpsc::UnboundedReceiver<Received>,
}

impl NatsCollector {
    /// Subscribes to `subject` (wildcards allowed) before anything is sent.
    pub async fn subscribe(url: &str, subject: &str) -> Self {
        let client = async_nats::connect(url).await.expect("nats connect");
        let mut sub = client
            .subscribe(subject.to_owned())
            .await
            .expect("subscribe");
        client.flush().await.expect("flush");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let _client = client;
            while let Some(m) = sub.next().await {
                if tx.send(from_nats(&m)).is_err() {
                    break;
                }
            }
        });
        Self { rx }
    }

    /// Up to `n` messages within `timeout`.
    pub async fn take(&mut self, n: usize, timeout: Duration) -> Vec<Received> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while out.len() < n {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => out.push(m),
                _ => break,
            }
        }
        out
    }
}
