//! Every client operation against the Paystack simulator over real HTTP on loopback.

use std::time::Duration;

use futures::TryStreamExt;
use malipo_core::{Currency, Money, Secret};
use malipo_paystack::{
    ChargeAuthorization, Client, CreateRefund, CreateTransferRecipient, Error, Expandable,
    InitializeTransaction, InitiateTransfer, ListQuery, RecordKind,
};
use malipo_sim::paystack::{
    PaystackSim, PaystackSimHandle, SimConfig, FAILING_ACCOUNT_NUMBER, TEST_OTP, TEST_SECRET_KEY,
};

fn kes(minor: u64) -> Money {
    Money::from_minor(minor, Currency::Kes)
}

async fn sim(config: SimConfig) -> (PaystackSimHandle, Client) {
    let sim = PaystackSim::start(config).await.expect("simulator starts");
    let client = Client::builder(Secret::new(TEST_SECRET_KEY.to_string()))
        .base_url(sim.base_url().clone())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client builds");
    (sim, client)
}

/// Initializes and pays a checkout; returns its reference.
async fn paid(sim: &PaystackSimHandle, client: &Client, reference: &str, amount: Money) -> String {
    let init = InitializeTransaction::new("wanjiru@example.com", amount).reference(reference);
    let started = client.initialize_transaction(&init).await.expect("initialized");
    sim.authorize(&started.reference).expect("authorized");
    started.reference
}

#[tokio::test]
async fn initialize_then_verify_before_and_after_payment() {
    let (sim, client) = sim(SimConfig::default()).await;
    let init = InitializeTransaction::new("wanjiru@example.com", kes(150_050))
        .reference("order-1")
        .metadata(serde_json::json!({"order": 1}));
    let started = client.initialize_transaction(&init).await.unwrap();
    assert_eq!(started.reference, "order-1");
    assert!(!started.access_code.is_empty());
    assert!(
        started.authorization_url.starts_with(sim.base_url().as_str()),
        "{}",
        started.authorization_url
    );

    let before = client.verify_transaction("order-1").await.unwrap();
    assert!(!before.is_successful());
    assert_eq!(before.amount(), Some(kes(150_050)));

    sim.authorize("order-1").unwrap();
    let after = client.verify_transaction("order-1").await.unwrap();
    assert!(after.is_successful());
    assert_eq!(after.reference.as_deref(), Some("order-1"));
    assert_eq!(
        after.customer.as_ref().and_then(|c| c.email.as_deref()),
        Some("wanjiru@example.com")
    );
    assert_eq!(after.metadata, Some(serde_json::json!({"order": 1})));

    let id = after.id.expect("an id");
    let fetched = client.fetch_transaction(id).await.unwrap();
    assert_eq!(fetched.reference.as_deref(), Some("order-1"));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_generated_reference_and_refusals_keep_paystacks_message() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let init = InitializeTransaction::new("a@example.com", kes(100));
    let first = client.initialize_transaction(&init).await.unwrap();
    assert!(!first.reference.is_empty());

    let duplicate = init.clone().reference(first.reference.clone());
    let err = client.initialize_transaction(&duplicate).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.message(), Some("Duplicate Transaction Reference"));

    let err = client.verify_transaction("no-such-ref").await.unwrap_err();
    assert_eq!(err.message(), Some("Transaction reference not found"));
    assert!(!err.is_retryable());

    let err = client.fetch_transaction(1).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn references_are_one_path_segment() {
    let (_sim, client) = sim(SimConfig::default()).await;
    // Percent-encoded: reaches the verify handler (which knows no such reference) instead of
    // another route.
    for reference in ["a/b", "../transaction", "x?y=1", "ref with spaces"] {
        let err = client.verify_transaction(reference).await.unwrap_err();
        assert_eq!(
            err.message(),
            Some("Transaction reference not found"),
            "{reference}: {err}"
        );
    }
    assert!(matches!(
        client.verify_transaction(" ").await,
        Err(Error::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn lists_and_pages_through_transactions() {
    let (sim, client) = sim(SimConfig::default()).await;
    for i in 0..5 {
        paid(&sim, &client, &format!("list-{i}"), kes(1_000 + i)).await;
    }
    let query = ListQuery {
        per_page: Some(2),
        ..ListQuery::default()
    };
    let first = client.list_transactions(&query).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.meta.total, Some(5));
    assert_eq!(first.meta.page_count, Some(3));

    let pages: Vec<_> = client.transaction_pages(query).try_collect().await.unwrap();
    assert_eq!(pages.len(), 3);
    let mut references: Vec<String> = pages
        .iter()
        .flat_map(|p| p.items.iter().filter_map(|t| t.reference.clone()))
        .collect();
    references.sort();
    assert_eq!(references, ["list-0", "list-1", "list-2", "list-3", "list-4"]);
}

#[tokio::test]
async fn charges_a_saved_authorization() {
    let (sim, client) = sim(SimConfig::default()).await;
    paid(&sim, &client, "first-purchase", kes(5_000)).await;
    let first = client.verify_transaction("first-purchase").await.unwrap();
    let code = first
        .authorization
        .and_then(|a| a.authorization_code)
        .expect("a reusable authorization");

    let again =
        ChargeAuthorization::new("wanjiru@example.com", kes(7_500), &code).reference("second-purchase");
    let charged = client.charge_authorization(&again).await.unwrap();
    assert!(charged.is_successful());
    assert_eq!(charged.amount(), Some(kes(7_500)));
    assert_eq!(charged.reference.as_deref(), Some("second-purchase"));

    let wrong = ChargeAuthorization::new("wanjiru@example.com", kes(1), "AUTH_unknown");
    let err = client.charge_authorization(&wrong).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
}

#[tokio::test]
async fn refunds_partly_then_fully_then_refuses_more() {
    let (sim, client) = sim(SimConfig::default()).await;
    paid(&sim, &client, "to-refund", kes(10_000)).await;

    let partial = CreateRefund::partial("to-refund", kes(2_500)).customer_note("sorry");
    let refund = client.create_refund(&partial).await.unwrap();
    assert_eq!(refund.amount(), Some(kes(2_500)));
    assert_eq!(refund.transaction_reference(), Some("to-refund"));

    let rest = client
        .create_refund(&CreateRefund::full("to-refund"))
        .await
        .unwrap();
    assert_eq!(rest.amount(), Some(kes(7_500)));
    let verified = client.verify_transaction("to-refund").await.unwrap();
    assert_eq!(verified.status.as_deref(), Some("reversed"));

    let err = client
        .create_refund(&CreateRefund::partial("to-refund", kes(1)))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));

    let id = refund.id.expect("refund id");
    let fetched = client.fetch_refund(id).await.unwrap();
    assert_eq!(fetched.amount, Some(2_500));
    assert!(matches!(fetched.transaction, Some(Expandable::Id(_))));

    let listed = client.list_refunds(&ListQuery::default()).await.unwrap();
    assert_eq!(listed.items.len(), 2);
    let pages: Vec<_> = client
        .refund_pages(ListQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 1);
}

#[tokio::test]
async fn transfers_to_a_recipient_verify_list_and_bulk() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let recipient = client
        .create_transfer_recipient(
            &CreateTransferRecipient::new("mobile_money", "Wanjiru Kamau", "0712345678", "MPESA")
                .currency(Currency::Kes),
        )
        .await
        .unwrap();
    let code = recipient.recipient_code.clone().expect("RCP code");
    assert!(code.starts_with("RCP_"));

    let transfer = client
        .initiate_transfer(
            &InitiateTransfer::new(kes(50_000), &code)
                .reference("payout-1")
                .reason("Weekly payout"),
        )
        .await
        .unwrap();
    assert_eq!(transfer.status.as_deref(), Some("success"));
    assert!(matches!(transfer.recipient, Some(Expandable::Id(_))));

    let verified = client.verify_transfer("payout-1").await.unwrap();
    assert_eq!(verified.amount(), Some(kes(50_000)));
    assert!(
        matches!(&verified.recipient, Some(Expandable::Object(r)) if r.recipient_code.as_deref() == Some(code.as_str()))
    );

    let bulk = client
        .bulk_transfer(&[
            InitiateTransfer::new(kes(1_000), &code).reference("bulk-1"),
            InitiateTransfer::new(kes(2_000), &code).reference("bulk-2"),
        ])
        .await
        .unwrap();
    assert_eq!(bulk.len(), 2);
    assert!(bulk
        .iter()
        .all(|t| t.transfer_code.as_deref().is_some_and(|c| c.starts_with("TRF_"))));
    assert!(matches!(&bulk[0].recipient, Some(Expandable::Code(c)) if *c == code));

    let listed = client.list_transfers(&ListQuery::default()).await.unwrap();
    assert_eq!(listed.items.len(), 3);
    let pages: Vec<_> = client
        .transfer_pages(ListQuery {
            per_page: Some(1),
            ..ListQuery::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);

    let mixed = [
        InitiateTransfer::new(kes(1), &code),
        InitiateTransfer::new(Money::from_minor(1, Currency::Ngn), &code),
    ];
    assert!(matches!(
        client.bulk_transfer(&mixed).await,
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        client.bulk_transfer(&[]).await,
        Err(Error::InvalidRequest(_))
    ));

    let err = client
        .initiate_transfer(&InitiateTransfer::new(kes(1), "RCP_unknown"))
        .await
        .unwrap_err();
    assert_eq!(err.message(), Some("Recipient specified is invalid"));
}

#[tokio::test]
async fn transfers_wait_for_the_otp_when_required() {
    let (_sim, client) = sim(SimConfig::default().otp_required(true)).await;
    let recipient = client
        .create_transfer_recipient(&CreateTransferRecipient::new(
            "nuban",
            "Tolu",
            "0123456789",
            "058",
        ))
        .await
        .unwrap();
    let code = recipient.recipient_code.expect("code");
    let pending = client
        .initiate_transfer(&InitiateTransfer::new(kes(10_000), &code).reference("otp-1"))
        .await
        .unwrap();
    assert_eq!(pending.status.as_deref(), Some("otp"));
    let transfer_code = pending.transfer_code.expect("TRF code");

    let err = client
        .finalize_transfer(&transfer_code, "000000")
        .await
        .unwrap_err();
    assert_eq!(err.message(), Some("Invalid OTP"));

    let done = client.finalize_transfer(&transfer_code, TEST_OTP).await.unwrap();
    assert_eq!(done.status.as_deref(), Some("success"));
    let err = client
        .finalize_transfer(&transfer_code, TEST_OTP)
        .await
        .unwrap_err();
    assert_eq!(err.message(), Some("Transfer code is invalid"));
}

#[tokio::test]
async fn a_transfer_to_the_failing_account_fails() {
    let (_sim, client) = sim(SimConfig::default()).await;
    let recipient = client
        .create_transfer_recipient(&CreateTransferRecipient::new(
            "nuban",
            "Nobody",
            FAILING_ACCOUNT_NUMBER,
            "058",
        ))
        .await
        .unwrap();
    let transfer = client
        .initiate_transfer(&InitiateTransfer::new(
            kes(1_000),
            recipient.recipient_code.expect("code"),
        ))
        .await
        .unwrap();
    assert_eq!(transfer.status.as_deref(), Some("failed"));
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_no_error_shows_a_key() {
    let sim = PaystackSim::start(SimConfig::default()).await.unwrap();
    let wrong = "sk_test_wrong_key_that_must_not_leak";
    let client = Client::builder(Secret::new(wrong.to_string()))
        .base_url(sim.base_url().clone())
        .build()
        .unwrap();
    let err = client.verify_transaction("anything").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.message(), Some("Invalid key"));
    let printed = format!("{err} | {err:?} | {client:?}");
    assert!(!printed.contains(wrong), "{printed}");
    assert!(!printed.contains(TEST_SECRET_KEY), "{printed}");
    assert!(printed.contains("[REDACTED]"), "{printed}");
}

#[tokio::test]
async fn an_unreachable_host_is_a_retryable_transport_error() {
    let down = malipo_sim::Down::new().unwrap();
    let client = Client::builder(Secret::new(TEST_SECRET_KEY.to_string()))
        .base_url(format!("http://{}/", down.addr()).parse().unwrap())
        .build()
        .unwrap();
    let err = client.verify_transaction("x").await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = source {
        chain.push_str(&e.to_string());
        source = e.source();
    }
    assert!(!chain.contains(TEST_SECRET_KEY), "{chain}");
}

#[test]
fn a_base_url_that_cannot_hold_paths_is_refused() {
    let key = Secret::new(TEST_SECRET_KEY.to_string());
    for bad in ["mailto:ops@example.com", "ftp://example.com/"] {
        let built = Client::builder(key.clone())
            .base_url(bad.parse().unwrap())
            .build();
        assert!(matches!(built, Err(Error::InvalidRequest(_))), "{bad}");
    }
    let default = Client::new(key).unwrap();
    assert_eq!(default.base_url().as_str(), "https://api.paystack.co/");
}

#[tokio::test]
async fn a_redirect_is_an_error_and_its_target_never_sees_the_key() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let stolen = std::sync::Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counter = stolen.clone();
    let app = axum::Router::new()
        .route(
            "/steal",
            axum::routing::any(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { "{}" }
            }),
        )
        .fallback(move || async move {
            (
                axum::http::StatusCode::PERMANENT_REDIRECT,
                [(axum::http::header::LOCATION, format!("http://{addr}/steal"))],
            )
        });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = Client::builder(Secret::new(TEST_SECRET_KEY.to_string()))
        .base_url(format!("http://{addr}").parse().unwrap())
        .build()
        .unwrap();
    let init = InitializeTransaction::new("wanjiru@example.com", kes(100));
    let err = client.initialize_transaction(&init).await.unwrap_err();
    assert_eq!(err.status(), Some(308), "{err}");
    assert_eq!(stolen.load(Ordering::SeqCst), 0, "the redirect target was called");
}

// The API groups beyond transactions, refunds and transfers, one module each (tests/it/client/).
mod charge;
mod commerce;
mod coverage;
mod customers;
mod dedicated;
mod devices;
mod disputes;
mod raw;
mod recipients;
mod splits;
mod subscriptions;
mod verification;

#[tokio::test]
async fn every_record_kind_lists_from_its_own_endpoint_and_errors_name_it() {
    let (sim, client) = sim(SimConfig::default()).await;
    let query = ListQuery {
        per_page: Some(5),
        ..ListQuery::default()
    };
    for kind in RecordKind::ALL {
        let page = client.resource_page(kind, &query).await;
        assert!(page.is_ok(), "{kind}: {:?}", page.err());
        assert_eq!(kind.to_string(), kind.as_str());
    }
    let wrong = Client::builder(Secret::new("sk_test_wrong_key_obviously_fake".to_string()))
        .base_url(sim.base_url().clone())
        .build()
        .unwrap();
    for (kind, endpoint) in [
        (RecordKind::Customer, "GET /customer"),
        (RecordKind::Plan, "GET /plan"),
        (RecordKind::Subscription, "GET /subscription"),
        (RecordKind::Transfer, "GET /transfer"),
        (RecordKind::DedicatedAccount, "GET /dedicated_account"),
    ] {
        let err = wrong.resource_page(kind, &query).await.unwrap_err();
        assert_eq!(err.status(), Some(401), "{kind}: {err}");
        assert!(
            err.to_string()
                .starts_with(&format!("Paystack refused {endpoint} with HTTP 401")),
            "{kind}: {err}"
        );
    }
}
