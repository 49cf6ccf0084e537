//! C2B Pull Transactions over real HTTP: the Daraja simulator completes C2B payments and drops
//! (or delays) their confirmations; the gateway's pull stores each as the confirmation it
//! stands for, so a payment is recorded once whichever of the pull and the confirmation comes
//! first; refusals are reported as themselves and counted.

use std::time::Duration;

use chrono::Utc;
use malipo_core::{AccountName, EventStatus, PaymentState, Provider};
use malipo_gateway::c2b_pull::{pull_once, PullError, PULLED_KIND};
use malipo_mpesa::{
    C2bCommand, C2bResponseType, C2bSimulateRequest, C2bVersion, MpesaError, RegisterUrlsRequest,
};
use malipo_sim::mpesa::{Endpoint, Fault, SimConfig};
use malipo_store::{EventFilter, EventSummary, PaymentFilter, PaymentRecord};

use crate::common::{kes, SimWorld};

const SHORTCODE: &str = "174379";

fn daraja() -> SimConfig {
    SimConfig::default().callback_delay(Duration::from_millis(20))
}

async fn world(mpesa_extra: &str) -> SimWorld {
    let w = SimWorld::start_with(daraja(), false, "", mpesa_extra).await;
    // The gateway's own C2B routes, registered with the simulator as an operator would.
    w.mpesa()
        .register_c2b_urls(&RegisterUrlsRequest {
            shortcode: None,
            response_type: C2bResponseType::Completed,
            confirmation_url: w.public.join("/callbacks/daraja/c2b/confirmation").unwrap(),
            validation_url: w.public.join("/callbacks/daraja/c2b/validation").unwrap(),
            version: C2bVersion::V1,
        })
        .await
        .unwrap();
    w
}

/// A customer pays the paybill; returns its TransID once the simulator completed it.
async fn customer_pays(w: &SimWorld, amount: u64) -> String {
    let before = w.daraja.c2b_transactions().len();
    w.mpesa()
        .simulate_c2b(&C2bSimulateRequest {
            shortcode: None,
            command: C2bCommand::CustomerPayBillOnline,
            amount: kes(amount),
            phone: "0708374149".parse().unwrap(),
            bill_ref_number: Some(format!("INV-{amount}")),
        })
        .await
        .unwrap();
    for _ in 0..500 {
        if let Some(t) = w.daraja.c2b_transactions().get(before) {
            return t.trans_id.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the simulator never completed the payment");
}

async fn pull(w: &SimWorld) -> Result<malipo_gateway::c2b_pull::PullSummary, PullError> {
    let now = Utc::now();
    pull_once(
        &w.state,
        &AccountName::default_account(),
        SHORTCODE,
        now - chrono::Duration::hours(1),
        now + chrono::Duration::minutes(1),
    )
    .await
}

/// The events stored for one TransID (pulled or confirmed: they share the key).
async fn events_for(w: &SimWorld, trans_id: &str) -> Vec<EventSummary> {
    let all = w
        .state
        .store
        .list_events(&EventFilter {
            limit: 1000,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    all.into_iter()
        .filter(|e| e.dedup_key == format!("c2b_confirmation:{SHORTCODE}:{trans_id}"))
        .collect()
}

/// The C2B payments recorded for one TransID, once the worker has recorded one.
async fn recorded(w: &SimWorld, trans_id: &str) -> Vec<PaymentRecord> {
    for _ in 0..500 {
        let found: Vec<PaymentRecord> = w
            .state
            .store
            .list_payments(&PaymentFilter {
                provider: Some(Provider::Mpesa),
                search: Some(trans_id.to_string()),
                limit: 100,
                ..PaymentFilter::default()
            })
            .await
            .unwrap();
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no payment was recorded for {trans_id}");
}

async fn processed(w: &SimWorld, trans_id: &str) -> EventSummary {
    for _ in 0..500 {
        let events = events_for(w, trans_id).await;
        if let [only] = events.as_slice() {
            if only.status == EventStatus::Processed {
                return only.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the event of {trans_id} was never processed: {:?}",
        events_for(w, trans_id).await
    );
}

async fn metrics(w: &SimWorld) -> String {
    reqwest::get(w.public.join("/metrics").unwrap())
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_payment_whose_confirmation_was_dropped_is_recovered_by_the_pull_once() {
    let w = world("").await;
    w.daraja.drop_c2b_confirmations(true);
    let trans_id = customer_pays(&w, 250).await;
    assert!(
        events_for(&w, &trans_id).await.is_empty(),
        "no confirmation reached the gateway"
    );

    let first = pull(&w).await.unwrap();
    assert_eq!(first.recorded, std::slice::from_ref(&trans_id), "{first:?}");
    let event = processed(&w, &trans_id).await;
    assert_eq!(event.kind, PULLED_KIND);
    assert!(
        event
            .last_error
            .as_deref()
            .is_some_and(|n| n.contains("settled by pull")),
        "the event says how the payment was learnt of: {event:?}"
    );
    let payments = recorded(&w, &trans_id).await;
    assert_eq!(payments.len(), 1);
    let p = &payments[0];
    assert_eq!(
        (p.state, p.kind.as_str(), p.amount),
        (PaymentState::Succeeded, "c2b", kes(250))
    );
    assert_eq!(p.merchant_reference.as_deref(), Some("INV-250"));
    assert_eq!(
        p.settled_by,
        Some(malipo_store::SettledBy::Query),
        "the payment says it was learnt by asking Daraja, not from a confirmation"
    );
    assert_eq!(p.msisdn.as_ref().map(|m| m.as_str()), Some("254708374149"));

    // Pulling the same window again finds it and records nothing more.
    let again = pull(&w).await.unwrap();
    assert!(again.recorded.is_empty(), "{again:?}");
    assert_eq!(again.already_seen, 1);
    assert_eq!(events_for(&w, &trans_id).await.len(), 1);
    assert_eq!(recorded(&w, &trans_id).await.len(), 1);
    let text = metrics(&w).await;
    assert!(text.contains("malipo_c2b_pulls_total{result=\"ok\"} 2"), "{text}");
    assert!(text.contains("malipo_c2b_pull_recorded_total 1"), "{text}");
}

#[tokio::test]
async fn a_confirmation_arriving_after_the_pull_is_a_duplicate_and_records_nothing_more() {
    let w = world("").await;
    w.daraja.drop_c2b_confirmations(true);
    let trans_id = customer_pays(&w, 310).await;
    assert_eq!(pull(&w).await.unwrap().recorded.len(), 1);
    processed(&w, &trans_id).await;

    // Daraja delivers the confirmation late after all.
    assert_eq!(w.daraja.send_dropped_confirmations().await, 1);
    let late = w.daraja.sent_callbacks().pop().unwrap();
    assert_eq!(late.body["TransID"], trans_id.as_str());
    assert_eq!(
        late.status,
        Some(200),
        "acknowledged, so Daraja does not resend it"
    );
    assert_eq!(
        events_for(&w, &trans_id).await.len(),
        1,
        "the same key: one event"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(recorded(&w, &trans_id).await.len(), 1);
}

#[tokio::test]
async fn a_confirmation_that_came_first_makes_the_pull_find_nothing_new() {
    let w = world("").await;
    let trans_id = customer_pays(&w, 420).await;
    let event = processed(&w, &trans_id).await;
    assert_eq!(event.kind, "c2b_confirmation");
    let summary = pull(&w).await.unwrap();
    assert_eq!((summary.found, summary.already_seen), (1, 1), "{summary:?}");
    assert!(summary.recorded.is_empty());
    assert_eq!(events_for(&w, &trans_id).await.len(), 1);
    assert_eq!(recorded(&w, &trans_id).await.len(), 1);
}

#[tokio::test]
async fn a_shortcode_not_allowed_to_pull_and_an_error_behind_200_are_reported_and_counted() {
    let w = world("").await;
    w.daraja
        .inject_fault(Endpoint::PullQuery, Fault::failed_with_200());
    let failed = pull(&w).await.unwrap_err();
    assert!(
        matches!(
            &failed,
            PullError::Daraja {
                source: MpesaError::PullFailed { status: 200, .. },
                ..
            }
        ),
        "{failed:?}"
    );
    assert_eq!(failed.result_label(), "failed");

    w.daraja.refuse_pull_for(SHORTCODE);
    let refused = pull(&w).await.unwrap_err();
    assert!(
        matches!(
            &refused,
            PullError::Daraja {
                source: MpesaError::PullNotAllowed { .. },
                ..
            }
        ),
        "{refused:?}"
    );
    // The message names the shortcode and says what to do.
    let text = format!("{refused}");
    assert!(text.contains(SHORTCODE) && text.contains("Safaricom"), "{text}");

    let text = metrics(&w).await;
    for line in [
        "malipo_c2b_pulls_total{result=\"failed\"} 1",
        "malipo_c2b_pulls_total{result=\"not_allowed\"} 1",
        "malipo_c2b_pulls_total{result=\"ok\"} 0",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}

#[tokio::test]
async fn a_configured_pull_runs_by_itself_and_records_what_it_finds() {
    // The shortest interval allowed; the first pull runs at start, the second after 10 s.
    let w = world("[mpesa.c2b_pull]\ninterval = \"10s\"\nlookback = \"1h\"").await;
    w.daraja.drop_c2b_confirmations(true);
    let trans_id = customer_pays(&w, 530).await;
    // A generous bound over the 10 s interval, not a timing assertion.
    for _ in 0..150 {
        if !events_for(&w, &trans_id).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let event = processed(&w, &trans_id).await;
    assert_eq!(event.kind, PULLED_KIND);
    assert_eq!(recorded(&w, &trans_id).await[0].amount, kes(530));
    assert!(w.daraja.requests(Endpoint::PullQuery) >= 2);
}

#[tokio::test]
async fn an_empty_answer_for_a_window_in_which_malipo_saw_payments_is_reported_as_doubtful() {
    // Daraja answers a shortcode it does not let pull the way it answers a quiet window
    // (1001, no records). Pulling a shortcode the simulator has no payments for stands in for
    // that answer, while malipo has recorded a confirmed payment of the same account.
    let w = world("").await;
    let trans_id = customer_pays(&w, 640).await;
    processed(&w, &trans_id).await;
    let now = Utc::now();
    // The window ends after the payment's confirmation margin, so it counts.
    let summary = pull_once(
        &w.state,
        &AccountName::default_account(),
        "600999",
        now - chrono::Duration::hours(1),
        now + chrono::Duration::minutes(10),
    )
    .await
    .unwrap();
    assert_eq!(summary.found, 0);
    let doubt = summary.doubt.expect("the empty answer is doubted");
    assert!(
        doubt.contains("600999") && doubt.contains("1 C2B payment"),
        "{doubt}"
    );
    let text = metrics(&w).await;
    assert!(
        text.contains("malipo_c2b_pulls_total{result=\"doubtful\"} 1"),
        "{text}"
    );

    // A window in which malipo saw nothing is simply quiet.
    let quiet = pull_once(
        &w.state,
        &AccountName::default_account(),
        "600999",
        now - chrono::Duration::hours(1),
        now - chrono::Duration::minutes(30),
    )
    .await
    .unwrap();
    assert_eq!(quiet.doubt, None);
}
