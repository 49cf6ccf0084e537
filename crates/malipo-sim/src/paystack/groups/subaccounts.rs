//! `/subaccount`: create, fetch, list, update. The settlement bank must be one of the simulated
//! banks; answers name it, as Paystack does.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::misc::BANKS;
use crate::paystack::api::{body_json, ok, page, required, text, ApiResult};
use crate::paystack::records::SUBACCOUNT;
use crate::paystack::state::{code, now, ApiError};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/subaccount", post(create).get(list))
        .route("/subaccount/{id_or_code}", get(fetch).put(update))
}

pub(crate) fn find(state: &crate::paystack::state::State, key: &str) -> Result<usize, ApiError> {
    state
        .records
        .find(SUBACCOUNT, key, &["subaccount_code"])
        .ok_or_else(|| ApiError::not_found("Subaccount not found"))
}

/// The fields of `body` a subaccount keeps, checked.
fn details(body: &Value) -> Result<Vec<(&'static str, Value)>, ApiError> {
    let bank_code = required(body, "settlement_bank")?;
    let bank = BANKS
        .iter()
        .find(|b| b.3 == bank_code)
        .ok_or_else(|| ApiError::bad_request("Invalid settlement bank"))?;
    let percentage = body
        .get("percentage_charge")
        .and_then(Value::as_f64)
        .filter(|p| (0.0..=100.0).contains(p))
        .ok_or_else(|| ApiError::bad_request("percentage_charge must be between 0 and 100"))?;
    let mut fields = vec![
        ("business_name", json!(required(body, "business_name")?)),
        ("account_number", json!(required(body, "account_number")?)),
        ("settlement_bank", json!(bank.1)),
        ("percentage_charge", json!(percentage)),
    ];
    for field in [
        "description",
        "primary_contact_email",
        "primary_contact_name",
        "primary_contact_phone",
    ] {
        if let Some(v) = text(body, field) {
            fields.push((field, json!(v)));
        }
    }
    if let Some(metadata) = body.get("metadata") {
        fields.push(("metadata", metadata.clone()));
    }
    Ok(fields)
}

async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let fields = details(&body)?;
    let mut state = shared.lock();
    let mut record = json!({
        "id": state.next_id(), "subaccount_code": format!("ACCT_{}", code(15)),
        "integration": 100001, "domain": "test", "description": null, "metadata": null,
        "primary_contact_email": null, "primary_contact_name": null, "primary_contact_phone": null,
        "settlement_schedule": "AUTO", "active": true, "is_verified": false, "migrate": false,
        "createdAt": now(), "updatedAt": now()
    });
    for (field, value) in fields {
        record[field] = value;
    }
    state.records.push(SUBACCOUNT, record.clone());
    Ok(ok("Subaccount created", record))
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &key)?;
    Ok(ok(
        "Subaccount retrieved",
        state.records.all(SUBACCOUNT)[index].clone(),
    ))
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    Ok(page(
        "Subaccounts retrieved",
        state.records.all(SUBACCOUNT).to_vec(),
        &query,
    ))
}

async fn update(State(shared): State<Arc<Shared>>, Path(key): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let fields = details(&body)?;
    let mut state = shared.lock();
    let index = find(&state, &key)?;
    let record = state
        .records
        .get_mut(SUBACCOUNT, index)
        .ok_or_else(|| ApiError::not_found("Subaccount not found"))?;
    for (field, value) in fields {
        record[field] = value;
    }
    if let Some(active) = body.get("active").and_then(Value::as_bool) {
        record["active"] = json!(active);
    }
    record["updatedAt"] = json!(now());
    Ok(ok("Subaccount updated", record.clone()))
}
