//! Wiring: builds sinks with their buffers, the router, the sources and the
//! admin server; on shutdown stops sources first, drains the sinks within
//! `relay.shutdown_timeout`, then stops the admin server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::admin::v1::{AllowList, Api};
use crate::admin::{self, AdminState};
use crate::buffer::{self, BufferError};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::normalize::Normalizer;
use crate::readiness::Readiness;
use crate::router::{Route, Router};
use crate::sinks::driver::{self, DriverContext};
use crate::sinks::file::FileSink;
use crate::sinks::filter::TypeFilter;
use crate::sinks::kafka::KafkaSink;
use crate::sinks::nats::NatsSink;
use crate::sinks::stdout::StdoutSink;
use crate::sinks::{SinkConfig, SinkError, SinkKind};
use crate::sources::{Origin, Shared, Store, Supervisor, SupervisorError};

/// Fatal start-up or shutdown failures.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A sink could not be built.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A sink's buffer could not be opened.
    #[error("sink {sink}: {source}")]
    Buffer {
        /// The sink.
        sink: String,
        /// The cause.
        source: BufferError,
    },
    /// The admin server failed.
    #[error(transparent)]
    Admin(#[from] admin::AdminError),
    /// A subscription could not be started.
    #[error("subscriptions: {0}")]
    Subscription(#[from] SupervisorError),
}

/// Runs the relay until `shutdown` resolves, then drains it.
///
/// # Errors
/// When start-up fails; shutdown itself always completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), AppError> {
    let relay = Relay::start(config).await?;
    shutdown.await;
    info!("shutdown requested");
    relay.stop().await;
    Ok(())
}

/// A running relay.
pub struct Relay {
    config: Config,
    metrics: Metrics,
    readiness: Readiness,
    router: Router,
    supervisor: Supervisor,
    maintenance: JoinHandle<()>,
    sinks: TaskTracker,
    deadline: CancellationToken,
    admin_addr: SocketAddr,
    admin_stop: CancellationToken,
    admin_task: JoinHandle<()>,
}

impl Relay {
    /// Starts sinks and the admin server.
    ///
    /// # Errors
    /// When a sink, a buffer or the admin listener cannot be set up.
    pub async fn start(config: Config) -> Result<Self, AppError> {
        let metrics = Metrics::new()?;
        let readiness = Readiness::new();
        let sinks = TaskTracker::new();
        let deadline = CancellationToken::new();
        let mut routes = Vec::with_capacity(config.sinks.len());
        for sink in &config.sinks {
            routes.push(start_sink(sink, &config, &metrics, &readiness, &sinks, &deadline).await?);
        }
        sinks.close();
        let router = Router::new(routes);
        let keep_unredacted = config.sinks.iter().any(|s| !s.redact);
        let supervisor = Supervisor::new(Shared {
            router: router.clone(),
            normalizer: Arc::new(Normalizer::new(&config.normalize, keep_unredacted)),
            metrics: metrics.clone(),
        });
        for sub in &config.subscriptions {
            supervisor.add(sub.clone(), Origin::Config)?;
        }
        let api = Arc::new(Api {
            supervisor: supervisor.clone(),
            store: Arc::new(Store::new(&config.relay.data_dir)),
            allowed_hosts: config.upstream.allowed_hosts.as_deref().map(AllowList::new),
        });
        resume_api_subscriptions(&api).await;
        let maintenance = tokio::spawn(maintain(
            api.clone(),
            config.upstream.finished_retention.get(),
            deadline.clone(),
        ));

        let listener = admin::bind(config.admin.listen).await?;
        let admin_addr = listener
            .local_addr()
            .map_err(|source| admin::AdminError::Bind {
                addr: config.admin.listen,
                source,
            })?;
        let admin_router = admin::router(
            AdminState {
                metrics: metrics.clone(),
                readiness: readiness.clone(),
            },
            admin::v1::routes(api),
            config.admin.token.clone(),
        );
        let admin_stop = CancellationToken::new();
        let stop = admin_stop.clone();
        let admin_task = tokio::spawn(async move {
            if let Err(e) = admin::serve(
                listener,
                admin_router,
                async move { stop.cancelled().await },
            )
            .await
            {
                warn!(error = %e, "admin server stopped");
            }
        });
        info!(admin = %admin_addr, sinks = config.sinks.len(), "relay started");
        Ok(Self {
            config,
            metrics,
            readiness,
            router,
            supervisor,
            maintenance,
            sinks,
            deadline,
            admin_addr,
            admin_stop,
            admin_task,
        })
    }

    /// The admin server's address (useful when listening on port 0).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The router sources write to.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The relay's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The relay's readiness latches.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// The relay's subscriptions.
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// Stops in order: sources (close frames sent), then sinks (drained
    /// until empty or the shutdown timeout), then the admin server.
    pub async fn stop(self) {
        let timeout = self.config.relay.shutdown_timeout.get();
        self.maintenance.abort();
        self.supervisor.shutdown().await;
        drop(self.router);
        if tokio::time::timeout(timeout, self.sinks.wait())
            .await
            .is_err()
        {
            warn!(timeout = ?timeout, "shutdown timeout passed; stopping sinks with events left in their buffers");
            self.deadline.cancel();
            self.sinks.wait().await;
        }
        self.admin_stop.cancel();
        let _ = self.admin_task.await;
        info!("relay stopped");
    }
}

/// Restarts the subscriptions added through the API before the last stop.
async fn resume_api_subscriptions(api: &Api) {
    let saved = match api.store.load().await {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cannot read API-added subscriptions; starting without them");
            return;
        }
    };
    let count = saved.len();
    for sub in saved {
        let id = sub.id.clone();
        if let Err(e) = api.supervisor.add(sub, Origin::Api) {
            warn!(subscription = %id, error = %e, "saved subscription not resumed");
        }
    }
    if count > 0 {
        info!(count, "resumed API-added subscriptions");
    }
}

/// Every few seconds: prunes finished runs past their retention and keeps
/// the store in step with runs that finished.
async fn maintain(api: Arc<Api>, retention: std::time::Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    let mut finished = api.supervisor.finished_api_count();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let pruned = api.supervisor.prune_finished(retention);
        let now_finished = api.supervisor.finished_api_count();
        if !pruned.is_empty() || now_finished != finished {
            finished = now_finished;
            api.persist().await;
        }
    }
}

async fn start_sink(
    sink: &SinkConfig,
    config: &Config,
    metrics: &Metrics,
    readiness: &Readiness,
    tasks: &TaskTracker,
    deadline: &CancellationToken,
) -> Result<Route, AppError> {
    let sink_metrics = metrics.sink(&sink.name);
    let (writer, reader) = buffer::open(
        &sink.name,
        &sink.buffer,
        &config.relay.data_dir,
        sink_metrics.clone(),
    )
    .map_err(|source| AppError::Buffer {
        sink: sink.name.clone(),
        source,
    })?;
    let filter = TypeFilter::new(&sink.filter).map_err(|e| SinkError::Setup {
        sink: sink.name.clone(),
        message: format!("filter: {e}"),
    })?;
    let ctx = DriverContext {
        name: sink.name.clone(),
        metrics: sink_metrics,
        latch: readiness.latch(format!("sink:{}", sink.name), "starting"),
        high_water: sink.buffer.high_water,
        deadline: deadline.clone(),
    };
    match &sink.kind {
        SinkKind::Stdout(_) => {
            tasks.spawn(driver::run(StdoutSink::new(sink.redact), reader, ctx));
        }
        SinkKind::File(c) => {
            let s = FileSink::open(&sink.name, c, sink.redact).await?;
            tasks.spawn(driver::run(s, reader, ctx));
        }
        SinkKind::Kafka(c) => {
            let s = KafkaSink::new(&sink.name, c, sink.redact)?;
            tasks.spawn(driver::run(s, reader, ctx));
        }
        SinkKind::Nats(c) => {
            let s = NatsSink::connect(&sink.name, c, sink.redact, &ctx.metrics).await?;
            tasks.spawn(driver::run(s, reader, ctx));
        }
    }
    Ok(Route {
        sink: Arc::from(sink.name.as_str()),
        filter,
        writer,
    })
}
