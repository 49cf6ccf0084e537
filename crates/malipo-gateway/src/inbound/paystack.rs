//! `POST /webhooks/paystack`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use malipo_core::{EventStatus, Provider};
use malipo_guard::{ClientIp, VerifiedBody};
use malipo_paystack::{identify, Identified};
use malipo_store::NewEvent;

use super::{digest_key, store};
use crate::metrics::Endpoint;
use crate::AppState;

/// The Paystack webhook route, behind the Paystack guard (signature of the raw body).
pub(crate) fn router(state: &AppState) -> Option<Router<AppState>> {
    let secret = state.paystack_secret.clone()?;
    Some(
        Router::new()
            .route("/webhooks/paystack", post(webhook))
            .route_layer(state.guards.paystack(secret)),
    )
}

async fn webhook(
    State(state): State<AppState>,
    Extension(VerifiedBody(body)): Extension<VerifiedBody>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
) -> Response {
    // Only the name and identity are read here; the worker does the typed parse of the stored
    // body (bench/README.md: the full parse was a fifth of the request's CPU).
    let event = match identify(&body) {
        Ok(Identified {
            name,
            dedup_key,
            known: false,
        }) => NewEvent {
            status: EventStatus::RejectedAuthentic,
            last_error: Some(format!("unknown Paystack event {name:?}")),
            ..NewEvent::received(Provider::Paystack, name, dedup_key, body.clone())
        },
        Ok(Identified {
            name,
            dedup_key,
            known: true,
        }) => NewEvent::received(Provider::Paystack, name, dedup_key, body.clone()),
        Err(e) => NewEvent {
            status: EventStatus::Failed,
            last_error: Some(format!("unparseable: {e}")),
            ..NewEvent::received(
                Provider::Paystack,
                "unparseable",
                digest_key("unparseable", &body),
                body.clone(),
            )
        },
    };
    let event = NewEvent {
        source_ip: Some(ip),
        ..event
    };
    match store(&state, Endpoint::Paystack, event).await {
        // Paystack only needs a 2xx; a duplicate is acknowledged the same way so it stops retrying.
        Ok(_) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(response) => response,
    }
}
