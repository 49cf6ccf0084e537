//! What is not Paystack's API: the checkout page a customer pays on, and `/sim/…` controls for
//! people and scripts (authorize a checkout, list and duplicate webhook deliveries).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::state::ApiError;
use super::{webhook, Shared};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/checkout/{access_code}", get(page).post(pay))
        .route("/sim/authorize/{reference}", post(authorize))
        .route("/sim/deliveries", get(deliveries))
        .route("/sim/deliveries/{id}/duplicate", post(duplicate))
        .with_state(shared)
}

fn reference_of(shared: &Shared, access_code: &str) -> Result<String, ApiError> {
    shared
        .lock()
        .transactions
        .iter()
        .find(|t| t.access_code == access_code)
        .map(|t| t.reference.clone())
        .ok_or_else(|| ApiError::not_found("Checkout not found"))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn page(State(shared): State<Arc<Shared>>, Path(access_code): Path<String>) -> Response {
    let state = shared.lock();
    let Some(tx) = state.transactions.iter().find(|t| t.access_code == access_code) else {
        return ApiError::not_found("Checkout not found").into_response();
    };
    Html(format!(
        "<!doctype html><title>Paystack simulator checkout</title>\
         <h1>Pay {currency} {amount} (minor units)</h1><p>Reference {reference}, status {status}</p>\
         <form method=post><button>Pay</button></form>",
        currency = escape(&tx.currency),
        amount = tx.amount,
        reference = escape(&tx.reference),
        status = tx.status,
    ))
    .into_response()
}

async fn pay(State(shared): State<Arc<Shared>>, Path(access_code): Path<String>) -> Response {
    match reference_of(&shared, &access_code).and_then(|r| super::authorize(&shared, &r)) {
        Ok(_) => Html("<!doctype html><title>Paid</title><h1>Payment successful</h1>").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn authorize(State(shared): State<Arc<Shared>>, Path(reference): Path<String>) -> Response {
    match super::authorize(&shared, &reference) {
        Ok(data) => axum::Json(json!({ "status": true, "message": "Charge authorized", "data": data }))
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn deliveries(State(shared): State<Arc<Shared>>) -> Response {
    let list = shared.lock().deliveries.clone();
    axum::Json(json!({ "status": true, "message": "Deliveries", "data": list })).into_response()
}

async fn duplicate(State(shared): State<Arc<Shared>>, Path(id): Path<usize>) -> Response {
    match webhook::duplicate(&shared, id) {
        Some(new_id) => {
            axum::Json(json!({ "status": true, "message": "Duplicate queued", "data": { "id": new_id } }))
                .into_response()
        }
        None => ApiError::not_found("Delivery not found").into_response(),
    }
}
