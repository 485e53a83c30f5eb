//! Kafka sink (rdkafka): key = execution id, value = the canonical event,
//! CloudEvents headers, idempotent producer with `acks=all`.
//!
//! A batch is enqueued at once (librdkafka batches and pipelines it) and
//! acknowledged from its delivery reports. The idempotent producer keeps
//! per-partition order under its own retries, so events of one execution
//! (one key, one partition) stay in order; a failed report stops the batch at
//! the first unacknowledged record and the driver retries from there.

mod config;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use tracing::warn;

pub use config::KafkaConfig;

use super::nats::CLOUDEVENTS_JSON;
use super::{PublishError, Sink, SinkError};
use crate::record::Record;

/// librdkafka's default `message.max.bytes`.
const DEFAULT_MESSAGE_MAX_BYTES: usize = 1_000_000;
/// Room kept under `message.max.bytes` for key, headers and framing.
const OVERHEAD: usize = 4096;
/// Consecutive broker refusals after which the producer is replaced.
const PRODUCER_RESET_AFTER: u32 = 3;
/// How long `close` waits for outstanding deliveries.
const CLOSE_FLUSH: Duration = Duration::from_secs(10);

/// Publishes to Kafka.
pub struct KafkaSink {
    name: String,
    /// Consecutive publishes the broker answered with an error.
    broker_refusals: u32,
    config: ClientConfig,
    producer: FutureProducer,
    topic: String,
    dead_letter_topic: String,
    max_payload: usize,
    redact: bool,
}

/// The producer options: the sink's defaults, then the user's pass-through
/// options on top.
pub fn client_config(cfg: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", cfg.brokers.as_str())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("socket.nagle.disable", "true")
        .set("linger.ms", "5")
        .set(
            "message.timeout.ms",
            cfg.delivery_timeout.get().as_millis().to_string(),
        );
    for (k, v) in &cfg.librdkafka {
        c.set(k.as_str(), v.as_str());
    }
    c
}

impl KafkaSink {
    /// Creates the producer. It connects lazily: a broker that is down at
    /// start-up only delays delivery.
    ///
    /// # Errors
    /// An option librdkafka refuses (named in the message).
    pub fn new(name: &str, cfg: &KafkaConfig, redact: bool) -> Result<Self, SinkError> {
        let config = client_config(cfg);
        let producer: FutureProducer =
            config.create().map_err(|e: KafkaError| SinkError::Setup {
                sink: name.to_owned(),
                message: format!("librdkafka: {e}"),
            })?;
        let max_payload = cfg
            .librdkafka
            .get("message.max.bytes")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(DEFAULT_MESSAGE_MAX_BYTES)
            .saturating_sub(OVERHEAD)
            .max(OVERHEAD);
        Ok(Self {
            name: name.to_owned(),
            broker_refusals: 0,
            config,
            producer,
            topic: cfg.topic.clone(),
            dead_letter_topic: cfg.dead_letter_topic(),
            max_payload,
            redact,
        })
    }

    fn enqueue(&self, r: &Record) -> Result<DeliveryFuture, KafkaError> {
        let (topic, content_type) = if r.is_dead_letter() {
            (self.dead_letter_topic.as_str(), "application/json")
        } else {
            (self.topic.as_str(), CLOUDEVENTS_JSON)
        };
        let mut headers = OwnedHeaders::new_with_capacity(4)
            .insert(Header {
                key: "content-type",
                value: Some(content_type),
            })
            .insert(Header {
                key: "ce_id",
                value: Some(r.id.as_str()),
            })
            .insert(Header {
                key: "ce_source",
                value: Some(r.source.as_str()),
            });
        if !r.is_dead_letter() {
            headers = headers.insert(Header {
                key: "ce_type",
                value: Some(r.event_type.as_str()),
            });
        }
        let record = FutureRecord::to(topic)
            .key(r.key.as_bytes())
            .payload(r.payload_for(self.redact).as_ref())
            .headers(headers);
        self.producer.send_result(record).map_err(|(e, _)| e)
    }
}

/// Outcome of one delivery report.
enum Report {
    Acked,
    Rejected(String),
    Failed(String),
}

async fn report(f: DeliveryFuture) -> Report {
    match f.await {
        Ok(Ok(_)) => Report::Acked,
        Ok(Err((e, _))) if is_permanent(&e) => Report::Rejected(e.to_string()),
        Ok(Err((e, _))) => Report::Failed(e.to_string()),
        Err(_) => Report::Failed("producer dropped the delivery report".into()),
    }
}

/// Errors that retrying can never fix.
fn is_permanent(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
        )
    )
}

impl KafkaSink {
    /// Replaces the producer when it cannot recover by itself: an
    /// idempotent producer that hit a fatal error refuses every later
    /// message, and a broker that lost its producer state after a restart
    /// keeps refusing the old producer id. Events not acknowledged are
    /// still in the buffer and are sent again, in order, by the new one.
    fn recover(&mut self, error: &PublishError) {
        let fatal = self.producer.client().fatal_error();
        let stuck = self.broker_refusals >= PRODUCER_RESET_AFTER;
        if fatal.is_none() && !stuck {
            return;
        }
        warn!(sink = %self.name, fatal = ?fatal, error = %error, "replacing the Kafka producer");
        match self.config.create() {
            Ok(p) => {
                self.producer = p;
                self.broker_refusals = 0;
            }
            Err(e) => warn!(sink = %self.name, error = %e, "cannot create a new Kafka producer"),
        }
    }

    async fn publish_checked(&mut self, batch: &[Arc<Record>]) -> Result<(), PublishError> {
        let result = self.publish_batch(batch).await;
        match &result {
            Ok(()) => self.broker_refusals = 0,
            Err(e) => {
                // Timeouts mean "broker away"; anything else is the broker
                // answering and refusing.
                if !e.message.contains("MessageTimedOut") {
                    self.broker_refusals += 1;
                }
                self.recover(e);
            }
        }
        result
    }

    async fn publish_batch(&self, batch: &[Arc<Record>]) -> Result<(), PublishError> {
        let mut pending: VecDeque<DeliveryFuture> = VecDeque::with_capacity(batch.len());
        let mut settled = 0usize;
        let mut first_error: Option<PublishError> = None;
        let mut settle = |outcome: Report, settled: &mut usize| {
            if first_error.is_none() {
                match outcome {
                    Report::Acked => {}
                    Report::Rejected(m) => {
                        first_error = Some(PublishError::rejected(*settled, m));
                    }
                    Report::Failed(m) => first_error = Some(PublishError::new(*settled, m)),
                }
            }
            *settled += 1;
        };
        for r in batch {
            loop {
                match self.enqueue(r) {
                    Ok(f) => {
                        pending.push_back(f);
                        break;
                    }
                    Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                        // librdkafka's queue is full: wait for the oldest
                        // report, or give the producer a moment.
                        match pending.pop_front() {
                            Some(f) => settle(report(f).await, &mut settled),
                            None => tokio::time::sleep(Duration::from_millis(5)).await,
                        }
                    }
                    Err(e) => {
                        let err = if is_permanent(&e) {
                            PublishError::rejected(settled + pending.len(), e.to_string())
                        } else {
                            PublishError::new(settled + pending.len(), e.to_string())
                        };
                        // Settle what is in flight before reporting.
                        while let Some(f) = pending.pop_front() {
                            settle(report(f).await, &mut settled);
                        }
                        return Err(first_error.take().unwrap_or(err));
                    }
                }
            }
        }
        while let Some(f) = pending.pop_front() {
            settle(report(f).await, &mut settled);
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

impl Sink for KafkaSink {
    async fn publish<'a>(&'a mut self, batch: &'a [Arc<Record>]) -> Result<(), PublishError> {
        self.publish_checked(batch).await
    }

    fn max_payload(&self) -> usize {
        self.max_payload
    }

    fn redacts(&self) -> bool {
        self.redact
    }

    async fn close(&mut self) {
        let producer = self.producer.clone();
        let name = self.name.clone();
        let flushed = tokio::task::spawn_blocking(move || producer.flush(CLOSE_FLUSH)).await;
        if let Ok(Err(e)) = flushed {
            warn!(sink = %name, error = %e, "final flush incomplete");
        }
    }
}
