//! The admin HTTP server.
//!
//! Routes:
//! - `GET /healthz`: 200 while the process is alive.
//! - `GET /readyz`: 200 when every readiness latch is released, else 503
//!   with `{"ready": false, "reasons": {"<component>": "<why>"}}`.
//! - `GET /metrics`: Prometheus text format.
//! - `/v1/*`: the subscriptions API, behind the optional bearer token.
//!
//! Every request body is limited to 1 MiB (413 beyond), and every request
//! to 30 s.

mod auth;
mod config;
pub mod v1;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::limit::RequestBodyLimitLayer;

pub use config::AdminConfig;

use crate::config::Secret;
use crate::metrics::Metrics;
use crate::readiness::Readiness;

/// Largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// Longest a request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the health, readiness and metrics routes read.
#[derive(Clone)]
pub struct AdminState {
    /// The relay's metrics.
    pub metrics: Metrics,
    /// The relay's readiness latches.
    pub readiness: Readiness,
}

/// Admin server failures.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("admin server failed: {0}")]
    Serve(std::io::Error),
}

/// Builds the admin router; `v1` holds the API routes (relative to `/v1`),
/// wrapped here in the bearer-token check when `token` is set.
pub fn router(state: AdminState, v1: Router, token: Option<Secret>) -> Router {
    let v1 = match token {
        Some(token) => v1.layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            auth::require_bearer,
        )),
        None => v1,
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .nest("/v1", v1)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
}

/// Binds `addr`.
///
/// # Errors
/// [`AdminError::Bind`].
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, AdminError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| AdminError::Bind { addr, source })
}

/// Serves `router` on `listener` until `shutdown` resolves.
///
/// # Errors
/// [`AdminError::Serve`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AdminError> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(AdminError::Serve)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AdminState>) -> Response {
    match state.readiness.check() {
        Ok(()) => Json(serde_json::json!({ "ready": true })).into_response(),
        Err(reasons) => {
            let reasons: serde_json::Map<String, serde_json::Value> = reasons
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "ready": false, "reasons": reasons })),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests;
