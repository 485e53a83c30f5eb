//! Admin server configuration (`[admin]`).

use std::net::SocketAddr;

use serde::Deserialize;

use crate::config::Secret;

/// Default admin address: every interface, port 9464 (the Prometheus
/// exporters' conventional range).
fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 9464))
}

/// The admin HTTP server: health, readiness, metrics, subscriptions API.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address to listen on. Default `0.0.0.0:9464`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Bearer token required by `/v1/*` when set. Default: none (the API
    /// is open to whoever reaches the port).
    #[serde(default)]
    pub token: Option<Secret>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            token: None,
        }
    }
}
