//! `/healthz`, `/readyz` and `/metrics`.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::metrics::{counter, gauge};
use crate::AppState;

/// Every operations route.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Only the liveness check, for the public listener's load balancer.
pub(crate) fn health_router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The database answers: a load balancer should send traffic here.
async fn readyz(State(state): State<AppState>) -> Response {
    let ping = state.store.ping().await;
    let changed = state.metrics.record_readiness(ping.is_ok());
    match ping {
        Ok(()) => {
            if changed {
                tracing::info!("ready again: the database takes writes");
            }
            Json(serde_json::json!({ "status": "ready" })).into_response()
        }
        Err(e) => {
            if changed {
                tracing::error!(error = %e, "not ready: the database does not take writes");
            } else {
                tracing::warn!(error = %e, "not ready: the database does not answer");
            }
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable", "code": "database_unreachable", "detail": "the database does not answer" })),
            )
                .into_response()
        }
    }
}

/// Everything `/metrics` shows, read once per scrape.
#[derive(Debug)]
struct Scrape {
    metrics: Arc<crate::Metrics>,
    guards: Arc<malipo_guard::GuardMetrics>,
    connections: Arc<crate::listener::ListenerCounters>,
    stats: Option<malipo_store::StoreStats>,
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        self.metrics.encode(&mut encoder)?;
        self.guards.encode(&mut encoder)?;
        self.connections.encode(&mut encoder)?;
        let Some(stats) = &self.stats else {
            return Ok(());
        };
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        gauge(
            &mut encoder,
            "malipo_queue_depth",
            "Processing jobs waiting or running.",
            [(vec![], count(stats.jobs_queued))],
        )?;
        gauge(
            &mut encoder,
            "malipo_events",
            "Stored events by status.",
            stats
                .events
                .iter()
                .map(|(status, n)| (vec![("status", status.as_str())], count(*n))),
        )?;
        gauge(
            &mut encoder,
            "malipo_payments_pending",
            "Payments waiting for the provider.",
            [(vec![], count(stats.payments_pending))],
        )?;
        // The SQLite writer's group commits: writes per commit is the group size, which says
        // how much each commit's fixed cost (its WAL pages) is shared.
        if let Some(writer) = stats.group_commits {
            counter(
                &mut encoder,
                "malipo_store_commits",
                "Transactions the SQLite writer committed (one per group of writes).",
                [(vec![], writer.commits)],
            )?;
            counter(
                &mut encoder,
                "malipo_store_writes",
                "Write requests the SQLite writer ran in those transactions.",
                [(vec![], writer.requests)],
            )?;
        }
        Ok(())
    }
}

/// The OpenMetrics text exposition, which Prometheus scrapes.
async fn metrics(State(state): State<AppState>) -> Response {
    let stats = match state.store.stats().await {
        Ok(stats) => Some(stats),
        Err(e) => {
            tracing::warn!(error = %e, "metrics: store statistics unavailable");
            None
        }
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        metrics: state.metrics.clone(),
        guards: state.guards.metrics().clone(),
        connections: state.connections.clone(),
        stats,
    }));
    let mut out = String::with_capacity(8 * 1024);
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::error!(error = %e, "metrics: cannot encode");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
