//! `/healthz`, `/readyz` and `/metrics`.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

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

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::with_capacity(8 * 1024);
    state.metrics.render(&mut out);
    state.guards.metrics().render_prometheus(&mut out);
    state.connections.render_prometheus(&mut out);
    match state.store.stats().await {
        Ok(stats) => {
            out.push_str("# HELP malipo_queue_depth Processing jobs waiting or running.\n# TYPE malipo_queue_depth gauge\n");
            let _ = writeln!(out, "malipo_queue_depth {}", stats.jobs_queued);
            out.push_str("# HELP malipo_events Stored events by status.\n# TYPE malipo_events gauge\n");
            for (status, n) in &stats.events {
                let _ = writeln!(out, "malipo_events{{status=\"{status}\"}} {n}");
            }
            out.push_str("# HELP malipo_payments_pending Payments waiting for the provider.\n# TYPE malipo_payments_pending gauge\n");
            let _ = writeln!(out, "malipo_payments_pending {}", stats.payments_pending);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: store statistics unavailable"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
