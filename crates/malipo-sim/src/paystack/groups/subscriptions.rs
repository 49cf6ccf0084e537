//! `/subscription`: create, fetch, list, enable, disable, manage link and email.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{body_json, deliver, ok, page, required, text, ApiResult};
use crate::paystack::records::{CUSTOMER, PLAN, SUBSCRIPTION};
use crate::paystack::state::{code, now, ApiError};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/subscription", post(create).get(list))
        .route("/subscription/enable", post(enable))
        .route("/subscription/disable", post(disable))
        .route("/subscription/{id_or_code}", get(fetch))
        .route("/subscription/{code}/manage/link", get(manage_link))
        .route("/subscription/{code}/manage/email", post(manage_email))
}

fn find(state: &crate::paystack::state::State, key: &str) -> Result<usize, ApiError> {
    state
        .records
        .find(SUBSCRIPTION, key, &["subscription_code"])
        .ok_or_else(|| ApiError::not_found("Subscription not found"))
}

/// The authorization JSON of `code` as the transaction that saved it shows it.
fn authorization(state: &crate::paystack::state::State, email: &str, code: Option<&str>) -> Option<Value> {
    state
        .transactions
        .iter()
        .rev()
        .filter(|t| t.email == email)
        .filter_map(|t| t.authorization_code.as_deref().map(|c| (t, c)))
        .filter(|(_, c)| !state.deactivated_authorizations.iter().any(|d| d == c))
        .find(|(_, c)| code.is_none_or(|want| want == *c))
        .map(|(t, _)| t.json()["authorization"].clone())
}

async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let customer_key = required(&body, "customer")?;
    let plan_key = required(&body, "plan")?;
    let (answer, webhook) = {
        let mut state = shared.lock();
        let customer = super::customers::find(&state, &customer_key)?;
        let customer = state.records.all(CUSTOMER)[customer].clone();
        let plan = super::plans::find(&state, &plan_key)?;
        let plan = state.records.all(PLAN)[plan].clone();
        let email = customer["email"].as_str().unwrap_or_default();
        // Paystack charges a saved card; a customer who never paid has none.
        let authorization = authorization(&state, email, text(&body, "authorization").as_deref())
            .ok_or_else(|| ApiError::bad_request("Customer has no saved authorization to charge"))?;
        let id = state.next_id();
        let record = json!({
            "id": id, "subscription_code": format!("SUB_{}", code(15)),
            "email_token": code(15), "status": "active", "quantity": 1,
            "amount": plan["amount"], "invoice_limit": plan["invoice_limit"],
            "start": text(&body, "start_date").unwrap_or_else(now),
            "next_payment_date": text(&body, "start_date").unwrap_or_else(now),
            "cron_expression": "0 0 1 * *", "integration": 100001, "domain": "test",
            "plan": plan, "customer": customer, "authorization": authorization,
            "createdAt": now(), "updatedAt": now()
        });
        // The create answer names customer and plan by id only, as Paystack's does.
        let mut answer = record.clone();
        answer["customer"] = record["customer"]["id"].clone();
        answer["plan"] = record["plan"]["id"].clone();
        state.records.push(SUBSCRIPTION, record.clone());
        (answer, ("subscription.create", record))
    };
    deliver(&shared, vec![webhook]);
    Ok(ok("Subscription successfully created", answer))
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &key)?;
    Ok(ok(
        "Subscription retrieved successfully",
        state.records.all(SUBSCRIPTION)[index].clone(),
    ))
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    let matches = |s: &Value, field: &str| {
        query
            .get(field)
            .is_none_or(|want| s[field]["id"].as_u64().is_some_and(|id| id.to_string() == *want))
    };
    let items = state
        .records
        .all(SUBSCRIPTION)
        .iter()
        .filter(|s| matches(s, "customer") && matches(s, "plan"))
        .cloned()
        .collect();
    Ok(page("Subscriptions retrieved", items, &query))
}

/// Sets the subscription's status when `code` and `token` match; the webhook to send, if any.
fn toggle(
    shared: &Arc<Shared>,
    body: &Bytes,
    status: &str,
) -> Result<Option<(&'static str, Value)>, ApiError> {
    let body = body_json(body)?;
    let code = required(&body, "code")?;
    let token = required(&body, "token")?;
    let mut state = shared.lock();
    let index = find(&state, &code)?;
    let record = state
        .records
        .get_mut(SUBSCRIPTION, index)
        .ok_or_else(|| ApiError::not_found("Subscription not found"))?;
    if record["email_token"].as_str() != Some(token.as_str()) {
        return Err(ApiError::bad_request(
            "Subscription with code and token not found",
        ));
    }
    record["status"] = json!(status);
    record["updatedAt"] = json!(now());
    Ok((status == "complete").then(|| ("subscription.disable", record.clone())))
}

async fn enable(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    toggle(&shared, &body, "active")?;
    Ok(axum::Json(json!({ "status": true, "message": "Subscription enabled successfully" })).into_response())
}

async fn disable(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let webhook = toggle(&shared, &body, "complete")?;
    deliver(&shared, webhook.into_iter().collect());
    Ok(
        axum::Json(json!({ "status": true, "message": "Subscription disabled successfully" }))
            .into_response(),
    )
}

async fn manage_link(State(shared): State<Arc<Shared>>, Path(code): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &code)?;
    let record = &state.records.all(SUBSCRIPTION)[index];
    let token = record["email_token"].as_str().unwrap_or_default();
    let mut link = url::Url::parse(&shared.url(&["manage", "subscriptions", &code]))
        .map_err(|e| ApiError::bad_request(format!("cannot build the link: {e}")))?;
    link.query_pairs_mut().append_pair("subscription_token", token);
    Ok(ok("Link generated", json!({ "link": link.to_string() })))
}

async fn manage_email(State(shared): State<Arc<Shared>>, Path(code): Path<String>) -> ApiResult {
    let state = shared.lock();
    find(&state, &code)?;
    Ok(axum::Json(json!({ "status": true, "message": "Email successfully sent" })).into_response())
}
