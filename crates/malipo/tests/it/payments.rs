//! `malipo_gateway::payments` over real HTTP: the real gateway on 127.0.0.1:0 with the Daraja
//! and Paystack simulators standing in for the providers (their callbacks and webhooks reach the
//! gateway through its guard, store and worker).

use std::time::Duration;

use malipo_config::Config;
use malipo_core::{Currency, Money, Msisdn, PaymentId, PaymentState, Secret};
use malipo_gateway::payments::{
    start_paystack_checkout, start_stk_push, CheckoutStart, PaymentStartError, StkPushStart,
};
use malipo_gateway::{AppState, Gateway};
use malipo_mpesa::{MpesaClient, MpesaSettings};
use malipo_sim::mpesa::{Endpoint, Fault, MpesaSim, MpesaSimHandle, SANDBOX_PASSKEY};
use malipo_sim::paystack::{PaystackSim, PaystackSimHandle, TEST_SECRET_KEY};
use malipo_store::{PaymentFilter, PaymentRecord};
use url::Url;

const CONSUMER_SECRET: &str = "sim-consumer-secret";

struct World {
    state: AppState,
    public: Url,
    daraja: MpesaSimHandle,
    paystack: PaystackSimHandle,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl World {
    /// The simulators and a gateway configured for both (or for Paystack only).
    async fn start(with_mpesa: bool) -> World {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let daraja = MpesaSim::start(
            malipo_sim::mpesa::SimConfig::default()
                .callback_delay(Duration::from_millis(20))
                .with_demo_outcomes(),
        )
        .await
        .unwrap();
        let paystack = PaystackSim::start(
            malipo_sim::paystack::SimConfig::default()
                .webhook_url(public.join("/webhooks/paystack").unwrap())
                .retry_interval(Duration::from_millis(50)),
        )
        .await
        .unwrap();
        let mpesa = if with_mpesa {
            format!(
                "[mpesa]\nbase_url = \"{}\"\nshortcode = \"174379\"\nconsumer_key = \"sim-consumer-key\"\nconsumer_secret = \"{CONSUMER_SECRET}\"\npasskey = \"{SANDBOX_PASSKEY}\"\ncallback_ips = [\"127.0.0.0/8\"]\n",
                daraja.base_url()
            )
        } else {
            String::new()
        };
        let text = format!(
            "[server]\npublic_base_url = \"{public}\"\n[database]\nurl = \"sqlite://{db}\"\n[paystack]\nsecret_key = \"{TEST_SECRET_KEY}\"\nbase_url = \"{ps}\"\nwebhook_ips = [\"127.0.0.0/8\"]\n{mpesa}",
            db = dir.path().join("pay.db").display(),
            ps = paystack.base_url(),
        );
        let gateway = Gateway::from_config(&Config::from_toml(&text).unwrap())
            .await
            .unwrap();
        let state = gateway.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(gateway.serve(listener, async {
            let _ = stopped.await;
        }));
        World {
            state,
            public,
            daraja,
            paystack,
            _dir: dir,
            stop: Some(stop),
        }
    }

    fn mpesa_client(&self, timeout: Duration) -> MpesaClient {
        let mut settings = MpesaSettings::new(
            self.daraja.base_url(),
            Secret::new("sim-consumer-key".to_string()),
            Secret::new(CONSUMER_SECRET.to_string()),
            Secret::new(SANDBOX_PASSKEY.to_string()),
            "174379",
        );
        settings.timeout = timeout;
        MpesaClient::new(settings).unwrap()
    }

    fn paystack_client(&self, key: &str) -> malipo_paystack::Client {
        malipo_paystack::Client::builder(Secret::new(key.to_string()))
            .base_url(self.paystack.base_url().clone())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    }

    async fn payment(&self, id: PaymentId) -> PaymentRecord {
        self.state.store.get_payment(id).await.unwrap().unwrap()
    }

    async fn payments(&self) -> Vec<PaymentRecord> {
        self.state
            .store
            .list_payments(&PaymentFilter::default())
            .await
            .unwrap()
    }

    /// Waits for the worker to move the payment to `state`.
    async fn settled(&self, id: PaymentId, state: PaymentState) -> PaymentRecord {
        for _ in 0..250 {
            let p = self.payment(id).await;
            if p.state == state {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("payment {id} never became {state}: {:?}", self.payment(id).await);
    }
}

fn kes(shillings: u64) -> Money {
    Money::from_major(shillings, Currency::Kes).unwrap()
}

fn push(shillings: u64) -> StkPushStart {
    let phone: Msisdn = "0708374149".parse().unwrap();
    StkPushStart {
        merchant_reference: Some("order-7".into()),
        metadata: Some(serde_json::json!({ "cart": 7 })),
        ..StkPushStart::new(phone, kes(shillings), "INV-7", "Order 7")
    }
}

#[tokio::test]
async fn an_stk_push_is_recorded_sent_with_its_token_url_and_settled_by_its_callback() {
    let world = World::start(true).await;
    let client = world.mpesa_client(Duration::from_secs(5));
    let payment = start_stk_push(&world.state, &client, &world.public, push(100))
        .await
        .unwrap();

    assert_eq!(payment.state, PaymentState::Pending);
    assert_eq!(payment.kind, "stk_push");
    assert_eq!(payment.amount, kes(100));
    assert_eq!(payment.merchant_reference.as_deref(), Some("order-7"));
    assert_eq!(payment.metadata, Some(serde_json::json!({ "cart": 7 })));
    let checkout = payment
        .provider_reference
        .clone()
        .expect("the CheckoutRequestID is recorded");
    assert!(checkout.starts_with("ws_CO_"), "{checkout}");
    assert_eq!(
        world.payment(payment.id).await.provider_reference.as_deref(),
        Some(checkout.as_str())
    );

    let done = world.settled(payment.id, PaymentState::Succeeded).await;
    assert!(done.receipt.is_some(), "{done:?}");

    // Daraja was given this payment's own callback URL, under the public base URL.
    let sent = world.daraja.sent_callbacks();
    assert_eq!(sent.len(), 1);
    let token = sent[0]
        .url
        .strip_prefix(&format!(
            "{}/callbacks/mpesa/stk/",
            world.public.as_str().trim_end_matches('/')
        ))
        .expect("the callback URL is under public_base_url");
    let tokens = world.state.callback_tokens.as_ref().unwrap();
    assert_eq!(
        tokens.verify_for(malipo_guard::CallbackRoute::Stk, token),
        Some(payment.id)
    );
    assert_eq!(sent[0].status, Some(200));
}

#[tokio::test]
async fn each_stk_ending_reaches_its_payment() {
    let world = World::start(true).await;
    let client = world.mpesa_client(Duration::from_secs(5));
    let cancelled = start_stk_push(&world.state, &client, &world.public, push(1032))
        .await
        .unwrap();
    let broke = start_stk_push(&world.state, &client, &world.public, push(1111))
        .await
        .unwrap();
    let p = world.settled(cancelled.id, PaymentState::Cancelled).await;
    assert_eq!(p.result_code.as_deref(), Some("1032"));
    let p = world.settled(broke.id, PaymentState::Failed).await;
    assert_eq!(p.result_code.as_deref(), Some("1"));
}

#[tokio::test]
async fn a_push_daraja_refuses_is_failed_with_darajas_code() {
    let world = World::start(true).await;
    let client = world.mpesa_client(Duration::from_secs(5));
    world.daraja.inject_fault(
        Endpoint::StkPush,
        Fault::bad_request("Bad Request - Invalid PhoneNumber"),
    );
    let err = start_stk_push(&world.state, &client, &world.public, push(100))
        .await
        .unwrap_err();

    assert!(matches!(err, PaymentStartError::MpesaRefused { .. }), "{err:?}");
    assert!(!err.may_have_been_sent());
    assert!(err.is_client_error());
    let payment = err.payment().expect("the payment is reported").clone();
    assert_eq!(payment.state, PaymentState::Failed);
    let stored = world.payment(payment.id).await;
    assert_eq!(stored.state, PaymentState::Failed);
    assert_eq!(stored.result_code.as_deref(), Some("400.002.02"));
    assert_eq!(
        stored.result_desc.as_deref(),
        Some("Bad Request - Invalid PhoneNumber")
    );
    assert!(stored.provider_reference.is_none());
    // The cause is kept, and no secret is in any rendering of the error.
    assert!(std::error::Error::source(&err).is_some());
    for shown in [err.to_string(), format!("{err:?}")] {
        for secret in [CONSUMER_SECRET, SANDBOX_PASSKEY] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}

/// Regression: a push whose access token could not be fetched was reported as "may or may not
/// have reached Daraja" and left pending for an hour, though it was never sent.
#[tokio::test]
async fn a_push_that_could_not_get_a_token_was_not_sent_and_is_failed() {
    let world = World::start(true).await;
    let down = malipo_sim::Down::new().unwrap();
    let mut settings = MpesaSettings::new(
        format!("http://{}/", down.addr()).parse().unwrap(),
        Secret::new("sim-consumer-key".to_string()),
        Secret::new(CONSUMER_SECRET.to_string()),
        Secret::new(SANDBOX_PASSKEY.to_string()),
        "174379",
    );
    settings.retry = malipo_mpesa::RetryPolicy::NONE;
    let client = MpesaClient::new(settings).unwrap();
    let err = start_stk_push(&world.state, &client, &world.public, push(100))
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentStartError::MpesaRefused { .. }), "{err:?}");
    assert!(!err.may_have_been_sent());
    assert!(!err.to_string().contains("may or may not"), "{err}");
    let stored = world.payment(err.payment().unwrap().id).await;
    assert_eq!(stored.state, PaymentState::Failed);
    assert_eq!(stored.result_code.as_deref(), Some("not_sent"));
    assert!(
        stored.result_desc.as_deref().unwrap_or("").contains("token"),
        "{stored:?}"
    );
}

#[tokio::test]
async fn a_push_without_an_answer_stays_pending_and_a_late_callback_still_settles_it() {
    let world = World::start(true).await;
    let client = world.mpesa_client(Duration::from_millis(300));
    // Daraja answers after the client gave up: the push may have reached the customer.
    world
        .daraja
        .inject_fault(Endpoint::StkPush, Fault::Delay(Duration::from_millis(900)));
    let err = start_stk_push(&world.state, &client, &world.public, push(100))
        .await
        .unwrap_err();

    assert!(
        matches!(err, PaymentStartError::MpesaOutcomeUnknown { .. }),
        "{err:?}"
    );
    assert!(err.may_have_been_sent());
    assert!(!err.is_client_error());
    assert!(err.to_string().contains("do not resend"), "{err}");
    let id = err.payment().unwrap().id;
    let pending = world.payment(id).await;
    assert_eq!(pending.state, PaymentState::Pending);
    assert!(pending.provider_reference.is_none());

    // Had the push gone out, its result would come to the payment's token URL; the token names
    // the payment, so the result settles it although no CheckoutRequestID was recorded.
    let token = world
        .state
        .callback_tokens
        .as_ref()
        .unwrap()
        .issue_for(malipo_guard::CallbackRoute::Stk, id);
    let body = serde_json::json!({ "Body": { "stkCallback": {
        "MerchantRequestID": "29115-34620561-1",
        "CheckoutRequestID": "ws_CO_191220191020363925",
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": { "Item": [
            { "Name": "Amount", "Value": 100.00 },
            { "Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV" },
            { "Name": "PhoneNumber", "Value": 254708374149u64 },
        ]},
    }}});
    let answer = reqwest::Client::new()
        .post(
            world
                .public
                .join(&format!("/callbacks/mpesa/stk/{token}"))
                .unwrap(),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let done = world.settled(id, PaymentState::Succeeded).await;
    assert_eq!(done.receipt.as_deref(), Some("NLJ7RT61SV"));
}

#[tokio::test]
async fn an_invalid_push_stores_and_sends_nothing() {
    let world = World::start(true).await;
    let client = world.mpesa_client(Duration::from_secs(5));
    let mut bad = push(100);
    bad.description = "a description far longer than thirteen".into();
    let err = start_stk_push(&world.state, &client, &world.public, bad)
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentStartError::InvalidPush(_)), "{err:?}");
    assert!(err.is_client_error());
    let cents = StkPushStart {
        amount: Money::from_minor(10_050, Currency::Kes),
        ..push(100)
    };
    let err = start_stk_push(&world.state, &client, &world.public, cents)
        .await
        .unwrap_err();
    assert!(format!("{err:#?}").contains("cents"), "{err:?}");
    assert!(world.payments().await.is_empty());
    assert_eq!(world.daraja.requests(Endpoint::StkPush), 0);
}

#[tokio::test]
async fn a_gateway_without_mpesa_refuses_stk_pushes() {
    let world = World::start(false).await;
    let client = world.mpesa_client(Duration::from_secs(5));
    let err = start_stk_push(&world.state, &client, &world.public, push(100))
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentStartError::NotConfigured { .. }), "{err:?}");
    assert!(world.payments().await.is_empty());
}

#[tokio::test]
async fn a_checkout_is_recorded_under_its_reference_and_settled_by_the_webhook() {
    let world = World::start(true).await;
    let client = world.paystack_client(TEST_SECRET_KEY);
    let start = CheckoutStart {
        metadata: Some(serde_json::json!({ "order": "A-1" })),
        callback_url: Some("https://shop.example.com/thanks".parse().unwrap()),
        ..CheckoutStart::new(
            "wanjiru@example.com",
            Money::parse("1500.50", Currency::Kes).unwrap(),
        )
    };
    let started = start_paystack_checkout(&world.state, &client, start)
        .await
        .unwrap();

    let payment = &started.payment;
    assert_eq!(payment.state, PaymentState::Pending);
    assert_eq!(payment.kind, "charge");
    assert_eq!(payment.email.as_deref(), Some("wanjiru@example.com"));
    let reference = payment.provider_reference.clone().unwrap();
    // Derived from the payment id, in the characters Paystack accepts.
    assert_eq!(reference, payment.id.to_string().replace('_', "-"));
    assert!(started
        .authorization_url
        .starts_with(world.paystack.base_url().as_str()));
    assert!(!started.access_code.is_empty());

    world.paystack.authorize(&reference).unwrap();
    let done = world.settled(payment.id, PaymentState::Succeeded).await;
    assert!(done.receipt.is_some());
}

#[tokio::test]
async fn a_reference_used_twice_is_refused_before_sending() {
    let world = World::start(true).await;
    let client = world.paystack_client(TEST_SECRET_KEY);
    let start = CheckoutStart {
        reference: Some("order-42".into()),
        ..CheckoutStart::new("wanjiru@example.com", Money::from_minor(10_000, Currency::Kes))
    };
    start_paystack_checkout(&world.state, &client, start.clone())
        .await
        .unwrap();
    let err = start_paystack_checkout(&world.state, &client, start)
        .await
        .unwrap_err();
    assert!(matches!(err, PaymentStartError::Record(_)), "{err:?}");
    assert!(err.is_client_error());
    assert!(!err.may_have_been_sent());
    assert_eq!(world.payments().await.len(), 1);
}

#[tokio::test]
async fn bad_checkout_fields_store_nothing() {
    let world = World::start(true).await;
    let client = world.paystack_client(TEST_SECRET_KEY);
    let amount = Money::from_minor(10_000, Currency::Kes);
    for start in [
        CheckoutStart::new("not-an-email", amount),
        CheckoutStart::new("a@example.com", Money::from_minor(0, Currency::Kes)),
        CheckoutStart {
            reference: Some("order_42".into()),
            ..CheckoutStart::new("a@example.com", amount)
        },
    ] {
        let err = start_paystack_checkout(&world.state, &client, start)
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentStartError::Invalid { .. }), "{err:?}");
    }
    assert!(world.payments().await.is_empty());
}

#[tokio::test]
async fn a_checkout_paystack_refuses_is_failed() {
    let world = World::start(true).await;
    let client = world.paystack_client("sk_test_wrong_key_obviously_fake");
    let start = CheckoutStart::new("wanjiru@example.com", Money::from_minor(10_000, Currency::Kes));
    let err = start_paystack_checkout(&world.state, &client, start)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PaymentStartError::PaystackRefused { .. }),
        "{err:?}"
    );
    let stored = world.payment(err.payment().unwrap().id).await;
    assert_eq!(stored.state, PaymentState::Failed);
    assert_eq!(stored.result_code.as_deref(), Some("HTTP 401"));
    assert!(!format!("{err:?}").contains("sk_test_wrong_key"), "{err:?}");
}

/// A refused connection sent nothing: the checkout is failed, not left pending as "may or may
/// not exist at Paystack" (the reconciler would only have found nothing, an hour later).
#[tokio::test]
async fn an_unreachable_paystack_fails_the_checkout_it_never_sent() {
    let world = World::start(true).await;
    let down = malipo_sim::Down::new().unwrap();
    let client = malipo_paystack::Client::builder(Secret::new(TEST_SECRET_KEY.to_string()))
        .base_url(Url::parse(&format!("http://{}/", down.addr())).unwrap())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let start = CheckoutStart::new("wanjiru@example.com", Money::from_minor(10_000, Currency::Kes));
    let err = start_paystack_checkout(&world.state, &client, start)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PaymentStartError::PaystackRefused { .. }),
        "{err:?}"
    );
    assert!(!err.may_have_been_sent());
    let stored = world.payment(err.payment().unwrap().id).await;
    assert_eq!(stored.state, PaymentState::Failed);
    assert_eq!(stored.result_code.as_deref(), Some("not_sent"), "{stored:?}");
}
