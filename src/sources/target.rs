//! Where a subscription connects: the socket URL, the secret-free CloudEvents
//! `source`, and the handshake subprotocol.

use crate::config::Secret;
use crate::normalize::StreamState;
use crate::record::Provider;

use super::{agnt5, lyzr, SubscriptionConfig};

/// A subscription's connection target, computed once.
#[derive(Clone, Debug)]
pub struct Target {
    /// The URL the relay connects to.
    pub url: url::Url,
    /// The CloudEvents `source` (same URL: it carries no secret; the AGNT5
    /// key travels in the subprotocol).
    pub source: String,
    /// `x-api-key.<key>` for AGNT5. Secret.
    pub subprotocol: Option<Secret>,
}

/// A config whose URL does not parse (validation rules it out first).
#[derive(Debug, thiserror::Error)]
#[error("url: {0}")]
pub struct TargetError(String);

impl Target {
    /// The target of `cfg`.
    pub fn new(cfg: &SubscriptionConfig) -> Result<Self, TargetError> {
        let base = url::Url::parse(&cfg.url).map_err(|e| TargetError(e.to_string()))?;
        let (url, subprotocol) = match cfg.provider {
            Provider::Agnt5 => (
                agnt5::socket_url(&base, cfg.endpoint.as_deref().unwrap_or_default()),
                cfg.api_key
                    .as_ref()
                    .map(|k| Secret::new(agnt5::subprotocol(k.expose()))),
            ),
            Provider::Lyzr => (
                lyzr::socket_url(
                    &base,
                    cfg.flow_name.as_deref().unwrap_or_default(),
                    cfg.run_name.as_deref().unwrap_or_default(),
                ),
                None,
            ),
        };
        Ok(Self {
            source: url.to_string(),
            url,
            subprotocol,
        })
    }

    /// The normalizer's per-subscription state.
    pub fn stream_state(&self, cfg: &SubscriptionConfig) -> StreamState {
        StreamState::new(
            cfg.id.as_str().into(),
            cfg.provider,
            self.source.as_str().into(),
            cfg.flow_name.clone(),
            cfg.run_name.clone(),
        )
    }
}
