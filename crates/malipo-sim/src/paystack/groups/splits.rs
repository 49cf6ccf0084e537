//! `/split`: create, fetch, list, update, add or remove a subaccount. Members are kept as
//! `{subaccount: <code>, share}` and expanded to the whole subaccount in answers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{body_json, currency, ok, page, required, text, ApiResult};
use crate::paystack::records::{SPLIT, SUBACCOUNT};
use crate::paystack::state::{code, now, ApiError, State as Account};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/split", post(create).get(list))
        .route("/split/{id}", get(fetch).put(update))
        .route("/split/{id}/subaccount/add", post(add))
        .route("/split/{id}/subaccount/remove", post(remove))
}

fn find(state: &Account, id: &str) -> Result<usize, ApiError> {
    state
        .records
        .find(SPLIT, id, &[])
        .ok_or_else(|| ApiError::not_found("Split not found"))
}

/// `{subaccount, share}` with the subaccount checked to exist.
fn member(state: &Account, item: &Value) -> Result<Value, ApiError> {
    let code = required(item, "subaccount")?;
    let index = super::subaccounts::find(state, &code)?;
    let code = state.records.all(SUBACCOUNT)[index]["subaccount_code"].clone();
    let share = item
        .get("share")
        .and_then(Value::as_u64)
        .filter(|s| *s > 0)
        .ok_or_else(|| ApiError::bad_request("share must be a positive whole number"))?;
    Ok(json!({ "subaccount": code, "share": share }))
}

/// The split as Paystack renders it: members' subaccounts expanded.
fn render(state: &Account, split: &Value) -> Value {
    let mut out = split.clone();
    let members: Vec<Value> = split["subaccounts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let code = m["subaccount"].as_str().unwrap_or_default();
            let subaccount = state
                .records
                .find(SUBACCOUNT, code, &["subaccount_code"])
                .map_or(Value::Null, |i| state.records.all(SUBACCOUNT)[i].clone());
            json!({ "subaccount": subaccount, "share": m["share"] })
        })
        .collect();
    out["total_subaccounts"] = json!(members.len());
    out["subaccounts"] = Value::Array(members);
    out
}

async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let name = required(&body, "name")?;
    let kind = required(&body, "type")?;
    if !matches!(kind.as_str(), "percentage" | "flat") {
        return Err(ApiError::bad_request("type must be percentage or flat"));
    }
    let currency = currency(&body, shared.config.default_currency)?;
    let items = match body.get("subaccounts") {
        Some(Value::Array(items)) if !items.is_empty() => items.clone(),
        _ => return Err(ApiError::bad_request("subaccounts must be a non-empty list")),
    };
    let mut state = shared.lock();
    let members = items
        .iter()
        .map(|item| member(&state, item))
        .collect::<Result<Vec<_>, _>>()?;
    let record = json!({
        "id": state.next_id(), "name": name, "type": kind, "currency": currency,
        "integration": 100001, "domain": "test", "split_code": format!("SPL_{}", code(10)),
        "active": true, "bearer_type": text(&body, "bearer_type").unwrap_or_else(|| "account".to_string()),
        "bearer_subaccount": text(&body, "bearer_subaccount"), "is_dynamic": false,
        "subaccounts": members, "createdAt": now(), "updatedAt": now()
    });
    state.records.push(SPLIT, record.clone());
    Ok(ok("Split created", render(&state, &record)))
}

async fn fetch(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = find(&state, &id)?;
    Ok(ok(
        "Split retrieved",
        render(&state, &state.records.all(SPLIT)[index]),
    ))
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    let items = state
        .records
        .all(SPLIT)
        .iter()
        .filter(|s| query.get("name").is_none_or(|n| s["name"].as_str() == Some(n)))
        .map(|s| render(&state, s))
        .collect();
    Ok(page("Split retrieved", items, &query))
}

/// Applies `change` to split `id` and answers with it.
fn change(
    shared: &Arc<Shared>,
    id: &str,
    message: &str,
    change: impl FnOnce(&Account, &mut Value) -> Result<(), ApiError>,
) -> ApiResult {
    let mut state = shared.lock();
    let index = find(&state, id)?;
    let mut split = state.records.all(SPLIT)[index].clone();
    change(&state, &mut split)?;
    split["updatedAt"] = json!(now());
    let rendered = render(&state, &split);
    if let Some(slot) = state.records.get_mut(SPLIT, index) {
        *slot = split;
    }
    Ok(ok(message, rendered))
}

async fn update(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    change(&shared, &id, "Split group updated", |_, split| {
        if let Some(name) = text(&body, "name") {
            split["name"] = json!(name);
        }
        if let Some(active) = body.get("active").and_then(Value::as_bool) {
            split["active"] = json!(active);
        }
        Ok(())
    })
}

async fn add(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    change(&shared, &id, "Subaccount added", |state, split| {
        let new = member(state, &body)?;
        let members = split["subaccounts"]
            .as_array_mut()
            .ok_or_else(|| ApiError::bad_request("broken split"))?;
        // Adding a member already there changes its share.
        members.retain(|m| m["subaccount"] != new["subaccount"]);
        members.push(new);
        Ok(())
    })
}

async fn remove(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let code = required(&body, "subaccount")?;
    change(&shared, &id, "Subaccount removed", |_, split| {
        let members = split["subaccounts"]
            .as_array_mut()
            .ok_or_else(|| ApiError::bad_request("broken split"))?;
        let before = members.len();
        members.retain(|m| m["subaccount"].as_str() != Some(code.as_str()));
        if members.len() == before {
            return Err(ApiError::not_found("Subaccount not in split"));
        }
        Ok(())
    })?;
    // Paystack answers a removal with a message only.
    Ok(axum::Json(json!({ "status": true, "message": "Subaccount removed" })).into_response())
}
