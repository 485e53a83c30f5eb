//! Reading a config file: file → environment overrides → `${NAME}`
//! interpolation → typed config → validation.

use std::path::Path;

use serde_json::Value;

use super::Config;

/// Prefix of override variables: `EVENTRELAY__ADMIN__LISTEN=...`.
pub const ENV_PREFIX: &str = "EVENTRELAY";

/// Config file syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.toml`
    Toml,
    /// `.yaml` / `.yml`
    Yaml,
}

impl Format {
    /// The format for a file name, by extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(Format::Toml),
            "yaml" | "yml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// Why a configuration was refused. Messages name the key and never
/// contain secret values.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The extension is neither TOML nor YAML.
    #[error("config file {0}: unsupported extension, use .toml, .yaml or .yml")]
    Extension(String),
    /// The file is not valid TOML/YAML, or an override is malformed.
    #[error("config syntax: {0}")]
    Syntax(String),
    /// `${NAME}` names a variable that is not set.
    #[error("{key}: environment variable {var} is not set")]
    MissingEnv {
        /// Where the reference is.
        key: String,
        /// The variable.
        var: String,
    },
    /// A `${` without a closing `}` or with an invalid name.
    #[error("{key}: malformed ${{...}} reference: {reason}")]
    BadReference {
        /// Where the reference is.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A key is unknown, missing, of the wrong type or out of range.
    #[error("{key}: {reason}")]
    Invalid {
        /// The offending key (`sinks[0].buffer.when_full`).
        key: String,
        /// Why.
        reason: String,
    },
}

/// Loads, interpolates and validates the config file at `path`.
///
/// # Errors
/// Any [`ConfigError`], naming the offending key.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let format = Format::from_path(path)
        .ok_or_else(|| ConfigError::Extension(path.display().to_string()))?;
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    load_str(&text, format, |k| std::env::var(k).ok(), std::env::vars())
}

/// Loads config text with the given variable lookup (for `${NAME}`) and
/// override variables (`EVENTRELAY__...`); the seam tests use.
///
/// # Errors
/// Any [`ConfigError`], naming the offending key.
pub fn load_str(
    text: &str,
    format: Format,
    lookup: impl Fn(&str) -> Option<String>,
    overrides: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let file_format = match format {
        Format::Toml => config::FileFormat::Toml,
        Format::Yaml => config::FileFormat::Yaml,
    };
    let overrides: config::Map<String, String> = overrides
        .into_iter()
        .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
        .collect();
    let built = config::Config::builder()
        .add_source(config::File::from_str(text, file_format))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(overrides)),
        )
        .build()
        .map_err(|e| ConfigError::Syntax(e.to_string()))?;
    let mut value: Value = built
        .try_deserialize()
        .map_err(|e| ConfigError::Syntax(e.to_string()))?;
    interpolate(&mut value, &mut String::new(), &lookup)?;
    let config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::Invalid {
            key: if key == "." { "config".into() } else { key },
            reason: e.into_inner().to_string(),
        }
    })?;
    config.validate()?;
    Ok(config)
}

/// Replaces `${NAME}` in every string of `value`; `path` tracks the key for
/// error messages.
fn interpolate(
    value: &mut Value,
    path: &mut String,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        Value::String(s) if s.contains('$') => *s = expand(s, path, lookup)?,
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                interpolate(item, path, lookup)?;
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                interpolate(v, path, lookup)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

fn expand(
    s: &str,
    path: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail.find('}').ok_or_else(|| ConfigError::BadReference {
                key: path.to_owned(),
                reason: "missing closing }".into(),
            })?;
            let name = &tail[..end];
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(ConfigError::BadReference {
                    key: path.to_owned(),
                    reason: format!("{name:?} is not a variable name"),
                });
            }
            let v = lookup(name).ok_or_else(|| ConfigError::MissingEnv {
                key: path.to_owned(),
                var: name.to_owned(),
            })?;
            out.push_str(&v);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ByteSize;
    use crate::sinks::SinkKind;

    const SPEC_EXAMPLE: &str = r#"
[relay]
data_dir = "/var/lib/eventrelay"
shutdown_timeout = "30s"

[admin]
listen = "0.0.0.0:9464"
token = "${EVENTRELAY_ADMIN_TOKEN}"

[upstream]
allowed_hosts = ["run.agnt5.me", "lao-socket.studio.lyzr.ai"]

[[subscriptions]]
id = "coffee-shop"
provider = "agnt5"
url = "wss://run.agnt5.me/ws"
endpoint = "coffee-shop-e66b8d23"
api_key = "${AGNT5_API_KEY}"

[[subscriptions]]
id = "support-ticket-78453"
provider = "lyzr"
url = "wss://lao-socket.studio.lyzr.ai/ws"
flow_name = "Customer_Support_Pipeline"
run_name = "ticket_78453"
backoff_initial = "200ms"

[[sinks]]
name = "warehouse"
kind = "kafka"
brokers = "kafka-0:9092,kafka-1:9092"
topic = "workflow-events"
dead_letter_topic = "workflow-events-dlq"
[sinks.librdkafka]
"compression.type" = "zstd"
"linger.ms" = 5
[sinks.buffer]
type = "disk"
max_size = "1GiB"
when_full = "block"

[[sinks]]
name = "alerts"
kind = "nats"
url = "nats://nats:4222"
subject = "workflow.events.{provider}.{execution_id}.{type}"
jetstream = true
stream = "WORKFLOW_EVENTS"
create_stream = true
filter = { types = ["*.failed", "execution.cancelled"] }

[[sinks]]
name = "archive"
kind = "file"
path = "/var/lib/eventrelay/events.jsonl"
"#;

    fn env(name: &str) -> Option<String> {
        match name {
            "EVENTRELAY_ADMIN_TOKEN" => Some("admin-secret".into()),
            "AGNT5_API_KEY" => Some("sk-agnt5".into()),
            _ => None,
        }
    }

    fn load_toml(text: &str) -> Result<Config, ConfigError> {
        load_str(text, Format::Toml, env, Vec::new())
    }

    #[test]
    fn spec_example_loads() {
        let c = load_toml(SPEC_EXAMPLE).expect("spec example is valid");
        assert_eq!(c.subscriptions.len(), 2);
        assert_eq!(
            c.subscriptions[0].api_key.as_ref().map(|k| k.expose()),
            Some("sk-agnt5")
        );
        assert_eq!(c.subscriptions[1].backoff_initial.get().as_millis(), 200);
        assert_eq!(c.subscriptions[0].backoff_max.get().as_secs(), 30);
        // Read buffers default by provider: AGNT5 busy, Lyzr one per run.
        assert_eq!(c.subscriptions[0].read_buffer(), ByteSize::kib(64));
        assert_eq!(c.subscriptions[1].read_buffer(), ByteSize::kib(4));
        assert_eq!(
            c.admin.token.as_ref().map(|t| t.expose()),
            Some("admin-secret")
        );
        let SinkKind::Kafka(k) = &c.sinks[0].kind else {
            panic!("first sink is kafka")
        };
        assert_eq!(
            k.librdkafka.get("compression.type").map(String::as_str),
            Some("zstd")
        );
        assert_eq!(k.librdkafka.get("linger.ms").map(String::as_str), Some("5"));
        assert_eq!(c.sinks[0].buffer.max_size, ByteSize::gib(1));
        assert_eq!(
            c.sinks[1].filter.types,
            vec!["*.failed", "execution.cancelled"]
        );
        assert!(
            !format!("{c:?}").contains("sk-agnt5"),
            "Debug must not print secrets"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let text = SPEC_EXAMPLE.replace("shutdown_timeout = \"30s\"", "shutdown_timout = \"30s\"");
        let e = load_toml(&text).expect_err("unknown key");
        let msg = e.to_string();
        assert!(
            msg.contains("relay") && msg.contains("shutdown_timout"),
            "{msg}"
        );
    }

    #[test]
    fn unknown_sink_key_is_named() {
        let text =
            SPEC_EXAMPLE.replace("topic = \"workflow-events\"", "topik = \"workflow-events\"");
        let msg = load_toml(&text).expect_err("unknown key").to_string();
        assert!(msg.contains("sinks[0]") && msg.contains("topik"), "{msg}");
    }

    #[test]
    fn missing_env_var_is_named() {
        let e = load_str(SPEC_EXAMPLE, Format::Toml, |_| None, Vec::new()).expect_err("missing");
        let msg = e.to_string();
        assert!(
            msg.contains("EVENTRELAY_ADMIN_TOKEN") && msg.contains("admin.token"),
            "{msg}"
        );
    }

    #[test]
    fn bad_duration_is_named() {
        let text = SPEC_EXAMPLE.replace("\"30s\"", "\"thirty\"");
        let msg = load_toml(&text).expect_err("bad duration").to_string();
        assert!(
            msg.contains("relay.shutdown_timeout") && msg.contains("invalid duration"),
            "{msg}"
        );
    }

    #[test]
    fn bad_enum_is_named() {
        let text = SPEC_EXAMPLE.replace("when_full = \"block\"", "when_full = \"wait\"");
        let msg = load_toml(&text).expect_err("bad enum").to_string();
        assert!(
            msg.contains("buffer.when_full") || msg.contains("when_full"),
            "{msg}"
        );
    }

    #[test]
    fn env_overrides_scalars() {
        let c = load_str(
            SPEC_EXAMPLE,
            Format::Toml,
            env,
            vec![
                ("EVENTRELAY__RELAY__SHUTDOWN_TIMEOUT".into(), "5s".into()),
                ("EVENTRELAY__ADMIN__LISTEN".into(), "127.0.0.1:1234".into()),
            ],
        )
        .expect("valid");
        assert_eq!(c.relay.shutdown_timeout.get().as_secs(), 5);
        assert_eq!(c.admin.listen.port(), 1234);
    }

    #[test]
    fn escaped_reference_stays_literal() {
        assert_eq!(
            expand("a$${B}c$d", "k", &env).ok().as_deref(),
            Some("a${B}c$d")
        );
        assert!(expand("${unterminated", "k", &env).is_err());
        assert!(expand("${1X}", "k", &env).is_err());
    }

    #[test]
    fn yaml_is_accepted() {
        let yaml = r#"
sinks:
  - name: out
    kind: stdout
subscriptions:
  - id: run1
    provider: lyzr
    url: ws://127.0.0.1:9000/ws
    flow_name: f
    run_name: r
"#;
        let c = load_str(yaml, Format::Yaml, env, Vec::new()).expect("valid yaml");
        assert_eq!(c.subscriptions[0].id, "run1");
    }

    #[test]
    fn missing_provider_field_is_named() {
        let text = SPEC_EXAMPLE.replace("endpoint = \"coffee-shop-e66b8d23\"", "");
        let msg = load_toml(&text).expect_err("missing endpoint").to_string();
        assert!(msg.contains("subscriptions[0].endpoint"), "{msg}");
    }
}
