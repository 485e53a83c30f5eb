//! The metric contract (SPEC section 8): every metric is registered here,
//! once, with its exact name, type and labels. Label values are bounded:
//! providers, sink names, reasons and states; never a per-run value.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::record::{DeadLetterReason, Provider};

/// Reasons an event is dropped (`eventrelay_events_dropped_total{reason}`).
pub mod drop_reason {
    /// A `drop_newest` buffer was full.
    pub const BUFFER_FULL: &str = "buffer_full";
    /// Shutdown deadline passed with events left in a memory buffer.
    pub const SHUTDOWN: &str = "shutdown";
    /// The broker refused a dead-letter record for good (the event itself
    /// was already turned into that dead letter): nothing is left to send.
    pub const REJECTED: &str = "rejected";
    /// A disk buffer record failed its checksum or was truncated.
    pub const CORRUPT: &str = "corrupt";
}

/// Subscription states, as labels of `eventrelay_subscriptions{state}`.
pub const SUBSCRIPTION_STATES: [&str; 5] = [
    "connecting",
    "connected",
    "backoff",
    "auth_failed",
    "finished",
];

/// Publish latency buckets, from loopback (sub-millisecond) to a broker
/// outage (minutes).
const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    120.0,
];

/// Every metric of the relay, registered in one [`Registry`].
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `eventrelay_events_received_total{provider}`: frames read from sockets.
    pub events_received: IntCounterVec,
    /// `eventrelay_events_published_total{sink}`: events the broker acknowledged.
    pub events_published: IntCounterVec,
    /// `eventrelay_events_dead_lettered_total{sink,reason}`.
    pub events_dead_lettered: IntCounterVec,
    /// `eventrelay_events_dropped_total{sink,reason}`.
    pub events_dropped: IntCounterVec,
    /// `eventrelay_events_duplicate_total{provider}`: frames replayed after a
    /// reconnect and published once.
    pub events_duplicate: IntCounterVec,
    /// `eventrelay_buffer_events{sink}`.
    pub buffer_events: IntGaugeVec,
    /// `eventrelay_buffer_bytes{sink}`.
    pub buffer_bytes: IntGaugeVec,
    /// `eventrelay_sink_up{sink}` (0/1).
    pub sink_up: IntGaugeVec,
    /// `eventrelay_subscriptions{provider,state}`.
    pub subscriptions: IntGaugeVec,
    /// `eventrelay_reconnects_total{provider}`.
    pub reconnects: IntCounterVec,
    /// `eventrelay_disconnected_seconds_total{provider}` (counted in
    /// milliseconds precision, exposed as seconds).
    pub disconnected_seconds: prometheus::CounterVec,
    /// `eventrelay_publish_latency_seconds{sink}`: frame received → broker ack.
    pub publish_latency: HistogramVec,
    /// `eventrelay_build_info{version}` = 1.
    pub build_info: IntGaugeVec,
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    ///
    /// # Errors
    /// Only if a metric definition is invalid, which tests rule out.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let counter =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
                let c = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let gauge =
            |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec, prometheus::Error> {
                let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(g.clone()))?;
                Ok(g)
            };
        let disconnected_seconds = prometheus::CounterVec::new(
            Opts::new(
                "eventrelay_disconnected_seconds_total",
                "Time subscriptions spent disconnected, in seconds",
            ),
            &["provider"],
        )?;
        registry.register(Box::new(disconnected_seconds.clone()))?;
        let publish_latency = HistogramVec::new(
            HistogramOpts::new(
                "eventrelay_publish_latency_seconds",
                "Time from frame received to broker acknowledgement",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["sink"],
        )?;
        registry.register(Box::new(publish_latency.clone()))?;

        let m = Self {
            events_received: counter(
                "eventrelay_events_received_total",
                "Frames received from upstream sockets",
                &["provider"],
            )?,
            events_published: counter(
                "eventrelay_events_published_total",
                "Events acknowledged by a sink's broker",
                &["sink"],
            )?,
            events_dead_lettered: counter(
                "eventrelay_events_dead_lettered_total",
                "Records delivered to a sink's dead-letter destination",
                &["sink", "reason"],
            )?,
            events_dropped: counter(
                "eventrelay_events_dropped_total",
                "Events dropped on purpose (drop_newest buffer full, shutdown)",
                &["sink", "reason"],
            )?,
            events_duplicate: counter(
                "eventrelay_events_duplicate_total",
                "Frames received again after a reconnect and published once",
                &["provider"],
            )?,
            buffer_events: gauge(
                "eventrelay_buffer_events",
                "Events in a sink's buffer",
                &["sink"],
            )?,
            buffer_bytes: gauge(
                "eventrelay_buffer_bytes",
                "Bytes in a sink's buffer",
                &["sink"],
            )?,
            sink_up: gauge(
                "eventrelay_sink_up",
                "Whether a sink's broker is reachable (0/1)",
                &["sink"],
            )?,
            subscriptions: gauge(
                "eventrelay_subscriptions",
                "Subscriptions by provider and state",
                &["provider", "state"],
            )?,
            reconnects: counter(
                "eventrelay_reconnects_total",
                "Reconnections to upstream sockets",
                &["provider"],
            )?,
            disconnected_seconds,
            publish_latency,
            build_info: gauge("eventrelay_build_info", "Build information", &["version"])?,
            registry,
        };
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for p in Provider::ALL {
            let p = p.as_str();
            m.events_received.with_label_values(&[p]);
            m.events_duplicate.with_label_values(&[p]);
            m.reconnects.with_label_values(&[p]);
            m.disconnected_seconds.with_label_values(&[p]);
            for s in SUBSCRIPTION_STATES {
                m.subscriptions.with_label_values(&[p, s]);
            }
        }
        Ok(m)
    }

    /// Pre-registers a sink's series so dashboards see zeros, not gaps, and
    /// returns the sink's handles.
    pub fn sink(&self, sink: &str) -> SinkMetrics {
        for r in DeadLetterReason::ALL {
            self.events_dead_lettered
                .with_label_values(&[sink, r.as_str()]);
        }
        for r in [
            drop_reason::BUFFER_FULL,
            drop_reason::SHUTDOWN,
            drop_reason::REJECTED,
            drop_reason::CORRUPT,
        ] {
            self.events_dropped.with_label_values(&[sink, r]);
        }
        SinkMetrics {
            published: self.events_published.with_label_values(&[sink]),
            buffer_events: self.buffer_events.with_label_values(&[sink]),
            buffer_bytes: self.buffer_bytes.with_label_values(&[sink]),
            up: self.sink_up.with_label_values(&[sink]),
            latency: self.publish_latency.with_label_values(&[sink]),
            dropped_full: self
                .events_dropped
                .with_label_values(&[sink, drop_reason::BUFFER_FULL]),
            dropped_rejected: self
                .events_dropped
                .with_label_values(&[sink, drop_reason::REJECTED]),
            dropped_corrupt: self
                .events_dropped
                .with_label_values(&[sink, drop_reason::CORRUPT]),
            dead_lettered: self.events_dead_lettered.clone(),
            name: sink.to_owned(),
        }
    }

    /// The registry, for `/metrics`.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// One sink's metric handles, resolved once (no label lookups per event).
#[derive(Clone)]
pub struct SinkMetrics {
    name: String,
    /// Events acknowledged.
    pub published: IntCounter,
    /// Buffer depth in events.
    pub buffer_events: IntGauge,
    /// Buffer depth in bytes.
    pub buffer_bytes: IntGauge,
    /// Broker reachable.
    pub up: IntGauge,
    /// Publish latency.
    pub latency: Histogram,
    /// Drops because a `drop_newest` buffer was full.
    pub dropped_full: IntCounter,
    /// Drops of dead letters the broker refused for good.
    pub dropped_rejected: IntCounter,
    /// Disk buffer records skipped as corrupt.
    pub dropped_corrupt: IntCounter,
    dead_lettered: IntCounterVec,
}

impl SinkMetrics {
    /// Counts a dead letter delivered by this sink.
    pub fn dead_lettered(&self, reason: DeadLetterReason) -> IntCounter {
        self.dead_lettered
            .with_label_values(&[&self.name, reason.as_str()])
    }
}

/// A metric of the contract: name, type and label names.
pub type ContractMetric = (&'static str, &'static str, &'static [&'static str]);

/// Every metric of the contract (SPEC section 8), with its type and labels,
/// as exposed on `/metrics`. Tests, the dashboard and the alert rules are
/// checked against this one table.
pub const CONTRACT: [ContractMetric; 13] = [
    ("eventrelay_events_received_total", "counter", &["provider"]),
    ("eventrelay_events_published_total", "counter", &["sink"]),
    (
        "eventrelay_events_dead_lettered_total",
        "counter",
        &["sink", "reason"],
    ),
    (
        "eventrelay_events_dropped_total",
        "counter",
        &["sink", "reason"],
    ),
    (
        "eventrelay_events_duplicate_total",
        "counter",
        &["provider"],
    ),
    ("eventrelay_buffer_events", "gauge", &["sink"]),
    ("eventrelay_buffer_bytes", "gauge", &["sink"]),
    ("eventrelay_sink_up", "gauge", &["sink"]),
    ("eventrelay_subscriptions", "gauge", &["provider", "state"]),
    ("eventrelay_reconnects_total", "counter", &["provider"]),
    (
        "eventrelay_disconnected_seconds_total",
        "counter",
        &["provider"],
    ),
    ("eventrelay_publish_latency_seconds", "histogram", &["sink"]),
    ("eventrelay_build_info", "gauge", &["version"]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_metric_is_exposed() {
        let m = Metrics::new().expect("metrics register");
        m.sink("warehouse");
        let text = m.render();
        for (name, _, _) in CONTRACT {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing");
        }
    }
}
