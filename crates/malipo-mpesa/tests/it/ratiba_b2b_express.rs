//! M-Pesa Ratiba standing orders and B2B Express Checkout: accepted, then the outcome reaches
//! the callback URL and parses with the client's own parsers.

use chrono::NaiveDate;
use malipo_mpesa::{
    parse_b2b_express_callback, parse_ratiba_callback, B2bExpressRequest, MpesaError, RatibaFrequency,
    RatibaPayee, StandingOrderRequest,
};
use malipo_sim::mpesa::{Endpoint, Outcome};

use crate::support::{kes, phone, sim_config, world, world_with};

fn standing_order(w: &crate::support::World, payee: RatibaPayee) -> StandingOrderRequest {
    StandingOrderRequest {
        name: "Bike loan".into(),
        start: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
        end: NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
        shortcode: None,
        payee,
        amount: kes(4500),
        phone: phone("0708374149"),
        callback_url: w.receiver.url("raw-ratiba"),
        description: "Bike repay".into(),
        frequency: RatibaFrequency::Monthly,
    }
}

#[tokio::test]
async fn a_standing_order_is_accepted_and_its_creation_called_back() {
    let mut w = world().await;
    let accepted = w
        .client
        .ratiba_standing_order(&standing_order(
            &w,
            RatibaPayee::Paybill {
                account_reference: "LOAN-778".into(),
            },
        ))
        .await
        .unwrap();
    let reference = accepted.response_ref_id.clone().expect("a responseRefID");
    let (path, body) = w.receiver.next_raw().await;
    assert_eq!(path, "raw-ratiba");
    let cb = parse_ratiba_callback(&body).unwrap();
    assert!(cb.is_created(), "{cb:?}");
    assert_eq!(cb.response_ref_id, reference, "the callback names the request");
    assert!(cb.transaction_id().is_some());
}

#[tokio::test]
async fn a_declined_standing_order_is_called_back_as_not_created() {
    let mut w = world_with(sim_config().outcome_for_phone("254708374149", Outcome::Cancelled)).await;
    w.client
        .ratiba_standing_order(&standing_order(&w, RatibaPayee::Till))
        .await
        .unwrap();
    let cb = parse_ratiba_callback(&w.receiver.next_raw().await.1).unwrap();
    assert!(!cb.is_created(), "{cb:?}");
    assert_eq!(cb.item("responseCode"), Some("1032"));
    assert_eq!(cb.transaction_id(), None);
}

#[tokio::test]
async fn a_standing_order_ending_before_it_starts_is_refused_before_sending() {
    let w = world().await;
    let mut request = standing_order(&w, RatibaPayee::Till);
    request.end = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let e = w.client.ratiba_standing_order(&request).await.unwrap_err();
    assert!(matches!(e, MpesaError::Invalid { field: "EndDate", .. }), "{e:?}");
    let e = w
        .client
        .ratiba_standing_order(&standing_order(
            &w,
            RatibaPayee::Paybill {
                account_reference: "A-REFERENCE-TOO-LONG".into(),
            },
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            MpesaError::Invalid {
                field: "AccountReference",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(w.sim.requests(Endpoint::Ratiba), 0);
}

fn push(w: &crate::support::World, amount: u64) -> B2bExpressRequest {
    B2bExpressRequest {
        primary_shortcode: "000001".into(),
        receiver_shortcode: None,
        amount: kes(amount),
        payment_ref: "INV-5521".into(),
        callback_url: w.receiver.url("raw-b2b-express"),
        partner_name: "Vendor".into(),
        request_ref_id: None,
    }
}

#[tokio::test]
async fn a_b2b_express_checkout_paid_and_one_cancelled_are_called_back_under_their_request_ids() {
    let mut w = world_with(sim_config().outcome_for_amount(71, Outcome::Cancelled)).await;
    let paid = w.client.b2b_express_checkout(&push(&w, 500)).await.unwrap();
    assert_eq!(paid.status, "USSD Initiated Successfully");
    let cb = parse_b2b_express_callback(&w.receiver.next_raw().await.1).unwrap();
    assert!(cb.is_paid(), "{cb:?}");
    assert_eq!(cb.request_id, paid.request_ref_id);
    assert_eq!(cb.amount(), Some(kes(500)));
    assert!(!cb.transaction_id.is_empty());

    let cancelled = w.client.b2b_express_checkout(&push(&w, 71)).await.unwrap();
    assert_ne!(
        cancelled.request_ref_id, paid.request_ref_id,
        "a fresh id per request"
    );
    let cb = parse_b2b_express_callback(&w.receiver.next_raw().await.1).unwrap();
    assert!(!cb.is_paid());
    assert_eq!(
        (cb.result_code.as_str(), cb.payment_reference.as_str()),
        ("4001", "INV-5521")
    );
    assert_eq!(cb.request_id, cancelled.request_ref_id);
}

#[tokio::test]
async fn a_b2b_express_checkout_with_cents_is_refused_before_sending() {
    let w = world().await;
    let mut request = push(&w, 10);
    request.amount = malipo_core::Money::from_minor(1050, malipo_core::Currency::Kes);
    let e = w.client.b2b_express_checkout(&request).await.unwrap_err();
    assert!(matches!(e, MpesaError::Invalid { field: "amount", .. }), "{e:?}");
    assert_eq!(w.sim.requests(Endpoint::B2bExpress), 0);
}
