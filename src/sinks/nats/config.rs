//! NATS sink configuration.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::{HumanDuration, Secret};

/// Default subject template.
pub const DEFAULT_SUBJECT: &str = "workflow.events.{provider}.{execution_id}.{type}";
/// Default dead-letter subject template.
pub const DEFAULT_DEAD_LETTER_SUBJECT: &str = "eventrelay.dlq.{subscription}";
/// Default wait for a JetStream acknowledgement or a flush.
pub const DEFAULT_ACK_TIMEOUT: HumanDuration = HumanDuration::from_secs(10);

fn default_subject() -> String {
    DEFAULT_SUBJECT.to_owned()
}
fn default_dead_letter_subject() -> String {
    DEFAULT_DEAD_LETTER_SUBJECT.to_owned()
}
const fn default_ack_timeout() -> HumanDuration {
    DEFAULT_ACK_TIMEOUT
}

/// TLS for the NATS connection.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsTlsConfig {
    /// Require TLS. Default `false` (a `tls://` URL also turns it on).
    #[serde(default)]
    pub required: bool,
    /// CA certificate (PEM) to trust in addition to the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

/// `kind = "nats"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URL(s), comma separated (`nats://nats:4222`). Required.
    pub url: String,
    /// Subject template; tokens `{provider}`, `{execution_id}`, `{type}`,
    /// `{subscription}`. Default
    /// `workflow.events.{provider}.{execution_id}.{type}`.
    #[serde(default = "default_subject")]
    pub subject: String,
    /// Dead-letter subject template. Default `eventrelay.dlq.{subscription}`.
    #[serde(default = "default_dead_letter_subject")]
    pub dead_letter_subject: String,
    /// Publish through JetStream, waiting for each acknowledgement.
    /// Default `false` (core NATS, acknowledged by a flush).
    #[serde(default)]
    pub jetstream: bool,
    /// JetStream stream name (required with `create_stream`).
    #[serde(default)]
    pub stream: Option<String>,
    /// Create the stream (and `<stream>_DLQ`) when missing. Default `false`.
    #[serde(default)]
    pub create_stream: bool,
    /// Wait for an acknowledgement or a flush. Default `10s`.
    #[serde(default = "default_ack_timeout")]
    pub ack_timeout: HumanDuration,
    /// User name (with `password`).
    #[serde(default)]
    pub user: Option<String>,
    /// Password (with `user`).
    #[serde(default)]
    pub password: Option<Secret>,
    /// Authentication token.
    #[serde(default)]
    pub token: Option<Secret>,
    /// NKey seed.
    #[serde(default)]
    pub nkey: Option<Secret>,
    /// Credentials file (JWT + NKey), as written by `nsc`.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// TLS options.
    #[serde(default)]
    pub tls: NatsTlsConfig,
}

impl NatsConfig {
    /// Checks what serde cannot; `(key, reason)` relative to the sink.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.url.trim().is_empty() {
            return Err(("url", "must name at least one server".into()));
        }
        if self.subject.trim().is_empty() {
            return Err(("subject", "must not be empty".into()));
        }
        if self.create_stream && self.stream.as_deref().is_none_or(str::is_empty) {
            return Err(("stream", "required when create_stream = true".into()));
        }
        if self.create_stream && !self.jetstream {
            return Err(("create_stream", "needs jetstream = true".into()));
        }
        if self.user.is_some() != self.password.is_some() {
            return Err(("user", "user and password go together".into()));
        }
        Ok(())
    }
}
