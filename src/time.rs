//! Time helpers: the relay's clock in microseconds and RFC 3339 UTC text.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// RFC 3339 UTC with microseconds (`2025-09-02T09:42:12.567000Z`).
pub fn rfc3339_micros(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// RFC 3339 UTC with milliseconds (`2025-09-02T09:42:12.567Z`).
pub fn rfc3339_millis(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}
