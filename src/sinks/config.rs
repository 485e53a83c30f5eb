//! Configuration of one sink (`[[sinks]]`): the fields every sink has, plus
//! the fields of its kind, each kind owning its own struct.

use serde::{Deserialize, Deserializer};

use crate::buffer::BufferConfig;

use super::file::FileConfig;
use super::kafka::KafkaConfig;
use super::nats::NatsConfig;
use super::stdout::StdoutConfig;

/// Which events a sink takes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Glob patterns over the canonical `type` (`*.failed`,
    /// `execution.*`). Empty (the default) = every event.
    #[serde(default)]
    pub types: Vec<String>,
}

/// The kind-specific part of a sink.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // read once at start-up; boxing buys nothing
pub enum SinkKind {
    /// Kafka via librdkafka.
    Kafka(KafkaConfig),
    /// NATS core or JetStream.
    Nats(NatsConfig),
    /// JSON lines on standard output.
    Stdout(StdoutConfig),
    /// JSON lines appended to a file.
    File(FileConfig),
}

impl SinkKind {
    /// The `kind` string of the config.
    pub fn as_str(&self) -> &'static str {
        match self {
            SinkKind::Kafka(_) => "kafka",
            SinkKind::Nats(_) => "nats",
            SinkKind::Stdout(_) => "stdout",
            SinkKind::File(_) => "file",
        }
    }
}

/// One destination for events.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    /// Unique sink name; labels the sink's metrics. Required,
    /// `[A-Za-z0-9_-]{1,64}`.
    pub name: String,
    /// Which events this sink takes. Default: all.
    pub filter: FilterConfig,
    /// The sink's buffer. Default: memory, 100000 events, block.
    pub buffer: BufferConfig,
    /// Replace secret-looking values by `"[REDACTED]"`. Default `true`.
    pub redact: bool,
    /// `kafka`, `nats`, `stdout` or `file`, with that kind's fields.
    pub kind: SinkKind,
}

/// The fields common to every sink, read before the kind's own fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Common {
    name: String,
    kind: String,
    #[serde(default)]
    filter: FilterConfig,
    #[serde(default)]
    buffer: BufferConfig,
    #[serde(default = "default_redact")]
    redact: bool,
}

const fn default_redact() -> bool {
    true
}

const COMMON_KEYS: [&str; 5] = ["name", "kind", "filter", "buffer", "redact"];

impl<'de> Deserialize<'de> for SinkConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        use serde_json::{Map, Value};

        let mut all = Map::<String, Value>::deserialize(d)?;
        let mut common = Map::new();
        for key in COMMON_KEYS {
            if let Some(v) = all.remove(key) {
                common.insert(key.to_owned(), v);
            }
        }
        let common: Common = serde_path_to_error::deserialize(Value::Object(common))
            .map_err(|e| D::Error::custom(path_message(&e)))?;
        let rest = Value::Object(all);
        fn kind<T: serde::de::DeserializeOwned, E: Error>(v: Value) -> Result<T, E> {
            serde_path_to_error::deserialize(v).map_err(|e| E::custom(path_message(&e)))
        }
        let kind = match common.kind.as_str() {
            "kafka" => SinkKind::Kafka(kind(rest)?),
            "nats" => SinkKind::Nats(kind(rest)?),
            "stdout" => SinkKind::Stdout(kind(rest)?),
            "file" => SinkKind::File(kind(rest)?),
            other => {
                return Err(D::Error::custom(format!(
                    "kind: unknown sink kind {other:?}, expected one of kafka, nats, stdout, file"
                )))
            }
        };
        Ok(SinkConfig {
            name: common.name,
            filter: common.filter,
            buffer: common.buffer,
            redact: common.redact,
            kind,
        })
    }
}

fn path_message(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = e.path().to_string();
    if path == "." || path.is_empty() {
        e.inner().to_string()
    } else {
        format!("{path}: {}", e.inner())
    }
}

impl SinkConfig {
    /// Checks what serde cannot; returns `(key, reason)` relative to this sink.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if !name_ok {
            return Err((
                "name".into(),
                format!("{:?} must match [A-Za-z0-9_-]{{1,64}}", self.name),
            ));
        }
        for (i, pattern) in self.filter.types.iter().enumerate() {
            if let Err(e) = globset::Glob::new(pattern) {
                return Err((format!("filter.types[{i}]"), format!("invalid glob: {e}")));
            }
        }
        self.buffer
            .validate()
            .map_err(|(k, r)| (format!("buffer.{k}"), r))?;
        match &self.kind {
            SinkKind::Kafka(c) => c.validate(),
            SinkKind::Nats(c) => c.validate(),
            SinkKind::Stdout(_) => Ok(()),
            SinkKind::File(c) => c.validate(),
        }
        .map_err(|(k, r)| (k.to_string(), r))
    }
}
