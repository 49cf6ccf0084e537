//! `/balance` and `/balance/ledger`, computed from what the account has done: paid
//! transactions in, refunds and successful transfers out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{ok, page, ApiResult};
use crate::paystack::state::State as Account;
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/balance", get(balance))
        .route("/balance/ledger", get(ledger))
}

/// Every balance movement, oldest first, with the running balance of its currency.
fn entries(state: &Account) -> Vec<Value> {
    let mut moves: Vec<(&str, String, i64, &str, u64, String)> = Vec::new();
    for t in state.transactions.iter().filter(|t| t.paid_at.is_some()) {
        let amount = i64::try_from(t.amount).unwrap_or(i64::MAX);
        let at = t.paid_at.clone().unwrap_or_default();
        moves.push((
            &t.currency,
            at,
            amount,
            "Transaction",
            t.id,
            format!("Payment {}", t.reference),
        ));
    }
    for r in &state.refunds {
        let amount = i64::try_from(r.amount).unwrap_or(i64::MAX);
        moves.push((
            &r.currency,
            r.created_at.clone(),
            -amount,
            "Refund",
            r.id,
            "Refund".to_string(),
        ));
    }
    for t in state.transfers.iter().filter(|t| t.status == "success") {
        let amount = i64::try_from(t.amount).unwrap_or(i64::MAX);
        let at = t.transferred_at.clone().unwrap_or_default();
        let reason = t.reason.clone().unwrap_or_else(|| "Transfer".to_string());
        moves.push((&t.currency, at, -amount, "Transfer", t.id, reason));
    }
    moves.sort_by(|a, b| a.1.cmp(&b.1));
    let mut running: HashMap<&str, i64> = HashMap::new();
    moves
        .into_iter()
        .enumerate()
        .map(|(i, (currency, at, difference, model, row, reason))| {
            let balance = running.entry(currency).or_default();
            *balance = balance.saturating_add(difference);
            json!({
                "id": i + 1, "integration": 100001, "domain": "test", "currency": currency,
                "balance": *balance, "difference": difference, "reason": reason,
                "model_responsible": model, "model_row": row, "createdAt": at, "updatedAt": at
            })
        })
        .collect()
}

async fn balance(State(shared): State<Arc<Shared>>) -> ApiResult {
    let state = shared.lock();
    let mut balances: BTreeMap<String, i64> = BTreeMap::new();
    balances.insert(shared.config.default_currency.code().to_string(), 0);
    for entry in entries(&state) {
        let currency = entry["currency"].as_str().unwrap_or_default().to_string();
        balances.insert(currency, entry["balance"].as_i64().unwrap_or_default());
    }
    let data: Vec<Value> = balances
        .into_iter()
        .map(|(currency, balance)| json!({ "currency": currency, "balance": balance }))
        .collect();
    Ok(ok("Balances retrieved", Value::Array(data)))
}

async fn ledger(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let state = shared.lock();
    Ok(page("Balance ledger retrieved", entries(&state), &query))
}
