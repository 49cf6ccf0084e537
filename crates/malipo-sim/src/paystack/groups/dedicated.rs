//! `/dedicated_account`: create, list, fetch, deactivate, requery, available providers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{body_json, ok, page, required, text, ApiResult};
use crate::paystack::records::{CUSTOMER, DEDICATED_ACCOUNT};
use crate::paystack::state::{now, ApiError};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/dedicated_account", post(create).get(list))
        .route("/dedicated_account/requery", get(requery))
        .route("/dedicated_account/available_providers", get(providers))
        .route("/dedicated_account/{id}", get(fetch).delete(deactivate))
}

/// `(id, provider_slug, bank_id, bank_name)`.
const PROVIDERS: [(u64, &str, u64, &str); 2] =
    [(1, "wema-bank", 5, "Wema Bank"), (2, "test-bank", 6, "Test Bank")];

async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let customer = required(&body, "customer")?;
    let slug = text(&body, "preferred_bank").unwrap_or_else(|| "test-bank".to_string());
    let provider = PROVIDERS
        .iter()
        .find(|p| p.1 == slug)
        .ok_or_else(|| ApiError::bad_request("Invalid preferred bank"))?;
    let mut state = shared.lock();
    let index = super::customers::find(&state, &customer)?;
    let customer = state.records.all(CUSTOMER)[index].clone();
    let id = state.next_id();
    let name = [&customer["first_name"], &customer["last_name"]]
        .iter()
        .filter_map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let record = json!({
        "id": id, "account_name": format!("SIM/{}", name.to_uppercase()),
        "account_number": format!("99{:08}", id % 100_000_000), "assigned": true,
        "currency": "NGN", "metadata": null, "active": true,
        "bank": { "id": provider.2, "name": provider.3, "slug": provider.1 },
        "customer": customer, "split_config": null,
        "assignment": {
            "integration": 100001, "assignee_id": customer["id"], "assignee_type": "Customer",
            "expired": false, "account_type": "PAY-WITH-TRANSFER-RECURRING", "assigned_at": now()
        },
        "created_at": now(), "updated_at": now()
    });
    state.records.push(DEDICATED_ACCOUNT, record.clone());
    Ok(ok("NUBAN successfully created", record))
}

fn find(state: &crate::paystack::state::State, id: &str) -> Result<usize, ApiError> {
    state
        .records
        .find(DEDICATED_ACCOUNT, id, &[])
        .ok_or_else(|| ApiError::not_found("Dedicated account not found"))
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    let active = query.get("active").map(String::as_str) != Some("false");
    let items = state
        .records
        .all(DEDICATED_ACCOUNT)
        .iter()
        .filter(|a| a["active"].as_bool() == Some(active))
        .filter(|a| {
            query
                .get("currency")
                .is_none_or(|c| a["currency"].as_str() == Some(c))
        })
        .filter(|a| {
            query
                .get("provider_slug")
                .is_none_or(|s| a["bank"]["slug"].as_str() == Some(s))
        })
        .filter(|a| {
            query.get("customer").is_none_or(|c| {
                a["customer"]["id"]
                    .as_u64()
                    .is_some_and(|id| id.to_string() == *c)
            })
        })
        .cloned()
        .collect();
    Ok(page("Managed accounts successfully retrieved", items, &query))
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &id)?;
    Ok(ok(
        "Customer retrieved",
        state.records.all(DEDICATED_ACCOUNT)[index].clone(),
    ))
}

async fn deactivate(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let mut state = shared.lock();
    let index = find(&state, &id)?;
    let record = state
        .records
        .get_mut(DEDICATED_ACCOUNT, index)
        .ok_or_else(|| ApiError::not_found("Dedicated account not found"))?;
    record["active"] = json!(false);
    record["assigned"] = json!(false);
    record["updated_at"] = json!(now());
    Ok(ok("Managed Account Successfully Unassigned", record.clone()))
}

async fn requery(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let account = query
        .get("account_number")
        .ok_or_else(|| ApiError::bad_request("account_number is required"))?;
    let slug = query
        .get("provider_slug")
        .ok_or_else(|| ApiError::bad_request("provider_slug is required"))?;
    let state = shared.lock();
    let known =
        state.records.all(DEDICATED_ACCOUNT).iter().any(|a| {
            a["account_number"].as_str() == Some(account) && a["bank"]["slug"].as_str() == Some(slug)
        });
    if !known {
        return Err(ApiError::not_found("Dedicated account not found"));
    }
    let message =
        "We are checking the status of your transfer. We will send you a notification once it is confirmed";
    Ok(axum::Json(json!({ "status": true, "message": message })).into_response())
}

async fn providers() -> ApiResult {
    let data: Vec<Value> = PROVIDERS
        .iter()
        .map(|(id, slug, bank_id, name)| {
            json!({ "id": id, "provider_slug": slug, "bank_id": bank_id, "bank_name": name })
        })
        .collect();
    Ok(ok("Dedicated account providers retrieved", Value::Array(data)))
}
