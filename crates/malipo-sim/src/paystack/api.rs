//! Paystack's API paths, behind the bearer-key check.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use malipo_core::Currency;
use serde_json::{json, Value};

use super::state::{code, now, ApiCall, ApiError, Recipient, RefundRec, TransferRec, Tx, Webhooks};
use super::{webhook, Shared};

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/transaction/initialize", post(initialize))
        .route("/transaction/verify/{reference}", get(verify))
        .route("/transaction/charge_authorization", post(charge_authorization))
        .route("/transaction/{id}", get(fetch_transaction))
        .route("/transaction", get(list_transactions))
        .route("/refund", post(create_refund).get(list_refunds))
        .route("/refund/{id}", get(fetch_refund))
        .route("/transferrecipient", post(create_recipient).get(list_recipients))
        .route("/transfer", post(initiate_transfer).get(list_transfers))
        .route("/transfer/finalize_transfer", post(finalize_transfer))
        .route("/transfer/verify/{reference}", get(verify_transfer))
        .route("/transfer/bulk", post(bulk_transfer))
        .merge(super::groups::router())
        .route_layer(middleware::from_fn_with_state(shared.clone(), bearer))
        .with_state(shared)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = json!({ "status": false, "message": self.message });
        (status, axum::Json(body)).into_response()
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

async fn bearer(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let expected = format!("Bearer {}", shared.config.secret_key.expose());
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if given == Some(expected.as_bytes()) {
        let method = request.method().to_string();
        let path = request.uri().path().to_string();
        let response = next.run(request).await;
        shared.lock().api_calls.push(ApiCall {
            method,
            path,
            status: response.status().as_u16(),
        });
        response
    } else {
        ApiError {
            status: 401,
            message: "Invalid key".to_string(),
        }
        .into_response()
    }
}

pub(crate) fn ok(message: &str, data: Value) -> Response {
    axum::Json(json!({ "status": true, "message": message, "data": data })).into_response()
}

pub(crate) fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(ApiError::bad_request("Request body must be a JSON object")),
    }
}

pub(crate) fn text(body: &Value, field: &str) -> Option<String> {
    match body.get(field)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn required(body: &Value, field: &str) -> Result<String, ApiError> {
    text(body, field).ok_or_else(|| ApiError::bad_request(format!("{field} is required")))
}

/// Paystack takes amounts as integers or digit strings, in minor units, and refuses zero.
pub(crate) fn amount(body: &Value) -> Result<u64, ApiError> {
    let parsed = match body.get("amount") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    parsed
        .filter(|a| *a > 0)
        .ok_or_else(|| ApiError::bad_request("Invalid Amount Sent"))
}

pub(crate) fn currency(body: &Value, default: Currency) -> Result<String, ApiError> {
    match text(body, "currency") {
        None => Ok(default.code().to_string()),
        Some(c) => c
            .parse::<Currency>()
            .map(|c| c.code().to_string())
            .map_err(|_| ApiError::bad_request("Currency not supported by merchant")),
    }
}

pub(crate) fn deliver(shared: &Arc<Shared>, webhooks: Webhooks) {
    for (event, data) in webhooks {
        webhook::enqueue(shared, event, data, None);
    }
}

/// Pages `items` (newest first) as Paystack does, with `perPage` and `page`.
pub(crate) fn page(message: &str, items: Vec<Value>, query: &HashMap<String, String>) -> Response {
    let number = |key: &str, default: usize| {
        query
            .get(key)
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(default)
    };
    let per_page = number("perPage", 50);
    let page = number("page", 1);
    let total = items.len();
    let skipped = per_page.saturating_mul(page - 1);
    let data: Vec<Value> = items.into_iter().rev().skip(skipped).take(per_page).collect();
    let meta = json!({
        "total": total, "skipped": skipped, "perPage": per_page, "page": page,
        "pageCount": total.div_ceil(per_page)
    });
    axum::Json(json!({ "status": true, "message": message, "data": data, "meta": meta })).into_response()
}

async fn initialize(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let email = required(&body, "email")?;
    if !email.contains('@') {
        return Err(ApiError::bad_request("Invalid Email Address Passed"));
    }
    let amount = amount(&body)?;
    let currency = currency(&body, shared.config.default_currency)?;
    let mut state = shared.lock();
    let reference = text(&body, "reference").unwrap_or_else(|| code(10));
    if state.tx_by_reference(&reference).is_some() {
        return Err(ApiError::bad_request("Duplicate Transaction Reference"));
    }
    let access_code = code(15);
    let id = state.next_id();
    let customer_id = state.customer_id(&email);
    state.transactions.push(Tx {
        id,
        reference: reference.clone(),
        access_code: access_code.clone(),
        email,
        customer_id,
        amount,
        currency,
        status: "abandoned",
        metadata: body.get("metadata").cloned().unwrap_or(Value::Null),
        created_at: now(),
        paid_at: None,
        authorization_code: None,
        refunded: 0,
    });
    let authorization_url = shared.url(&["checkout", &access_code]);
    Ok(ok(
        "Authorization URL created",
        json!({ "authorization_url": authorization_url, "access_code": access_code, "reference": reference }),
    ))
}

async fn verify(State(shared): State<Arc<Shared>>, Path(reference): Path<String>) -> ApiResult {
    let state = shared.lock();
    let tx = state
        .tx_by_reference(&reference)
        .and_then(|i| state.transactions.get(i))
        .ok_or_else(|| ApiError::bad_request("Transaction reference not found"))?;
    Ok(ok("Verification successful", tx.json()))
}

async fn fetch_transaction(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let state = shared.lock();
    let tx = id
        .parse::<u64>()
        .ok()
        .and_then(|id| state.transactions.iter().find(|t| t.id == id))
        .ok_or_else(|| ApiError::not_found("Transaction not found"))?;
    Ok(ok("Transaction retrieved", tx.json()))
}

async fn list_transactions(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let state = shared.lock();
    let status = query.get("status");
    let items = state
        .transactions
        .iter()
        .filter(|t| status.is_none_or(|s| s == t.status))
        .map(Tx::json)
        .collect();
    Ok(page("Transactions retrieved", items, &query))
}

async fn charge_authorization(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let email = required(&body, "email")?;
    let auth = required(&body, "authorization_code")?;
    let amount = amount(&body)?;
    let webhooks;
    let data;
    {
        let mut state = shared.lock();
        if state.deactivated_authorizations.contains(&auth) {
            return Err(ApiError::bad_request("Invalid authorization code"));
        }
        let original = state
            .transactions
            .iter()
            .find(|t| t.authorization_code.as_deref() == Some(auth.as_str()) && t.email == email)
            .cloned()
            .ok_or_else(|| ApiError::bad_request("Invalid authorization code"))?;
        let currency = match text(&body, "currency") {
            Some(_) => currency(&body, shared.config.default_currency)?,
            None => original.currency.clone(),
        };
        let reference = text(&body, "reference").unwrap_or_else(|| code(15));
        if state.tx_by_reference(&reference).is_some() {
            return Err(ApiError::bad_request("Duplicate Transaction Reference"));
        }
        let tx = Tx {
            id: state.next_id(),
            reference,
            access_code: code(15),
            amount,
            currency,
            status: "success",
            metadata: body.get("metadata").cloned().unwrap_or(Value::Null),
            created_at: now(),
            paid_at: Some(now()),
            refunded: 0,
            ..original
        };
        data = tx.json();
        webhooks = vec![("charge.success", data.clone())];
        state.transactions.push(tx);
    }
    deliver(&shared, webhooks);
    Ok(ok("Charge attempted", data))
}

async fn create_refund(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let transaction = required(&body, "transaction")?;
    let (data, webhooks) = {
        let mut state = shared.lock();
        let index = state
            .tx_by_reference(&transaction)
            .or_else(|| {
                let id = transaction.parse::<u64>().ok()?;
                state.transactions.iter().position(|t| t.id == id)
            })
            .ok_or_else(|| ApiError::not_found("Transaction not found"))?;
        let id = state.next_id();
        let tx = state
            .transactions
            .get_mut(index)
            .ok_or_else(|| ApiError::not_found("Transaction not found"))?;
        if tx.status != "success" {
            return Err(ApiError::bad_request("Cannot refund an unsuccessful transaction"));
        }
        let remaining = tx.amount.saturating_sub(tx.refunded);
        let refund_amount = match body.get("amount") {
            None | Some(Value::Null) => remaining,
            Some(_) => amount(&body)?,
        };
        if refund_amount > remaining {
            return Err(ApiError::bad_request(
                "Refund amount cannot be greater than transaction amount",
            ));
        }
        tx.refunded += refund_amount;
        if tx.refunded == tx.amount {
            tx.status = "reversed";
        }
        let mut refund = RefundRec {
            id,
            transaction_id: tx.id,
            transaction_reference: tx.reference.clone(),
            email: tx.email.clone(),
            amount: refund_amount,
            currency: tx.currency.clone(),
            status: "pending",
            customer_note: text(&body, "customer_note"),
            merchant_note: text(&body, "merchant_note"),
            created_at: now(),
        };
        let data = refund.json(tx.json());
        let pending = refund.event_json();
        // The simulated processor is instant: the refund is processed as soon as it is queued.
        refund.status = "processed";
        let processed = refund.event_json();
        state.refunds.push(refund);
        (
            data,
            vec![("refund.pending", pending), ("refund.processed", processed)],
        )
    };
    deliver(&shared, webhooks);
    Ok(ok("Refund has been queued for processing", data))
}

async fn fetch_refund(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    let state = shared.lock();
    let refund = id
        .parse::<u64>()
        .ok()
        .and_then(|id| state.refunds.iter().find(|r| r.id == id))
        .ok_or_else(|| ApiError::not_found("Refund not found"))?;
    Ok(ok("Refund retrieved", refund.json(json!(refund.transaction_id))))
}

async fn list_refunds(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let state = shared.lock();
    let items = state
        .refunds
        .iter()
        .map(|r| r.json(json!(r.transaction_id)))
        .collect();
    Ok(page("Refunds retrieved", items, &query))
}

async fn create_recipient(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let mut state = shared.lock();
    let data = add_recipient(&shared, &mut state, &body)?;
    Ok(ok("Transfer recipient created successfully", data))
}

/// Validates and records one recipient; an account already known answers with its recipient,
/// as Paystack does.
pub(crate) fn add_recipient(
    shared: &Shared,
    state: &mut super::state::State,
    body: &Value,
) -> Result<Value, ApiError> {
    let kind = required(body, "type")?;
    let name = required(body, "name")?;
    let account_number = required(body, "account_number")?;
    let bank_code = required(body, "bank_code")?;
    let currency = currency(body, shared.config.default_currency)?;
    if let Some(existing) = state
        .recipients
        .iter()
        .find(|r| r.active && r.account_number == account_number && r.bank_code == bank_code)
    {
        return Ok(existing.json());
    }
    let recipient = Recipient {
        id: state.next_id(),
        code: format!("RCP_{}", code(15)),
        kind,
        name,
        account_number,
        bank_code,
        currency,
        email: text(body, "email"),
        description: text(body, "description"),
        created_at: now(),
        active: true,
    };
    let data = recipient.json();
    state.recipients.push(recipient);
    Ok(data)
}

async fn list_recipients(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let state = shared.lock();
    let items = state
        .recipients
        .iter()
        .filter(|r| r.active)
        .map(Recipient::json)
        .collect();
    Ok(page("Recipients retrieved", items, &query))
}

/// Validates one transfer and records it as `otp` or `pending`; returns its index.
fn new_transfer(
    shared: &Shared,
    state: &mut super::state::State,
    item: &Value,
    currency: &str,
) -> Result<usize, ApiError> {
    let amount = amount(item)?;
    let recipient_code = required(item, "recipient")?;
    let recipient = state
        .recipients
        .iter()
        .position(|r| r.active && r.code == recipient_code)
        .ok_or_else(|| ApiError::bad_request("Recipient specified is invalid"))?;
    let reference = text(item, "reference").unwrap_or_else(|| code(20));
    if state.transfers.iter().any(|t| t.reference == reference) {
        return Err(ApiError::bad_request(format!(
            "Duplicate reference(s) found: {reference}"
        )));
    }
    let transfer = TransferRec {
        id: state.next_id(),
        code: format!("TRF_{}", code(15)),
        reference,
        amount,
        currency: currency.to_string(),
        recipient,
        reason: text(item, "reason"),
        status: if shared.config.otp_required {
            "otp"
        } else {
            "pending"
        },
        created_at: now(),
        transferred_at: None,
    };
    state.transfers.push(transfer);
    Ok(state.transfers.len() - 1)
}

fn transfer_json(state: &super::state::State, index: usize) -> Value {
    state.transfers.get(index).map_or(Value::Null, |t| {
        let recipient_id = state.recipients.get(t.recipient).map(|r| r.id);
        t.json(json!(recipient_id))
    })
}

async fn initiate_transfer(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let currency = currency(&body, shared.config.default_currency)?;
    let (data, webhooks, message) = {
        let mut state = shared.lock();
        let index = new_transfer(&shared, &mut state, &body, &currency)?;
        if shared.config.otp_required {
            let data = transfer_json(&state, index);
            (data, Vec::new(), "Transfer requires OTP to continue")
        } else {
            let webhooks = state.complete_transfer(index);
            (transfer_json(&state, index), webhooks, "Transfer has been queued")
        }
    };
    deliver(&shared, webhooks);
    Ok(ok(message, data))
}

async fn finalize_transfer(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let transfer_code = required(&body, "transfer_code")?;
    let otp = required(&body, "otp")?;
    let (data, webhooks) = {
        let mut state = shared.lock();
        let index = state
            .transfers
            .iter()
            .position(|t| t.code == transfer_code && t.status == "otp")
            .ok_or_else(|| ApiError::bad_request("Transfer code is invalid"))?;
        if otp != super::TEST_OTP {
            return Err(ApiError::bad_request("Invalid OTP"));
        }
        let webhooks = state.complete_transfer(index);
        (transfer_json(&state, index), webhooks)
    };
    deliver(&shared, webhooks);
    Ok(ok("Transfer has been queued", data))
}

async fn verify_transfer(State(shared): State<Arc<Shared>>, Path(reference): Path<String>) -> ApiResult {
    let state = shared.lock();
    let t = state
        .transfers
        .iter()
        .find(|t| t.reference == reference)
        .ok_or_else(|| ApiError::not_found("Transfer not found"))?;
    let recipient = state
        .recipients
        .get(t.recipient)
        .map_or(Value::Null, Recipient::json);
    Ok(ok("Transfer retrieved", t.json(recipient)))
}

async fn list_transfers(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    let state = shared.lock();
    let items = state
        .transfers
        .iter()
        .map(|t| {
            let recipient = state
                .recipients
                .get(t.recipient)
                .map_or(Value::Null, Recipient::json);
            t.json(recipient)
        })
        .collect();
    Ok(page("Transfers retrieved", items, &query))
}

async fn bulk_transfer(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let currency = currency(&body, shared.config.default_currency)?;
    let items = match body.get("transfers") {
        Some(Value::Array(items)) if !items.is_empty() => items.clone(),
        _ => return Err(ApiError::bad_request("transfers must be a non-empty list")),
    };
    let (data, webhooks) = {
        let mut state = shared.lock();
        // All or nothing, as Paystack refuses the whole batch on one bad item.
        let before = state.transfers.len();
        let mut indexes = Vec::new();
        for item in &items {
            match new_transfer(&shared, &mut state, item, &currency) {
                Ok(i) => indexes.push(i),
                Err(e) => {
                    state.transfers.truncate(before);
                    return Err(e);
                }
            }
        }
        let mut webhooks = Vec::new();
        let mut data = Vec::new();
        for i in indexes {
            webhooks.extend(state.complete_transfer(i));
            if let Some(t) = state.transfers.get(i) {
                let recipient = state.recipients.get(t.recipient).map(|r| r.code.clone());
                data.push(json!({
                    "reference": t.reference, "recipient": recipient, "amount": t.amount,
                    "transfer_code": t.code, "currency": t.currency, "status": t.status
                }));
            }
        }
        (data, webhooks)
    };
    let message = format!("{} transfers queued.", data.len());
    deliver(&shared, webhooks);
    Ok(ok(&message, Value::Array(data)))
}
