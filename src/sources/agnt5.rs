//! AGNT5 specifics: `url?x-wf-endpoint=<endpoint>`, API key as subprotocol
//! `x-api-key.<key>`, run requests sent on the held connection within the
//! documented limits.

use serde::Deserialize;
use serde_json::{Map, Value};

/// Largest run request message (the documented 64 KB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Messages per second the client may send (documented limit).
pub const MAX_MESSAGES_PER_SEC: u32 = 100;
/// Concurrent connections per endpoint (documented limit).
pub const MAX_CONNECTIONS_PER_ENDPOINT: usize = 50;
/// Run requests waiting for the connection, per subscription.
pub const RUN_QUEUE: usize = 256;

/// The socket URL for `endpoint`.
pub fn socket_url(base: &url::Url, endpoint: &str) -> url::Url {
    let mut u = base.clone();
    u.query_pairs_mut().append_pair("x-wf-endpoint", endpoint);
    u
}

/// The subprotocol carrying the key. Secret: never logged.
pub fn subprotocol(api_key: &str) -> String {
    format!("x-api-key.{api_key}")
}

/// A run request as the admin API accepts it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Workflow (function) name to run. Required.
    pub name: String,
    /// Input parameters. Default `{}`.
    #[serde(default = "empty_object")]
    pub parameters: Value,
    /// Metadata passed along. Default `{}`.
    #[serde(default = "empty_object")]
    pub metadata: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// Why a run request is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunRequestError {
    /// Name missing.
    #[error("name must not be empty")]
    NoName,
    /// Over the documented message size.
    #[error("run request is {0} bytes, over AGNT5's 65536-byte message limit")]
    TooLarge(usize),
}

impl RunRequest {
    /// The wire message with `connection_id`, checked against the size
    /// limit.
    pub fn encode(&self, connection_id: &str) -> Result<String, RunRequestError> {
        if self.name.trim().is_empty() {
            return Err(RunRequestError::NoName);
        }
        let msg = serde_json::json!({
            "name": self.name,
            "parameters": self.parameters,
            "metadata": self.metadata,
            "connection_id": connection_id,
        })
        .to_string();
        if msg.len() > MAX_MESSAGE_BYTES {
            return Err(RunRequestError::TooLarge(msg.len()));
        }
        Ok(msg)
    }
}

/// A fresh `connection_id`: 32 random hex characters.
pub fn new_connection_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_size_limit() {
        let u = socket_url(
            &url::Url::parse("wss://run.agnt5.me/ws").unwrap(),
            "coffee shop",
        );
        assert_eq!(
            u.as_str(),
            "wss://run.agnt5.me/ws?x-wf-endpoint=coffee+shop"
        );
        let ok = RunRequest {
            name: "brew".into(),
            parameters: serde_json::json!({"size": "L"}),
            metadata: empty_object(),
        };
        let msg = ok.encode("c1").unwrap();
        assert!(msg.contains("\"connection_id\":\"c1\""));
        let big = RunRequest {
            parameters: Value::String("x".repeat(70_000)),
            ..ok
        };
        assert!(matches!(
            big.encode("c1"),
            Err(RunRequestError::TooLarge(_))
        ));
        assert_eq!(new_connection_id().len(), 32);
    }
}
