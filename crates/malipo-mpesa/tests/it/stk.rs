//! STK push, its callback for each outcome, and the STK query.

use std::time::Duration;

use malipo_mpesa::{Callback, MpesaError, StkPushRequest, StkQueryOutcome};
use malipo_sim::mpesa::{Endpoint, Outcome};

use crate::support::{kes, phone, sim_config, world, world_with, World};

fn push(world: &World, amount: u64, to: &str) -> StkPushRequest {
    StkPushRequest::paybill(
        kes(amount),
        phone(to),
        world.receiver.url("stk"),
        "INV-1042",
        "Order 1042",
    )
}

#[tokio::test]
async fn paid_push_calls_back_with_metadata_and_query_agrees() {
    let mut w = world().await;
    let accepted = w.client.stk_push(&push(&w, 150, "0708374149")).await.unwrap();
    assert_eq!(accepted.response_code, "0");
    assert!(accepted.checkout_request_id.starts_with("ws_CO_"));

    let got = w.receiver.next().await;
    assert_eq!(got.path, "stk");
    let Callback::Stk(cb) = &got.callback else {
        panic!("{:?}", got.callback)
    };
    assert_eq!(cb.checkout_request_id, accepted.checkout_request_id);
    assert_eq!(cb.merchant_request_id, accepted.merchant_request_id);
    assert!(cb.is_paid());
    assert_eq!(cb.amount(), Some(kes(150)));
    assert_eq!(cb.phone(), Some(phone("254708374149")));
    assert!(cb.receipt().is_some_and(|r| r.len() == 10));
    assert_eq!(
        got.callback.dedup_key(),
        format!("stk:{}", accepted.checkout_request_id)
    );

    match w.client.stk_query(&accepted.checkout_request_id).await.unwrap() {
        StkQueryOutcome::Completed(r) => {
            assert_eq!(r.result_code.as_deref(), Some("0"));
            assert!(r.is_paid());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn buy_goods_push_to_a_till() {
    let mut w = world().await;
    let request = push(&w, 10, "0708374149").to_till("5623411");
    let accepted = w.client.stk_push(&request).await.unwrap();
    let got = w.receiver.next().await;
    assert_eq!(
        got.callback.dedup_key(),
        format!("stk:{}", accepted.checkout_request_id)
    );
}

#[tokio::test]
async fn every_failure_outcome_reaches_the_callback_and_the_query() {
    let config = sim_config()
        .outcome_for_phone("254700000001", Outcome::Cancelled)
        .outcome_for_phone("254700000002", Outcome::InsufficientFunds)
        .outcome_for_phone("254700000003", Outcome::Timeout)
        .outcome_for_amount(
            77,
            Outcome::Code {
                code: 2001,
                desc: "The initiator information is invalid.".into(),
            },
        );
    let mut w = world_with(config).await;
    for (to, amount, code) in [
        ("0700000001", 10, 1032),
        ("0700000002", 10, 1),
        ("0700000003", 10, 1037),
        ("0711111111", 77, 2001),
    ] {
        let accepted = w.client.stk_push(&push(&w, amount, to)).await.unwrap();
        let got = w.receiver.next().await;
        let Callback::Stk(cb) = got.callback else { panic!() };
        assert_eq!(cb.checkout_request_id, accepted.checkout_request_id);
        assert_eq!(cb.result_code, code, "{to}");
        assert!(cb.callback_metadata.is_none(), "a failed push has no metadata");
        let StkQueryOutcome::Completed(r) = w.client.stk_query(&accepted.checkout_request_id).await.unwrap()
        else {
            panic!("decided pushes are not pending")
        };
        assert_eq!(r.result_code_number(), Some(code));
    }
}

#[tokio::test]
async fn query_is_pending_until_decided_and_never_calls_back_is_silent() {
    let config = sim_config()
        .callback_delay(Duration::from_millis(300))
        .outcome_for_phone("254700000009", Outcome::NeverCallsBack);
    let mut w = world_with(config).await;
    let accepted = w.client.stk_push(&push(&w, 5, "0700000009")).await.unwrap();
    match w.client.stk_query(&accepted.checkout_request_id).await.unwrap() {
        StkQueryOutcome::Pending { message, .. } => assert!(message.contains("being processed"), "{message}"),
        other => panic!("expected pending, got {other:?}"),
    }
    // Poll the way the reconciler does until the push is decided.
    let result = loop {
        match w.client.stk_query(&accepted.checkout_request_id).await.unwrap() {
            StkQueryOutcome::Pending { .. } => tokio::time::sleep(Duration::from_millis(50)).await,
            StkQueryOutcome::Completed(r) => break r,
        }
    };
    assert!(result.is_paid(), "NeverCallsBack pays silently");
    assert!(w.receiver.nothing_pending(), "no callback for NeverCallsBack");
    assert!(w.sim.sent_callbacks().is_empty());
    assert_eq!(w.sim.requests(Endpoint::StkPush), 1);
}

#[tokio::test]
async fn unknown_checkout_id_is_an_api_error_not_pending() {
    let w = world().await;
    let err = w.client.stk_query("ws_CO_000000000000000").await.unwrap_err();
    assert_eq!(err.error_code(), Some("400.002.02"), "{err}");
}

#[tokio::test]
async fn fields_are_checked_before_sending() {
    let w = world().await;
    let long_ref = StkPushRequest::paybill(
        kes(1),
        phone("0708374149"),
        w.receiver.url("stk"),
        "INV-000000013",
        "ok",
    );
    let long_desc = StkPushRequest::paybill(
        kes(1),
        phone("0708374149"),
        w.receiver.url("stk"),
        "INV",
        "fourteen chars",
    );
    let cents = StkPushRequest::paybill(
        malipo_core::Money::from_minor(150, malipo_core::Currency::Kes),
        phone("0708374149"),
        w.receiver.url("stk"),
        "INV",
        "ok",
    );
    let usd = StkPushRequest::paybill(
        malipo_core::Money::from_major(1, malipo_core::Currency::Usd).unwrap(),
        phone("0708374149"),
        w.receiver.url("stk"),
        "INV",
        "ok",
    );
    for (request, field) in [
        (long_ref, "AccountReference"),
        (long_desc, "TransactionDesc"),
        (cents, "Amount"),
        (usd, "Amount"),
    ] {
        match w.client.stk_push(&request).await {
            Err(MpesaError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(w.sim.requests(Endpoint::StkPush), 0, "nothing was sent");
    assert_eq!(w.sim.token_requests(), 0, "not even a token was fetched");
}

#[test]
fn each_stk_result_code_seen_in_practice_says_what_happened() {
    use malipo_mpesa::stk_result_meaning;
    for (code, says) in [
        (0, "paid"),
        (1, "insufficient balance"),
        (1001, "busy"),
        (1019, "expired"),
        (1025, "could not be sent"),
        (9999, "could not be sent"),
        (1032, "cancelled"),
        (1037, "unreachable"),
        (2001, "wrong PIN"),
    ] {
        let meaning = stk_result_meaning(code).unwrap_or_else(|| panic!("{code} has a meaning"));
        assert!(meaning.contains(says), "{code}: {meaning}");
    }
    for unknown in [-1, 2, 1031, 17, i64::MAX] {
        assert_eq!(stk_result_meaning(unknown), None, "{unknown}");
    }
}
