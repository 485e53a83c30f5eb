//! A subscription's observable state: the state machine of SPEC section 4,
//! counters and last error, shared between its task, the admin API and the
//! `eventrelay_subscriptions{provider,state}` gauge.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::metrics::Metrics;
use crate::record::Provider;
use crate::time::{now_micros, rfc3339_millis};

/// Where a subscription is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    /// Opening the socket and handshake.
    Connecting,
    /// Receiving events.
    Connected,
    /// Waiting before the next connection attempt.
    Backoff,
    /// The engine refused the credentials; retried at `backoff_max`.
    AuthFailed,
    /// The run is over (Lyzr `flow_completed` / `flow_error`) or the
    /// subscription is disabled: no more connections.
    Finished,
}

impl SubscriptionState {
    /// The snake_case name (metric label, API value).
    pub const fn as_str(self) -> &'static str {
        match self {
            SubscriptionState::Connecting => "connecting",
            SubscriptionState::Connected => "connected",
            SubscriptionState::Backoff => "backoff",
            SubscriptionState::AuthFailed => "auth_failed",
            SubscriptionState::Finished => "finished",
        }
    }
}

/// How many run requests a subscription remembers for inspection.
const RUNS_KEPT: usize = 100;

/// Outcome of an AGNT5 run request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for the connection (or the rate limit).
    Queued,
    /// Written to the socket.
    Sent,
    /// Could not be sent (shutdown or subscription deleted first).
    Failed,
}

/// One run request, as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct RunView {
    /// The generated `connection_id`.
    pub connection_id: String,
    /// The workflow name requested.
    pub name: String,
    /// Queued, sent or failed.
    pub state: RunState,
    /// When it was submitted (RFC 3339).
    pub submitted_at: String,
}

/// Counters of one subscription.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames read from the socket.
    pub frames: AtomicU64,
    /// Canonical events emitted (gap events included).
    pub events: AtomicU64,
    /// Dead letters emitted.
    pub dead_letters: AtomicU64,
    /// Replayed frames dropped as duplicates.
    pub duplicates: AtomicU64,
    /// Reconnections after a drop or failed attempt.
    pub reconnects: AtomicU64,
    /// Gap events emitted.
    pub gaps: AtomicU64,
    /// When the first frame arrived (µs; 0 = none yet).
    pub first_frame_us: AtomicI64,
    /// When the last frame arrived (µs; 0 = none yet).
    pub last_frame_us: AtomicI64,
}

#[derive(Debug)]
struct Mutable {
    state: SubscriptionState,
    since_us: i64,
    last_error: Option<String>,
    runs: VecDeque<RunView>,
    retired: bool,
}

/// Shared status of one subscription.
pub struct Status {
    provider: Provider,
    metrics: Metrics,
    /// Counters, updated without locking.
    pub counters: Counters,
    inner: Mutex<Mutable>,
}

/// A snapshot for the API.
#[derive(Clone, Debug, Serialize)]
pub struct StatusView {
    /// Current state.
    pub state: SubscriptionState,
    /// Since when (RFC 3339).
    pub since: String,
    /// Last connection or protocol error, free of secrets.
    pub last_error: Option<String>,
    /// When the first frame arrived: with Lyzr, events emitted before the
    /// first connection are not replayed by the engine.
    pub first_event_at: Option<String>,
    /// When the last frame arrived.
    pub last_event_at: Option<String>,
    /// Counters.
    pub counters: CountersView,
    /// Recent AGNT5 run requests.
    pub runs: Vec<RunView>,
}

/// Counter values.
#[derive(Clone, Debug, Serialize)]
pub struct CountersView {
    /// Frames read.
    pub frames: u64,
    /// Events emitted.
    pub events: u64,
    /// Dead letters emitted.
    pub dead_letters: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Reconnections.
    pub reconnects: u64,
    /// Gap events.
    pub gaps: u64,
}

impl Status {
    /// A new status in state `connecting`, counted in the gauge.
    pub fn new(provider: Provider, metrics: Metrics) -> Arc<Self> {
        metrics
            .subscriptions
            .with_label_values(&[provider.as_str(), SubscriptionState::Connecting.as_str()])
            .inc();
        Arc::new(Self {
            provider,
            metrics,
            counters: Counters::default(),
            inner: Mutex::new(Mutable {
                state: SubscriptionState::Connecting,
                since_us: now_micros(),
                last_error: None,
                runs: VecDeque::new(),
                retired: false,
            }),
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Mutable) -> R) -> R {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Moves to `state`, keeping the gauge exact.
    pub fn set_state(&self, state: SubscriptionState) {
        let provider = self.provider.as_str();
        self.with(|m| {
            if m.state == state || m.retired {
                return;
            }
            let g = &self.metrics.subscriptions;
            g.with_label_values(&[provider, m.state.as_str()]).dec();
            g.with_label_values(&[provider, state.as_str()]).inc();
            m.state = state;
            m.since_us = now_micros();
        });
    }

    /// The current state.
    pub fn state(&self) -> SubscriptionState {
        self.with(|m| m.state)
    }

    /// Since when (µs) the subscription has been finished, if it is.
    pub fn finished_since(&self) -> Option<i64> {
        self.with(|m| (m.state == SubscriptionState::Finished).then_some(m.since_us))
    }

    /// Records the last error (must be free of secrets).
    pub fn set_error(&self, error: impl Into<String>) {
        let e = error.into();
        self.with(|m| m.last_error = Some(e));
    }

    /// Records a frame's arrival (lock-free: this is on every frame's path).
    pub fn frame_at(&self, us: i64) {
        let c = &self.counters;
        c.frames.fetch_add(1, Ordering::Relaxed);
        let _ = c
            .first_frame_us
            .compare_exchange(0, us, Ordering::Relaxed, Ordering::Relaxed);
        c.last_frame_us.store(us, Ordering::Relaxed);
    }

    /// Adds a run request in state `queued`.
    pub fn run_queued(&self, connection_id: &str, name: &str) {
        let view = RunView {
            connection_id: connection_id.to_owned(),
            name: name.to_owned(),
            state: RunState::Queued,
            submitted_at: rfc3339_millis(now_micros()),
        };
        self.with(|m| {
            if m.runs.len() == RUNS_KEPT {
                m.runs.pop_front();
            }
            m.runs.push_back(view);
        });
    }

    /// Updates a run request's state.
    pub fn run_state(&self, connection_id: &str, state: RunState) {
        self.with(|m| {
            if let Some(r) = m.runs.iter_mut().find(|r| r.connection_id == connection_id) {
                r.state = state;
            }
        });
    }

    /// Removes the subscription from the gauge (it was deleted).
    pub fn retire(&self) {
        let provider = self.provider.as_str();
        self.with(|m| {
            if !m.retired {
                self.metrics
                    .subscriptions
                    .with_label_values(&[provider, m.state.as_str()])
                    .dec();
                m.retired = true;
            }
        });
    }

    /// A snapshot.
    pub fn view(&self) -> StatusView {
        let c = &self.counters;
        let counters = CountersView {
            frames: c.frames.load(Ordering::Relaxed),
            events: c.events.load(Ordering::Relaxed),
            dead_letters: c.dead_letters.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            gaps: c.gaps.load(Ordering::Relaxed),
        };
        let at = |a: &AtomicI64| match a.load(Ordering::Relaxed) {
            0 => None,
            us => Some(rfc3339_millis(us)),
        };
        let (first_event_at, last_event_at) = (at(&c.first_frame_us), at(&c.last_frame_us));
        self.with(|m| StatusView {
            state: m.state,
            since: rfc3339_millis(m.since_us),
            last_error: m.last_error.clone(),
            first_event_at,
            last_event_at,
            counters,
            runs: m.runs.iter().cloned().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_follows_the_state() {
        let metrics = Metrics::new().unwrap();
        let s = Status::new(Provider::Lyzr, metrics.clone());
        let g = |st: &str| metrics.subscriptions.with_label_values(&["lyzr", st]).get();
        assert_eq!(g("connecting"), 1);
        s.set_state(SubscriptionState::Connected);
        assert_eq!((g("connecting"), g("connected")), (0, 1));
        s.set_state(SubscriptionState::Finished);
        s.retire();
        s.retire();
        assert_eq!((g("connected"), g("finished")), (0, 0));
        s.set_state(SubscriptionState::Connecting);
        assert_eq!(g("connecting"), 0);
    }
}
