//! The harness works: one message published and read back on NATS (core
//! and JetStream) and on the Kafka-protocol broker with the bundled
//! librdkafka (idempotent producer, acks=all, key and headers).

mod common;

use std::time::Duration;

use common::brokers::{KafkaBroker, NatsServer};
use common::consume;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

#[tokio::test]
async fn nats_core_and_jetstream_round_trip() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let mut sub = consume::NatsCollector::subscribe(&nats.url(), "smoke.>").await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    client.publish("smoke.core", "hello".into()).await.unwrap();
    client.flush().await.unwrap();
    let got = sub.take(1, Duration::from_secs(5)).await;
    assert_eq!(got[0].payload, b"hello");

    let js = async_nats::jetstream::new(client);
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: "SMOKE".into(),
        subjects: vec!["js.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    js.publish("js.one", "stored".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let got = consume::jetstream(&nats.url(), "SMOKE", 1, Duration::from_secs(5)).await;
    assert_eq!(got[0].payload, b"stored");
}

#[tokio::test]
async fn kafka_round_trip_with_idempotent_producer_and_headers() {
    let Some(kafka) = KafkaBroker::start() else {
        return;
    };
    kafka.create_topic("smoke", 3);
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", kafka.bootstrap())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .unwrap();
    let headers = OwnedHeaders::new().insert(Header {
        key: "ce_id",
        value: Some("abc"),
    });
    producer
        .send(
            FutureRecord::to("smoke")
                .key("exec-1")
                .payload("{\"x\":1}")
                .headers(headers),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| format!("{e}\n{}", kafka.log()))
        .unwrap();
    let got = consume::kafka(&kafka.bootstrap(), &["smoke"], 1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "{}", kafka.log());
    assert_eq!(got[0].key.as_deref(), Some("exec-1"));
    assert_eq!(got[0].headers.get("ce_id").map(String::as_str), Some("abc"));
}
