//! Payouts and refunds over real HTTP against the simulators: B2C with its result callback, a
//! Paystack transfer, Paystack refunds (full and partial), an M-Pesa reversal, and the refusals.

use std::time::Duration;

use crate::common::*;
use malipo_core::{Currency, Money, PaymentId, PaymentState, Provider};
use malipo_gateway::payments::{
    start_paystack_checkout, start_stk_push, CheckoutStart, PaymentStartError, StkPushStart,
};
use malipo_gateway::payouts::{
    start_b2c_payout, start_paystack_transfer, start_refund, B2cPayoutStart, RefundStart, TransferStart,
};
use malipo_sim::mpesa::{Endpoint, Fault, Outcome, SimConfig};
use malipo_store::SettledBy;

const TIMINGS: &str = r#"
interval = "100ms"
max_backoff = "400ms"
charge = { after = "300ms", deadline = "1m" }
transfer = { after = "300ms", deadline = "1m" }
refund = { after = "300ms", deadline = "1m" }
b2c = { after = "300ms", deadline = "1500ms" }
"#;

/// B2C payouts of this many shillings get no result callback.
const LOST_RESULT: u64 = 4040;

fn daraja() -> SimConfig {
    SimConfig::default()
        .callback_delay(Duration::from_millis(20))
        .outcome_for_amount(LOST_RESULT, Outcome::NeverCallsBack)
}

fn ngn(minor: u64) -> Money {
    Money::from_minor(minor, Currency::Ngn)
}

/// A Paystack charge paid at the simulator and settled (by verify: no webhooks here).
async fn paid_charge(world: &SimWorld, minor: u64) -> PaymentId {
    let started = start_paystack_checkout(
        &world.state,
        world.paystack_client(),
        CheckoutStart::new("wanjiru@example.com", ngn(minor)),
    )
    .await
    .unwrap();
    let reference = started.payment.provider_reference.clone().unwrap();
    world.paystack.authorize(&reference).unwrap();
    world
        .settled(started.payment.id, PaymentState::Succeeded)
        .await
        .id
}

fn invalid_field(e: &PaymentStartError) -> Option<&'static str> {
    match e {
        PaymentStartError::Invalid { field, .. } => Some(field),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_b2c_payout_is_settled_by_its_result_callback() {
    let world = SimWorld::start(daraja(), true, TIMINGS).await;
    let payout = B2cPayoutStart::new("0708374149".parse().unwrap(), kes(500), "Salary for May");
    let started = start_b2c_payout(&world.state, world.mpesa(), &world.public, payout)
        .await
        .unwrap();
    assert_eq!(started.kind, "b2c");
    assert_eq!(started.state, PaymentState::Pending);
    let conversation = started.provider_reference.clone().unwrap();
    assert!(conversation.starts_with("AG_"), "{conversation}");
    // Regression: the OriginatorConversationID was not kept, so a result naming another
    // payment's still settled this one. A result must now repeat it.
    let originator = started.provider_request_id.clone().unwrap();
    assert_eq!(originator, started.id.to_string());

    let paid = world.settled(started.id, PaymentState::Succeeded).await;
    assert_eq!(paid.settled_by, Some(SettledBy::Callback));
    assert!(paid.receipt.is_some(), "{paid:?}");
    // The result went to the payout's own token URL and names it as the originator.
    // The first callback is the payout's result; a slow machine may add a status query's
    // result after it (the reconciler asks once the payout is 300 ms old and still pending).
    let sent = world.daraja.sent_callbacks();
    assert!(!sent.is_empty());
    assert!(
        sent[0].url.contains("/callbacks/mpesa/result/"),
        "{}",
        sent[0].url
    );
    assert_eq!(sent[0].status, Some(200));
    assert_eq!(
        sent[0].body["Result"]["OriginatorConversationID"],
        started.id.to_string()
    );
    assert_eq!(sent[0].body["Result"]["ConversationID"], conversation.as_str());
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_b2c_payout_daraja_refuses_is_failed_and_an_unanswered_one_stays_pending() {
    let world = SimWorld::start(daraja(), true, TIMINGS).await;
    world
        .daraja
        .inject_fault(Endpoint::B2c, Fault::bad_request("Bad Request - Invalid PartyB"));
    let payout = B2cPayoutStart::new("0708374149".parse().unwrap(), kes(10), "Refund of deposit");
    let err = start_b2c_payout(&world.state, world.mpesa(), &world.public, payout.clone())
        .await
        .unwrap_err();
    assert!(!err.may_have_been_sent(), "{err}");
    let failed = world.payment(err.payment().unwrap().id).await;
    assert_eq!(failed.state, PaymentState::Failed);
    assert_eq!(failed.result_code.as_deref(), Some("400.002.02"));

    world.daraja.inject_fault(
        Endpoint::B2c,
        Fault::Raw {
            status: 504,
            body: "gateway timeout".into(),
        },
    );
    let err = start_b2c_payout(&world.state, world.mpesa(), &world.public, payout)
        .await
        .unwrap_err();
    assert!(err.may_have_been_sent(), "{err}");
    let pending = world.payment(err.payment().unwrap().id).await;
    assert_eq!(pending.state, PaymentState::Pending);

    // Invalid fields are refused before anything is stored.
    let bad = B2cPayoutStart::new("0708374149".parse().unwrap(), kes(10), "x");
    let err = start_b2c_payout(&world.state, world.mpesa(), &world.public, bad)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("remarks"));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_b2c_payout_whose_result_never_comes_is_settled_by_transaction_status() {
    let world = SimWorld::start(daraja(), true, TIMINGS).await;
    let payout = B2cPayoutStart::new("0708374149".parse().unwrap(), kes(LOST_RESULT), "Salary");
    let started = start_b2c_payout(&world.state, world.mpesa(), &world.public, payout)
        .await
        .unwrap();
    assert_eq!(started.receipt, None);
    // No receipt to ask by: the reconciler asks by the OriginatorConversationID malipo gave the
    // payout, and the status result (to the payout's own result URL) settles it.
    let settled = world.settled(started.id, PaymentState::Succeeded).await;
    assert!(world.daraja.requests(Endpoint::TransactionStatus) >= 1);
    assert_eq!(
        settled.receipt,
        world.daraja.b2c_receipt(&started.id.to_string()),
        "the receipt Daraja issued is recorded"
    );
    assert_eq!(settled.amount, kes(LOST_RESULT));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_query_that_times_out_in_darajas_queue_is_heard_on_its_own_timeout_url() {
    // The payout's result never comes, and the status query asked for it times out in Daraja's
    // queue: Daraja then calls the query's QueueTimeOutURL, whose token is for that route.
    let world = SimWorld::start(daraja().status_outcome(Outcome::Timeout), true, TIMINGS).await;
    let payout = B2cPayoutStart::new("0708374149".parse().unwrap(), kes(LOST_RESULT), "Salary");
    let started = start_b2c_payout(&world.state, world.mpesa(), &world.public, payout)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let timeout = loop {
        let sent = world.daraja.sent_callbacks();
        if let Some(t) = sent
            .into_iter()
            .find(|c| c.url.contains("/callbacks/mpesa/timeout/"))
        {
            break t;
        }
        assert!(std::time::Instant::now() < deadline, "no queue timeout was sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        timeout.status,
        Some(200),
        "the gateway took the queue timeout: {timeout:?}"
    );
    assert!(world.daraja.requests(Endpoint::TransactionStatus) >= 1);
    // A timeout settles nothing: the payout waits for an answer.
    assert_eq!(world.payment(started.id).await.state, PaymentState::Pending);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_b2c_payout_nobody_can_answer_for_is_held_at_the_deadline() {
    let world = SimWorld::start(daraja(), true, TIMINGS).await;
    // Daraja answers every status query "system busy": the payout's money may have moved, so it
    // is not expired but held for a person.
    for _ in 0..50 {
        world
            .daraja
            .inject_fault(Endpoint::TransactionStatus, Fault::system_busy());
    }
    let payout = B2cPayoutStart::new("0708374149".parse().unwrap(), kes(LOST_RESULT), "Salary");
    let started = start_b2c_payout(&world.state, world.mpesa(), &world.public, payout)
        .await
        .unwrap();
    let held = world.wait_for(started.id, "held", |p| p.check.held).await;
    assert_eq!(held.state, PaymentState::Pending);
    assert!(
        held.check.note.as_deref().unwrap_or("").contains("deadline"),
        "{held:?}"
    );
    world.stop().await;
}

/// A transfer recipient the Paystack simulator knows.
async fn recipient(world: &SimWorld) -> String {
    world
        .paystack_client()
        .create_transfer_recipient(&malipo_paystack::CreateTransferRecipient::new(
            "nuban",
            "Wanjiru Kamau",
            "0123456789",
            "058",
        ))
        .await
        .unwrap()
        .recipient_code
        .unwrap()
}

/// Regression: the webhook names the transfer's reference, but the transfer_code was stored in
/// its place, so no webhook ever found its transfer and only the reconciler settled it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paystack_transfer_is_settled_by_its_webhook() {
    // The reconciler would ask only after an hour.
    let world = SimWorld::start(daraja(), true, "transfer = { after = \"1h\", deadline = \"2h\" }").await;
    let recipient = recipient(&world).await;
    let started = start_paystack_transfer(
        &world.state,
        world.paystack_client(),
        TransferStart::new(recipient, ngn(150_000)),
    )
    .await
    .unwrap();
    let code = started.provider_request_id.clone().unwrap();
    let sent = world.settled(started.id, PaymentState::Succeeded).await;
    assert_eq!(sent.settled_by, Some(SettledBy::Callback), "{sent:?}");
    assert_eq!(sent.receipt.as_deref(), Some(code.as_str()));
    assert!(
        !world
            .paystack
            .api_calls()
            .iter()
            .any(|c| c.path.starts_with("/transfer/verify/")),
        "settled without asking"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paystack_transfer_is_verified_when_no_webhook_comes() {
    let world = SimWorld::start(daraja(), false, TIMINGS).await;
    let recipient = recipient(&world).await;
    let mut transfer = TransferStart::new(recipient, ngn(150_000));
    transfer.reason = Some("Supplier invoice 17".into());
    let started = start_paystack_transfer(&world.state, world.paystack_client(), transfer)
        .await
        .unwrap();
    assert_eq!(started.kind, "transfer");
    // The transfer's reference finds it; its transfer_code is what a webhook must repeat.
    assert_eq!(started.provider_reference, started.merchant_reference);
    let code = started.provider_request_id.clone().unwrap();
    assert!(code.starts_with("TRF_"), "{code}");
    let sent = world.settled(started.id, PaymentState::Succeeded).await;
    assert_eq!(sent.settled_by, Some(SettledBy::Query));
    assert_eq!(sent.receipt.as_deref(), Some(code.as_str()));

    // A recipient Paystack does not know is refused, and the payout is failed.
    let err = start_paystack_transfer(
        &world.state,
        world.paystack_client(),
        TransferStart::new("RCP_unknown", ngn(100)),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PaymentStartError::PaystackRefused { .. }), "{err}");
    assert_eq!(err.payment().unwrap().state, PaymentState::Failed);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paystack_refunds_partial_then_full_move_the_charge() {
    let world = SimWorld::start(daraja(), false, TIMINGS).await;
    let charge = paid_charge(&world, 500_000).await;

    let partial = start_refund(&world.state, RefundStart::partial(charge, ngn(100_000)))
        .await
        .unwrap();
    assert_eq!(partial.kind, "refund");
    assert_eq!(partial.parent_id, Some(charge));
    assert_eq!(partial.provider, Provider::Paystack);
    assert!(
        partial
            .provider_reference
            .as_deref()
            .is_some_and(|r| r.parse::<u64>().is_ok()),
        "{partial:?}"
    );
    // More than what is left (the pending refund is spoken for) is refused.
    let err = start_refund(&world.state, RefundStart::partial(charge, ngn(400_001)))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("amount"), "{err}");

    let done = world.settled(partial.id, PaymentState::Succeeded).await;
    assert_eq!(done.settled_by, Some(SettledBy::Query));
    assert_eq!(world.payment(charge).await.state, PaymentState::PartiallyRefunded);

    // The rest, by a full refund.
    let rest = start_refund(&world.state, RefundStart::full(charge))
        .await
        .unwrap();
    assert_eq!(rest.amount, ngn(400_000));
    world.settled(rest.id, PaymentState::Succeeded).await;
    assert_eq!(world.payment(charge).await.state, PaymentState::Refunded);

    // Nothing is left.
    let err = start_refund(&world.state, RefundStart::partial(charge, ngn(1)))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("payment"), "{err}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_of_unpaid_payments_and_above_the_amount_are_refused() {
    let world = SimWorld::start(daraja(), false, TIMINGS).await;
    let unpaid = start_paystack_checkout(
        &world.state,
        world.paystack_client(),
        CheckoutStart::new("wanjiru@example.com", ngn(20_000)),
    )
    .await
    .unwrap()
    .payment;
    let err = start_refund(&world.state, RefundStart::full(unpaid.id))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("payment"), "{err}");
    assert!(err.to_string().contains("pending"), "{err}");

    let charge = paid_charge(&world, 20_000).await;
    let err = start_refund(&world.state, RefundStart::partial(charge, ngn(20_001)))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("amount"), "{err}");
    let err = start_refund(
        &world.state,
        RefundStart::partial(charge, Money::from_minor(100, Currency::Ghs)),
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_field(&err), Some("amount"), "{err}");
    let err = start_refund(&world.state, RefundStart::full(PaymentId::new()))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("payment"), "{err}");
    // Nothing was recorded for the refusals.
    assert!(world.state.store.child_payments(charge).await.unwrap().is_empty());
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mpesa_reversal_is_settled_by_its_result_and_refunds_the_push() {
    let world = SimWorld::start(daraja(), true, TIMINGS).await;
    let push = StkPushStart::new("0708374149".parse().unwrap(), kes(300), "INV-9", "Order 9");
    let paid = start_stk_push(&world.state, world.mpesa(), &world.public, push)
        .await
        .unwrap();
    let paid = world.settled(paid.id, PaymentState::Succeeded).await;
    assert!(paid.receipt.is_some());

    let reversal = start_refund(&world.state, RefundStart::full(paid.id))
        .await
        .unwrap();
    assert_eq!(reversal.kind, "reversal");
    assert_eq!(reversal.provider, Provider::Mpesa);
    assert_eq!(reversal.amount, kes(300));
    assert!(reversal.provider_reference.is_some());
    let done = world.settled(reversal.id, PaymentState::Succeeded).await;
    assert_eq!(done.settled_by, Some(SettledBy::Callback));
    assert_eq!(world.payment(paid.id).await.state, PaymentState::Refunded);
    let sent = world.daraja.sent_callbacks();
    assert!(
        sent.iter().any(|c| c.url.contains("/callbacks/mpesa/result/")
            && c.body["Result"]["ResultParameters"]
                .to_string()
                .contains("OriginalTransactionID")),
        "{sent:?}"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_payout_with_a_receipt_is_asked_by_transaction_status() {
    let world = SimWorld::start(daraja(), true, TIMINGS).await;
    // A payout whose result never came but whose M-Pesa receipt is known (from the
    // customer's SMS, say): the reconciler asks Daraja's transaction status about it.
    let payout = B2cPayoutStart::new("0708374149".parse().unwrap(), kes(LOST_RESULT), "Salary");
    let started = start_b2c_payout(&world.state, world.mpesa(), &world.public, payout)
        .await
        .unwrap();
    world
        .state
        .store
        .transition_payment(
            started.id,
            PaymentState::Pending,
            malipo_store::TransitionDetail {
                receipt: world.daraja.b2c_receipt(&started.id.to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let asked = world
        .wait_for(started.id, "asked by transaction status", |p| {
            p.check
                .note
                .as_deref()
                .unwrap_or("")
                .contains("transaction status asked")
                || p.state != PaymentState::Pending
        })
        .await;
    assert!(world.daraja.requests(Endpoint::TransactionStatus) >= 1);
    // The status result comes to the payout's own result URL; today's worker settles the
    // payout from it.
    let settled = world.settled(started.id, PaymentState::Succeeded).await;
    assert_eq!(settled.settled_by, Some(SettledBy::Callback), "{asked:?}");
    let sent = world.daraja.sent_callbacks();
    assert!(
        sent.iter().any(|c| c.url.contains("/callbacks/mpesa/result/")
            && c.body["Result"]["ResultParameters"]
                .to_string()
                .contains("ReceiptNo")),
        "{sent:?}"
    );
    world.stop().await;
}
