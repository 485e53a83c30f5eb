//! Configuration of one upstream subscription (`[[subscriptions]]`).

use serde::{Deserialize, Serialize};

use crate::config::{ByteSize, HumanDuration, Secret};
use crate::record::Provider;

/// Default first reconnect delay: the vendors' documented 1 s base.
pub const DEFAULT_BACKOFF_INITIAL: HumanDuration = HumanDuration::from_secs(1);
/// Default reconnect delay cap: the vendors' documented 30 s cap.
pub const DEFAULT_BACKOFF_MAX: HumanDuration = HumanDuration::from_secs(30);
/// Default heartbeat period: Lyzr's documented 30 s application ping.
pub const DEFAULT_PING_INTERVAL: HumanDuration = HumanDuration::from_secs(30);
/// Default silence after which a connection is dead: three missed heartbeats.
pub const DEFAULT_IDLE_TIMEOUT: HumanDuration = HumanDuration::from_secs(90);
/// Default largest accepted message: generous for fat LLM outputs, still a
/// hard bound on memory per connection.
pub const DEFAULT_MAX_MESSAGE_SIZE: ByteSize = ByteSize::mib(16);
/// Default socket read buffer of an AGNT5 connection: few connections
/// (at most 50 per endpoint) carrying many executions each, so throughput
/// matters more than per-connection memory (64 KiB reads measured 10–20%
/// faster than 4 KiB at 250k events/s, `benches/throughput.rs`).
pub const DEFAULT_READ_BUFFER_SIZE_AGNT5: ByteSize = ByteSize::kib(64);
/// Default socket read buffer of a Lyzr connection: one connection per
/// run, possibly thousands, so memory per connection matters most (about
/// 5 KB each with 4 KiB, against 129 KB with the library's default).
pub const DEFAULT_READ_BUFFER_SIZE_LYZR: ByteSize = ByteSize::kib(4);
/// Default connect + handshake timeout.
pub const DEFAULT_CONNECT_TIMEOUT: HumanDuration = HumanDuration::from_secs(10);

const fn default_true() -> bool {
    true
}
const fn default_backoff_initial() -> HumanDuration {
    DEFAULT_BACKOFF_INITIAL
}
const fn default_backoff_max() -> HumanDuration {
    DEFAULT_BACKOFF_MAX
}
const fn default_ping_interval() -> HumanDuration {
    DEFAULT_PING_INTERVAL
}
const fn default_idle_timeout() -> HumanDuration {
    DEFAULT_IDLE_TIMEOUT
}
const fn default_max_message_size() -> ByteSize {
    DEFAULT_MAX_MESSAGE_SIZE
}
const fn default_connect_timeout() -> HumanDuration {
    DEFAULT_CONNECT_TIMEOUT
}

/// One durable subscription to a workflow engine's WebSocket.
///
/// The same fields are accepted by `POST /v1/subscriptions`.
///
/// It is `Serialize` only for the subscription store, which must keep the
/// API key; responses use [`super::SubscriptionView`], which has none.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// Unique id, `[A-Za-z0-9_.-]{1,128}`. Required.
    pub id: String,
    /// `agnt5` or `lyzr`. Required.
    pub provider: Provider,
    /// WebSocket URL (`ws://` or `wss://`). AGNT5: the relay adds
    /// `?x-wf-endpoint=<endpoint>`; Lyzr: the relay appends
    /// `/{flow_name}/{run_name}`. Required.
    pub url: String,
    /// AGNT5 workflow endpoint. Required for `agnt5`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// AGNT5 API key, sent as subprotocol `x-api-key.<key>`. Required for
    /// `agnt5`; never logged or returned by the API.
    #[serde(default, serialize_with = "Secret::serialize_exposed")]
    pub api_key: Option<Secret>,
    /// Lyzr flow name. Required for `lyzr`.
    #[serde(default)]
    pub flow_name: Option<String>,
    /// Lyzr run name. Required for `lyzr`.
    #[serde(default)]
    pub run_name: Option<String>,
    /// First reconnect delay; doubles per failure, full jitter. Default `1s`.
    #[serde(default = "default_backoff_initial")]
    pub backoff_initial: HumanDuration,
    /// Reconnect delay cap (also the retry period after an auth failure).
    /// Default `30s`.
    #[serde(default = "default_backoff_max")]
    pub backoff_max: HumanDuration,
    /// Heartbeat period: WebSocket ping (and Lyzr `{"type":"ping"}`).
    /// Default `30s`.
    #[serde(default = "default_ping_interval")]
    pub ping_interval: HumanDuration,
    /// Silence longer than this marks the connection dead. Default `90s`.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: HumanDuration,
    /// Connect and handshake timeout. Default `10s`.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// Largest WebSocket message accepted (fragments reassembled).
    /// Default `16MiB`.
    #[serde(default = "default_max_message_size")]
    pub max_message_size: ByteSize,
    /// Socket read buffer size per connection. Default `64KiB` for AGNT5
    /// (few busy connections), `4KiB` for Lyzr (one connection per run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_buffer_size: Option<ByteSize>,
    /// Whether the subscription runs. Default `true`.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

impl SubscriptionConfig {
    /// The socket read buffer: the configured one, else the provider's
    /// default.
    pub fn read_buffer(&self) -> ByteSize {
        self.read_buffer_size.unwrap_or(match self.provider {
            Provider::Agnt5 => DEFAULT_READ_BUFFER_SIZE_AGNT5,
            Provider::Lyzr => DEFAULT_READ_BUFFER_SIZE_LYZR,
        })
    }

    /// Checks the fields that serde cannot; returns `(key, reason)` naming
    /// the offending field relative to this subscription.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 128
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !id_ok {
            return Err((
                "id",
                format!("{:?} must match [A-Za-z0-9_.-]{{1,128}}", self.id),
            ));
        }
        match url::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "ws" | "wss") && u.host_str().is_some() => {}
            Ok(_) => return Err(("url", "must be a ws:// or wss:// URL with a host".into())),
            Err(e) => return Err(("url", format!("not a URL: {e}"))),
        }
        let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        match self.provider {
            Provider::Agnt5 => {
                if !present(&self.endpoint) {
                    return Err(("endpoint", "required for provider agnt5".into()));
                }
                if self.api_key.as_ref().is_none_or(Secret::is_empty) {
                    return Err(("api_key", "required for provider agnt5".into()));
                }
                if self.flow_name.is_some() || self.run_name.is_some() {
                    return Err(("flow_name", "only for provider lyzr".into()));
                }
            }
            Provider::Lyzr => {
                for (key, v) in [("flow_name", &self.flow_name), ("run_name", &self.run_name)] {
                    if !present(v) {
                        return Err((key, "required for provider lyzr".into()));
                    }
                    if v.as_deref().is_some_and(|s| s.contains('/')) {
                        return Err((key, "must not contain '/'".into()));
                    }
                }
                if self.endpoint.is_some() || self.api_key.is_some() {
                    return Err(("endpoint", "only for provider agnt5".into()));
                }
            }
        }
        if self.backoff_initial.get().is_zero() {
            return Err(("backoff_initial", "must be greater than zero".into()));
        }
        if self.backoff_initial > self.backoff_max {
            return Err(("backoff_initial", "must not exceed backoff_max".into()));
        }
        if self.ping_interval.get().is_zero() {
            return Err(("ping_interval", "must be greater than zero".into()));
        }
        if self.idle_timeout <= self.ping_interval {
            return Err(("idle_timeout", "must be longer than ping_interval".into()));
        }
        if self.read_buffer_size.is_some_and(|b| b.0 < 256) {
            return Err(("read_buffer_size", "must be at least 256 bytes".into()));
        }
        if self.max_message_size.0 < 1024 {
            return Err(("max_message_size", "must be at least 1KiB".into()));
        }
        Ok(())
    }
}
