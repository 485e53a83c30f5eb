//! Kafka sink configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::config::HumanDuration;

/// Default per-message delivery timeout (librdkafka's `message.timeout.ms`
/// default is 300s; a shorter one surfaces a dead broker sooner, and the
/// sink retries from its buffer anyway).
pub const DEFAULT_DELIVERY_TIMEOUT: HumanDuration = HumanDuration::from_secs(30);

const fn default_delivery_timeout() -> HumanDuration {
    DEFAULT_DELIVERY_TIMEOUT
}

/// `kind = "kafka"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma separated (`kafka-0:9092,kafka-1:9092`).
    /// Required.
    pub brokers: String,
    /// Topic for canonical events. Required.
    pub topic: String,
    /// Topic for dead letters. Default `<topic>.dlq`.
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
    /// How long librdkafka may try to deliver one message before the sink
    /// retries it from its buffer. Default `30s`.
    #[serde(default = "default_delivery_timeout")]
    pub delivery_timeout: HumanDuration,
    /// Options passed to librdkafka as-is (`"compression.type" = "zstd"`).
    /// They override the sink's defaults (`enable.idempotence=true`,
    /// `acks=all`, `socket.nagle.disable=true`), except that idempotence
    /// cannot be turned off.
    #[serde(default, deserialize_with = "scalar_map")]
    pub librdkafka: BTreeMap<String, String>,
}

impl KafkaConfig {
    /// The dead-letter topic, defaulted.
    pub fn dead_letter_topic(&self) -> String {
        self.dead_letter_topic
            .clone()
            .unwrap_or_else(|| format!("{}.dlq", self.topic))
    }

    /// Checks what serde cannot; `(key, reason)` relative to the sink.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.brokers.trim().is_empty() {
            return Err(("brokers", "must name at least one broker".into()));
        }
        if self.topic.trim().is_empty() {
            return Err(("topic", "must not be empty".into()));
        }
        if self
            .librdkafka
            .get("enable.idempotence")
            .is_some_and(|v| v != "true")
        {
            return Err((
                "librdkafka",
                "enable.idempotence cannot be turned off: per-execution order depends on it".into(),
            ));
        }
        Ok(())
    }
}

/// librdkafka options are strings; TOML users write numbers and booleans.
fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(serde::de::Error::custom(format!(
                        "librdkafka.{k}: must be a string, number or boolean"
                    )))
                }
            };
            Ok((k, s))
        })
        .collect()
}
