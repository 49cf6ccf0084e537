//! `/apple-pay/domain`: register, list, unregister.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{body_json, ok, required, ApiResult};
use crate::paystack::records::APPLE_PAY_DOMAIN;
use crate::paystack::state::ApiError;
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/apple-pay/domain", post(register).get(list).delete(unregister))
}

fn position(state: &crate::paystack::state::State, domain: &str) -> Option<usize> {
    state
        .records
        .all(APPLE_PAY_DOMAIN)
        .iter()
        .position(|d| d.as_str() == Some(domain))
}

async fn register(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let domain = required(&body, "domainName")?;
    if domain.contains('/') || !domain.contains('.') {
        return Err(ApiError::bad_request(
            "domainName must be a domain such as shop.example.com",
        ));
    }
    let mut state = shared.lock();
    if position(&state, &domain).is_none() {
        state.records.push(APPLE_PAY_DOMAIN, json!(domain));
    }
    let answer = json!({ "status": true, "message": "Domain successfully registered on Apple Pay" });
    Ok(axum::Json(answer).into_response())
}

async fn list(State(shared): State<Arc<Shared>>) -> ApiResult {
    let state = shared.lock();
    let domains: Vec<Value> = state.records.all(APPLE_PAY_DOMAIN).to_vec();
    Ok(ok(
        "Apple Pay registered domains retrieved",
        json!({ "domainNames": domains }),
    ))
}

async fn unregister(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let domain = required(&body, "domainName")?;
    let mut state = shared.lock();
    let index = position(&state, &domain).ok_or_else(|| ApiError::not_found("Domain not registered"))?;
    state.records.remove(APPLE_PAY_DOMAIN, index);
    let answer = json!({ "status": true, "message": "Domain successfully unregistered on Apple Pay" });
    Ok(axum::Json(answer).into_response())
}
