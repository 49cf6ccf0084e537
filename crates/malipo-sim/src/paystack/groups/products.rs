//! `/product`: create, fetch, list, update.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{body_json, currency, ok, page, required, ApiResult};
use crate::paystack::records::PRODUCT;
use crate::paystack::state::{code, now, ApiError};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/product", post(create).get(list))
        .route("/product/{id}", get(fetch).put(update))
}

/// The fields of `body` a product keeps, checked.
fn details(shared: &Shared, body: &Value) -> Result<Vec<(&'static str, Value)>, ApiError> {
    let price = body
        .get("price")
        .and_then(Value::as_u64)
        .filter(|p| *p > 0)
        .ok_or_else(|| ApiError::bad_request("price must be a positive amount in minor units"))?;
    let unlimited = body.get("unlimited").and_then(Value::as_bool).unwrap_or(true);
    let quantity = body.get("quantity").and_then(Value::as_u64);
    if !unlimited && quantity.is_none() {
        return Err(ApiError::bad_request(
            "quantity is required when unlimited is false",
        ));
    }
    Ok(vec![
        ("name", json!(required(body, "name")?)),
        ("description", json!(required(body, "description")?)),
        ("price", json!(price)),
        ("currency", json!(currency(body, shared.config.default_currency)?)),
        ("unlimited", json!(unlimited)),
        ("quantity", json!(quantity)),
    ])
}

async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let fields = details(&shared, &body)?;
    let mut state = shared.lock();
    let mut record = json!({
        "id": state.next_id(), "product_code": format!("PROD_{}", code(15)), "integration": 100001,
        "domain": "test", "slug": null, "quantity_sold": 0, "type": "good", "active": true,
        "in_stock": true, "is_shippable": false, "metadata": null,
        "createdAt": now(), "updatedAt": now()
    });
    for (field, value) in fields {
        record[field] = value;
    }
    state.records.push(PRODUCT, record.clone());
    Ok(ok("Product successfully created", record))
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = state
        .records
        .find(PRODUCT, &id, &["product_code"])
        .ok_or_else(|| ApiError::not_found("Product not found"))?;
    Ok(ok("Product retrieved", state.records.all(PRODUCT)[index].clone()))
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    Ok(page(
        "Products retrieved",
        state.records.all(PRODUCT).to_vec(),
        &query,
    ))
}

async fn update(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let fields = details(&shared, &body)?;
    let mut state = shared.lock();
    let index = state
        .records
        .find(PRODUCT, &id, &["product_code"])
        .ok_or_else(|| ApiError::not_found("Product not found"))?;
    let record = state
        .records
        .get_mut(PRODUCT, index)
        .ok_or_else(|| ApiError::not_found("Product not found"))?;
    for (field, value) in fields {
        record[field] = value;
    }
    record["updatedAt"] = json!(now());
    Ok(ok("Product successfully updated", record.clone()))
}
