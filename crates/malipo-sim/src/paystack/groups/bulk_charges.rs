//! `/bulkcharge`: initiate, list, fetch, list charges, pause, resume. Batches wait, `active`,
//! until a test calls [`crate::paystack::PaystackSimHandle::run_bulk_charges`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{amount, deliver, ok, page, required, ApiResult};
use crate::paystack::records::{BULK_BATCH, BULK_CHARGE};
use crate::paystack::state::{code, now, ApiError, State as Account, Tx};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/bulkcharge", axum::routing::post(initiate).get(list))
        .route(
            "/bulkcharge/pause/{code}",
            get(|s, c| toggle(s, c, "active", "paused")),
        )
        .route(
            "/bulkcharge/resume/{code}",
            get(|s, c| toggle(s, c, "paused", "active")),
        )
        .route("/bulkcharge/{id_or_code}", get(fetch))
        .route("/bulkcharge/{id_or_code}/charges", get(charges))
}

fn find(state: &Account, key: &str) -> Result<usize, ApiError> {
    state
        .records
        .find(BULK_BATCH, key, &["batch_code"])
        .ok_or_else(|| ApiError::not_found("Bulk charge batch not found"))
}

/// The batch with its counts as they are now.
fn render(state: &Account, batch: &Value) -> Value {
    let mine: Vec<&Value> = state
        .records
        .all(BULK_CHARGE)
        .iter()
        .filter(|c| c["bulkcharge"] == batch["id"])
        .collect();
    let mut out = batch.clone();
    out["total_charges"] = json!(mine.len());
    out["pending_charges"] = json!(mine.iter().filter(|c| c["status"] == json!("pending")).count());
    out
}

/// The body is a JSON list, unlike every other endpoint.
async fn initiate(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let items = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            return Err(ApiError::bad_request(
                "Request body must be a non-empty JSON list of charges",
            ))
        }
    };
    let mut checked = Vec::new();
    for item in &items {
        let currency = item["currency"]
            .as_str()
            .unwrap_or(shared.config.default_currency.code())
            .to_string();
        checked.push((
            required(item, "authorization")?,
            amount(item)?,
            required(item, "reference")?,
            currency,
        ));
    }
    let mut state = shared.lock();
    let batch_id = state.next_id();
    let batch = json!({
        "id": batch_id, "batch_code": format!("BCH_{}", code(15)), "reference": format!("bulkcharge-{batch_id}"),
        "status": "active", "integration": 100001, "domain": "test",
        "createdAt": now(), "updatedAt": now()
    });
    for (authorization, amount, reference, currency) in checked {
        let id = state.next_id();
        state.records.push(
            BULK_CHARGE,
            json!({
                "id": id, "bulkcharge": batch_id, "authorization": { "authorization_code": authorization },
                "amount": amount, "currency": currency, "reference": reference, "status": "pending",
                "customer": null, "transaction": null, "domain": "test", "createdAt": now()
            }),
        );
    }
    state.records.push(BULK_BATCH, batch.clone());
    Ok(ok("Charges have been queued", render(&state, &batch)))
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    let items = state
        .records
        .all(BULK_BATCH)
        .iter()
        .map(|b| render(&state, b))
        .collect();
    Ok(page("Bulk charges retrieved", items, &query))
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &key)?;
    Ok(ok(
        "Bulk charge retrieved",
        render(&state, &state.records.all(BULK_BATCH)[index]),
    ))
}

async fn charges(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &key)?;
    let batch_id = state.records.all(BULK_BATCH)[index]["id"].clone();
    let items = state
        .records
        .all(BULK_CHARGE)
        .iter()
        .filter(|c| c["bulkcharge"] == batch_id)
        .filter(|c| {
            query
                .get("status")
                .is_none_or(|s| c["status"].as_str() == Some(s))
        })
        .cloned()
        .collect();
    Ok(page("Bulk charge items retrieved", items, &query))
}

async fn toggle(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    from: &str,
    to: &str,
) -> ApiResult {
    let mut state = shared.lock();
    let index = find(&state, &key)?;
    let batch = state
        .records
        .get_mut(BULK_BATCH, index)
        .ok_or_else(|| ApiError::not_found("Bulk charge batch not found"))?;
    if batch["status"].as_str() != Some(from) {
        return Err(ApiError::bad_request(format!("Batch is not {from}")));
    }
    batch["status"] = json!(to);
    let message = if to == "paused" {
        "Bulk charge batch has been paused"
    } else {
        "Bulk charge batch has been resumed"
    };
    Ok(axum::Json(json!({ "status": true, "message": message })).into_response())
}

pub(crate) fn run(shared: &Arc<Shared>) -> usize {
    let mut webhooks = Vec::new();
    let mut attempted = 0;
    {
        let mut state = shared.lock();
        let active: Vec<Value> = state
            .records
            .all(BULK_BATCH)
            .iter()
            .filter(|b| b["status"] == json!("active"))
            .map(|b| b["id"].clone())
            .collect();
        let pending: Vec<usize> = state
            .records
            .all(BULK_CHARGE)
            .iter()
            .enumerate()
            .filter(|(_, c)| c["status"] == json!("pending") && active.contains(&c["bulkcharge"]))
            .map(|(i, _)| i)
            .collect();
        for index in pending {
            attempted += 1;
            let charge = state.records.all(BULK_CHARGE)[index].clone();
            let auth = charge["authorization"]["authorization_code"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let original = state
                .transactions
                .iter()
                .find(|t| t.authorization_code.as_deref() == Some(auth.as_str()))
                .filter(|_| !state.deactivated_authorizations.contains(&auth))
                .cloned();
            let (status, transaction, customer) = match original {
                Some(original) => {
                    let tx = Tx {
                        id: state.next_id(),
                        reference: charge["reference"].as_str().unwrap_or_default().to_string(),
                        access_code: code(15),
                        amount: charge["amount"].as_u64().unwrap_or(0),
                        currency: charge["currency"].as_str().unwrap_or_default().to_string(),
                        status: "success",
                        metadata: Value::Null,
                        created_at: now(),
                        paid_at: Some(now()),
                        refunded: 0,
                        ..original
                    };
                    let json = tx.json();
                    webhooks.push(("charge.success", json.clone()));
                    state.transactions.push(tx);
                    (
                        "success",
                        json!({ "id": json["id"], "reference": json["reference"] }),
                        json["customer"].clone(),
                    )
                }
                None => ("failed", Value::Null, Value::Null),
            };
            if let Some(record) = state.records.get_mut(BULK_CHARGE, index) {
                record["status"] = json!(status);
                record["transaction"] = transaction;
                record["customer"] = customer;
            }
        }
        for id in active {
            let index = state.records.find(BULK_BATCH, &id.to_string(), &[]);
            if let Some(batch) = index.and_then(|i| state.records.get_mut(BULK_BATCH, i)) {
                batch["status"] = json!("complete");
            }
        }
    }
    deliver(shared, webhooks);
    attempted
}
