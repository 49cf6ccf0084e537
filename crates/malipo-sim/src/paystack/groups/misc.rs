//! `/bank` (cursor-paged), `/country`, `/address_verification/states`: fixed lists, a small
//! subset of Paystack's.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Query;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{ok, ApiResult};
use crate::paystack::state::ApiError;
use crate::paystack::Shared;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/bank", get(banks))
        .route("/country", get(countries))
        .route("/address_verification/states", get(states))
}

/// `(id, name, slug, code, country, currency, type)`.
pub(crate) const BANKS: [(u64, &str, &str, &str, &str, &str, &str); 8] = [
    (1, "M-PESA", "mpesa", "MPESA", "Kenya", "KES", "mobile_money"),
    (
        2,
        "Airtel Money",
        "airtel-money-ke",
        "ATL_KE",
        "Kenya",
        "KES",
        "mobile_money",
    ),
    (3, "KCB Bank", "kcb-bank", "01", "Kenya", "KES", "kepss"),
    (4, "Equity Bank", "equity-bank", "68", "Kenya", "KES", "kepss"),
    (5, "Wema Bank", "wema-bank", "035", "Nigeria", "NGN", "nuban"),
    (6, "Test Bank", "test-bank", "001", "Nigeria", "NGN", "nuban"),
    (7, "GCB Bank", "gcb-bank", "GH040100", "Ghana", "GHS", "ghipss"),
    (8, "MTN", "mtn-gh", "MTN", "Ghana", "GHS", "mobile_money"),
];

fn bank_json(b: &(u64, &str, &str, &str, &str, &str, &str)) -> Value {
    json!({
        "id": b.0, "name": b.1, "slug": b.2, "code": b.3, "longcode": "", "gateway": null,
        "pay_with_bank": false, "active": true, "is_deleted": false, "country": b.4,
        "currency": b.5, "type": b.6, "createdAt": "2020-12-07T16:19:09.000Z",
        "updatedAt": "2020-12-07T16:19:19.000Z"
    })
}

/// With `use_cursor=true`, pages by an opaque cursor (`meta.next`); otherwise the whole list.
async fn banks(Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let wanted = |key: &str, value: &str| query.get(key).is_none_or(|w| w.eq_ignore_ascii_case(value));
    let all: Vec<Value> = BANKS
        .iter()
        .filter(|b| wanted("country", b.4) && wanted("currency", b.5) && wanted("type", b.6))
        .map(bank_json)
        .collect();
    if query.get("use_cursor").map(String::as_str) != Some("true") {
        return Ok(ok("Banks retrieved", Value::Array(all)));
    }
    let per_page = query
        .get("perPage")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(50)
        .min(100);
    let start = match query.get("next") {
        None => 0,
        Some(cursor) => cursor
            .strip_prefix("sim-")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ApiError::bad_request("Invalid cursor"))?,
    };
    let data: Vec<Value> = all.iter().skip(start).take(per_page).cloned().collect();
    let end = start + data.len();
    let next = (end < all.len()).then(|| format!("sim-{end}"));
    let previous = (start > 0).then(|| format!("sim-{}", start.saturating_sub(per_page)));
    let body = json!({
        "status": true, "message": "Banks retrieved", "data": data,
        "meta": { "next": next, "previous": previous, "perPage": per_page }
    });
    Ok(axum::Json(body).into_response())
}

async fn countries() -> ApiResult {
    let data: Vec<Value> = [
        (1, "Nigeria", "NG", "NGN"),
        (2, "Ghana", "GH", "GHS"),
        (3, "South Africa", "ZA", "ZAR"),
        (4, "Kenya", "KE", "KES"),
        (5, "Côte d'Ivoire", "CI", "XOF"),
    ]
    .iter()
    .map(|(id, name, iso, currency)| {
        json!({
            "id": id, "name": name, "iso_code": iso, "default_currency_code": currency,
            "integration_defaults": {}, "relationships": {
                "currency": { "type": "currency", "data": [currency] }
            }
        })
    })
    .collect();
    Ok(ok("Countries retrieved", Value::Array(data)))
}

async fn states(Query(query): Query<HashMap<String, String>>) -> ApiResult {
    let country = query
        .get("country")
        .ok_or_else(|| ApiError::bad_request("country is required"))?;
    let states: &[(&str, &str, &str)] = match country.to_ascii_uppercase().as_str() {
        "CA" => &[
            ("Alberta", "alberta", "AB"),
            ("British Columbia", "british-columbia", "BC"),
        ],
        "US" => &[("Alabama", "alabama", "AL"), ("Alaska", "alaska", "AK")],
        _ => &[],
    };
    let data: Vec<Value> = states
        .iter()
        .map(|(name, slug, abbreviation)| json!({ "name": name, "slug": slug, "abbreviation": abbreviation }))
        .collect();
    Ok(ok("States retrieved", Value::Array(data)))
}
