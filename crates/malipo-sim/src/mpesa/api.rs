//! The HTTP side: routes, auth, faults, and one checker per Daraja operation.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

use super::callbacks;
use super::fields::Fields;
use super::state::{conversation_id, random_from, request_id, ApiError, Push, Registration};
use super::{Endpoint, Fault, Outcome, Shared};

type Handler = fn(&Arc<Shared>, &Fields) -> Result<Value, ApiError>;
type ListHandler = fn(&Arc<Shared>, &[Fields]) -> Result<Value, ApiError>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let route = |endpoint: Endpoint, handler: Handler| {
        post(
            move |State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes| async move {
                dispatch(s, endpoint, headers, body, handler).await
            },
        )
    };
    let list = |endpoint: Endpoint, handler: ListHandler| {
        post(
            move |State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes| async move {
                dispatch_list(s, endpoint, headers, body, handler).await
            },
        )
    };
    use super::bill_manager as bm;
    Router::new()
        .route("/oauth/v1/generate", get(token))
        .route(
            "/v1/billmanager-invoice/optin",
            route(Endpoint::BillManager, bm::opt_in),
        )
        .route(
            "/v1/billmanager-invoice/change-optin-details",
            route(Endpoint::BillManager, bm::opt_in),
        )
        .route(
            "/v1/billmanager-invoice/single-invoicing",
            route(Endpoint::BillManager, bm::single),
        )
        .route(
            "/v1/billmanager-invoice/bulk-invoicing",
            list(Endpoint::BillManager, bm::bulk),
        )
        .route(
            "/v1/billmanager-invoice/cancel-single-invoice",
            route(Endpoint::BillManager, bm::cancel),
        )
        .route(
            "/v1/billmanager-invoice/cancel-bulk-invoices",
            list(Endpoint::BillManager, bm::cancel_bulk),
        )
        .route(
            "/v1/billmanager-invoice/reconciliation",
            route(Endpoint::BillManager, bm::acknowledge),
        )
        .route(
            "/mpesa/stkpush/v1/processrequest",
            route(Endpoint::StkPush, stk_push),
        )
        .route(
            "/mpesa/stkpushquery/v1/query",
            route(Endpoint::StkQuery, stk_query),
        )
        .route(
            "/mpesa/c2b/v1/registerurl",
            route(Endpoint::C2bRegister, register_v1),
        )
        .route(
            "/mpesa/c2b/v2/registerurl",
            route(Endpoint::C2bRegister, register_v2),
        )
        .route(
            "/mpesa/c2b/v1/simulate",
            route(Endpoint::C2bSimulate, c2b_simulate),
        )
        .route("/mpesa/b2c/v3/paymentrequest", route(Endpoint::B2c, b2c))
        .route("/mpesa/b2c/v1/paymentrequest", route(Endpoint::B2c, b2c))
        .route("/mpesa/b2b/v1/paymentrequest", route(Endpoint::B2b, b2b))
        .route(
            "/mpesa/transactionstatus/v1/query",
            route(Endpoint::TransactionStatus, status),
        )
        .route(
            "/mpesa/accountbalance/v1/query",
            route(Endpoint::AccountBalance, balance),
        )
        .route("/mpesa/reversal/v1/request", route(Endpoint::Reversal, reversal))
        .route(
            "/pulltransactions/v1/register",
            route(Endpoint::PullRegister, super::pull::register),
        )
        .route(
            "/pulltransactions/v1/query",
            route(Endpoint::PullQuery, super::pull::query),
        )
        .route(
            "/mpesa/qrcode/v1/generate",
            route(Endpoint::DynamicQr, dynamic_qr),
        )
        .route(
            "/standingorder/v1/createStandingOrderExternal",
            route(Endpoint::Ratiba, ratiba),
        )
        .route(
            "/v1/ussdpush/get-msisdn",
            route(Endpoint::B2bExpress, b2b_express),
        )
        .with_state(shared)
}

fn error_response(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(e.body())).into_response()
}

/// Counts the request and applies an injected fault. `Some` is the answer to send instead.
async fn before(shared: &Shared, endpoint: Endpoint) -> Option<Response> {
    let fault = {
        let mut state = shared.lock();
        *state.requests.entry(endpoint).or_insert(0) += 1;
        state.faults.get_mut(&endpoint).and_then(|q| q.pop_front())
    };
    match fault? {
        Fault::Delay(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Fault::Error {
            status,
            error_code,
            error_message,
        } => Some(error_response(&ApiError::new(status, &error_code, error_message))),
        Fault::Garbage => Some((StatusCode::OK, "<html>upstream reset</html>").into_response()),
        Fault::Raw { status, body } => Some(
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                body,
            )
                .into_response(),
        ),
    }
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = before(&shared, Endpoint::Token).await {
        return r;
    }
    let bad_auth = ApiError::new(400, "400.008.01", "Invalid Authentication passed");
    let Some(basic) = header_value(&headers).and_then(|h| h.strip_prefix("Basic ").map(str::to_string))
    else {
        return error_response(&bad_auth);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let expected = format!("{}:{}", shared.config.consumer_key, shared.config.consumer_secret);
    if decoded.as_deref() != Some(expected.as_str()) {
        return error_response(&bad_auth);
    }
    if query.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return error_response(&ApiError::new(400, "400.008.02", "Invalid grant type passed"));
    }
    let ttl = shared.config.token_ttl;
    let token = shared.lock().issue_token(ttl);
    let expires_in = if shared.config.token_expires_in_as_number {
        json!(ttl.as_secs())
    } else {
        json!(ttl.as_secs().to_string())
    };
    Json(json!({"access_token": token, "expires_in": expires_in})).into_response()
}

fn header_value(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()
}

async fn dispatch(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Bytes,
    handler: Handler,
) -> Response {
    if let Some(r) = before(&shared, endpoint).await {
        return r;
    }
    let Some(token) = header_value(&headers).and_then(|h| h.strip_prefix("Bearer ")) else {
        return error_response(&ApiError::new(404, "404.001.04", "Invalid Authentication Header"));
    };
    if !shared.lock().token_valid(token.trim()) {
        return error_response(&ApiError::new(404, "404.001.03", "Invalid Access Token"));
    }
    let result = Fields::parse(&body).and_then(|fields| handler(&shared, &fields));
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => error_response(&e),
    }
}

/// [`dispatch`] for a body that is a JSON array (bulk requests).
async fn dispatch_list(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Bytes,
    handler: ListHandler,
) -> Response {
    if let Some(r) = before(&shared, endpoint).await {
        return r;
    }
    let Some(token) = header_value(&headers).and_then(|h| h.strip_prefix("Bearer ")) else {
        return error_response(&ApiError::new(404, "404.001.04", "Invalid Authentication Header"));
    };
    if !shared.lock().token_valid(token.trim()) {
        return error_response(&ApiError::new(404, "404.001.03", "Invalid Access Token"));
    }
    match Fields::parse_list(&body).and_then(|list| handler(&shared, &list)) {
        Ok(value) => Json(value).into_response(),
        Err(e) => error_response(&e),
    }
}

/// Nairobi is UTC+3 all year.
fn nairobi_now() -> chrono::NaiveDateTime {
    (chrono::Utc::now() + chrono::Duration::hours(3)).naive_utc()
}

/// The shortcode, timestamp and password shared by STK push and query.
fn check_stk_credentials(shared: &Shared, f: &Fields) -> Result<String, ApiError> {
    let shortcode = f.digits("BusinessShortCode")?;
    if shortcode != shared.config.shortcode {
        return Err(ApiError::new(500, "500.001.1001", "Merchant does not exist"));
    }
    let timestamp = f.text("Timestamp")?;
    let parsed = chrono::NaiveDateTime::parse_from_str(&timestamp, "%Y%m%d%H%M%S")
        .map_err(|_| ApiError::invalid("Timestamp"))?;
    if timestamp.len() != 14 {
        return Err(ApiError::invalid("Timestamp"));
    }
    if shared.config.check_timestamp && (parsed - nairobi_now()).num_minutes().abs() > 10 {
        return Err(ApiError::invalid("Timestamp"));
    }
    let expected = base64::engine::general_purpose::STANDARD
        .encode(format!("{shortcode}{}{timestamp}", shared.config.passkey));
    if f.text("Password")? != expected {
        return Err(ApiError::new(500, "500.001.1001", "Wrong credentials"));
    }
    Ok(shortcode)
}

fn stk_push(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    let shortcode = check_stk_credentials(shared, f)?;
    let kind = f.one_of(
        "TransactionType",
        &["CustomerPayBillOnline", "CustomerBuyGoodsOnline"],
    )?;
    let amount = f.amount("Amount")?;
    let party_a = f.msisdn("PartyA")?;
    let phone = f.msisdn("PhoneNumber")?;
    let party_b = f.digits("PartyB")?;
    if kind == "CustomerPayBillOnline" && party_b != shortcode {
        return Err(ApiError::invalid("PartyB"));
    }
    let callback_url = f.url("CallBackURL")?;
    f.len("AccountReference", 1, 12)?;
    f.len("TransactionDesc", 1, 13)?;
    let checkout_id = format!(
        "ws_CO_{}{}",
        nairobi_now().format("%d%m%Y%H%M%S"),
        random_from(b"0123456789", 10)
    );
    let merchant_id = request_id();
    let delay = shared.config.callback_delay;
    let outcome = {
        let mut state = shared.lock();
        let outcome = state.outcome_for(&phone, amount, &shared.config.default_outcome);
        state.pushes.insert(
            checkout_id.clone(),
            Push {
                merchant_request_id: merchant_id.clone(),
                outcome: outcome.clone(),
                decided_at: Instant::now() + delay,
            },
        );
        outcome
    };
    tracing::info!(
        checkout_id,
        amount,
        party_a,
        ?outcome,
        "simulated STK push accepted"
    );
    if outcome.calls_back() {
        let body = callbacks::stk(&merchant_id, &checkout_id, &outcome, amount, &phone);
        callbacks::deliver_later(shared.clone(), delay, callback_url, body);
    }
    Ok(json!({
        "MerchantRequestID": merchant_id,
        "CheckoutRequestID": checkout_id,
        "ResponseCode": "0",
        "ResponseDescription": "Success. Request accepted for processing",
        "CustomerMessage": "Success. Request accepted for processing",
    }))
}

fn stk_query(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    check_stk_credentials(shared, f)?;
    let checkout_id = f.text("CheckoutRequestID")?;
    let push = shared
        .lock()
        .pushes
        .get(&checkout_id)
        .cloned()
        .ok_or_else(|| ApiError::invalid("CheckoutRequestID"))?;
    if Instant::now() < push.decided_at || push.outcome == Outcome::Processing {
        return Err(ApiError::new(
            500,
            "500.001.1001",
            "The transaction is being processed",
        ));
    }
    Ok(json!({
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successsfully",
        "MerchantRequestID": push.merchant_request_id,
        "CheckoutRequestID": checkout_id,
        // A string here, unlike the callback's number.
        "ResultCode": push.outcome.result_code().to_string(),
        "ResultDesc": push.outcome.result_desc(),
    }))
}

fn register(shared: &Arc<Shared>, f: &Fields, masked_msisdn: bool) -> Result<Value, ApiError> {
    let shortcode = f.digits("ShortCode")?;
    let response_type = f.one_of("ResponseType", &["Completed", "Cancelled"])?;
    let confirmation_url = f.url("ConfirmationURL")?;
    let validation_url = match f.opt("ValidationURL").filter(|v| !v.is_empty()) {
        Some(_) => f.url("ValidationURL")?,
        None => String::new(),
    };
    shared.lock().registrations.insert(
        shortcode,
        Registration {
            confirmation_url,
            validation_url,
            cancel_by_default: response_type == "Cancelled",
            masked_msisdn,
        },
    );
    Ok(json!({
        // Daraja's spelling.
        "OriginatorCoversationID": request_id(),
        "ResponseCode": "0",
        "ResponseDescription": "Success",
    }))
}

fn register_v1(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    register(shared, f, false)
}

fn register_v2(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    register(shared, f, true)
}

fn c2b_simulate(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    let shortcode = f.digits("ShortCode")?;
    let command = f.one_of("CommandID", &["CustomerPayBillOnline", "CustomerBuyGoodsOnline"])?;
    let amount = f.amount("Amount")?;
    let msisdn = f.msisdn("Msisdn")?;
    let bill_ref = f.len("BillRefNumber", 0, 20)?;
    let registration = shared.lock().registrations.get(&shortcode).cloned();
    // Without registered URLs the payment still happens, unannounced (the pull lists it).
    let payment = callbacks::C2bPayment {
        command,
        amount,
        msisdn,
        bill_ref,
        shortcode,
    };
    callbacks::c2b_later(shared.clone(), registration, payment);
    Ok(json!({
        "OriginatorCoversationID": request_id(),
        "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully.",
    }))
}

/// The initiator checks Daraja does asynchronously: a wrong name or credential is ResultCode
/// 2001 in the result, not an HTTP error.
fn initiator_ok(shared: &Shared, f: &Fields, name_field: &str) -> Result<bool, ApiError> {
    let name = f.text(name_field)?;
    let credential = f.text("SecurityCredential")?;
    let credential_ok = shared
        .config
        .security_credential
        .as_ref()
        .is_none_or(|expected| *expected == credential);
    Ok(name == shared.config.initiator_name && credential_ok)
}

fn invalid_initiator() -> Outcome {
    Outcome::Code {
        code: 2001,
        desc: "The initiator information is invalid.".into(),
    }
}

fn accepted(originator: &str, conversation: &str) -> Value {
    json!({
        "ConversationID": conversation,
        "OriginatorConversationID": originator,
        "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully.",
    })
}

struct ResultTarget {
    result_url: String,
    queue_timeout_url: String,
    originator: String,
    conversation: String,
}

fn result_target(f: &Fields, originator: Option<String>) -> Result<ResultTarget, ApiError> {
    Ok(ResultTarget {
        result_url: f.url("ResultURL")?,
        queue_timeout_url: f.url("QueueTimeOutURL")?,
        originator: originator.unwrap_or_else(request_id),
        conversation: conversation_id(),
    })
}

/// Sends the result (or the queue timeout, or nothing) for an initiator operation.
fn finish(
    shared: &Arc<Shared>,
    target: &ResultTarget,
    outcome: &Outcome,
    params: Vec<(&str, Value)>,
    queue: &str,
) {
    let delay = shared.config.callback_delay;
    match outcome {
        o if !o.calls_back() => {}
        Outcome::Timeout => {
            let body = callbacks::queue_timeout(&target.originator, &target.conversation);
            callbacks::deliver_later(shared.clone(), delay, target.queue_timeout_url.clone(), body);
        }
        _ => {
            let params = if outcome.is_paid() { params } else { Vec::new() };
            let body = callbacks::result(&target.originator, &target.conversation, outcome, params, queue);
            callbacks::deliver_later(shared.clone(), delay, target.result_url.clone(), body);
        }
    }
}

fn b2c(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    let originator = f.opt("OriginatorConversationID").filter(|s| !s.is_empty());
    let ok = initiator_ok(shared, f, "InitiatorName")?;
    f.one_of(
        "CommandID",
        &["BusinessPayment", "SalaryPayment", "PromotionPayment"],
    )?;
    let amount = f.amount("Amount")?;
    f.digits("PartyA")?;
    let phone = f.msisdn("PartyB")?;
    f.len("Remarks", 2, 100)?;
    f.len("Occassion", 0, 100)?;
    let target = result_target(f, originator)?;
    let outcome = if ok {
        shared
            .lock()
            .outcome_for(&phone, amount, &shared.config.default_outcome)
    } else {
        invalid_initiator()
    };
    let receipt = super::state::receipt();
    shared
        .lock()
        .b2c_receipts
        .insert(target.originator.clone(), (receipt.clone(), amount));
    let params = vec![
        ("TransactionAmount", json!(amount)),
        ("TransactionReceipt", json!(receipt)),
        ("B2CRecipientIsRegisteredCustomer", json!("Y")),
        ("B2CChargesPaidAccountAvailableFunds", json!(-4510.00)),
        (
            "ReceiverPartyPublicName",
            json!(format!("{phone} - Simulated Customer")),
        ),
        (
            "TransactionCompletedDateTime",
            json!(nairobi_now().format("%d.%m.%Y %H:%M:%S").to_string()),
        ),
        ("B2CUtilityAccountAvailableFunds", json!(10116.00)),
        ("B2CWorkingAccountAvailableFunds", json!(900000.00)),
    ];
    finish(shared, &target, &outcome, params, "b2cresults");
    Ok(accepted(&target.originator, &target.conversation))
}

fn b2b(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    let ok = initiator_ok(shared, f, "Initiator")?;
    f.one_of(
        "CommandID",
        &[
            "BusinessPayBill",
            "BusinessBuyGoods",
            "DisburseFundsToBusiness",
            "BusinessToBusinessTransfer",
            "MerchantToMerchantTransfer",
        ],
    )?;
    let amount = f.amount("Amount")?;
    f.digits("PartyA")?;
    let party_b = f.digits("PartyB")?;
    f.len("AccountReference", 0, 13)?;
    f.len("Remarks", 2, 100)?;
    let target = result_target(f, None)?;
    let outcome = if ok {
        shared
            .lock()
            .outcome_for(&party_b, amount, &shared.config.default_outcome)
    } else {
        invalid_initiator()
    };
    let params = vec![
        ("Amount", json!(format!("{amount}.00"))),
        (
            "DebitPartyAffectedAccountBalance",
            json!("Working Account|KES|346568.83|6186.83|340382.00|0.00"),
        ),
        (
            "TransCompletedTime",
            json!(nairobi_now().format("%Y%m%d%H%M%S").to_string()),
        ),
        (
            "ReceiverPartyPublicName",
            json!(format!("{party_b} - Simulated Business")),
        ),
        ("Currency", json!("KES")),
        (
            "InitiatorAccountCurrentBalance",
            json!("{Amount={CurrencyCode=KES, MinimumAmount=618683, BasicAmount=6186.83}}"),
        ),
    ];
    finish(shared, &target, &outcome, params, "b2bresults");
    Ok(accepted(&target.originator, &target.conversation))
}

fn status(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    let ok = initiator_ok(shared, f, "Initiator")?;
    f.one_of("CommandID", &["TransactionStatusQuery"])?;
    // Daraja asks by the receipt, or by the OriginatorConversationID of the request that made
    // the transaction (a payout whose result was lost has no receipt to give).
    let original = f.opt("OriginalConversationID").filter(|s| !s.is_empty());
    let transaction_id = match (f.opt("TransactionID").filter(|s| !s.is_empty()), &original) {
        (Some(_), _) => Some(f.text("TransactionID")?),
        (None, Some(_)) => None,
        (None, None) => return Err(ApiError::invalid("TransactionID")),
    };
    f.digits("PartyA")?;
    f.one_of("IdentifierType", &["1", "2", "4"])?;
    f.len("Remarks", 2, 100)?;
    let target = result_target(f, None)?;
    // The transaction asked about, when this simulator made it: by receipt, else by the
    // OriginatorConversationID of its B2C request.
    let known = {
        let state = shared.lock();
        match (&transaction_id, &original) {
            (Some(receipt), _) => state
                .b2c_receipts
                .iter()
                .find(|(_, (r, _))| r == receipt)
                .map(|(originator, (r, amount))| (originator.clone(), r.clone(), *amount)),
            (None, Some(originator)) => state
                .b2c_receipts
                .get(originator)
                .map(|(r, amount)| (originator.clone(), r.clone(), *amount)),
            (None, None) => None,
        }
    };
    let outcome = match (ok, &known, &transaction_id) {
        (false, _, _) => invalid_initiator(),
        (true, ..) if shared.config.status_outcome.is_some() => {
            shared.config.status_outcome.clone().unwrap_or(Outcome::Paid)
        }
        // A receipt this simulator did not issue is answered as found (tests ask about fixtures).
        (true, Some(_), _) | (true, None, Some(_)) => Outcome::Paid,
        (true, None, None) => Outcome::Code {
            code: 2001,
            desc: "The transaction was not found.".into(),
        },
    };
    let (originator, receipt, amount) = known.unwrap_or_else(|| {
        (
            original.clone().unwrap_or_default(),
            transaction_id.clone().unwrap_or_default(),
            1,
        )
    });
    let now = nairobi_now().format("%Y%m%d%H%M%S").to_string();
    let params = vec![
        ("DebitPartyName", json!("254708374149 - Simulated Customer")),
        (
            "CreditPartyName",
            json!(format!("{} - Simulated Business", shared.config.shortcode)),
        ),
        // The parameters describe the transaction asked about, not the query.
        ("OriginatorConversationID", json!(originator)),
        ("InitiatedTime", json!(now.parse::<u64>().unwrap_or(0))),
        ("DebitAccountType", json!("MMF Account For Customer")),
        ("TransactionReason", Value::Null),
        ("ReasonType", json!("Pay Bill Online")),
        ("TransactionStatus", json!("Completed")),
        ("FinalisedTime", json!(now.parse::<u64>().unwrap_or(0))),
        ("Amount", json!(amount as f64)),
        ("ConversationID", json!(target.conversation.clone())),
        ("ReceiptNo", json!(receipt)),
    ];
    finish(shared, &target, &outcome, params, "transactionstatus");
    Ok(accepted(&target.originator, &target.conversation))
}

fn balance(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    let ok = initiator_ok(shared, f, "Initiator")?;
    f.one_of("CommandID", &["AccountBalance"])?;
    f.digits("PartyA")?;
    f.one_of("IdentifierType", &["1", "2", "4"])?;
    f.len("Remarks", 2, 100)?;
    let target = result_target(f, None)?;
    let outcome = if ok { Outcome::Paid } else { invalid_initiator() };
    let params = vec![
        (
            "AccountBalance",
            json!("Working Account|KES|700000.00|700000.00|0.00|0.00&Utility Account|KES|228037.00|228037.00|0.00|0.00&Charges Paid Account|KES|-1540.00|-1540.00|0.00|0.00"),
        ),
        ("BOCompletedTime", json!(nairobi_now().format("%Y%m%d%H%M%S").to_string().parse::<u64>().unwrap_or(0))),
    ];
    finish(shared, &target, &outcome, params, "abresults");
    Ok(accepted(&target.originator, &target.conversation))
}

fn reversal(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    let ok = initiator_ok(shared, f, "Initiator")?;
    f.one_of("CommandID", &["TransactionReversal"])?;
    let transaction_id = f.text("TransactionID")?;
    let amount = f.amount("Amount")?;
    f.digits("ReceiverParty")?;
    f.one_of("RecieverIdentifierType", &["1", "2", "4", "11"])?;
    f.len("Remarks", 2, 100)?;
    let target = result_target(f, None)?;
    let outcome = if ok { Outcome::Paid } else { invalid_initiator() };
    let params = vec![
        (
            "DebitAccountBalance",
            json!("Utility Account|KES|51661.00|51661.00|0.00|0.00"),
        ),
        ("Amount", json!(amount)),
        (
            "TransCompletedTime",
            json!(nairobi_now()
                .format("%Y%m%d%H%M%S")
                .to_string()
                .parse::<u64>()
                .unwrap_or(0)),
        ),
        ("OriginalTransactionID", json!(transaction_id)),
        ("Charge", json!(0)),
        (
            "CreditPartyPublicName",
            json!("254708374149 - Simulated Customer"),
        ),
        (
            "DebitPartyPublicName",
            json!(format!("{} - Simulated Business", shared.config.shortcode)),
        ),
    ];
    finish(shared, &target, &outcome, params, "reversalresults");
    Ok(accepted(&target.originator, &target.conversation))
}

/// A valid 1×1 PNG: the simulator's QR image is a stand-in, not a scannable code.
const PLACEHOLDER_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==";

fn dynamic_qr(_shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    f.len("MerchantName", 1, 100)?;
    f.len("RefNo", 1, 100)?;
    f.amount("Amount")?;
    let code = f.one_of("TrxCode", &["BG", "WA", "PB", "SM", "SB"])?;
    let cpi = if code == "SM" || code == "SB" {
        f.msisdn("CPI")?
    } else {
        f.digits("CPI")?
    };
    let size = f.digits("Size")?;
    if size.parse::<u32>().map_or(true, |s| s == 0) {
        return Err(ApiError::invalid("Size"));
    }
    tracing::info!(code, cpi, "simulated dynamic QR generated");
    Ok(json!({
        "ResponseCode": "00",
        "RequestID": request_id(),
        "ResponseDescription": "The service request is processed successfully.",
        "QRCode": PLACEHOLDER_PNG,
    }))
}

fn yyyymmdd(f: &Fields, field: &str) -> Result<chrono::NaiveDate, ApiError> {
    chrono::NaiveDate::parse_from_str(&f.text(field)?, "%Y%m%d").map_err(|_| ApiError::invalid(field))
}

/// M-Pesa Ratiba: accepted at once; the outcome for the paying phone is POSTed after the
/// callback delay (success in Daraja's camelCase shape, failure in its PascalCase one).
fn ratiba(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    f.len("StandingOrderName", 1, 100)?;
    if yyyymmdd(f, "EndDate")? <= yyyymmdd(f, "StartDate")? {
        return Err(ApiError::invalid("EndDate"));
    }
    f.digits("BusinessShortCode")?;
    let kind = f.one_of(
        "TransactionType",
        &[
            "Standing Order Customer Pay Bill",
            "Standing Order Customer Pay Marchant",
        ],
    )?;
    f.one_of("ReceiverPartyIdentifierType", &["2", "4"])?;
    let amount = f.amount("Amount")?;
    let phone = f.msisdn("PartyA")?;
    let url = f.url("CallBackURL")?;
    let min_reference = usize::from(kind == "Standing Order Customer Pay Bill");
    f.len("AccountReference", min_reference, 12)?;
    f.len("TransactionDesc", 1, 13)?;
    f.one_of("Frequency", &["1", "2", "3", "4", "5", "6", "7", "8"])?;
    let reference = request_id();
    let outcome = shared
        .lock()
        .outcome_for(&phone, amount, &shared.config.default_outcome);
    if outcome.calls_back() {
        let masked = format!("{}******{}", &phone[..3], &phone[9..]);
        let body = if outcome.is_paid() {
            json!({
                "responseHeader": {
                    "responseRefID": reference, "requestRefID": reference,
                    "responseCode": "0", "responseDescription": "The service request is processed successfully",
                },
                "responseBody": {"responseData": [
                    {"name": "TransactionID", "value": super::state::receipt()},
                    {"name": "responseCode", "value": "0"},
                    {"name": "Status", "value": "OKAY"},
                    {"name": "Msisdn", "value": masked},
                ]},
            })
        } else {
            let code = outcome.result_code().to_string();
            json!({
                "ResponseHeader": {
                    "responseRefID": reference, "requestRefID": reference,
                    "responseCode": code, "responseDescription": outcome.result_desc(),
                },
                "ResponseBody": {"ResponseData": [
                    {"Name": "TransactionID", "Value": "0000000000"},
                    {"Name": "responseCode", "Value": code},
                    {"Name": "Status", "Value": "ERROR"},
                    {"Name": "Msisdn", "Value": masked},
                ]},
            })
        };
        callbacks::deliver_later(shared.clone(), shared.config.callback_delay, url, body);
    }
    Ok(json!({
        "ResponseHeader": {
            "responseRefID": reference,
            "responseCode": "200",
            "responseDescription": "Request accepted for processing",
            "ResultDesc": "The service request is processed successfully.",
        },
        "ResponseBody": {"responseDescription": "Request accepted for processing", "responseCode": "200"},
    }))
}

/// B2B Express Checkout: the prompt is "sent"; the outcome for the amount is POSTed after the
/// callback delay (a cancelled prompt is Daraja's 4001).
fn b2b_express(shared: &Arc<Shared>, f: &Fields) -> Result<Value, ApiError> {
    f.digits("primaryShortCode")?;
    f.digits("receiverShortCode")?;
    let amount = f.amount("amount")?;
    let payment_ref = f.len("paymentRef", 1, 100)?;
    let url = f.url("callbackUrl")?;
    f.len("partnerName", 1, 100)?;
    let request = f.text("RequestRefID")?;
    let outcome = shared
        .lock()
        .outcome_for("", amount, &shared.config.default_outcome);
    if outcome.calls_back() {
        let body = if outcome.is_paid() {
            json!({
                "resultCode": "0",
                "resultDesc": "The service request is processed successfully.",
                "amount": format!("{amount}.0"),
                "requestId": request,
                "resultType": "0",
                "conversationID": conversation_id(),
                "transactionId": super::state::receipt(),
                "status": "SUCCESS",
            })
        } else {
            let (code, desc) = match &outcome {
                Outcome::Cancelled => ("4001".to_string(), "User cancelled transaction".to_string()),
                other => (other.result_code().to_string(), other.result_desc()),
            };
            json!({
                "resultCode": code,
                "resultDesc": desc,
                "requestId": request,
                "amount": format!("{amount}.0"),
                "paymentReference": payment_ref,
            })
        };
        callbacks::deliver_later(shared.clone(), shared.config.callback_delay, url, body);
    }
    Ok(json!({"code": "0", "status": "USSD Initiated Successfully"}))
}
