//! The reconciler over real HTTP: payments whose callback or webhook never came are asked about
//! at the simulators (STK query, Paystack verify) and settled by query.

use std::time::Duration;

use crate::common::*;
use malipo_core::{Currency, EventStatus, Money, PaymentState};
use malipo_gateway::payments::{start_paystack_checkout, start_stk_push, CheckoutStart, StkPushStart};
use malipo_gateway::reconcile::{reconcile_payment, Reconciled};
use malipo_sim::mpesa::{Endpoint, Fault, Outcome, SimConfig};
use malipo_store::{NewPayment, SettledBy};

/// Short timings so a test takes a second or two: first question 300 ms after the start,
/// expired at 2 s.
const FAST: &str = r#"
interval = "100ms"
max_backoff = "400ms"
stk_push = { after = "300ms", deadline = "2s" }
charge = { after = "300ms", deadline = "2s" }
"#;

/// Amounts the Daraja simulator answers in particular ways.
const NEVER_CALLS_BACK: u64 = 4040;
const STILL_PROCESSING: u64 = 77;
const CANCELLED_CALLBACK_LOST: u64 = 78;

fn daraja() -> SimConfig {
    SimConfig::default()
        .callback_delay(Duration::from_millis(20))
        .with_demo_outcomes()
        .outcome_for_amount(STILL_PROCESSING, Outcome::Processing)
        .outcome_for_amount(
            CANCELLED_CALLBACK_LOST,
            Outcome::LostCallback(Box::new(Outcome::Cancelled)),
        )
}

async fn push(world: &SimWorld, shillings: u64) -> malipo_core::PaymentId {
    let push = StkPushStart::new("0708374149".parse().unwrap(), kes(shillings), "INV-1", "Order 1");
    start_stk_push(&world.state, world.mpesa(), &world.public, push)
        .await
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_callback_never_comes_is_settled_by_query() {
    let world = SimWorld::start(daraja(), true, FAST).await;
    let id = push(&world, NEVER_CALLS_BACK).await;
    let paid = world.settled(id, PaymentState::Succeeded).await;
    assert_eq!(paid.settled_by, Some(SettledBy::Query));
    assert_eq!(paid.result_code.as_deref(), Some("0"));
    assert!(paid.check.attempts >= 1, "{paid:?}");
    assert!(world.daraja.requests(Endpoint::StkQuery) >= 1);
    assert!(
        world.daraja.sent_callbacks().is_empty(),
        "the simulator was to lose the callback"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_still_processing_push_is_asked_again_then_expired_at_the_deadline() {
    let world = SimWorld::start(daraja(), true, FAST).await;
    let id = push(&world, STILL_PROCESSING).await;
    // Asked, told "being processed", and scheduled again while the deadline is ahead.
    let asked = world.wait_for(id, "asked once", |p| p.check.attempts >= 1).await;
    assert_eq!(asked.state, PaymentState::Pending);
    assert!(asked.check.next_at.is_some());
    assert!(
        asked
            .check
            .note
            .as_deref()
            .unwrap_or("")
            .contains("being processed"),
        "{asked:?}"
    );
    let expired = world.settled(id, PaymentState::Expired).await;
    assert_eq!(expired.settled_by, Some(SettledBy::Query));
    assert!(expired.check.attempts >= 2, "{expired:?}");
    assert!(
        expired.result_desc.as_deref().unwrap_or("").contains("deadline"),
        "{expired:?}"
    );
    assert!(world.daraja.requests(Endpoint::StkQuery) >= 2);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_push_found_by_query_becomes_cancelled() {
    let world = SimWorld::start(daraja(), true, FAST).await;
    let id = push(&world, CANCELLED_CALLBACK_LOST).await;
    let cancelled = world.settled(id, PaymentState::Cancelled).await;
    assert_eq!(cancelled.settled_by, Some(SettledBy::Query));
    assert_eq!(cancelled.result_code.as_deref(), Some("1032"));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_start_had_no_answer_is_reconciled_and_expires() {
    let world = SimWorld::start(daraja(), true, FAST).await;
    world.daraja.inject_fault(
        Endpoint::StkPush,
        Fault::Raw {
            status: 502,
            body: "<html>bad gateway</html>".into(),
        },
    );
    let push = StkPushStart::new("0708374149".parse().unwrap(), kes(10), "INV-2", "Order 2");
    let err = start_stk_push(&world.state, world.mpesa(), &world.public, push)
        .await
        .unwrap_err();
    assert!(err.may_have_been_sent(), "{err}");
    let id = err.payment().unwrap().id;
    // Without a CheckoutRequestID there is nothing to query: it waits for a callback that
    // never comes, then expires at the deadline.
    let expired = world.settled(id, PaymentState::Expired).await;
    assert_eq!(expired.settled_by, Some(SettledBy::Query));
    assert!(
        expired
            .result_desc
            .as_deref()
            .unwrap_or("")
            .contains("CheckoutRequestID"),
        "{expired:?}"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_whose_webhook_never_came_is_settled_by_verify() {
    let world = SimWorld::start(daraja(), false, FAST).await;
    let amount = Money::from_minor(250_000, Currency::Ngn);
    let started = start_paystack_checkout(
        &world.state,
        world.paystack_client(),
        CheckoutStart::new("wanjiru@example.com", amount),
    )
    .await
    .unwrap();
    let reference = started.payment.provider_reference.clone().unwrap();
    let paid_tx = world.paystack.authorize(&reference).unwrap();
    let paid = world.settled(started.payment.id, PaymentState::Succeeded).await;
    assert_eq!(paid.settled_by, Some(SettledBy::Query));
    assert_eq!(paid.receipt.as_deref(), Some(paid_tx["id"].to_string().as_str()));
    let events = world
        .state
        .store
        .list_events(&malipo_store::EventFilter::default())
        .await
        .unwrap();
    assert!(
        events.is_empty(),
        "no webhook was to reach the gateway: {events:?}"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_with_a_different_amount_does_not_settle() {
    let world = SimWorld::start(daraja(), false, FAST).await;
    // The checkout at Paystack is for 600 NGN; the payment malipo holds says 500.
    let init = malipo_paystack::InitializeTransaction::new(
        "wanjiru@example.com",
        Money::from_minor(60_000, Currency::Ngn),
    )
    .reference("ref-mismatch");
    world
        .paystack_client()
        .initialize_transaction(&init)
        .await
        .unwrap();
    world.paystack.authorize("ref-mismatch").unwrap();
    let payment = world
        .state
        .store
        .insert_payment(NewPayment {
            provider_reference: Some("ref-mismatch".into()),
            ..NewPayment::pending(
                malipo_core::Provider::Paystack,
                "charge",
                Money::from_minor(50_000, Currency::Ngn),
            )
        })
        .await
        .unwrap();
    let held = world.wait_for(payment.id, "held", |p| p.check.held).await;
    assert_eq!(held.state, PaymentState::Pending);
    assert_eq!(held.settled_by, None);
    let note = held.check.note.clone().unwrap_or_default();
    assert!(note.contains("payment is for"), "{note}");
    // Held means asked no more, past the deadline too.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let later = world.payment(payment.id).await;
    assert_eq!(later.state, PaymentState::Pending);
    assert_eq!(later.check.attempts, held.check.attempts);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_callback_agreeing_with_the_query_changes_nothing() {
    let world = SimWorld::start(daraja(), true, FAST).await;
    let id = push(&world, NEVER_CALLS_BACK).await;
    let settled = world.settled(id, PaymentState::Succeeded).await;
    assert_eq!(settled.settled_by, Some(SettledBy::Query));
    let checkout = settled.provider_reference.clone().unwrap();
    let token = world
        .state
        .callback_tokens
        .as_ref()
        .unwrap()
        .issue_for(malipo_guard::CallbackRoute::Stk, id);
    let body =
        include_str!("../fixtures/stk-callback-paid.json").replace("ws_CO_191220191020363925", &checkout);
    let res = client_from("127.0.0.2")
        .post(
            world
                .public
                .join(&format!("/callbacks/mpesa/stk/{token}"))
                .unwrap(),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events = world
        .state
        .store
        .list_events(&malipo_store::EventFilter::default())
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    for _ in 0..250 {
        let e = world.state.store.get_event(events[0].id).await.unwrap().unwrap();
        if e.status == EventStatus::Processed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = world.payment(id).await;
    assert_eq!(after.state, PaymentState::Succeeded);
    assert_eq!(after.settled_by, Some(SettledBy::Query), "{after:?}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_payment_asks_now_whatever_the_schedule() {
    // The loop is off: only the explicit call asks.
    let world = SimWorld::start(daraja(), true, "enabled = false").await;
    let id = push(&world, NEVER_CALLS_BACK).await;
    let processing = push(&world, STILL_PROCESSING).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let done = reconcile_payment(&world.state, id).await.unwrap();
    assert!(matches!(done, Reconciled::Settled { .. }), "{done:?}");
    assert_eq!(done.payment().state, PaymentState::Succeeded);
    assert_eq!(done.payment().settled_by, Some(SettledBy::Query));
    let again = reconcile_payment(&world.state, id).await.unwrap();
    assert!(matches!(again, Reconciled::AlreadySettled(_)), "{again:?}");

    let pending = reconcile_payment(&world.state, processing).await.unwrap();
    assert!(matches!(pending, Reconciled::StillPending { .. }), "{pending:?}");
    assert_eq!(pending.payment().check.attempts, 1);

    let unknown = reconcile_payment(&world.state, malipo_core::PaymentId::new()).await;
    assert!(matches!(
        unknown,
        Err(malipo_gateway::reconcile::ReconcileError::NotFound(_))
    ));
    world.stop().await;
}

/// Strict settlement with the reconciler's own schedule far away (1 h): only the callback's
/// request for confirmation can bring the query forward.
const STRICT: &str = r#"
interval = "100ms"
max_backoff = "400ms"
stk_push = { after = "1h", deadline = "2h" }
confirm_successes = true
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_settlement_confirms_a_callbacks_success_by_query() {
    let world = SimWorld::start(daraja(), true, STRICT).await;
    let id = push(&world, 100).await;
    let paid = world.settled(id, PaymentState::Succeeded).await;
    assert_eq!(paid.settled_by, Some(SettledBy::Query), "{paid:?}");
    assert!(world.daraja.requests(Endpoint::StkQuery) >= 1);
    let callbacks = world.daraja.sent_callbacks();
    assert!(!callbacks.is_empty(), "the success came by callback first");
    // The query confirms without a receipt; the callback's is kept, so it can be reversed.
    let receipt = paid.receipt.as_deref().expect("the callback's receipt is kept");
    assert!(
        callbacks
            .iter()
            .any(|c| c.body.to_string().contains(&format!("\"{receipt}\""))),
        "{receipt} is the callback's: {callbacks:?}"
    );
    world.stop().await;
}

/// Regression: strict settlement turned a payout's result into a status query, whose answer
/// (another result callback) was turned into a query again: the payout stayed pending for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_settlement_settles_a_payout_by_its_result() {
    use malipo_gateway::payouts::{start_b2c_payout, B2cPayoutStart};

    let world = SimWorld::start(daraja(), true, STRICT).await;
    let payout = B2cPayoutStart::new("0708374149".parse().unwrap(), kes(500), "Salary");
    let id = start_b2c_payout(&world.state, world.mpesa(), &world.public, payout)
        .await
        .unwrap()
        .id;
    let paid = world.settled(id, PaymentState::Succeeded).await;
    assert_eq!(paid.settled_by, Some(SettledBy::Callback), "{paid:?}");
    assert!(paid.receipt.is_some(), "{paid:?}");
    assert_eq!(world.daraja.requests(Endpoint::TransactionStatus), 0);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_settlement_does_not_believe_a_success_the_provider_denies() {
    let world = SimWorld::start(daraja(), true, STRICT).await;
    // Daraja will say "cancelled" when asked, and its own callback is lost.
    let id = push(&world, CANCELLED_CALLBACK_LOST).await;
    let p = world.payment(id).await;
    // A well-formed success for this very payment, on its own URL, with its ids and amount.
    let body = include_str!("../fixtures/stk-callback-paid.json")
        .replace("29115-34620561-1", p.provider_request_id.as_deref().unwrap())
        .replace(
            "ws_CO_191220191020363925",
            p.provider_reference.as_deref().unwrap(),
        )
        .replace(
            "\"Value\":1.00",
            &format!("\"Value\":{CANCELLED_CALLBACK_LOST}.00"),
        );
    let token = world
        .state
        .callback_tokens
        .as_ref()
        .unwrap()
        .issue_for(malipo_guard::CallbackRoute::Stk, id);
    let res = client_from("127.0.0.2")
        .post(
            world
                .public
                .join(&format!("/callbacks/mpesa/stk/{token}"))
                .unwrap(),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let settled = world.settled(id, PaymentState::Cancelled).await;
    assert_eq!(settled.settled_by, Some(SettledBy::Query), "{settled:?}");
    world.stop().await;
}

/// A payment of an account no section configures, so that asking about it fails (there is no
/// client to ask with): what the reconciler did shows in its check alone.
async fn unaskable_charge(world: &SimWorld) -> malipo_store::PaymentRecord {
    let mut new = NewPayment::pending(
        malipo_core::Provider::Paystack,
        "charge",
        Money::from_minor(50_000, Currency::Ngn),
    );
    new.account = malipo_core::AccountName::configured("ghost").unwrap();
    world.state.store.insert_payment(new).await.unwrap()
}

/// Reconciliation settings for passes a test runs itself: errors retried after 10 s, doubling;
/// a charge or a B2C payout first asked about `after` its start.
fn manual_passes(after: Duration) -> malipo_config::ReconcileConfig {
    let timing = malipo_config::ReconcileTiming::new(after, Duration::from_secs(86_400));
    malipo_config::ReconcileConfig {
        interval: Duration::from_secs(10),
        max_backoff: Duration::from_secs(3_600),
        charge: timing,
        b2c: timing,
        ..malipo_config::ReconcileConfig::default()
    }
}

/// Runs three passes by hand, the first at `now`, each next one at the time the last set: each
/// asks about the payment `id` (still pending; `each` checks more of it) and sets the next
/// question 10, 20, then 40 s later, and a pass a millisecond before that finds nothing due.
async fn asked_again_after_doubling_waits(
    world: &SimWorld,
    config: &malipo_config::ReconcileConfig,
    id: malipo_core::PaymentId,
    mut now: chrono::DateTime<chrono::Utc>,
    each: impl Fn(&malipo_store::PaymentRecord),
) {
    use malipo_gateway::reconcile::tick;

    for (attempts, wait) in [(1, 10), (2, 20), (3, 40)] {
        assert_eq!(tick(&world.state, config, now).await.unwrap(), 1);
        let p = world.payment(id).await;
        assert_eq!(p.state, PaymentState::Pending);
        assert_eq!(p.check.attempts, attempts, "{p:?}");
        let next = now + chrono::Duration::seconds(wait);
        assert_eq!(p.check.next_at, Some(next), "{p:?}");
        each(&p);
        assert_eq!(
            tick(&world.state, config, next - chrono::Duration::milliseconds(1))
                .await
                .unwrap(),
            0,
            "not due before then"
        );
        now = next;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_is_first_asked_about_once_its_callback_had_until_after_to_come() {
    use malipo_gateway::reconcile::tick;

    // The background reconciler is off: this test runs each pass itself, at times it chooses.
    let world = SimWorld::start(daraja(), false, "enabled = false").await;
    let config = manual_passes(Duration::from_secs(60));
    let a = unaskable_charge(&world).await;
    let first_a = a.created_at + chrono::Duration::seconds(60);
    // Just before: not asked, only scheduled for then.
    assert_eq!(
        tick(&world.state, &config, first_a - chrono::Duration::milliseconds(1))
            .await
            .unwrap(),
        1
    );
    let a = world.payment(a.id).await;
    assert_eq!((a.check.attempts, a.check.next_at), (0, Some(first_a)), "{a:?}");
    assert_eq!(a.check.note, None);
    // At its time, asked; so is a payment seen for the first time exactly at its own.
    let b = unaskable_charge(&world).await;
    let first_b = b.created_at + chrono::Duration::seconds(60);
    assert_eq!(tick(&world.state, &config, first_b).await.unwrap(), 2);
    for id in [a.id, b.id] {
        let p = world.payment(id).await;
        assert_eq!(p.check.attempts, 1, "{p:?}");
        assert!(
            p.check
                .note
                .as_deref()
                .unwrap_or("")
                .starts_with("reconciliation failed: "),
            "{p:?}"
        );
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_cannot_be_made_is_tried_again_after_a_doubling_wait() {
    let world = SimWorld::start(daraja(), false, "enabled = false").await;
    let id = unaskable_charge(&world).await.id;
    let config = manual_passes(Duration::ZERO);
    // Whole seconds, as the store keeps times to the millisecond.
    let now = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + 1, 0).unwrap();
    asked_again_after_doubling_waits(&world, &config, id, now, |p| {
        let note = p.check.note.as_deref().unwrap_or("");
        assert!(note.starts_with("reconciliation failed: "), "{note}");
    })
    .await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_not_yet_paid_is_asked_again_after_a_doubling_wait() {
    let world = SimWorld::start(daraja(), false, "enabled = false").await;
    let started = start_paystack_checkout(
        &world.state,
        world.paystack_client(),
        CheckoutStart::new("wanjiru@example.com", Money::from_minor(250_000, Currency::Ngn)),
    )
    .await
    .unwrap();
    let id = started.payment.id;
    let config = manual_passes(Duration::from_secs(10));
    let now = world.payment(id).await.created_at + chrono::Duration::seconds(10);
    // The customer has not paid: Paystack answers "abandoned" each time.
    asked_again_after_doubling_waits(&world, &config, id, now, |_| {}).await;
    let verifies = world
        .paystack
        .api_calls()
        .into_iter()
        .filter(|c| c.path.starts_with("/transaction/verify/"))
        .count();
    assert_eq!(verifies, 3);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payout_asked_about_by_transaction_status_is_asked_again_after_a_doubling_wait() {
    use malipo_gateway::payouts::{start_b2c_payout, B2cPayoutStart};

    let world = SimWorld::start(daraja(), false, "enabled = false").await;
    let payout = B2cPayoutStart::new("0708374149".parse().unwrap(), kes(NEVER_CALLS_BACK), "Salary");
    let id = start_b2c_payout(&world.state, world.mpesa(), &world.public, payout)
        .await
        .unwrap()
        .id;
    let config = manual_passes(Duration::from_secs(10));
    let now = world.payment(id).await.created_at + chrono::Duration::seconds(10);
    // Each pass sends a status query whose answer comes by callback (here, never).
    asked_again_after_doubling_waits(&world, &config, id, now, |_| {}).await;
    assert_eq!(world.daraja.requests(Endpoint::TransactionStatus), 3);
    world.stop().await;
}
