//! Normalization options (`[normalize]`).

use serde::Deserialize;

/// Keys whose values are replaced by `"[REDACTED]"` at any depth, compared
/// case-insensitively (SPEC section 5).
pub const DEFAULT_REDACT_KEYS: [&str; 6] = [
    "api_key",
    "apikey",
    "authorization",
    "token",
    "password",
    "secret",
];

fn default_redact_keys() -> Vec<String> {
    DEFAULT_REDACT_KEYS
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

/// How frames become canonical events.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeConfig {
    /// Keys whose values are redacted, at any depth, case-insensitive.
    /// Default `["api_key", "apikey", "authorization", "token", "password",
    /// "secret"]`. A sink turns redaction off with `redact = false`.
    #[serde(default = "default_redact_keys")]
    pub redact_keys: Vec<String>,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        Self {
            redact_keys: default_redact_keys(),
        }
    }
}
