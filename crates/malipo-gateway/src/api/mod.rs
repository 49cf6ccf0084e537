//! The merchant API: JSON over HTTP under `/v1`, on its own listener (`[api] bind`), never on
//! the public callback listener.
//!
//! - **Authentication**: `Authorization: Bearer mk_…` (keys from `malipo api-key create`, stored
//!   as their SHA-256 digest; see [`new_api_key`]). Anything else is 401 `unauthorized`.
//! - **Errors**: `{"error": {"code", "message", "field"}}` with the right status, also for a
//!   malformed body or query ([`ApiError`]). Unknown routes are 404 `route_not_found`; unknown
//!   ids, and ids that do not parse (`pay_x`), are 404 `not_found`.
//! - **Amounts**: integers in minor units, answered as `{"minor": 10000, "currency": "KES"}`.
//! - **Idempotency**: `POST` takes an `Idempotency-Key` header (see [`IDEMPOTENCY_RETENTION`]).
//! - **Lists**: newest first, `{"data": […], "next_cursor": "…" | null}`.
//! - **OpenAPI 3.1** at `GET /v1/openapi.json` ([`openapi`]).
//!
//! One module per endpoint group, each exporting `router()`, merged in this module; a new group
//! (payouts, refunds) is one more module and one more `.merge` line.

mod auth;
mod deliveries;
mod endpoints;
mod error;
mod events;
mod extract;
mod idempotency;
mod openapi;
mod payments;
mod reconcile;
mod records;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

pub use auth::{key_hash, new_api_key, Caller, CreatedKey, KeyEnvironment};
pub use deliveries::{DeliveryBody, DeliveryPage, ListDeliveries};
pub use endpoints::{CreateEndpointBody, EndpointBody, EndpointList, EndpointSecretBody, RotateBody};
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub(crate) use events::replay_event as replay;
pub use events::{mask_email_text, mask_personal, mask_text, EventBody, EventPage, ReplayBody};
pub use events::{replay_checked, ReplayError};
pub use idempotency::{prune as prune_idempotency_keys, RETENTION as IDEMPOTENCY_RETENTION};
pub use payments::{
    parse_create, AmountBody, CreateCheckout, CreatePayment, CreateStkPush, MpesaProvider, PaymentBody,
    PaymentPage, PaymentRequest, PaystackProvider,
};
pub use reconcile::ReconcileBody;

use crate::AppState;

/// The largest request body the API reads.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The longest an API request may take: above a provider call and the idempotency wait.
pub const API_TIMEOUT: Duration = Duration::from_secs(60);

/// The routes behind the API key, with their documentation.
fn protected() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(payments::router())
        .merge(events::router())
        .merge(reconcile::router())
        .merge(deliveries::router())
        .merge(endpoints::router())
        .merge(records::router())
}

/// The OpenAPI 3.1 document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(protected())
        .merge(openapi::router())
        .split_for_parts()
        .1
}

/// Every `/v1` route, over `state`.
pub(crate) fn router(state: &AppState) -> Router {
    let (protected, _) = protected().split_for_parts();
    let protected = protected.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_key,
    ));
    let (open, _) = openapi::router().split_for_parts();
    Router::new()
        .merge(protected)
        .merge(open)
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(deadline))
        .with_state(state.clone())
}

/// Bounds a request's time, answering in the API's error shape. A payment being started runs
/// in its own task, so giving up here never abandons it half-way: its answer is still stored
/// under its `Idempotency-Key` for the retry.
async fn deadline(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    match tokio::time::timeout(API_TIMEOUT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the request took too long; if it started a payment, retry with the same Idempotency-Key to get its answer",
        )
        .into_response(),
    }
}

async fn route_not_found() -> impl IntoResponse {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "no such route; see GET /v1/openapi.json",
    )
}

async fn method_not_allowed() -> impl IntoResponse {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see GET /v1/openapi.json",
    )
}
