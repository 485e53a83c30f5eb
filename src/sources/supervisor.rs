//! The set of running subscriptions: add, remove, inspect, send run
//! requests. Owned by the relay; the admin API holds a clone.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::agnt5::{self, RunRequest, RunRequestError};
use super::connector::{self, QueuedRun, Shared, Task};
use super::status::{Status, StatusView, SubscriptionState};
use super::target::Target;
use super::SubscriptionConfig;
use crate::record::Provider;

/// Where a subscription was declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The config file (trusted).
    Config,
    /// `POST /v1/subscriptions` (persisted, checked against the allow-list).
    Api,
}

/// Refusals of the supervisor, each mapped to an HTTP status by the API.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The id is taken.
    #[error("subscription {0:?} already exists")]
    Duplicate(String),
    /// No such id.
    #[error("subscription {0:?} not found")]
    NotFound(String),
    /// A field is invalid.
    #[error("{key}: {reason}")]
    Invalid {
        /// The offending field.
        key: String,
        /// Why.
        reason: String,
    },
    /// AGNT5 allows 50 concurrent connections per endpoint.
    #[error("endpoint {0:?} already has {max} subscriptions (AGNT5's connection limit)", max = agnt5::MAX_CONNECTIONS_PER_ENDPOINT)]
    ConnectionLimit(String),
    /// Run requests are an AGNT5 feature.
    #[error("run requests are only for agnt5 subscriptions")]
    NotAgnt5,
    /// The subscription no longer runs.
    #[error("subscription {0:?} is not running")]
    NotRunning(String),
    /// Too many run requests are waiting for the connection.
    #[error("{} run requests already queued; retry later", agnt5::RUN_QUEUE)]
    RunQueueFull,
    /// The relay is stopping.
    #[error("the relay is shutting down")]
    ShuttingDown,
    /// The request itself is invalid.
    #[error(transparent)]
    Run(#[from] RunRequestError),
}

struct Entry {
    cfg: SubscriptionConfig,
    origin: Origin,
    source: String,
    status: Arc<Status>,
    cancel: CancellationToken,
    runs: Option<mpsc::Sender<QueuedRun>>,
}

/// A subscription as the API shows it: never its API key.
#[derive(Clone, Debug, Serialize)]
pub struct SubscriptionView {
    /// Id.
    pub id: String,
    /// Provider.
    pub provider: Provider,
    /// Config file or API.
    pub origin: Origin,
    /// Base URL as configured.
    pub url: String,
    /// The CloudEvents `source` of its events.
    pub source: String,
    /// AGNT5 endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Lyzr flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_name: Option<String>,
    /// Lyzr run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_name: Option<String>,
    /// Whether it runs.
    pub enabled: bool,
    /// State, counters, last error, runs.
    #[serde(flatten)]
    pub status: StatusView,
}

/// The subscriptions of one relay.
#[derive(Clone)]
pub struct Supervisor {
    /// Dropped at shutdown so the sinks' buffers see their writers gone.
    shared: Arc<Mutex<Option<Arc<Shared>>>>,
    metrics: crate::metrics::Metrics,
    entries: Arc<Mutex<BTreeMap<String, Entry>>>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Supervisor {
    /// An empty supervisor publishing through `shared`.
    pub fn new(shared: Shared) -> Self {
        Self {
            metrics: shared.metrics.clone(),
            shared: Arc::new(Mutex::new(Some(Arc::new(shared)))),
            entries: Arc::default(),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        match self.entries.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Validates and starts a subscription.
    ///
    /// # Errors
    /// Invalid fields, a duplicate id, or AGNT5's connection limit.
    pub fn add(&self, cfg: SubscriptionConfig, origin: Origin) -> Result<(), SupervisorError> {
        cfg.validate()
            .map_err(|(key, reason)| SupervisorError::Invalid {
                key: key.to_owned(),
                reason,
            })?;
        let target = Target::new(&cfg).map_err(|e| SupervisorError::Invalid {
            key: "url".into(),
            reason: e.to_string(),
        })?;
        let mut entries = self.lock();
        if entries.contains_key(&cfg.id) {
            return Err(SupervisorError::Duplicate(cfg.id));
        }
        if cfg.provider == Provider::Agnt5 {
            let same = entries
                .values()
                .filter(|e| {
                    e.cfg.provider == Provider::Agnt5
                        && e.source == target.source
                        && e.status.state() != SubscriptionState::Finished
                })
                .count();
            if same >= agnt5::MAX_CONNECTIONS_PER_ENDPOINT {
                return Err(SupervisorError::ConnectionLimit(
                    cfg.endpoint.clone().unwrap_or_default(),
                ));
            }
        }
        let shared = match self.shared.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
        .ok_or(SupervisorError::ShuttingDown)?;
        let status = Status::new(cfg.provider, self.metrics.clone());
        let cancel = self.stop.child_token();
        let mut runs = None;
        if cfg.enabled {
            let (tx, rx) = mpsc::channel(agnt5::RUN_QUEUE);
            runs = Some(tx);
            self.tasks.spawn(connector::run(Task {
                cfg: cfg.clone(),
                target: target.clone(),
                status: status.clone(),
                shared,
                cancel: cancel.clone(),
                runs: rx,
            }));
        } else {
            status.set_error("disabled (enabled = false)");
            status.set_state(SubscriptionState::Finished);
        }
        entries.insert(
            cfg.id.clone(),
            Entry {
                source: target.source,
                cfg,
                origin,
                status,
                cancel,
                runs,
            },
        );
        Ok(())
    }

    /// Stops and forgets a subscription (its socket gets a close frame).
    ///
    /// # Errors
    /// Unknown id.
    pub fn remove(&self, id: &str) -> Result<SubscriptionConfig, SupervisorError> {
        let entry = self
            .lock()
            .remove(id)
            .ok_or_else(|| SupervisorError::NotFound(id.to_owned()))?;
        entry.cancel.cancel();
        entry.status.retire();
        Ok(entry.cfg)
    }

    /// Every subscription, by id.
    pub fn list(&self) -> Vec<SubscriptionView> {
        self.lock().iter().map(|(id, e)| view(id, e)).collect()
    }

    /// One subscription.
    pub fn get(&self, id: &str) -> Option<SubscriptionView> {
        self.lock().get(id).map(|e| view(id, e))
    }

    /// The configs of API-added subscriptions still running (what the
    /// store keeps: a finished run is not resumed after a restart).
    pub fn persistent_configs(&self) -> Vec<SubscriptionConfig> {
        self.lock()
            .values()
            .filter(|e| e.origin == Origin::Api && e.status.state() != SubscriptionState::Finished)
            .map(|e| e.cfg.clone())
            .collect()
    }

    /// Forgets subscriptions finished for longer than `retention`; returns
    /// their ids.
    pub fn prune_finished(&self, retention: std::time::Duration) -> Vec<String> {
        let cutoff =
            crate::time::now_micros() - i64::try_from(retention.as_micros()).unwrap_or(i64::MAX);
        let mut entries = self.lock();
        let old: Vec<String> = entries
            .iter()
            .filter(|(_, e)| {
                e.cfg.enabled && e.status.finished_since().is_some_and(|t| t <= cutoff)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &old {
            if let Some(e) = entries.remove(id) {
                e.cancel.cancel();
                e.status.retire();
            }
        }
        old
    }

    /// How many subscriptions are finished and of API origin (a change
    /// means the store needs saving).
    pub fn finished_api_count(&self) -> usize {
        self.lock()
            .values()
            .filter(|e| e.origin == Origin::Api && e.status.state() == SubscriptionState::Finished)
            .count()
    }

    /// Queues an AGNT5 run request on the subscription's connection;
    /// returns its `connection_id`. Sent once connected, at most 100 per
    /// second; its state shows in the subscription's `runs`.
    ///
    /// # Errors
    /// Unknown id, not AGNT5, not running, over 64 KB, queue full.
    pub fn submit_run(&self, id: &str, req: &RunRequest) -> Result<String, SupervisorError> {
        let entries = self.lock();
        let e = entries
            .get(id)
            .ok_or_else(|| SupervisorError::NotFound(id.to_owned()))?;
        if e.cfg.provider != Provider::Agnt5 {
            return Err(SupervisorError::NotAgnt5);
        }
        let connection_id = agnt5::new_connection_id();
        let message = req.encode(&connection_id)?;
        let tx = e
            .runs
            .as_ref()
            .filter(|tx| !tx.is_closed())
            .ok_or_else(|| SupervisorError::NotRunning(id.to_owned()))?;
        e.status.run_queued(&connection_id, &req.name);
        tx.try_send(QueuedRun {
            connection_id: connection_id.clone(),
            message,
        })
        .map_err(|err| {
            e.status
                .run_state(&connection_id, super::status::RunState::Failed);
            match err {
                mpsc::error::TrySendError::Full(_) => SupervisorError::RunQueueFull,
                mpsc::error::TrySendError::Closed(_) => SupervisorError::NotRunning(id.to_owned()),
            }
        })?;
        Ok(connection_id)
    }

    /// Stops every subscription (close frames sent) and waits for them.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        match self.shared.lock() {
            Ok(mut g) => *g = None,
            Err(poisoned) => *poisoned.into_inner() = None,
        }
    }
}

fn view(id: &str, e: &Entry) -> SubscriptionView {
    SubscriptionView {
        id: id.to_owned(),
        provider: e.cfg.provider,
        origin: e.origin,
        url: e.cfg.url.clone(),
        source: e.source.clone(),
        endpoint: e.cfg.endpoint.clone(),
        flow_name: e.cfg.flow_name.clone(),
        run_name: e.cfg.run_name.clone(),
        enabled: e.cfg.enabled,
        status: e.status.view(),
    }
}
