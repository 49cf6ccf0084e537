//! `/dispute`: list, fetch, evidence, upload URL, resolve. Disputes are opened by a test through
//! [`crate::paystack::PaystackSimHandle::open_dispute`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{body_json, deliver, ok, page, required, text, ApiResult};
use crate::paystack::records::{DISPUTE, EVIDENCE};
use crate::paystack::state::{now, ApiError, State as Account};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/dispute", get(list))
        .route("/dispute/{id}", get(fetch))
        .route("/dispute/{id}/evidence", post(evidence))
        .route("/dispute/{id}/upload_url", get(upload_url))
        .route("/dispute/{id}/resolve", put(resolve))
}

const AWAITING: &str = "awaiting-merchant-feedback";

pub(crate) fn open(shared: &Arc<Shared>, reference: &str) -> Result<Value, ApiError> {
    let dispute = {
        let mut state = shared.lock();
        let index = state
            .tx_by_reference(reference)
            .ok_or_else(|| ApiError::not_found("Transaction reference not found"))?;
        let tx = state.transactions[index].clone();
        if tx.paid_at.is_none() {
            return Err(ApiError::bad_request("Only a paid transaction can be disputed"));
        }
        let transaction = tx.json();
        let dispute = json!({
            "id": state.next_id(), "refund_amount": tx.amount, "currency": tx.currency,
            "status": AWAITING, "resolution": null, "domain": "test", "category": "chargeback",
            "transaction": transaction, "transaction_reference": tx.reference,
            "customer": transaction["customer"], "bin": "408408", "last4": "4081",
            "dueAt": now(), "resolvedAt": null, "evidence": null, "attachments": null,
            "note": null, "history": [{ "status": "pending", "by": "sim", "createdAt": now() }],
            "messages": [], "createdAt": now(), "updatedAt": now()
        });
        state.records.push(DISPUTE, dispute.clone());
        dispute
    };
    deliver(shared, vec![("charge.dispute.create", dispute.clone())]);
    Ok(dispute)
}

fn find(state: &Account, id: &str) -> Result<usize, ApiError> {
    state
        .records
        .find(DISPUTE, id, &[])
        .ok_or_else(|| ApiError::not_found("Dispute not found"))
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    let items = state
        .records
        .all(DISPUTE)
        .iter()
        .filter(|d| {
            query
                .get("status")
                .is_none_or(|s| d["status"].as_str() == Some(s))
        })
        .filter(|d| {
            query.get("transaction").is_none_or(|t| {
                d["transaction"]["id"]
                    .as_u64()
                    .is_some_and(|id| id.to_string() == *t)
            })
        })
        .cloned()
        .collect();
    Ok(page("Disputes retrieved", items, &query))
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &id)?;
    Ok(ok("Dispute retrieved", state.records.all(DISPUTE)[index].clone()))
}

async fn evidence(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let mut fields = Vec::new();
    for field in [
        "customer_email",
        "customer_name",
        "customer_phone",
        "service_details",
    ] {
        fields.push((field, required(&body, field)?));
    }
    let mut state = shared.lock();
    let index = find(&state, &id)?;
    let dispute_id = state.records.all(DISPUTE)[index]["id"].clone();
    let mut record = json!({
        "id": state.next_id(), "dispute": dispute_id,
        "delivery_address": text(&body, "delivery_address"),
        "delivery_date": text(&body, "delivery_date"), "createdAt": now(), "updatedAt": now()
    });
    for (field, value) in fields {
        record[field] = json!(value);
    }
    if let Some(dispute) = state.records.get_mut(DISPUTE, index) {
        dispute["evidence"] = record["id"].clone();
    }
    state.records.push(EVIDENCE, record.clone());
    Ok(ok("Evidence created", record))
}

async fn upload_url(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let name = query
        .get("upload_filename")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("upload_filename is required"))?;
    let state = shared.lock();
    find(&state, &id)?;
    let file_name = format!("{id}-{name}");
    let signed_url = shared.url(&["uploads", &file_name]);
    Ok(ok(
        "Upload url generated",
        json!({ "signedUrl": signed_url, "fileName": file_name, "expiresIn": 3600 }),
    ))
}

/// Paystack refunds an accepted dispute's `refund_amount` itself; the simulator only records the
/// resolution.
async fn resolve(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let resolution = required(&body, "resolution")?;
    if !matches!(resolution.as_str(), "merchant-accepted" | "declined") {
        return Err(ApiError::bad_request(
            "resolution must be merchant-accepted or declined",
        ));
    }
    required(&body, "message")?;
    required(&body, "uploaded_filename")?;
    let refund_amount = body
        .get("refund_amount")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::bad_request("refund_amount is required"))?;
    let resolved = {
        let mut state = shared.lock();
        let index = find(&state, &id)?;
        let dispute = state
            .records
            .get_mut(DISPUTE, index)
            .ok_or_else(|| ApiError::not_found("Dispute not found"))?;
        if dispute["status"].as_str() != Some(AWAITING) {
            return Err(ApiError::bad_request("Dispute has already been resolved"));
        }
        if refund_amount > dispute["refund_amount"].as_u64().unwrap_or(0) {
            return Err(ApiError::bad_request(
                "Refund amount cannot be more than the disputed amount",
            ));
        }
        dispute["status"] = json!("resolved");
        dispute["resolution"] = json!(resolution);
        dispute["refund_amount"] = json!(refund_amount);
        dispute["resolvedAt"] = json!(now());
        dispute["updatedAt"] = json!(now());
        dispute.clone()
    };
    deliver(&shared, vec![("charge.dispute.resolve", resolved.clone())]);
    Ok(ok("Dispute successfully resolved", resolved))
}
