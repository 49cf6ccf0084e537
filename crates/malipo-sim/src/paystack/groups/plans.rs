//! `/plan`: create, fetch, list, update.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{amount, body_json, currency, ok, page, required, text, ApiResult};
use crate::paystack::records::{PLAN, SUBSCRIPTION};
use crate::paystack::state::{code, now, ApiError};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/plan", post(create).get(list))
        .route("/plan/{id_or_code}", get(fetch).put(update))
}

const INTERVALS: [&str; 7] = [
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "quarterly",
    "biannually",
    "annually",
];

fn interval(body: &Value) -> Result<String, ApiError> {
    let interval = required(body, "interval")?;
    if INTERVALS.contains(&interval.as_str()) {
        Ok(interval)
    } else {
        Err(ApiError::bad_request(format!(
            "Invalid interval: expected one of {}",
            INTERVALS.join(", ")
        )))
    }
}

fn flag(body: &Value, field: &str) -> Option<bool> {
    body.get(field)?.as_bool()
}

async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let name = required(&body, "name")?;
    let amount = amount(&body)?;
    let interval = interval(&body)?;
    let currency = currency(&body, shared.config.default_currency)?;
    let mut state = shared.lock();
    let id = state.next_id();
    let record = json!({
        "id": id, "name": name, "plan_code": format!("PLN_{}", code(15)), "amount": amount,
        "interval": interval, "currency": currency, "description": text(&body, "description"),
        "send_invoices": flag(&body, "send_invoices").unwrap_or(true),
        "send_sms": flag(&body, "send_sms").unwrap_or(true),
        "invoice_limit": body.get("invoice_limit").and_then(Value::as_u64).unwrap_or(0),
        "hosted_page": false, "integration": 100001, "domain": "test", "is_archived": false,
        "createdAt": now(), "updatedAt": now()
    });
    state.records.push(PLAN, record.clone());
    Ok(ok("Plan created", record))
}

pub(crate) fn find(state: &crate::paystack::state::State, key: &str) -> Result<usize, ApiError> {
    state
        .records
        .find(PLAN, key, &["plan_code"])
        .ok_or_else(|| ApiError::not_found("Plan not found"))
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &key)?;
    Ok(ok("Plan retrieved", state.records.all(PLAN)[index].clone()))
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    let interval = query.get("interval");
    let items = state
        .records
        .all(PLAN)
        .iter()
        .filter(|p| interval.is_none_or(|i| p["interval"].as_str() == Some(i)))
        .cloned()
        .collect();
    Ok(page("Plans retrieved", items, &query))
}

async fn update(State(shared): State<Arc<Shared>>, Path(key): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let mut state = shared.lock();
    let index = find(&state, &key)?;
    let mut changes = Vec::new();
    if body.get("amount").is_some() {
        changes.push(("amount", json!(amount(&body)?)));
    }
    if body.get("interval").is_some() {
        changes.push(("interval", json!(interval(&body)?)));
    }
    for field in ["name", "description", "currency"] {
        if let Some(v) = text(&body, field) {
            changes.push((field, json!(v)));
        }
    }
    let plan_id = {
        let plan = state
            .records
            .get_mut(PLAN, index)
            .ok_or_else(|| ApiError::not_found("Plan not found"))?;
        for (field, value) in changes {
            plan[field] = value;
        }
        plan["updatedAt"] = json!(now());
        plan["id"].clone()
    };
    let affected = state
        .records
        .all(SUBSCRIPTION)
        .iter()
        .filter(|s| s["plan"]["id"] == plan_id)
        .count();
    let message = format!("Plan updated. {affected} subscription(s) affected");
    Ok(axum::Json(json!({ "status": true, "message": message })).into_response())
}
