//! Redaction of secret-looking values at any depth.
//!
//! A key matches a listed name when, compared case-insensitively with `-`
//! read as `_`, it equals the name or ends with `_<name>`: `api_key`,
//! `Authorization`, `access_token`, `x-api-key`, `client_secret` match;
//! `prompt_tokens` or `tokenizer` do not (usage statistics stay intact).

use serde_json::{Map, Value};

/// The replacement value.
pub const REDACTED: &str = "[REDACTED]";

/// A compiled list of secret key names.
#[derive(Clone, Debug)]
pub struct Redactor {
    names: Vec<String>,
}

impl Redactor {
    /// Compiles `names`.
    pub fn new(names: &[String]) -> Self {
        Self {
            names: names.iter().map(|n| canonical(n)).collect(),
        }
    }

    /// Whether values under `key` are secret.
    pub fn is_secret(&self, key: &str) -> bool {
        let k = key.as_bytes();
        self.names.iter().any(|n| {
            let n = n.as_bytes();
            if k.len() < n.len() {
                return false;
            }
            let tail = &k[k.len() - n.len()..];
            let same = tail.iter().zip(n).all(|(a, b)| fold(*a) == *b);
            same && (k.len() == n.len() || fold(k[k.len() - n.len() - 1]) == b'_')
        })
    }

    /// Replaces secret values in `map`, at any depth; true if any was.
    pub fn redact_map(&self, map: &mut Map<String, Value>) -> bool {
        let mut any = false;
        for (k, v) in map.iter_mut() {
            if self.is_secret(k) {
                if v.as_str() != Some(REDACTED) {
                    *v = Value::String(REDACTED.to_owned());
                }
                any = true;
            } else {
                any |= self.redact(v);
            }
        }
        any
    }

    /// Replaces secret values inside `value`; true if any was.
    pub fn redact(&self, value: &mut Value) -> bool {
        match value {
            Value::Object(m) => self.redact_map(m),
            Value::Array(a) => a.iter_mut().fold(false, |any, v| self.redact(v) | any),
            _ => false,
        }
    }
}

/// One byte as [`canonical`] maps it.
fn fold(b: u8) -> u8 {
    if b == b'-' {
        b'_'
    } else {
        b.to_ascii_lowercase()
    }
}

fn canonical(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::normalize::DEFAULT_REDACT_KEYS;

    fn default() -> Redactor {
        let names: Vec<String> = DEFAULT_REDACT_KEYS.iter().map(|s| s.to_string()).collect();
        Redactor::new(&names)
    }

    #[test]
    fn matches_names_and_suffixes_only() {
        let r = default();
        for k in [
            "api_key",
            "API_KEY",
            "Authorization",
            "access_token",
            "x-api-key",
            "client_secret",
            "apiKey",
            "password",
        ] {
            assert!(r.is_secret(k), "{k}");
        }
        for k in [
            "prompt_tokens",
            "tokenizer",
            "keys",
            "secretary_name",
            "token_count",
        ] {
            assert!(!r.is_secret(k), "{k}");
        }
    }

    #[test]
    fn redacts_at_any_depth_including_arrays() {
        let mut v = json!({
            "input": {"config": {"api_key": "sk", "nested": [{"token": {"a": 1}}]}},
            "headers": {"Authorization": "Bearer x"},
            "keep": "me"
        });
        assert!(default().redact(&mut v));
        assert_eq!(v["input"]["config"]["api_key"], REDACTED);
        assert_eq!(v["input"]["config"]["nested"][0]["token"], REDACTED);
        assert_eq!(v["headers"]["Authorization"], REDACTED);
        assert_eq!(v["keep"], "me");
        let mut clean = json!({"a": [1, {"b": 2}]});
        assert!(!default().redact(&mut clean));
    }
}
