//! `/customer`: create, fetch, list, update, identification, risk action, deactivate an
//! authorization.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{body_json, deliver, ok, page, required, text, ApiResult};
use crate::paystack::records::CUSTOMER;
use crate::paystack::state::{now, ApiError};
use crate::paystack::{Shared, FAILING_ACCOUNT_NUMBER};

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/customer", post(create).get(list))
        .route("/customer/set_risk_action", post(set_risk_action))
        .route(
            "/customer/authorization/deactivate",
            post(deactivate_authorization),
        )
        .route("/customer/{code}", get(fetch).put(update))
        .route("/customer/{code}/identification", post(identify))
}

/// The code a customer of numeric `id` has, the same the transactions' `customer` shows.
pub(crate) fn customer_code(id: u64) -> String {
    format!("CUS_sim{id:012}")
}

/// The customer `key` (id, code or email) names.
pub(crate) fn find(state: &crate::paystack::state::State, key: &str) -> Result<usize, ApiError> {
    state
        .records
        .find(CUSTOMER, key, &["customer_code", "email"])
        .ok_or_else(|| ApiError::not_found("Customer not found"))
}

const NAMES: [&str; 3] = ["first_name", "last_name", "phone"];

async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let email = required(&body, "email")?;
    if !email.contains('@') {
        return Err(ApiError::bad_request("Invalid Email Address Passed"));
    }
    let mut state = shared.lock();
    // Paystack answers an email it knows with that customer, updated.
    if let Some(index) = state.records.find(CUSTOMER, &email, &["email"]) {
        let record = state
            .records
            .get_mut(CUSTOMER, index)
            .ok_or_else(|| ApiError::not_found("Customer not found"))?;
        apply(record, &body);
        return Ok(ok("Customer created", record.clone()));
    }
    let id = state.customer_id(&email);
    let mut record = json!({
        "id": id, "email": email, "customer_code": customer_code(id), "integration": 100001,
        "domain": "test", "first_name": null, "last_name": null, "phone": null, "metadata": null,
        "risk_action": "default", "identified": false, "identifications": null,
        "createdAt": now(), "updatedAt": now()
    });
    apply(&mut record, &body);
    state.records.push(CUSTOMER, record.clone());
    Ok(ok("Customer created", record))
}

/// Copies the names, phone and metadata `body` gives onto `record`.
fn apply(record: &mut Value, body: &Value) {
    for field in NAMES {
        if let Some(v) = text(body, field) {
            record[field] = json!(v);
        }
    }
    if let Some(metadata) = body.get("metadata") {
        record["metadata"] = metadata.clone();
    }
    record["updatedAt"] = json!(now());
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(code): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &code)?;
    Ok(ok(
        "Customer retrieved",
        state.records.all(CUSTOMER)[index].clone(),
    ))
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    Ok(page(
        "Customers retrieved",
        state.records.all(CUSTOMER).to_vec(),
        &query,
    ))
}

async fn update(State(shared): State<Arc<Shared>>, Path(code): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let mut state = shared.lock();
    let index = find(&state, &code)?;
    let record = state
        .records
        .get_mut(CUSTOMER, index)
        .ok_or_else(|| ApiError::not_found("Customer not found"))?;
    apply(record, &body);
    Ok(ok("Customer updated", record.clone()))
}

/// Identification is asynchronous on Paystack: 202 now, a webhook with the result. The
/// simulated bank accepts every account but [`FAILING_ACCOUNT_NUMBER`].
async fn identify(State(shared): State<Arc<Shared>>, Path(code): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let mut fields = HashMap::new();
    for field in [
        "country",
        "type",
        "account_number",
        "bvn",
        "bank_code",
        "first_name",
        "last_name",
    ] {
        fields.insert(field, required(&body, field)?);
    }
    let webhook = {
        let mut state = shared.lock();
        let index = find(&state, &code)?;
        let record = state
            .records
            .get_mut(CUSTOMER, index)
            .ok_or_else(|| ApiError::not_found("Customer not found"))?;
        let account = &fields["account_number"];
        let tail: String = account
            .chars()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let masked = format!("****{tail}");
        let mut data = json!({
            "customer_id": record["id"], "customer_code": record["customer_code"],
            "email": record["email"],
            "identification": { "country": fields["country"], "type": fields["type"], "value": masked }
        });
        if *account == FAILING_ACCOUNT_NUMBER {
            data["reason"] = json!("Account number or BVN is incorrect");
            ("customeridentification.failed", data)
        } else {
            record["identified"] = json!(true);
            ("customeridentification.success", data)
        }
    };
    deliver(&shared, vec![webhook]);
    let answer = json!({ "status": true, "message": "Customer Identification in progress" });
    Ok((StatusCode::ACCEPTED, axum::Json(answer)).into_response())
}

async fn set_risk_action(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let customer = required(&body, "customer")?;
    let action = text(&body, "risk_action").unwrap_or_else(|| "default".to_string());
    if !matches!(action.as_str(), "default" | "allow" | "deny") {
        return Err(ApiError::bad_request(
            "risk_action must be one of: default, allow, deny",
        ));
    }
    let mut state = shared.lock();
    let index = find(&state, &customer)?;
    let record = state
        .records
        .get_mut(CUSTOMER, index)
        .ok_or_else(|| ApiError::not_found("Customer not found"))?;
    record["risk_action"] = json!(action);
    Ok(ok("Customer updated", record.clone()))
}

async fn deactivate_authorization(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let code = required(&body, "authorization_code")?;
    let mut state = shared.lock();
    let known = state
        .transactions
        .iter()
        .any(|t| t.authorization_code.as_deref() == Some(code.as_str()));
    if !known {
        return Err(ApiError::not_found("Authorization code not found"));
    }
    if !state.deactivated_authorizations.contains(&code) {
        state.deactivated_authorizations.push(code);
    }
    let answer = json!({ "status": true, "message": "Authorization has been deactivated" });
    Ok(axum::Json(answer).into_response())
}
