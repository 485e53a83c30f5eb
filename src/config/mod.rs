//! Top-level configuration: one struct per component, loaded from TOML or
//! YAML with environment overrides and `${NAME}` interpolation.
//!
//! Loading order: the file; then `EVENTRELAY__SECTION__KEY` variables
//! override scalars; then `${NAME}` in any string is replaced by the
//! variable `NAME` (`$${` writes a literal `${`); then the result is
//! deserialized (unknown keys are errors) and validated. Every error names
//! the offending key.

mod load;
mod values;

use std::path::PathBuf;

use serde::Deserialize;

pub use load::{load, load_str, ConfigError, Format};
pub use values::{ByteSize, HumanDuration, Secret, REDACTED};

use crate::admin::AdminConfig;
use crate::normalize::NormalizeConfig;
use crate::sinks::SinkConfig;
use crate::sources::SubscriptionConfig;

/// Default data directory (disk buffers, API-added subscriptions).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/eventrelay";
/// Default shutdown budget: Kubernetes' default grace period is 30 s, so
/// the pod's `terminationGracePeriodSeconds` must be set above this.
pub const DEFAULT_SHUTDOWN_TIMEOUT: HumanDuration = HumanDuration::from_secs(30);

fn default_data_dir() -> PathBuf {
    PathBuf::from(DEFAULT_DATA_DIR)
}
const fn default_shutdown_timeout() -> HumanDuration {
    DEFAULT_SHUTDOWN_TIMEOUT
}

/// Process-wide settings (`[relay]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// Where disk buffers and API-added subscriptions live. Default
    /// `/var/lib/eventrelay`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// How long shutdown may flush buffers before it gives up (disk buffers
    /// keep the rest). Default `30s`.
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout: HumanDuration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// Rules for subscriptions added through the API (`[upstream]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Hosts that API-added subscriptions may connect to (exact names, or
    /// `*.example.com`). Default: none set = any host. Subscriptions from
    /// the config file are trusted.
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
    /// How long finished Lyzr runs stay listed in `/v1/subscriptions`
    /// before they are pruned. Default `1h`.
    #[serde(default = "default_finished_retention")]
    pub finished_retention: HumanDuration,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            allowed_hosts: None,
            finished_retention: DEFAULT_FINISHED_RETENTION,
        }
    }
}

/// Default retention of finished subscriptions in the API.
pub const DEFAULT_FINISHED_RETENTION: HumanDuration = HumanDuration::from_secs(3600);

const fn default_finished_retention() -> HumanDuration {
    DEFAULT_FINISHED_RETENTION
}

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[relay]`.
    #[serde(default)]
    pub relay: RelayConfig,
    /// `[admin]`.
    #[serde(default)]
    pub admin: AdminConfig,
    /// `[upstream]`.
    #[serde(default)]
    pub upstream: UpstreamConfig,
    /// `[normalize]`.
    #[serde(default)]
    pub normalize: NormalizeConfig,
    /// `[[subscriptions]]`.
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionConfig>,
    /// `[[sinks]]`: at least one.
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
}

impl Config {
    /// Checks every rule serde cannot express.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, reason: String| ConfigError::Invalid { key, reason };
        if self.relay.shutdown_timeout.get().is_zero() {
            return Err(invalid(
                "relay.shutdown_timeout".into(),
                "must be greater than zero".into(),
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for (i, s) in self.subscriptions.iter().enumerate() {
            s.validate()
                .map_err(|(k, r)| invalid(format!("subscriptions[{i}].{k}"), r))?;
            if !ids.insert(s.id.as_str()) {
                return Err(invalid(
                    format!("subscriptions[{i}].id"),
                    format!("duplicate id {:?}", s.id),
                ));
            }
        }
        if self.sinks.is_empty() {
            return Err(invalid(
                "sinks".into(),
                "at least one [[sinks]] is required".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, s) in self.sinks.iter().enumerate() {
            s.validate()
                .map_err(|(k, r)| invalid(format!("sinks[{i}].{k}"), r))?;
            if !names.insert(s.name.as_str()) {
                return Err(invalid(
                    format!("sinks[{i}].name"),
                    format!("duplicate sink name {:?}", s.name),
                ));
            }
        }
        Ok(())
    }
}
