//! `/terminal`: commission and decommission devices, list (by cursor), fetch, update, events,
//! presence. Every simulated terminal is online, free, and receives every event.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{body_json, ok, required, text, ApiResult};
use crate::paystack::records::{TERMINAL, TERMINAL_EVENT};
use crate::paystack::state::{ApiError, State as Account};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/terminal", get(list))
        .route("/terminal/commission_device", post(commission))
        .route("/terminal/decommission_device", post(decommission))
        .route("/terminal/{terminal_id}", get(fetch).put(update))
        .route("/terminal/{terminal_id}/event", post(event))
        .route("/terminal/{terminal_id}/event/{event_id}", get(event_status))
        .route("/terminal/{terminal_id}/presence", get(presence))
}

fn find(state: &Account, terminal_id: &str) -> Result<usize, ApiError> {
    state
        .records
        .find(TERMINAL, terminal_id, &["terminal_id"])
        .ok_or_else(|| ApiError::not_found("Terminal not found"))
}

fn ack(message: &str) -> ApiResult {
    Ok(axum::Json(json!({ "status": true, "message": message })).into_response())
}

async fn commission(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let serial = required(&body, "serial_number")?;
    let mut state = shared.lock();
    if state
        .records
        .find(TERMINAL, &serial, &["serial_number"])
        .is_some()
    {
        return Err(ApiError::bad_request("Device has already been commissioned"));
    }
    let id = state.next_id();
    state.records.push(
        TERMINAL,
        json!({
            "id": id, "serial_number": serial, "device_make": "sim", "terminal_id": format!("{:08}", id % 100_000_000),
            "integration": 100001, "domain": "test", "name": format!("Terminal {serial}"),
            "address": null, "status": "active"
        }),
    );
    ack("Device has been commissioned")
}

async fn decommission(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let serial = required(&body, "serial_number")?;
    let mut state = shared.lock();
    let index = state
        .records
        .find(TERMINAL, &serial, &["serial_number"])
        .ok_or_else(|| ApiError::not_found("Device not found"))?;
    state.records.remove(TERMINAL, index);
    ack("Device has been decommissioned")
}

/// Paged by an opaque cursor, oldest first, as `meta.next`/`meta.previous`.
async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    let all = state.records.all(TERMINAL);
    let per_page = query
        .get("perPage")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(50);
    let start = match query.get("next") {
        None => 0,
        Some(c) => c
            .strip_prefix("sim-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::bad_request("Invalid cursor"))?,
    };
    let data: Vec<Value> = all.iter().skip(start).take(per_page).cloned().collect();
    let end = start + data.len();
    let body = json!({
        "status": true, "message": "Terminals retrieved successfully", "data": data,
        "meta": {
            "next": (end < all.len()).then(|| format!("sim-{end}")),
            "previous": (start > 0).then(|| format!("sim-{}", start.saturating_sub(per_page))),
            "perPage": per_page
        }
    });
    Ok(axum::Json(body).into_response())
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(terminal_id): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &terminal_id)?;
    Ok(ok(
        "Terminal retrieved successfully",
        state.records.all(TERMINAL)[index].clone(),
    ))
}

async fn update(
    State(shared): State<Arc<Shared>>,
    Path(terminal_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = body_json(&body)?;
    let mut state = shared.lock();
    let index = find(&state, &terminal_id)?;
    let record = state
        .records
        .get_mut(TERMINAL, index)
        .ok_or_else(|| ApiError::not_found("Terminal not found"))?;
    for field in ["name", "address"] {
        if let Some(v) = text(&body, field) {
            record[field] = json!(v);
        }
    }
    ack("Terminal Details updated")
}

async fn event(State(shared): State<Arc<Shared>>, Path(terminal_id): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let kind = required(&body, "type")?;
    let action = required(&body, "action")?;
    let allowed = matches!(
        (kind.as_str(), action.as_str()),
        ("invoice", "process" | "view") | ("transaction", "process" | "print")
    );
    if !allowed {
        return Err(ApiError::bad_request(format!(
            "Action {action} is not valid for type {kind}"
        )));
    }
    if !body["data"]["id"].is_number() && !body["data"]["id"].is_string() {
        return Err(ApiError::bad_request("data.id is required"));
    }
    let mut state = shared.lock();
    find(&state, &terminal_id)?;
    let id = state.next_id().to_string();
    state.records.push(
        TERMINAL_EVENT,
        json!({ "event_id": id, "terminal_id": terminal_id, "type": kind, "action": action, "data": body["data"] }),
    );
    Ok(ok("Event sent to Terminal", json!({ "id": id })))
}

async fn event_status(
    State(shared): State<Arc<Shared>>,
    Path((terminal_id, event_id)): Path<(String, String)>,
) -> ApiResult {
    let state = shared.lock();
    find(&state, &terminal_id)?;
    let delivered = state.records.all(TERMINAL_EVENT).iter().any(|e| {
        e["event_id"].as_str() == Some(event_id.as_str())
            && e["terminal_id"].as_str() == Some(terminal_id.as_str())
    });
    Ok(ok("Message Status Retrieved", json!({ "delivered": delivered })))
}

async fn presence(State(shared): State<Arc<Shared>>, Path(terminal_id): Path<String>) -> ApiResult {
    let state = shared.lock();
    find(&state, &terminal_id)?;
    Ok(ok(
        "Terminal status retrieved",
        json!({ "online": true, "available": true }),
    ))
}
