//! Webhook round trips: the simulator pays a checkout and POSTs the signed event to a tiny
//! receiver that checks it with `verify_signature` and parses it with `Event::from_slice`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use malipo_core::{Currency, Money, Secret};
use malipo_paystack::{
    verify_signature, Client, CreateRefund, CreateTransferRecipient, Event, InitializeTransaction,
    InitiateTransfer, SignatureError, SIGNATURE_HEADER,
};
use malipo_sim::paystack::{
    Delivery, PaystackSim, PaystackSimHandle, SimConfig, FAILING_ACCOUNT_NUMBER, TEST_SECRET_KEY,
};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

/// What the receiver saw for one request.
#[derive(Debug)]
struct Received {
    body: Vec<u8>,
    signature: Result<(), SignatureError>,
    event: Option<Event>,
}

struct Receiver {
    fail_first: AtomicUsize,
    seen: mpsc::UnboundedSender<Received>,
    secret: Secret<String>,
}

async fn hook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers.get(SIGNATURE_HEADER).map(|v| v.as_bytes());
    let signature = verify_signature(&body, header, &r.secret);
    let event = Event::from_slice(&body).ok();
    let _ = r.seen.send(Received {
        body: body.to_vec(),
        signature,
        event,
    });
    let failing = r
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

struct Setup {
    sim: PaystackSimHandle,
    client: Client,
    seen: mpsc::UnboundedReceiver<Received>,
}

/// A receiver answering 500 to its first `fail_first` requests, and a simulator sending to it.
async fn setup(fail_first: usize) -> Setup {
    let (tx, seen) = mpsc::unbounded_channel();
    let receiver = Arc::new(Receiver {
        fail_first: AtomicUsize::new(fail_first),
        seen: tx,
        secret: Secret::new(TEST_SECRET_KEY.to_string()),
    });
    let app = Router::new()
        .route("/hooks/paystack", post(hook))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let config = SimConfig::default()
        .webhook_url(format!("http://{addr}/hooks/paystack").parse().unwrap())
        .retry_interval(Duration::from_millis(20))
        .max_attempts(3);
    let sim = PaystackSim::start(config).await.unwrap();
    let client = Client::builder(Secret::new(TEST_SECRET_KEY.to_string()))
        .base_url(sim.base_url().clone())
        .build()
        .unwrap();
    Setup { sim, client, seen }
}

async fn next(seen: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("a webhook arrives in time")
        .expect("receiver alive")
}

async fn pay(s: &Setup, reference: &str, minor: u64) {
    let init = InitializeTransaction::new("wanjiru@example.com", kes(minor)).reference(reference);
    s.client.initialize_transaction(&init).await.unwrap();
    s.sim.authorize(reference).unwrap();
}

fn kes(minor: u64) -> Money {
    Money::from_minor(minor, Currency::Kes)
}

#[tokio::test]
async fn a_paid_checkout_arrives_signed_and_parses_to_charge_success() {
    let mut s = setup(0).await;
    pay(&s, "order-77", 250_000).await;

    let got = next(&mut s.seen).await;
    assert_eq!(got.signature, Ok(()));
    let event = got.event.expect("parses");
    let Event::ChargeSuccess(charge) = &event else {
        panic!("expected charge.success, got {event:?}");
    };
    assert!(charge.is_successful());
    assert_eq!(event.reference(), Some("order-77"));
    assert_eq!(event.amount(), Some(kes(250_000)));
    assert_eq!(event.customer_email(), Some("wanjiru@example.com"));
    let id = charge.id.expect("id");
    assert_eq!(event.dedup_key(), Some(format!("charge.success:{id}")));

    // The webhook is a notification; verify agrees with it.
    let verified = s.client.verify_transaction("order-77").await.unwrap();
    assert_eq!(verified.id, Some(id));

    // A body signed with another key is refused by the same check.
    let other = Secret::new("sk_test_someone_else".to_string());
    let sig = malipo_paystack::sign(&got.body, &other);
    assert_eq!(
        verify_signature(
            &got.body,
            Some(sig.as_bytes()),
            &Secret::new(TEST_SECRET_KEY.to_string())
        ),
        Err(SignatureError::Mismatch)
    );
}

#[tokio::test]
async fn a_receiver_answering_500_gets_the_same_bytes_again() {
    let mut s = setup(1).await;
    pay(&s, "retry-me", 1_000).await;

    let first = next(&mut s.seen).await;
    let second = next(&mut s.seen).await;
    assert_eq!(first.body, second.body, "a retry resends the same bytes");
    assert_eq!(second.signature, Ok(()));
    let a = first.event.expect("parses");
    let b = second.event.expect("parses");
    assert_eq!(a.dedup_key(), b.dedup_key());

    let log = s
        .sim
        .wait_for_deliveries(WAIT, |d| d.first().is_some_and(|d| d.delivered))
        .await;
    let statuses: Vec<_> = log[0].attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(200)]);
}

#[tokio::test]
async fn the_simulator_gives_up_after_max_attempts() {
    let mut s = setup(usize::MAX).await;
    pay(&s, "never-accepted", 1_000).await;
    for _ in 0..3 {
        next(&mut s.seen).await;
    }
    let log = s
        .sim
        .wait_for_deliveries(WAIT, |d| d.first().is_some_and(|d| d.attempts.len() == 3))
        .await;
    assert_eq!(log[0].attempts.len(), 3);
    assert!(!log[0].delivered);
}

#[tokio::test]
async fn a_deliberate_duplicate_has_the_same_dedup_key() {
    let mut s = setup(0).await;
    pay(&s, "dup", 1_000).await;
    let original = next(&mut s.seen).await;
    let copy_id = s.sim.send_duplicate(0).unwrap();
    let copy = next(&mut s.seen).await;
    assert_eq!(original.body, copy.body);
    assert_eq!(copy.signature, Ok(()));
    assert_eq!(
        original.event.and_then(|e| e.dedup_key()),
        copy.event.and_then(|e| e.dedup_key())
    );
    let log: Vec<Delivery> = s.sim.deliveries();
    assert_eq!(log[copy_id].duplicate_of, Some(0));
    assert!(s.sim.send_duplicate(99).is_err());
}

#[tokio::test]
async fn refunds_and_transfers_send_their_events() {
    let mut s = setup(0).await;
    pay(&s, "refund-me", 4_000).await;
    next(&mut s.seen).await; // charge.success

    s.client
        .create_refund(&CreateRefund::partial("refund-me", kes(1_500)))
        .await
        .unwrap();
    let mut names = Vec::new();
    for _ in 0..2 {
        let event = next(&mut s.seen).await.event.expect("parses");
        assert_eq!(event.reference(), Some("refund-me"));
        assert_eq!(event.amount(), Some(kes(1_500)));
        names.push(event.name().to_string());
    }
    names.sort();
    assert_eq!(names, ["refund.pending", "refund.processed"]);

    let good = s
        .client
        .create_transfer_recipient(&CreateTransferRecipient::new(
            "mobile_money",
            "W",
            "0712345678",
            "MPESA",
        ))
        .await
        .unwrap();
    let bad = s
        .client
        .create_transfer_recipient(&CreateTransferRecipient::new(
            "nuban",
            "X",
            FAILING_ACCOUNT_NUMBER,
            "058",
        ))
        .await
        .unwrap();
    for (recipient, reference) in [(good, "ok-payout"), (bad, "bad-payout")] {
        let code = recipient.recipient_code.expect("code");
        s.client
            .initiate_transfer(&InitiateTransfer::new(kes(900), code).reference(reference))
            .await
            .unwrap();
        let event = next(&mut s.seen).await.event.expect("parses");
        assert_eq!(event.reference(), Some(reference));
        let expected = if reference == "ok-payout" {
            matches!(event, Event::TransferSuccess(_))
        } else {
            matches!(event, Event::TransferFailed(_))
        };
        assert!(expected, "{reference}: {event:?}");
    }
}
