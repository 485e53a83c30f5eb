//! Lyzr specifics: `url/{flow_name}/{run_name}`, the application ping, and
//! the end of a run.

/// The application-level heartbeat the Lyzr socket expects.
pub const APP_PING: &str = r#"{"type":"ping"}"#;

/// The socket URL for one run; flow and run names are path segments
/// (percent-encoded as needed).
pub fn socket_url(base: &url::Url, flow: &str, run: &str) -> url::Url {
    let mut u = base.clone();
    if let Ok(mut segments) = u.path_segments_mut() {
        segments.pop_if_empty().push(flow).push(run);
    }
    u
}

/// Whether a frame is the engine's answer to the application ping
/// (`{"type":"pong"}`): a heartbeat, not an event.
pub fn is_pong(text: &str) -> bool {
    text.len() <= 64
        && serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| {
            v.get("event_type").is_none()
                && matches!(
                    v.get("type").and_then(|t| t.as_str()),
                    Some("pong" | "ping")
                )
        })
}

/// Whether a canonical event type ends a Lyzr run (`flow_completed`,
/// `flow_error`).
pub fn ends_run(event_type: &str) -> bool {
    matches!(event_type, "execution.completed" | "execution.failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_per_run() {
        let base = url::Url::parse("wss://lao-socket.studio.lyzr.ai/ws").unwrap();
        assert_eq!(
            socket_url(&base, "Customer_Support_Pipeline", "ticket 1").as_str(),
            "wss://lao-socket.studio.lyzr.ai/ws/Customer_Support_Pipeline/ticket%201"
        );
        let slash = url::Url::parse("ws://h/ws/").unwrap();
        assert_eq!(socket_url(&slash, "f", "r").as_str(), "ws://h/ws/f/r");
        assert!(ends_run("execution.failed"));
        assert!(is_pong(r#"{"type":"pong"}"#));
        assert!(is_pong(r#"{ "type" : "ping" }"#));
        assert!(!is_pong(r#"{"type":"pong","event_type":"task_started"}"#));
        assert!(!is_pong("pong"));
        assert!(!ends_run("task.failed"));
    }
}
