//! `/transferrecipient` beyond create and list (in `api.rs`): bulk create, fetch, update, delete.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{add_recipient, body_json, ok, required, text, ApiResult};
use crate::paystack::state::{ApiError, Recipient};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/transferrecipient/bulk", post(bulk)).route(
        "/transferrecipient/{id_or_code}",
        get(fetch).put(update).delete(delete),
    )
}

fn find(state: &crate::paystack::state::State, key: &str) -> Result<usize, ApiError> {
    state
        .recipients
        .iter()
        .position(|r| r.active && (r.code == key || r.id.to_string() == key))
        .ok_or_else(|| ApiError::not_found("Recipient not found"))
}

/// Each entry succeeds or fails on its own. Paystack's reference shows only an empty `errors`;
/// the simulator lists a refused entry as `{"error": …, "payload": …}`, which is a guess.
async fn bulk(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let batch = match body.get("batch") {
        Some(Value::Array(items)) if !items.is_empty() => items.clone(),
        _ => return Err(ApiError::bad_request("batch must be a non-empty list")),
    };
    let mut state = shared.lock();
    let (mut success, mut errors) = (Vec::new(), Vec::new());
    for item in &batch {
        match add_recipient(&shared, &mut state, item) {
            Ok(recipient) => success.push(recipient),
            Err(e) => errors.push(json!({ "error": e.message, "payload": item })),
        }
    }
    Ok(ok(
        "Recipients added successfully",
        json!({ "success": success, "errors": errors }),
    ))
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &key)?;
    Ok(ok("Recipient retrieved", state.recipients[index].json()))
}

async fn update(State(shared): State<Arc<Shared>>, Path(key): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let name = required(&body, "name")?;
    let mut state = shared.lock();
    let index = find(&state, &key)?;
    let recipient: &mut Recipient = &mut state.recipients[index];
    recipient.name = name;
    if let Some(email) = text(&body, "email") {
        recipient.email = Some(email);
    }
    Ok(axum::Json(json!({ "status": true, "message": "Recipient updated" })).into_response())
}

async fn delete(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult {
    let mut state = shared.lock();
    let index = find(&state, &key)?;
    state.recipients[index].active = false;
    Ok(
        axum::Json(json!({ "status": true, "message": "Transfer recipient set as inactive" }))
            .into_response(),
    )
}
