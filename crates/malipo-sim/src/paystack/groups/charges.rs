//! `/charge`: a direct charge walks through the steps its source needs, one `submit_*` call each:
//! a card asks for the PIN (unless given) and the OTP ([`TEST_OTP`]), and
//! [`ADDRESS_CHECK_CARD`] then for the phone and the billing address; a bank account asks for the
//! birthday (unless given) and the OTP; a mobile-money wallet waits (`pay_offline`) until a test
//! calls [`crate::paystack::PaystackSimHandle::authorize`]; a saved authorization succeeds at once.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::paystack::api::{amount, body_json, currency, deliver, ok, required, text, ApiResult};
use crate::paystack::records::CHARGE_FLOW;
use crate::paystack::state::{code, now, ApiError, State as Account, Tx};
use crate::paystack::{Shared, ADDRESS_CHECK_CARD, TEST_OTP};

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/charge", post(charge))
        .route("/charge/submit_pin", post(|s, b| submit(s, b, "send_pin", "pin")))
        .route("/charge/submit_otp", post(|s, b| submit(s, b, "send_otp", "otp")))
        .route(
            "/charge/submit_phone",
            post(|s, b| submit(s, b, "send_phone", "phone")),
        )
        .route(
            "/charge/submit_birthday",
            post(|s, b| submit(s, b, "send_birthday", "birthday")),
        )
        .route(
            "/charge/submit_address",
            post(|s, b| submit(s, b, "send_address", "address")),
        )
        .route("/charge/{reference}", get(check))
}

fn display_text(status: &str) -> Option<&'static str> {
    Some(match status {
        "send_pin" => "Please enter your 4-digit PIN",
        "send_otp" => "Please enter the OTP sent to your phone",
        "send_phone" => "Please enter your phone number",
        "send_birthday" => "Please enter your date of birth",
        "send_address" => "Please enter your billing address",
        "pay_offline" => "Please complete authorization process on your mobile phone",
        _ => return None,
    })
}

fn render(tx: &Tx) -> Value {
    let mut data = tx.json();
    data["display_text"] = json!(display_text(tx.status));
    data
}

/// The steps a charge from `body` needs before it succeeds.
fn steps(body: &Value) -> Result<Vec<&'static str>, ApiError> {
    if let Some(card) = body.get("card") {
        let number = required(card, "number")?;
        for field in ["cvv", "expiry_month", "expiry_year"] {
            required(card, field)?;
        }
        let mut steps = Vec::new();
        if text(body, "pin").is_none() {
            steps.push("send_pin");
        }
        steps.push("send_otp");
        if number == ADDRESS_CHECK_CARD {
            steps.extend(["send_phone", "send_address"]);
        }
        Ok(steps)
    } else if let Some(bank) = body.get("bank") {
        required(bank, "code")?;
        required(bank, "account_number")?;
        let mut steps = Vec::new();
        if text(body, "birthday").is_none() {
            steps.push("send_birthday");
        }
        steps.push("send_otp");
        Ok(steps)
    } else if let Some(wallet) = body.get("mobile_money") {
        required(wallet, "phone")?;
        required(wallet, "provider")?;
        Ok(vec!["pay_offline"])
    } else if body.get("authorization_code").is_some() {
        Ok(Vec::new())
    } else {
        Err(ApiError::bad_request(
            "A payment source is required: card, bank, mobile_money or authorization_code",
        ))
    }
}

/// Moves charge `index` to its next step, or completes it; the webhook a completion sends.
fn advance(state: &mut Account, index: usize, reference: &str) -> Vec<(&'static str, Value)> {
    let flow = state.records.find(CHARGE_FLOW, reference, &["reference"]);
    let next = flow.and_then(|f| {
        let steps = state.records.get_mut(CHARGE_FLOW, f)?["steps"].as_array_mut()?;
        if steps.is_empty() {
            return None;
        }
        steps.remove(0).as_str().map(str::to_string)
    });
    let tx = &mut state.transactions[index];
    match next.as_deref() {
        Some(step) => {
            tx.status = match step {
                "send_pin" => "send_pin",
                "send_otp" => "send_otp",
                "send_phone" => "send_phone",
                "send_birthday" => "send_birthday",
                "send_address" => "send_address",
                _ => "pay_offline",
            };
            Vec::new()
        }
        None => {
            tx.status = "success";
            tx.paid_at = Some(now());
            if tx.authorization_code.is_none() {
                tx.authorization_code = Some(format!("AUTH_{}", code(10)));
            }
            vec![("charge.success", tx.json())]
        }
    }
}

async fn charge(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let email = required(&body, "email")?;
    let amount = amount(&body)?;
    let currency = currency(&body, shared.config.default_currency)?;
    let steps = steps(&body)?;
    let (data, webhooks) = {
        let mut state = shared.lock();
        let saved = match text(&body, "authorization_code") {
            None => None,
            Some(auth) => {
                let usable = !state.deactivated_authorizations.contains(&auth)
                    && state
                        .transactions
                        .iter()
                        .any(|t| t.email == email && t.authorization_code.as_deref() == Some(auth.as_str()));
                if !usable {
                    return Err(ApiError::bad_request("Invalid authorization code"));
                }
                Some(auth)
            }
        };
        let reference = text(&body, "reference").unwrap_or_else(|| code(15));
        if state.tx_by_reference(&reference).is_some() {
            return Err(ApiError::bad_request("Duplicate Transaction Reference"));
        }
        let tx = Tx {
            id: state.next_id(),
            reference: reference.clone(),
            access_code: code(15),
            customer_id: state.customer_id(&email),
            email,
            amount,
            currency,
            status: "pending",
            metadata: body.get("metadata").cloned().unwrap_or(Value::Null),
            created_at: now(),
            paid_at: None,
            authorization_code: saved,
            refunded: 0,
        };
        state.transactions.push(tx);
        let index = state.transactions.len() - 1;
        state
            .records
            .push(CHARGE_FLOW, json!({ "reference": reference, "steps": steps }));
        let webhooks = advance(&mut state, index, &reference);
        (render(&state.transactions[index]), webhooks)
    };
    deliver(&shared, webhooks);
    Ok(ok("Charge attempted", data))
}

/// Answers step `expected` with `field` of the body.
async fn submit(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
    expected: &'static str,
    field: &'static str,
) -> ApiResult {
    let body = body_json(&body)?;
    let reference = required(&body, "reference")?;
    let value = required(&body, field)?;
    if field == "otp" && value != TEST_OTP {
        // Paystack's reference does not show a wrong OTP's answer; a refusal is the simulator's
        // choice, and the charge stays at the OTP step.
        return Err(ApiError::bad_request("Invalid OTP"));
    }
    if field == "address" {
        for other in ["city", "state", "zipcode"] {
            required(&body, other)?;
        }
    }
    let (data, webhooks) = {
        let mut state = shared.lock();
        let index = state
            .tx_by_reference(&reference)
            .ok_or_else(|| ApiError::not_found("Charge not found"))?;
        let status = state.transactions[index].status;
        if status != expected {
            return Err(ApiError::bad_request(format!(
                "Charge is at {status}, not {expected}"
            )));
        }
        let webhooks = advance(&mut state, index, &reference);
        (render(&state.transactions[index]), webhooks)
    };
    deliver(&shared, webhooks);
    Ok(ok("Charge attempted", data))
}

async fn check(State(shared): State<Arc<Shared>>, Path(reference): Path<String>) -> ApiResult {
    let state = shared.lock();
    let index = state
        .tx_by_reference(&reference)
        .ok_or_else(|| ApiError::not_found("Charge not found"))?;
    Ok(ok(
        "Reference check successful",
        render(&state.transactions[index]),
    ))
}
