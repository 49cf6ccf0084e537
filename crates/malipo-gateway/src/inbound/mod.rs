//! The inbound path: verified callbacks and webhooks, stored durably, deduplicated, then
//! acknowledged (DESIGN.md, "The inbound path").
//!
//! The guard layer has already checked the source, the rate, the size and the signature or token
//! when a handler runs; a handler parses just enough to find the event's identity, stores it with
//! its job in one transaction, and answers only after the commit.

mod mpesa;
mod paystack;

use std::time::Instant;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use malipo_core::EventStatus;
use malipo_store::{Ingested, NewEvent};
use sha2::{Digest, Sha256};

use crate::metrics::{Endpoint, Outcome};
use crate::AppState;

pub(crate) use mpesa::{c2b_dedup_key, router as mpesa_router};
pub(crate) use paystack::router as paystack_router;

/// Stores `event` and counts the outcome; a store failure becomes a 503 the provider retries.
pub(crate) async fn store(
    state: &AppState,
    endpoint: Endpoint,
    event: NewEvent,
) -> Result<Ingested, Response> {
    let status = event.status;
    let provider = event.provider;
    let started = Instant::now();
    let result = state.store.ingest(event).await;
    state.metrics.commit(started.elapsed());
    match result {
        Ok(ingested) => {
            let outcome = match (&ingested, status) {
                (Ingested::Duplicate(_), _) => Outcome::Duplicate,
                (_, EventStatus::Failed) => Outcome::StoredFailed,
                (_, EventStatus::RejectedAuthentic) => Outcome::StoredRejected,
                _ => Outcome::Accepted,
            };
            state.metrics.request(endpoint, outcome);
            if let Ingested::New(id) = &ingested {
                state.worker_wakeup.notify_one();
                tracing::debug!(event = %id, %provider, "stored");
            }
            Ok(ingested)
        }
        Err(e) => {
            state.metrics.request(endpoint, Outcome::StoreError);
            tracing::error!(%provider, error = %e, "could not store an inbound event; answering 503 so the provider retries");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "5")],
                Json(serde_json::json!({
                    "code": "storage_unavailable",
                    "detail": "the event could not be stored; retry later",
                })),
            )
                .into_response())
        }
    }
}

/// The identity of an authentic body that cannot be parsed: its digest, so a retry of the same
/// bytes is stored once.
pub(crate) fn digest_key(prefix: &str, body: &[u8]) -> String {
    format!("{prefix}:sha256:{}", hex::encode(Sha256::digest(body)))
}
