//! `/v1/subscriptions`: list, add, inspect, delete subscriptions at run
//! time, and send AGNT5 run requests. Responses never contain secrets.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tracing::{info, warn};

use crate::sources::{
    Origin, RunRequest, RunRequestError, Store, SubscriptionConfig, Supervisor, SupervisorError,
};

/// Which hosts API-added subscriptions may point at.
#[derive(Clone, Debug)]
pub struct AllowList {
    hosts: Vec<String>,
}

impl AllowList {
    /// Exact host names, or `*.example.com` for any subdomain.
    pub fn new(hosts: &[String]) -> Self {
        Self {
            hosts: hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }

    /// Whether `host` is allowed.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        self.hosts.iter().any(|h| match h.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")),
            None => h == host,
        })
    }
}

/// What the API routes hold.
pub struct Api {
    /// The subscriptions.
    pub supervisor: Supervisor,
    /// Where API-added subscriptions are kept.
    pub store: Arc<Store>,
    /// `upstream.allowed_hosts`, when set.
    pub allowed_hosts: Option<AllowList>,
}

impl Api {
    /// Saves the API-added subscriptions; logs (does not fail the request)
    /// when the data directory is not writable.
    pub async fn persist(&self) {
        if let Err(e) = self.store.save(&self.supervisor.persistent_configs()).await {
            warn!(error = %e, "cannot persist API-added subscriptions; they will not survive a restart");
        }
    }
}

/// The routes, relative to `/v1`.
pub fn routes(api: Arc<Api>) -> Router {
    Router::new()
        .route("/subscriptions", get(list).post(add))
        .route("/subscriptions/{id}", get(one).delete(remove))
        .route("/subscriptions/{id}/runs", post(run))
        .with_state(api)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn supervisor_error(e: SupervisorError) -> Response {
    let status = match &e {
        SupervisorError::Duplicate(_) | SupervisorError::ConnectionLimit(_) => StatusCode::CONFLICT,
        SupervisorError::NotFound(_) => StatusCode::NOT_FOUND,
        SupervisorError::Invalid { .. } | SupervisorError::NotAgnt5 => StatusCode::BAD_REQUEST,
        SupervisorError::Run(RunRequestError::TooLarge(_)) => StatusCode::PAYLOAD_TOO_LARGE,
        SupervisorError::Run(_) => StatusCode::BAD_REQUEST,
        SupervisorError::NotRunning(_) => StatusCode::CONFLICT,
        SupervisorError::RunQueueFull => StatusCode::TOO_MANY_REQUESTS,
        SupervisorError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
    };
    error(status, e.to_string())
}

/// A JSON body error without echoing values (they may be secrets).
fn body_error(e: JsonRejection) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "request body over 1 MiB");
    }
    let text = e.body_text();
    let reason = if text.contains("unknown field") || text.contains("missing field") {
        // Field names only: serde quotes the field, not the value.
        text.split(": ").skip(1).collect::<Vec<_>>().join(": ")
    } else if text.contains("invalid type") || text.contains("invalid value") {
        let at = text
            .split(" at line")
            .next()
            .and_then(|t| t.split(": ").nth(1))
            .and_then(|t| t.split(" of type").next())
            .unwrap_or("a field");
        format!("{at}: invalid value or type")
    } else {
        "body must be a JSON object".to_owned()
    };
    error(StatusCode::BAD_REQUEST, reason)
}

async fn list(State(api): State<Arc<Api>>) -> Response {
    Json(json!({ "subscriptions": api.supervisor.list() })).into_response()
}

async fn one(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Response {
    match api.supervisor.get(&id) {
        Some(v) => Json(v).into_response(),
        None => supervisor_error(SupervisorError::NotFound(id)),
    }
}

async fn add(
    State(api): State<Arc<Api>>,
    body: Result<Json<SubscriptionConfig>, JsonRejection>,
) -> Response {
    let cfg = match body {
        Ok(Json(c)) => c,
        Err(e) => return body_error(e),
    };
    if let Some(allowed) = &api.allowed_hosts {
        let host = url::Url::parse(&cfg.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        if !allowed.allows(&host) {
            return error(
                StatusCode::BAD_REQUEST,
                format!("url: host {host:?} is not in upstream.allowed_hosts"),
            );
        }
    }
    let id = cfg.id.clone();
    if let Err(e) = api.supervisor.add(cfg, Origin::Api) {
        return supervisor_error(e);
    }
    api.persist().await;
    info!(subscription = %id, "subscription added through the API");
    match api.supervisor.get(&id) {
        Some(v) => (StatusCode::CREATED, Json(v)).into_response(),
        None => error(StatusCode::CONFLICT, "subscription removed meanwhile"),
    }
}

async fn remove(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Response {
    match api.supervisor.remove(&id) {
        Ok(_) => {
            api.persist().await;
            info!(subscription = %id, "subscription deleted through the API");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => supervisor_error(e),
    }
}

async fn run(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    body: Result<Json<RunRequest>, JsonRejection>,
) -> Response {
    let req = match body {
        Ok(Json(r)) => r,
        Err(e) => return body_error(e),
    };
    match api.supervisor.submit_run(&id, &req) {
        Ok(connection_id) => (
            StatusCode::ACCEPTED,
            Json(json!({ "connection_id": connection_id, "state": "queued" })),
        )
            .into_response(),
        Err(e) => supervisor_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_matches_hosts_and_wildcards() {
        let a = AllowList::new(&["run.agnt5.me".into(), "*.lyzr.ai".into()]);
        assert!(a.allows("run.agnt5.me"));
        assert!(a.allows("RUN.AGNT5.ME."));
        assert!(a.allows("lao-socket.studio.lyzr.ai"));
        assert!(!a.allows("lyzr.ai"));
        assert!(!a.allows("evil-lyzr.ai"));
        assert!(!a.allows("kubernetes.default.svc"));
        assert!(!a.allows("run.agnt5.me.evil.com"));
    }
}
