//! C2B Pull Transactions: register, then pull the payments of a window, paged, including one
//! whose confirmation was dropped; and the two refusals a pull must not mistake for "nothing".

use std::time::Duration;

use chrono::Utc;
use malipo_mpesa::{
    C2bCommand, C2bResponseType, C2bSimulateRequest, C2bVersion, MpesaError, PullQuery, PullRegisterRequest,
    RegisterUrlsRequest,
};
use malipo_sim::mpesa::{Endpoint, Fault};

use crate::support::{kes, phone, sim_config, world, world_with, World};

async fn pay(w: &World, amount: u64) {
    w.client
        .simulate_c2b(&C2bSimulateRequest {
            shortcode: None,
            command: C2bCommand::CustomerPayBillOnline,
            amount: kes(amount),
            phone: phone("0708374149"),
            bill_ref_number: Some(format!("ACC-{amount}")),
        })
        .await
        .unwrap();
}

/// Waits until the simulator has completed `n` C2B payments (they complete after its callback
/// delay; a generous guard, not a timing assertion).
async fn completed(w: &World, n: usize) {
    for _ in 0..500 {
        if w.sim.c2b_transactions().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the simulator never completed {n} C2B payments");
}

#[tokio::test]
async fn a_window_is_pulled_over_every_page_including_a_payment_whose_confirmation_was_dropped() {
    let mut config = sim_config();
    // Two rows a page, so five payments take three pages.
    config.pull_page_size = 2;
    let mut w = world_with(config).await;
    w.client
        .register_c2b_urls(&RegisterUrlsRequest {
            shortcode: None,
            response_type: C2bResponseType::Completed,
            confirmation_url: w.receiver.url("c2b-confirm"),
            validation_url: w.receiver.url("c2b-validate"),
            version: C2bVersion::V1,
        })
        .await
        .unwrap();
    let start = Utc::now() - chrono::Duration::minutes(1);
    for amount in [101, 102, 103, 104] {
        pay(&w, amount).await;
    }
    completed(&w, 4).await;
    w.sim.drop_c2b_confirmations(true);
    pay(&w, 105).await;
    completed(&w, 5).await;
    let end = Utc::now() + chrono::Duration::minutes(1);

    let window = w.client.pull_window(None, start, end).await.unwrap();
    // Pages of 2, 2 and 1, then an empty one: the client does not know the page size, so only
    // an empty page ends a window paged by row offset.
    assert_eq!(window.pages, 4, "{window:?}");
    let mut amounts: Vec<u64> = window
        .transactions
        .iter()
        .map(|t| t.amount().unwrap().whole_major().unwrap())
        .collect();
    amounts.sort_unstable();
    assert_eq!(amounts, [101, 102, 103, 104, 105]);
    let dropped = w
        .sim
        .c2b_transactions()
        .into_iter()
        .find(|t| !t.confirmation_sent)
        .expect("one confirmation was dropped");
    let pulled = window
        .transactions
        .iter()
        .find(|t| t.transaction_id == dropped.trans_id)
        .expect("the dropped payment is pulled");
    assert_eq!(pulled.bill_reference, "ACC-105");
    assert_eq!(pulled.phone(), Some(phone("254708374149")));
    // Four validations and four confirmations reached the receiver; the fifth only validated.
    for _ in 0..9 {
        w.receiver.next().await;
    }
    assert!(w.receiver.nothing_pending());
}

#[tokio::test]
async fn a_quiet_window_is_one_empty_page() {
    let w = world().await;
    let now = Utc::now();
    let window = w
        .client
        .pull_window(None, now - chrono::Duration::hours(2), now)
        .await
        .unwrap();
    assert!(window.transactions.is_empty());
    assert_eq!(window.pages, 1);
    assert_eq!(window.last_response.0, "1001");
}

#[tokio::test]
async fn registration_is_once_and_a_second_one_says_so() {
    let w = world().await;
    let request = PullRegisterRequest {
        shortcode: None,
        nominated_number: phone("0722000000"),
        callback_url: w.receiver.url("pull"),
    };
    let first = w.client.pull_register(&request).await.unwrap();
    assert!(!first.already_registered(), "{first:?}");
    assert_eq!(first.shortcode, "174379");
    let second = w.client.pull_register(&request).await.unwrap();
    assert!(second.already_registered(), "{second:?}");
}

#[tokio::test]
async fn a_shortcode_not_allowed_to_pull_is_its_own_error_with_what_to_do() {
    let w = world().await;
    w.sim.refuse_pull_for("174379");
    let now = Utc::now();
    let e = w
        .client
        .pull_transactions(&PullQuery {
            shortcode: None,
            start: now - chrono::Duration::hours(1),
            end: now,
            offset: 0,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&e, MpesaError::PullNotAllowed { shortcode, code, .. } if shortcode == "174379" && code == "400.001"),
        "{e:?}"
    );
    assert!(e.to_string().contains("apisupport@safaricom.co.ke"), "{e}");
    let e = w
        .client
        .pull_register(&PullRegisterRequest {
            shortcode: None,
            nominated_number: phone("0722000000"),
            callback_url: w.receiver.url("pull"),
        })
        .await
        .unwrap_err();
    assert!(matches!(e, MpesaError::PullNotAllowed { .. }), "{e:?}");
}

#[tokio::test]
async fn an_error_body_behind_http_200_is_a_failed_pull() {
    let w = world().await;
    w.sim.inject_fault(Endpoint::PullQuery, Fault::failed_with_200());
    let now = Utc::now();
    let e = w
        .client
        .pull_window(None, now - chrono::Duration::hours(1), now)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, MpesaError::PullFailed { status: 200, code, .. } if code == "500.003.02"),
        "{e:?}"
    );
    assert_eq!(e.http_status(), Some(200));
    // Not retried as if the body were a success: one request, one clear error.
    assert_eq!(w.sim.requests(Endpoint::PullQuery), 1);
}

#[tokio::test]
async fn a_window_ending_before_it_starts_is_refused_before_sending() {
    let w = world().await;
    let now = Utc::now();
    let e = w
        .client
        .pull_transactions(&PullQuery {
            shortcode: None,
            start: now,
            end: now - chrono::Duration::minutes(5),
            offset: 0,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, MpesaError::Invalid { field: "EndDate", .. }), "{e:?}");
    assert_eq!(w.sim.requests(Endpoint::PullQuery), 0);
}
