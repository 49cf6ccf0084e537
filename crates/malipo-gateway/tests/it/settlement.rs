//! Settlement that cannot be forged: each test is an attack on the real gateway over HTTP. A
//! callback that disagrees with its payment is acknowledged, stored as suspicious with its
//! reason, moves nothing, and does not stop the genuine callback from settling the payment.

use std::collections::HashSet;

use malipo_core::{Currency, EventStatus, Money, PaymentId, PaymentState, Provider};
use malipo_store::{EventSummary, NewPayment, PaymentRecord};
use serde_json::{json, Value};

use crate::common::*;

/// The phone every STK push here is sent to.
const PHONE: u64 = 254_708_374_149;

/// A pending STK push of `kes` shillings with the ids Daraja gave it: CheckoutRequestID
/// `ws_CO_<tag>` and MerchantRequestID `mr-<tag>`.
async fn stk_push(gw: &TestGateway, kes: u64, tag: &str) -> PaymentId {
    let payment = NewPayment {
        provider_reference: Some(format!("ws_CO_{tag}")),
        provider_request_id: Some(format!("mr-{tag}")),
        msisdn: Some(PHONE.to_string().parse().unwrap()),
        ..NewPayment::pending(
            Provider::Mpesa,
            "stk_push",
            Money::from_major(kes, Currency::Kes).unwrap(),
        )
    };
    gw.store().insert_payment(payment).await.unwrap().id
}

/// An STK callback in Daraja's shape.
fn stk_body(checkout: &str, merchant: &str, code: Value, metadata: Option<Value>) -> String {
    let mut cb = json!({
        "MerchantRequestID": merchant,
        "CheckoutRequestID": checkout,
        "ResultCode": code,
        "ResultDesc": "The service request is processed successfully.",
    });
    if let Some(m) = metadata {
        cb["CallbackMetadata"] = m;
    }
    json!({"Body": {"stkCallback": cb}}).to_string()
}

/// CallbackMetadata of a paid push.
fn paid_metadata(amount: Value, receipt: Value) -> Value {
    json!({"Item": [
        {"Name": "Amount", "Value": amount},
        {"Name": "MpesaReceiptNumber", "Value": receipt},
        {"Name": "Balance"},
        {"Name": "TransactionDate", "Value": 20191219102115u64},
        {"Name": "PhoneNumber", "Value": PHONE},
    ]})
}

/// The genuine success of push `tag` for `kes` shillings.
fn genuine_paid(tag: &str, kes: u64) -> String {
    stk_body(
        &format!("ws_CO_{tag}"),
        &format!("mr-{tag}"),
        json!(0),
        Some(paid_metadata(json!(kes as f64), json!("NLJ7RT61SV"))),
    )
}

fn token(gw: &TestGateway, route: &str, payment: PaymentId) -> String {
    let route = match route {
        "stk" => malipo_guard::CallbackRoute::Stk,
        "result" => malipo_guard::CallbackRoute::Result,
        _ => malipo_guard::CallbackRoute::Timeout,
    };
    gw.state
        .callback_tokens
        .as_ref()
        .unwrap()
        .issue_for(route, payment)
}

/// POSTs `body` to `path` from Safaricom's (test) address; the HTTP status, and the event it
/// stored (`None` when nothing new was stored).
async fn post(gw: &TestGateway, path: &str, body: String) -> (u16, Option<EventSummary>) {
    let before: HashSet<_> = gw.events().await.into_iter().map(|e| e.id).collect();
    let res = client_from("127.0.0.2")
        .post(gw.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let new = gw.events().await.into_iter().find(|e| !before.contains(&e.id));
    (status, new)
}

/// POSTs an STK callback to `payment`'s own callback URL and waits for the worker to complete
/// it with `status`.
async fn stk_callback(
    gw: &TestGateway,
    payment: PaymentId,
    body: String,
    status: EventStatus,
) -> EventSummary {
    let path = format!("/callbacks/mpesa/stk/{}", token(gw, "stk", payment));
    let (code, event) = post(gw, &path, body).await;
    assert_eq!(code, 200, "acknowledged");
    let event = event.expect("stored as a new event");
    gw.wait_for_status(event.id, status).await
}

async fn payment(gw: &TestGateway, id: PaymentId) -> PaymentRecord {
    gw.store().get_payment(id).await.unwrap().unwrap()
}

/// The shape of most attacks: `forged` is posted to the payment's own URL and must be stored
/// suspicious for a reason containing `why`, leaving the payment pending; then the genuine
/// callback still settles it.
async fn refused_then_genuine_settles(forged: String, why: &str) {
    let gw = TestGateway::start("").await;
    let id = stk_push(&gw, 4_040, "A").await;
    let event = stk_callback(&gw, id, forged, EventStatus::Suspicious).await;
    let reason = event.last_error.clone().unwrap_or_default();
    assert!(reason.contains(why), "reason {reason:?} should say {why:?}");
    assert_eq!(event.payment_id, Some(id));
    assert_eq!(payment(&gw, id).await.state, PaymentState::Pending);

    stk_callback(&gw, id, genuine_paid("A", 4_040), EventStatus::Processed).await;
    let paid = payment(&gw, id).await;
    assert_eq!(paid.state, PaymentState::Succeeded);
    assert_eq!(paid.receipt.as_deref(), Some("NLJ7RT61SV"));
    assert_eq!(gw.state.metrics.suspicious_total(), 1);
    let stats = gw.store().stats().await.unwrap();
    assert_eq!(stats.events_in(EventStatus::Suspicious), 1);
    gw.stop().await;
}

fn forged_amount(amount: Value) -> String {
    stk_body(
        "ws_CO_A",
        "mr-A",
        json!(0),
        Some(paid_metadata(amount, json!("NLJ7RT61SV"))),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_for_one_shilling_does_not_pay_4040() {
    refused_then_genuine_settles(forged_amount(json!(1)), "amount KES 1.00").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_for_half_the_amount_is_suspicious() {
    refused_then_genuine_settles(
        forged_amount(json!(2020.00)),
        "amount KES 2020.00 is not the payment's KES 4040.00",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_for_a_negative_amount_is_suspicious() {
    refused_then_genuine_settles(forged_amount(json!(-4040)), "without an amount").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_for_a_huge_amount_is_suspicious() {
    refused_then_genuine_settles(forged_amount(json!(1e14)), "amount").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_with_an_unknown_checkout_request_id_is_suspicious() {
    let forged = stk_body(
        "ws_CO_made_up",
        "mr-A",
        json!(0),
        Some(paid_metadata(json!(4040), json!("NLJ7RT61SV"))),
    );
    refused_then_genuine_settles(forged, "reference \"ws_CO_made_up\"").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_with_another_payments_checkout_request_id_is_suspicious() {
    let gw = TestGateway::start("").await;
    let a = stk_push(&gw, 4_040, "A").await;
    let b = stk_push(&gw, 4_040, "B").await;
    // B's ids, posted to A's URL.
    let event = stk_callback(&gw, a, genuine_paid("B", 4_040), EventStatus::Suspicious).await;
    assert!(event.last_error.unwrap().contains("is not payment"));
    assert_eq!(payment(&gw, a).await.state, PaymentState::Pending);
    assert_eq!(payment(&gw, b).await.state, PaymentState::Pending);
    // Each genuine callback still settles its own payment.
    stk_callback(&gw, b, genuine_paid("B", 4_040), EventStatus::Processed).await;
    stk_callback(&gw, a, genuine_paid("A", 4_040), EventStatus::Processed).await;
    assert_eq!(payment(&gw, a).await.state, PaymentState::Succeeded);
    assert_eq!(payment(&gw, b).await.state, PaymentState::Succeeded);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_with_a_wrong_merchant_request_id_is_suspicious() {
    let forged = stk_body(
        "ws_CO_A",
        "29115-34620561-1",
        json!(0),
        Some(paid_metadata(json!(4040), json!("NLJ7RT61SV"))),
    );
    refused_then_genuine_settles(forged, "request id \"29115-34620561-1\"").await;
}

fn with_code(code: Value) -> String {
    stk_body(
        "ws_CO_A",
        "mr-A",
        code,
        Some(paid_metadata(json!(4040), json!("NLJ7RT61SV"))),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_result_code_as_the_string_zero_is_suspicious() {
    refused_then_genuine_settles(with_code(json!("0")), "not a JSON integer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_result_code_false_is_suspicious() {
    refused_then_genuine_settles(with_code(json!(false)), "not a JSON integer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_result_code_null_is_suspicious() {
    refused_then_genuine_settles(with_code(Value::Null), "not a JSON integer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_without_callback_metadata_is_suspicious() {
    refused_then_genuine_settles(
        stk_body("ws_CO_A", "mr-A", json!(0), None),
        "without CallbackMetadata",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_without_a_receipt_is_suspicious() {
    let metadata = json!({"Item": [
        {"Name": "Amount", "Value": 4040},
        {"Name": "PhoneNumber", "Value": PHONE},
    ]});
    refused_then_genuine_settles(
        stk_body("ws_CO_A", "mr-A", json!(0), Some(metadata)),
        "without MpesaReceiptNumber",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_with_a_malformed_receipt_is_suspicious_and_never_stored_as_the_receipt() {
    let forged = stk_body(
        "ws_CO_A",
        "mr-A",
        json!(0),
        Some(paid_metadata(json!(4040), json!("X'); DROP TABLE payments;--"))),
    );
    refused_then_genuine_settles(forged, "is not a receipt").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_paid_from_another_phone_is_suspicious() {
    let mut metadata = paid_metadata(json!(4040), json!("NLJ7RT61SV"));
    metadata["Item"][4]["Value"] = json!(254_711_111_111u64);
    refused_then_genuine_settles(
        stk_body("ws_CO_A", "mr-A", json!(0), Some(metadata)),
        "not the payment's 2547****4149",
    )
    .await;
}

/// Regression: with two `Amount` (or `PhoneNumber`) items the first one counted, so a body
/// adding a second, different one settled the payment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_with_conflicting_items_is_suspicious() {
    let mut metadata = paid_metadata(json!(4040), json!("NLJ7RT61SV"));
    metadata["Item"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Name": "Amount", "Value": 1}));
    refused_then_genuine_settles(
        stk_body("ws_CO_A", "mr-A", json!(0), Some(metadata)),
        "gives \"Amount\" twice",
    )
    .await;
}

/// Regression: a masked phone was not compared at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_from_a_masked_phone_that_is_not_the_payments_is_suspicious() {
    let mut metadata = paid_metadata(json!(4040), json!("NLJ7RT61SV"));
    metadata["Item"][4]["Value"] = json!("2547***1111");
    refused_then_genuine_settles(
        stk_body("ws_CO_A", "mr-A", json!(0), Some(metadata)),
        "names phone 2547***1111",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_success_after_a_cancel_is_suspicious() {
    let gw = TestGateway::start("").await;
    let id = stk_push(&gw, 4_040, "A").await;
    let cancel = stk_body("ws_CO_A", "mr-A", json!(1032), None);
    stk_callback(&gw, id, cancel.clone(), EventStatus::Processed).await;
    assert_eq!(payment(&gw, id).await.state, PaymentState::Cancelled);
    let late = stk_callback(&gw, id, genuine_paid("A", 4_040), EventStatus::Suspicious).await;
    assert!(late.last_error.unwrap().contains("already cancelled"));
    assert_eq!(payment(&gw, id).await.state, PaymentState::Cancelled);
    // The cancel delivered again agrees: nothing new is stored, nothing moves.
    let path = format!("/callbacks/mpesa/stk/{}", token(&gw, "stk", id));
    let (code, new) = post(&gw, &path, cancel).await;
    assert_eq!((code, new.is_none()), (200, true));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_junk_before_the_genuine_callback_does_not_block_it() {
    let gw = TestGateway::start("").await;
    let id = stk_push(&gw, 4_040, "A").await;
    // Several forgeries naming the payment's own ids, each its own event.
    for junk in [
        forged_amount(json!(1)),
        with_code(json!("0")),
        stk_body("ws_CO_A", "mr-A", json!(0), None),
    ] {
        stk_callback(&gw, id, junk, EventStatus::Suspicious).await;
    }
    assert_eq!(payment(&gw, id).await.state, PaymentState::Pending);
    stk_callback(&gw, id, genuine_paid("A", 4_040), EventStatus::Processed).await;
    assert_eq!(payment(&gw, id).await.state, PaymentState::Succeeded);
    assert_eq!(gw.state.metrics.suspicious_total(), 3);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_burn_a_cancel_on_a_naming_b_neither_cancels_a_nor_swallows_bs_success() {
    let gw = TestGateway::start("").await;
    let a = stk_push(&gw, 4_040, "A").await;
    let b = stk_push(&gw, 4_040, "B").await;
    // A cancel for B's push, posted to A's URL.
    let burn = stk_body("ws_CO_B", "mr-B", json!(1032), None);
    let event = stk_callback(&gw, a, burn, EventStatus::Suspicious).await;
    assert!(event.last_error.unwrap().contains("is not payment"));
    assert_eq!(payment(&gw, a).await.state, PaymentState::Pending);
    // B's genuine success on B's own URL is a new event, not a duplicate, and settles B.
    stk_callback(&gw, b, genuine_paid("B", 4_040), EventStatus::Processed).await;
    assert_eq!(payment(&gw, b).await.state, PaymentState::Succeeded);
    assert_eq!(payment(&gw, a).await.state, PaymentState::Pending);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_with_another_requests_ids_is_suspicious() {
    refused_then_genuine_settles(
        stk_body("ws_CO_A", "mr-other", json!(1032), None),
        "request id \"mr-other\"",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_stk_callback_never_touches_a_paystack_payment() {
    let gw = TestGateway::start("").await;
    let p = gw
        .store()
        .insert_payment(NewPayment {
            provider_reference: Some("ws_CO_A".into()),
            provider_request_id: Some("mr-A".into()),
            ..NewPayment::pending(
                Provider::Paystack,
                "charge",
                Money::from_major(4_040, Currency::Kes).unwrap(),
            )
        })
        .await
        .unwrap();
    let event = stk_callback(&gw, p.id, genuine_paid("A", 4_040), EventStatus::Suspicious).await;
    assert!(event.last_error.unwrap().contains("a paystack payment"));
    assert_eq!(payment(&gw, p.id).await.state, PaymentState::Pending);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stk_token_is_refused_on_the_result_and_timeout_routes() {
    let gw = TestGateway::start("").await;
    let id = stk_push(&gw, 4_040, "A").await;
    let stk = token(&gw, "stk", id);
    let b2c = include_str!("../fixtures/b2c-result-success.json").to_string();
    for route in ["result", "timeout"] {
        let (code, new) = post(&gw, &format!("/callbacks/mpesa/{route}/{stk}"), b2c.clone()).await;
        assert_eq!(code, 404, "{route}");
        assert!(new.is_none(), "{route}: nothing stored");
    }
    // And a result token is refused on the STK route.
    let result = token(&gw, "result", id);
    let (code, new) = post(
        &gw,
        &format!("/callbacks/mpesa/stk/{result}"),
        genuine_paid("A", 4_040),
    )
    .await;
    assert_eq!((code, new.is_none()), (404, true));
    assert_eq!(payment(&gw, id).await.state, PaymentState::Pending);
    stk_callback(&gw, id, genuine_paid("A", 4_040), EventStatus::Processed).await;
    assert_eq!(payment(&gw, id).await.state, PaymentState::Succeeded);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_c2b_confirmation_for_a_foreign_shortcode_is_never_recorded() {
    let gw = TestGateway::start("").await;
    // Someone registered our confirmation URL for their own till and paid it 1 KES, naming one
    // of our order numbers.
    let forged = json!({
        "TransactionType": "Pay Bill", "TransID": "RKTQDM7W6S", "TransTime": "20191122063845",
        "TransAmount": "1", "BusinessShortCode": "999999", "BillRefNumber": "order-1042",
        "InvoiceNumber": "", "OrgAccountBalance": "1.00", "ThirdPartyTransID": "",
        "MSISDN": "254708374149", "FirstName": "Mallory", "MiddleName": "", "LastName": "",
    });
    let (code, event) = post(&gw, "/callbacks/daraja/c2b/confirmation", forged.to_string()).await;
    assert_eq!(code, 200);
    let event = gw
        .wait_for_status(event.unwrap().id, EventStatus::Suspicious)
        .await;
    assert!(event.last_error.unwrap().contains("\"999999\""));
    assert!(gw
        .store()
        .find_payment_by_provider_ref(Provider::Mpesa, "RKTQDM7W6S")
        .await
        .unwrap()
        .is_none());
    // Its validation request is refused with Daraja's invalid-shortcode code.
    let res = client_from("127.0.0.2")
        .post(gw.url("/callbacks/daraja/c2b/validation"))
        .body(forged.to_string())
        .send()
        .await
        .unwrap();
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["ResultCode"], "C2B00015");
    // The same payment to our shortcode is recorded.
    let mut ours = forged.clone();
    ours["BusinessShortCode"] = json!("174379");
    let (_, event) = post(&gw, "/callbacks/daraja/c2b/confirmation", ours.to_string()).await;
    gw.wait_for_status(event.unwrap().id, EventStatus::Processed)
        .await;
    let recorded = gw
        .store()
        .find_payment_by_provider_ref(Provider::Mpesa, "RKTQDM7W6S")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(recorded.state, PaymentState::Succeeded);
    assert_eq!(recorded.merchant_reference.as_deref(), Some("order-1042"));
    gw.stop().await;
}

/// A pending Paystack checkout of NGN 100.00 (the fixture's amount) under `reference`.
async fn checkout(gw: &TestGateway, reference: &str) -> PaymentId {
    gw.store()
        .insert_payment(NewPayment {
            provider_reference: Some(reference.into()),
            ..NewPayment::pending(
                Provider::Paystack,
                "charge",
                Money::from_minor(10_000, Currency::Ngn),
            )
        })
        .await
        .unwrap()
        .id
}

fn charge(id: u64, reference: &str, amount: u64, currency: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(include_str!("../fixtures/charge-success.json")).unwrap();
    v["data"]["id"] = id.into();
    v["data"]["reference"] = reference.into();
    v["data"]["amount"] = amount.into();
    v["data"]["currency"] = currency.into();
    serde_json::to_vec(&v).unwrap()
}

fn refund_processed(refund_id: &str, reference: &str, amount: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": "refund.processed",
        "data": {"id": refund_id, "status": "processed", "transaction_reference": reference,
                 "amount": amount.to_string(), "currency": "NGN"},
    }))
    .unwrap()
}

/// POSTs a signed Paystack webhook and waits for its event to reach `status`.
async fn paystack(gw: &TestGateway, body: Vec<u8>, status: EventStatus) -> EventSummary {
    let before: HashSet<_> = gw.events().await.into_iter().map(|e| e.id).collect();
    let res = post_paystack(&client_from("127.0.0.2"), gw, body).await;
    assert_eq!(res.status(), 200);
    let event = gw
        .events()
        .await
        .into_iter()
        .find(|e| !before.contains(&e.id))
        .expect("stored");
    gw.wait_for_status(event.id, status).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paystack_charge_success_for_a_lower_amount_is_suspicious() {
    let gw = TestGateway::start("").await;
    let id = checkout(&gw, "order-7").await;
    let event = paystack(&gw, charge(1, "order-7", 100, "NGN"), EventStatus::Suspicious).await;
    assert!(event.last_error.unwrap().contains("amount NGN 1.00"));
    assert_eq!(payment(&gw, id).await.state, PaymentState::Pending);
    paystack(&gw, charge(2, "order-7", 10_000, "NGN"), EventStatus::Processed).await;
    assert_eq!(payment(&gw, id).await.state, PaymentState::Succeeded);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paystack_charge_success_in_another_currency_is_suspicious() {
    let gw = TestGateway::start("").await;
    let id = checkout(&gw, "order-8").await;
    let event = paystack(&gw, charge(1, "order-8", 10_000, "GHS"), EventStatus::Suspicious).await;
    assert!(event.last_error.unwrap().contains("GHS"));
    assert_eq!(payment(&gw, id).await.state, PaymentState::Pending);
    paystack(&gw, charge(2, "order-8", 10_000, "NGN"), EventStatus::Processed).await;
    assert_eq!(payment(&gw, id).await.state, PaymentState::Succeeded);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paystack_partial_refund_then_the_rest() {
    let gw = TestGateway::start("").await;
    let id = checkout(&gw, "order-9").await;
    paystack(&gw, charge(1, "order-9", 10_000, "NGN"), EventStatus::Processed).await;
    paystack(
        &gw,
        refund_processed("rf-1", "order-9", 2_500),
        EventStatus::Processed,
    )
    .await;
    let p = payment(&gw, id).await;
    assert_eq!(p.state, PaymentState::PartiallyRefunded);
    assert_eq!(p.refunded, Money::from_minor(2_500, Currency::Ngn));
    // Regression: replaying the processed refund counted it again. It is refused, naming why.
    let first = gw
        .events()
        .await
        .into_iter()
        .find(|e| e.kind == "refund.processed")
        .unwrap();
    let stored = gw.store().get_event(first.id).await.unwrap().unwrap();
    assert_eq!(stored.summary.payment_id, Some(id));
    let why = malipo_gateway::replay_refusal(&stored).expect("a counted refund is refused a replay");
    assert!(why.contains("twice"), "{why}");
    // More than the NGN 75.00 that remains: suspicious, nothing moves.
    let over = paystack(
        &gw,
        refund_processed("rf-2", "order-9", 7_501),
        EventStatus::Suspicious,
    )
    .await;
    assert!(over.last_error.as_deref().unwrap().contains("remains to refund"));
    assert_eq!(payment(&gw, id).await.refunded.minor(), 2_500);
    // A refund that moved nothing may be replayed (decided again against the payment as it is).
    let over = gw.store().get_event(over.id).await.unwrap().unwrap();
    assert_eq!(malipo_gateway::replay_refusal(&over), None);
    paystack(
        &gw,
        refund_processed("rf-3", "order-9", 7_500),
        EventStatus::Processed,
    )
    .await;
    let p = payment(&gw, id).await;
    assert_eq!(p.state, PaymentState::Refunded);
    assert_eq!(p.refunded.minor(), 10_000);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspicious_events_are_counted_in_metrics() {
    let gw = TestGateway::start("").await;
    let id = stk_push(&gw, 4_040, "A").await;
    stk_callback(&gw, id, forged_amount(json!(1)), EventStatus::Suspicious).await;
    let res = reqwest::get(gw.url("/metrics")).await.unwrap();
    let text = res.text().await.unwrap();
    assert!(text.contains("malipo_events_suspicious_total 1"), "{text}");
    assert!(text.contains("malipo_events{status=\"suspicious\"} 1"), "{text}");
    gw.stop().await;
}

const B2C_PAID: &str = include_str!("../fixtures/b2c-result-success.json");

/// A pending B2C payout of KES 10 (the fixture's amount) with the ids Daraja gave it.
async fn payout(gw: &TestGateway, conversation: &str, originator: &str) -> PaymentId {
    gw.store()
        .insert_payment(NewPayment {
            provider_reference: Some(conversation.into()),
            provider_request_id: Some(originator.into()),
            // The fixture's receiver.
            msisdn: Some("254708374149".parse().unwrap()),
            ..NewPayment::pending(
                Provider::Mpesa,
                "b2c",
                Money::from_major(10, Currency::Kes).unwrap(),
            )
        })
        .await
        .unwrap()
        .id
}

async fn b2c_result(gw: &TestGateway, payment: PaymentId, body: String, status: EventStatus) -> EventSummary {
    let path = format!("/callbacks/mpesa/result/{}", token(gw, "result", payment));
    let (code, event) = post(gw, &path, body).await;
    assert_eq!(code, 200);
    gw.wait_for_status(event.expect("stored").id, status).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2c_result_for_another_amount_or_conversation_is_suspicious_and_the_genuine_settles() {
    let gw = TestGateway::start("").await;
    let id = payout(&gw, "AG_20191219_00004e48cf7e3533f581", "10571-7910404-1").await;
    let forgeries = [
        (
            B2C_PAID.replace(
                "{\"Key\":\"TransactionAmount\",\"Value\":10}",
                "{\"Key\":\"TransactionAmount\",\"Value\":10000}",
            ),
            "amount KES 10000.00",
        ),
        (
            B2C_PAID.replace("AG_20191219_00004e48cf7e3533f581", "AG_20191219_forged"),
            "reference \"AG_20191219_forged\"",
        ),
        (
            B2C_PAID.replace("10571-7910404-1", "10571-0000000-1"),
            "request id \"10571-0000000-1\"",
        ),
        (
            B2C_PAID.replace(
                "\"TransactionReceipt\",\"Value\":\"NLJ41HAY6Q\"",
                "\"TransactionReceipt\",\"Value\":\"nope\"",
            ),
            "is not a receipt",
        ),
        // Regression: a result paying another phone, or whose TransactionID is another
        // transaction's, settled the payout.
        (
            B2C_PAID.replace("254708374149 - John Doe", "254711111111 - Mallory"),
            "names phone 2547****1111, not the payment's 2547****4149",
        ),
        (
            B2C_PAID.replace(
                "\"TransactionID\":\"NLJ41HAY6Q\"",
                "\"TransactionID\":\"QKX1AB23CD\"",
            ),
            "TransactionID \"QKX1AB23CD\" is not the TransactionReceipt",
        ),
    ];
    for (body, why) in forgeries {
        assert_ne!(body, B2C_PAID, "{why}: the forgery changed the fixture");
        let event = b2c_result(&gw, id, body, EventStatus::Suspicious).await;
        let reason = event.last_error.unwrap();
        assert!(reason.contains(why), "{reason:?} should say {why:?}");
        assert_eq!(payment(&gw, id).await.state, PaymentState::Pending);
    }
    b2c_result(&gw, id, B2C_PAID.to_string(), EventStatus::Processed).await;
    let paid = payment(&gw, id).await;
    assert_eq!(paid.state, PaymentState::Succeeded);
    assert_eq!(paid.receipt.as_deref(), Some("NLJ41HAY6Q"));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b2c_failure_must_name_the_payouts_own_ids() {
    let gw = TestGateway::start("").await;
    let id = payout(&gw, "AG_1", "orig-1").await;
    // Daraja's B2C failure echoes its queue's URL, which names the operation.
    let failed = |conversation: &str, originator: &str| {
        json!({"Result": {"ResultType": 0, "ResultCode": 2001, "ResultDesc": "The initiator information is invalid.",
            "OriginatorConversationID": originator, "ConversationID": conversation, "TransactionID": "NLJ0000000",
            "ReferenceData": {"ReferenceItem": [{"Key": "QueueTimeoutURL",
                "Value": "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"}]}}})
        .to_string()
    };
    b2c_result(&gw, id, failed("AG_2", "orig-2"), EventStatus::Suspicious).await;
    assert_eq!(payment(&gw, id).await.state, PaymentState::Pending);
    // A failure naming no operation may be a status query's (sent to this same URL): it is
    // kept, and the payout stays pending for the reconciler to ask about.
    let bare = json!({"Result": {"ResultType": 0, "ResultCode": 2001, "ResultDesc": "The initiator information is invalid.",
        "OriginatorConversationID": "orig-9", "ConversationID": "AG_9", "TransactionID": "NLJ0000000",
        "ReferenceData": {"ReferenceItem": {"Key": "Occasion"}}}});
    b2c_result(&gw, id, bare.to_string(), EventStatus::Processed).await;
    assert_eq!(payment(&gw, id).await.state, PaymentState::Pending);
    b2c_result(&gw, id, failed("AG_1", "orig-1"), EventStatus::Processed).await;
    let p = payment(&gw, id).await;
    assert_eq!(p.state, PaymentState::Failed);
    assert_eq!(p.result_code.as_deref(), Some("2001"));
    gw.stop().await;
}
