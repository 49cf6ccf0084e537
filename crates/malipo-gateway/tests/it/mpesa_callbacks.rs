//! Daraja callbacks over real HTTP: the token in the URL, the acknowledgement bodies, the rows,
//! and the worker moving the payment.

use crate::common::*;
use malipo_core::{Currency, EventStatus, Money, PaymentState, Provider};
use malipo_store::NewPayment;

const STK_PAID: &str = include_str!("../fixtures/stk-callback-paid.json");
const STK_CANCELLED: &str = include_str!("../fixtures/stk-callback-cancelled.json");

/// A pending STK push of KES 1 to the fixtures' phone, with the ids Daraja gave it (the
/// fixtures' MerchantRequestID).
async fn pending_stk(gw: &TestGateway, checkout_id: &str) -> malipo_core::PaymentId {
    let payment = NewPayment {
        provider_reference: Some(checkout_id.to_string()),
        provider_request_id: Some("29115-34620561-1".to_string()),
        msisdn: Some("254708374149".parse().unwrap()),
        ..NewPayment::pending(
            Provider::Mpesa,
            "stk_push",
            Money::from_major(1, Currency::Kes).unwrap(),
        )
    };
    gw.store().insert_payment(payment).await.unwrap().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stk_callback_with_a_valid_token_is_stored_and_pays_the_payment() {
    let gw = TestGateway::start("").await;
    let payment = pending_stk(&gw, "ws_CO_191220191020363925").await;
    let token = gw
        .state
        .callback_tokens
        .as_ref()
        .unwrap()
        .issue_for(malipo_guard::CallbackRoute::Stk, payment);
    let client = client_from("127.0.0.2");
    let res = client
        .post(gw.url(&format!("/callbacks/mpesa/stk/{token}")))
        .header("content-type", "application/json")
        .body(STK_PAID)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ack: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        ack,
        serde_json::json!({"ResultCode": 0, "ResultDesc": "Accepted"})
    );
    let events = gw.events().await;
    assert_eq!(events.len(), 1);
    assert!(
        events[0]
            .dedup_key
            .starts_with(&format!("stk:{payment}:ws_CO_191220191020363925:")),
        "scoped to the payment the URL names: {}",
        events[0].dedup_key
    );
    assert_eq!(events[0].payment_id, Some(payment));
    gw.wait_for_status(events[0].id, EventStatus::Processed).await;
    let paid = gw.store().get_payment(payment).await.unwrap().unwrap();
    assert_eq!(paid.state, PaymentState::Succeeded);
    assert_eq!(paid.receipt.as_deref(), Some("NLJ7RT61SV"));

    // The same delivery again: acknowledged, stored once.
    let res = client
        .post(gw.url(&format!("/callbacks/mpesa/stk/{token}")))
        .body(STK_PAID)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let first = gw.events().await;
    assert_eq!(first.len(), 1);

    // A late "cancelled" for the same checkout disagrees with the settled payment: acknowledged,
    // stored as suspicious, and it cannot flip the payment.
    let res = client
        .post(gw.url(&format!("/callbacks/mpesa/stk/{token}")))
        .body(STK_CANCELLED)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events = gw.events().await;
    assert_eq!(events.len(), 2);
    // Found by id, not by position: two events of one millisecond list in either order.
    let late = events.iter().find(|e| e.id != first[0].id).unwrap();
    let late = gw.wait_for_status(late.id, EventStatus::Suspicious).await;
    assert!(late.last_error.unwrap().contains("already succeeded"));
    assert_eq!(
        gw.store().get_payment(payment).await.unwrap().unwrap().state,
        PaymentState::Succeeded
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_token_is_404_and_foreign_source_403() {
    let gw = TestGateway::start("").await;
    let client = client_from("127.0.0.2");
    let res = client
        .post(gw.url(&format!("/callbacks/mpesa/stk/{}", "0".repeat(64))))
        .body(STK_PAID)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let payment = pending_stk(&gw, "ws_x").await;
    let token = gw
        .state
        .callback_tokens
        .as_ref()
        .unwrap()
        .issue_for(malipo_guard::CallbackRoute::Stk, payment);
    let res = client_from("127.0.0.3")
        .post(gw.url(&format!("/callbacks/mpesa/stk/{token}")))
        .body(STK_PAID)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(gw.events().await.is_empty());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c2b_validation_is_accepted_and_confirmation_records_a_payment() {
    // The fixtures pay till 600638.
    let gw = TestGateway::start("till_number = \"600638\"").await;
    let client = client_from("127.0.0.2");
    let confirmation = include_str!("../fixtures/c2b-confirmation.json");
    let res = client
        .post(gw.url("/callbacks/mpesa/c2b/validation"))
        .body(confirmation)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer: serde_json::Value = res.json().await.unwrap();
    assert_eq!(answer["ResultCode"], "0");
    // The registration-safe alias (Daraja refuses URLs containing "mpesa").
    let res = client
        .post(gw.url("/callbacks/daraja/c2b/confirmation"))
        .body(confirmation)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer: serde_json::Value = res.json().await.unwrap();
    assert_eq!(answer["ResultCode"], 0);
    let events = gw.events().await;
    assert_eq!(events.len(), 2);
    let confirmation_event = events.iter().find(|e| e.kind == "c2b_confirmation").unwrap();
    gw.wait_for_status(confirmation_event.id, EventStatus::Processed)
        .await;
    let payment = gw
        .store()
        .find_payment_by_provider_ref(Provider::Mpesa, "RKTQDM7W6S")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(payment.state, PaymentState::Succeeded);
    assert_eq!(payment.amount.minor(), 1000);
    assert_eq!(payment.merchant_reference.as_deref(), Some("invoice008"));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_callback_with_a_valid_token_is_kept_as_failed() {
    let gw = TestGateway::start("").await;
    let payment = pending_stk(&gw, "ws_y").await;
    let token = gw
        .state
        .callback_tokens
        .as_ref()
        .unwrap()
        .issue_for(malipo_guard::CallbackRoute::Stk, payment);
    let res = client_from("127.0.0.2")
        .post(gw.url(&format!("/callbacks/mpesa/stk/{token}")))
        .body("{\"Body\": {\"stkCallback\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events = gw.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, EventStatus::Failed);
    assert_eq!(
        gw.store().get_payment(payment).await.unwrap().unwrap().state,
        PaymentState::Pending
    );
    gw.stop().await;
}
