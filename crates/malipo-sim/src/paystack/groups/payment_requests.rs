//! `/paymentrequest`: create, fetch, list, verify, notify, finalize, archive, totals. A test pays
//! one through [`crate::paystack::PaystackSimHandle::pay_payment_request`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{body_json, currency, deliver, ok, page, required, text, ApiResult};
use crate::paystack::records::{CUSTOMER, PAYMENT_REQUEST};
use crate::paystack::state::{code, now, ApiError, State as Account};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/paymentrequest", post(create).get(list))
        .route("/paymentrequest/totals", get(totals))
        .route("/paymentrequest/verify/{code}", get(verify))
        .route("/paymentrequest/notify/{code}", post(notify))
        .route("/paymentrequest/finalize/{code}", post(finalize))
        .route("/paymentrequest/archive/{code}", post(archive))
        .route("/paymentrequest/{id_or_code}", get(fetch))
}

fn find(state: &Account, key: &str) -> Result<usize, ApiError> {
    state
        .records
        .find(PAYMENT_REQUEST, key, &["request_code"])
        .ok_or_else(|| ApiError::not_found("Payment request not found"))
}

/// The request with its customer expanded, as `verify` shows it.
fn expanded(state: &Account, request: &Value) -> Value {
    let mut out = request.clone();
    let id = request["customer"]
        .as_u64()
        .map(|id| id.to_string())
        .unwrap_or_default();
    if let Some(i) = state.records.find(CUSTOMER, &id, &[]) {
        out["customer"] = state.records.all(CUSTOMER)[i].clone();
    }
    out
}

async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let customer = required(&body, "customer")?;
    let currency = currency(&body, shared.config.default_currency)?;
    let lines = body
        .get("line_items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let line_total: u64 = lines
        .iter()
        .map(|l| l["amount"].as_u64().unwrap_or(0) * l["quantity"].as_u64().unwrap_or(1))
        .sum();
    let amount = body.get("amount").and_then(Value::as_u64).unwrap_or(line_total);
    if amount == 0 {
        return Err(ApiError::bad_request("Invalid Amount Sent"));
    }
    let draft = body.get("draft").and_then(Value::as_bool).unwrap_or(false);
    let (record, webhook) = {
        let mut state = shared.lock();
        let index = super::customers::find(&state, &customer)?;
        let customer_id = state.records.all(CUSTOMER)[index]["id"].clone();
        let id = state.next_id();
        // Paystack's reference does not show a draft's status; the simulator calls it `draft`.
        let record = json!({
            "id": id, "request_code": format!("PRQ_{}", code(15)), "amount": amount,
            "currency": currency, "description": text(&body, "description"),
            "due_date": text(&body, "due_date"), "line_items": lines, "tax": [],
            "status": if draft { "draft" } else { "pending" }, "paid": false, "paid_at": null,
            "archived": false, "has_invoice": false, "invoice_number": null, "metadata": null,
            "offline_reference": format!("{:016}", id), "customer": customer_id,
            "domain": "test", "integration": 100001, "created_at": now(), "notifications": []
        });
        state.records.push(PAYMENT_REQUEST, record.clone());
        let webhook = (!draft).then(|| ("paymentrequest.pending", record.clone()));
        (record, webhook)
    };
    deliver(&shared, webhook.into_iter().collect());
    Ok(ok("Payment request created", record))
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &key)?;
    Ok(ok(
        "Payment request retrieved",
        state.records.all(PAYMENT_REQUEST)[index].clone(),
    ))
}

async fn verify(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &key)?;
    Ok(ok(
        "Payment request retrieved",
        expanded(&state, &state.records.all(PAYMENT_REQUEST)[index]),
    ))
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    let items = state
        .records
        .all(PAYMENT_REQUEST)
        .iter()
        .filter(|r| r["archived"] != json!(true))
        .filter(|r| {
            query
                .get("status")
                .is_none_or(|s| r["status"].as_str() == Some(s))
        })
        .cloned()
        .collect();
    Ok(page("Payment requests retrieved", items, &query))
}

/// Runs `change` on request `key` when it is not archived.
fn with_request<T>(
    shared: &Arc<Shared>,
    key: &str,
    change: impl FnOnce(&mut Value) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut state = shared.lock();
    let index = find(&state, key)?;
    let record = state
        .records
        .get_mut(PAYMENT_REQUEST, index)
        .ok_or_else(|| ApiError::not_found("Payment request not found"))?;
    if record["archived"] == json!(true) {
        return Err(ApiError::bad_request("Payment request has been archived"));
    }
    change(record)
}

pub(crate) fn pay(shared: &Arc<Shared>, key: &str) -> Result<Value, ApiError> {
    let paid = with_request(shared, key, |r| {
        if r["status"] != json!("pending") {
            return Err(ApiError::bad_request("Payment request is not pending"));
        }
        r["status"] = json!("success");
        r["paid"] = json!(true);
        r["paid_at"] = json!(now());
        Ok(r.clone())
    })?;
    deliver(shared, vec![("paymentrequest.success", paid.clone())]);
    Ok(paid)
}

async fn notify(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult {
    with_request(&shared, &key, |r| {
        if let Some(list) = r["notifications"].as_array_mut() {
            list.push(json!({ "sent_at": now(), "channel": "email" }));
        }
        Ok(())
    })?;
    Ok(axum::Json(json!({ "status": true, "message": "Notification sent" })).into_response())
}

async fn finalize(State(shared): State<Arc<Shared>>, Path(key): Path<String>, _body: Bytes) -> ApiResult {
    let sent = with_request(&shared, &key, |r| {
        if r["status"] != json!("draft") {
            return Err(ApiError::bad_request("Payment request is not a draft"));
        }
        r["status"] = json!("pending");
        Ok(r.clone())
    })?;
    deliver(&shared, vec![("paymentrequest.pending", sent.clone())]);
    Ok(ok("Payment request finalized", sent))
}

async fn archive(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult {
    with_request(&shared, &key, |r| {
        r["archived"] = json!(true);
        Ok(())
    })?;
    Ok(axum::Json(json!({ "status": true, "message": "Payment request has been archived" })).into_response())
}

async fn totals(State(shared): State<Arc<Shared>>) -> ApiResult {
    let state = shared.lock();
    let mut sums: BTreeMap<(&str, String), u64> = BTreeMap::new();
    for r in state
        .records
        .all(PAYMENT_REQUEST)
        .iter()
        .filter(|r| r["archived"] != json!(true))
    {
        let kind = match r["status"].as_str() {
            Some("success") => "successful",
            Some("pending") => "pending",
            _ => continue,
        };
        let currency = r["currency"].as_str().unwrap_or_default().to_string();
        let amount = r["amount"].as_u64().unwrap_or(0);
        *sums.entry((kind, currency.clone())).or_default() += amount;
        *sums.entry(("total", currency)).or_default() += amount;
    }
    let mut data = json!({ "pending": [], "successful": [], "total": [] });
    for ((kind, currency), amount) in sums {
        if let Some(list) = data[kind].as_array_mut() {
            list.push(json!({ "currency": currency, "amount": amount }));
        }
    }
    Ok(ok("Payment request totals", data))
}
