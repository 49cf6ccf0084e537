//! `/page`: create, fetch (by id or slug), list, update, slug availability, add products.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{body_json, currency, ok, page, required, text, ApiResult};
use crate::paystack::records::{PAGE, PRODUCT};
use crate::paystack::state::{code, now, ApiError, State as Account};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/page", post(create).get(list))
        .route("/page/check_slug_availability/{slug}", get(check_slug))
        .route("/page/{id_or_slug}", get(fetch).put(update))
        .route("/page/{id}/product", post(add_products))
}

fn find(state: &Account, key: &str) -> Result<usize, ApiError> {
    state
        .records
        .find(PAGE, key, &["slug"])
        .ok_or_else(|| ApiError::not_found("Page not found"))
}

fn slug_taken(state: &Account, slug: &str) -> bool {
    state.records.find(PAGE, slug, &["slug"]).is_some()
}

async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let name = required(&body, "name")?;
    let amount = body.get("amount").and_then(Value::as_u64);
    let currency = currency(&body, shared.config.default_currency)?;
    let mut state = shared.lock();
    let slug = text(&body, "slug").unwrap_or_else(|| code(10));
    if slug_taken(&state, &slug) {
        return Err(ApiError::bad_request("Slug is not available"));
    }
    let record = json!({
        "id": state.next_id(), "name": name, "description": text(&body, "description"),
        "amount": amount, "currency": currency, "slug": slug, "type": "payment",
        "redirect_url": text(&body, "redirect_url"), "active": true, "published": true,
        "collect_phone": false, "integration": 100001, "domain": "test", "metadata": null,
        "products": [], "createdAt": now(), "updatedAt": now()
    });
    state.records.push(PAGE, record.clone());
    Ok(ok("Page created", record))
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &key)?;
    Ok(ok("Page retrieved", state.records.all(PAGE)[index].clone()))
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    Ok(page("Pages retrieved", state.records.all(PAGE).to_vec(), &query))
}

async fn update(State(shared): State<Arc<Shared>>, Path(key): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let mut state = shared.lock();
    let index = find(&state, &key)?;
    let record = state
        .records
        .get_mut(PAGE, index)
        .ok_or_else(|| ApiError::not_found("Page not found"))?;
    for field in ["name", "description"] {
        if let Some(v) = text(&body, field) {
            record[field] = json!(v);
        }
    }
    if let Some(active) = body.get("active").and_then(Value::as_bool) {
        record["active"] = json!(active);
    }
    record["updatedAt"] = json!(now());
    Ok(ok("Page updated", record.clone()))
}

async fn check_slug(State(shared): State<Arc<Shared>>, Path(slug): Path<String>) -> ApiResult {
    let state = shared.lock();
    if slug_taken(&state, &slug) {
        return Err(ApiError::bad_request("Slug is not available"));
    }
    Ok(axum::Json(json!({ "status": true, "message": "Slug is available" })).into_response())
}

async fn add_products(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let ids: Vec<String> = match body.get("product") {
        Some(Value::Array(ids)) if !ids.is_empty() => ids
            .iter()
            .map(|id| match id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => return Err(ApiError::bad_request("product must be a non-empty list of ids")),
    };
    let mut state = shared.lock();
    let products = ids
        .iter()
        .map(|id| {
            state
                .records
                .find(PRODUCT, id, &[])
                .map(|i| state.records.all(PRODUCT)[i].clone())
                .ok_or_else(|| ApiError::not_found(format!("Product {id} not found")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let index = find(&state, &id)?;
    let record = state
        .records
        .get_mut(PAGE, index)
        .ok_or_else(|| ApiError::not_found("Page not found"))?;
    if let Some(list) = record["products"].as_array_mut() {
        list.extend(products);
    }
    Ok(ok("Products added to page", record.clone()))
}
