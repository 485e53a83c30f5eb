//! Upstream timestamps → microseconds since the epoch: AGNT5 sends ISO 8601
//! text, Lyzr epoch seconds as a float.

use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;

/// Latest accepted instant (year 9999), so a bogus number never overflows.
const MAX_SECS: f64 = 253_402_300_799.0;

/// Parses a timestamp value: RFC 3339 / ISO 8601 text (a missing offset is
/// read as UTC), or epoch seconds (number or numeric text). `None` when
/// absent or unparseable.
pub fn parse(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => epoch_seconds(n.as_f64()?),
        Value::String(s) => iso8601(s).or_else(|| epoch_seconds(s.trim().parse().ok()?)),
        _ => None,
    }
}

fn epoch_seconds(secs: f64) -> Option<i64> {
    if !secs.is_finite() || !(0.0..=MAX_SECS).contains(&secs) {
        return None;
    }
    // Round to the millisecond first: 1756806132.567 is 1756806132.5669999 as a double.
    let ms = (secs * 1000.0).round();
    Some(ms as i64 * 1000)
}

fn iso8601(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.timestamp_micros());
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::time::rfc3339_millis;

    fn text(v: Value) -> Option<String> {
        parse(&v).map(rfc3339_millis)
    }

    #[test]
    fn both_vendors_formats() {
        assert_eq!(
            text(json!(1756806132.567)).as_deref(),
            Some("2025-09-02T09:42:12.567Z")
        );
        assert_eq!(
            text(json!(1756806125)).as_deref(),
            Some("2025-09-02T09:42:05.000Z")
        );
        assert_eq!(
            text(json!("2024-01-10T12:00:00Z")).as_deref(),
            Some("2024-01-10T12:00:00.000Z")
        );
        assert_eq!(
            text(json!("2024-01-10T14:00:00.25+02:00")).as_deref(),
            Some("2024-01-10T12:00:00.250Z")
        );
        assert_eq!(
            text(json!("2024-01-10T12:00:00")).as_deref(),
            Some("2024-01-10T12:00:00.000Z")
        );
        assert_eq!(
            text(json!("1756806132.567")).as_deref(),
            Some("2025-09-02T09:42:12.567Z")
        );
        for bad in [
            json!("yesterday"),
            json!(-1),
            json!(1e300),
            json!(null),
            json!({}),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }
}
