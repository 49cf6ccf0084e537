//! `/bank/resolve`, `/decision/bin/:bin`, `/bank/validate`. The simulated banks resolve every
//! account of a known bank except [`FAILING_ACCOUNT_NUMBER`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::misc::BANKS;
use crate::paystack::api::{body_json, ok, required, ApiResult};
use crate::paystack::state::ApiError;
use crate::paystack::{Shared, FAILING_ACCOUNT_NUMBER};

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/bank/resolve", get(resolve))
        .route("/bank/validate", post(validate))
        .route("/decision/bin/{bin}", get(bin))
}

/// Paystack answers an account it cannot resolve with 422.
fn unresolvable() -> ApiError {
    ApiError {
        status: 422,
        message: "Could not resolve account name. Check parameters or try again.".to_string(),
    }
}

async fn resolve(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let account = query
        .get("account_number")
        .ok_or_else(|| ApiError::bad_request("account_number is required"))?;
    let bank_code = query
        .get("bank_code")
        .ok_or_else(|| ApiError::bad_request("bank_code is required"))?;
    let bank = BANKS
        .iter()
        .find(|b| b.3 == bank_code)
        .ok_or_else(|| ApiError::bad_request("Unknown bank code"))?;
    if account == FAILING_ACCOUNT_NUMBER || account.is_empty() {
        return Err(unresolvable());
    }
    let state = shared.lock();
    // A recipient already registered for the account gives its name; otherwise a made-up one.
    let name = state
        .recipients
        .iter()
        .find(|r| r.account_number == *account && r.bank_code == *bank_code)
        .map_or_else(|| format!("SIM ACCOUNT {account}"), |r| r.name.to_uppercase());
    Ok(ok(
        "Account number resolved",
        json!({ "account_number": account, "account_name": name, "bank_id": bank.0 }),
    ))
}

async fn bin(Path(bin): Path<String>) -> ApiResult {
    if bin.len() != 6 || !bin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request("Invalid bin"));
    }
    let brand = match bin.as_bytes()[0] {
        b'4' => "Visa",
        b'5' => "Mastercard",
        _ => "Unknown",
    };
    Ok(ok(
        "Bin resolved",
        json!({
            "bin": bin, "brand": brand, "sub_brand": "", "country_code": "KE",
            "country_name": "Kenya", "card_type": "DEBIT", "bank": "Sim Bank", "linked_bank_id": 3
        }),
    ))
}

async fn validate(body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    for field in [
        "account_name",
        "account_type",
        "bank_code",
        "country_code",
        "document_type",
    ] {
        required(&body, field)?;
    }
    let account = required(&body, "account_number")?;
    let verified = account != FAILING_ACCOUNT_NUMBER;
    let message = if verified {
        "Account is verified successfully"
    } else {
        "Account details do not match"
    };
    Ok(ok(
        "Personal Account Verification attempted",
        json!({ "verified": verified, "verificationMessage": message }),
    ))
}
