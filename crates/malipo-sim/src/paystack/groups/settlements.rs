//! `/settlement` and `/settlement/:id/transactions`. Settlements happen when a test calls
//! [`crate::paystack::PaystackSimHandle::settle`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{page, ApiResult};
use crate::paystack::records::SETTLEMENT;
use crate::paystack::state::{now, ApiError, Tx};
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/settlement", get(list))
        .route("/settlement/{id}/transactions", get(transactions))
}

/// The ids of the transactions a settlement paid, kept beside the rendered fields.
const PAID: &str = "_transactions";

fn render(record: &Value) -> Value {
    let mut out = record.clone();
    if let Some(o) = out.as_object_mut() {
        o.remove(PAID);
    }
    out
}

pub(crate) fn settle(shared: &Arc<Shared>) -> Vec<Value> {
    let mut state = shared.lock();
    let settled: Vec<u64> = state
        .records
        .all(SETTLEMENT)
        .iter()
        .flat_map(|s| s[PAID].as_array().cloned().unwrap_or_default())
        .filter_map(|id| id.as_u64())
        .collect();
    let mut by_currency: BTreeMap<String, Vec<&Tx>> = BTreeMap::new();
    for tx in state
        .transactions
        .iter()
        .filter(|t| t.paid_at.is_some() && !settled.contains(&t.id))
    {
        by_currency.entry(tx.currency.clone()).or_default().push(tx);
    }
    let mut drafts = Vec::new();
    for (currency, txs) in by_currency {
        let total: u64 = txs.iter().map(|t| t.amount).sum();
        let fees: u64 = txs.iter().map(|t| t.json()["fees"].as_u64().unwrap_or(0)).sum();
        let deductions: u64 = txs.iter().map(|t| t.refunded).sum();
        let ids: Vec<u64> = txs.iter().map(|t| t.id).collect();
        drafts.push((currency, total, fees, deductions, ids));
    }
    let mut created = Vec::new();
    for (currency, total, fees, deductions, ids) in drafts {
        let record = json!({
            "id": state.next_id(), "domain": "test", "status": "success", "currency": currency,
            "integration": 100001, "total_amount": total, "total_fees": fees,
            "deductions": deductions, "total_processed": total,
            "effective_amount": total.saturating_sub(fees).saturating_sub(deductions),
            "settlement_date": now(), "settled_by": null, "createdAt": now(), "updatedAt": now(),
            PAID: ids
        });
        created.push(render(&record));
        state.records.push(SETTLEMENT, record);
    }
    created
}

async fn list(State(shared): State<Arc<Shared>>, Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let state = shared.lock();
    let items = state
        .records
        .all(SETTLEMENT)
        .iter()
        .filter(|s| {
            query
                .get("status")
                .is_none_or(|st| s["status"].as_str() == Some(st))
        })
        .map(render)
        .collect();
    Ok(page("Settlements retrieved", items, &query))
}

async fn transactions(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let state = shared.lock();
    let index = state
        .records
        .find(SETTLEMENT, &id, &[])
        .ok_or_else(|| ApiError::not_found("Settlement not found"))?;
    let ids: Vec<u64> = state.records.all(SETTLEMENT)[index][PAID]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let items = state
        .transactions
        .iter()
        .filter(|t| ids.contains(&t.id))
        .map(Tx::json)
        .collect();
    Ok(page("Settlement transactions retrieved", items, &query))
}
