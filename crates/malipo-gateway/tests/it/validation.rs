//! C2B validation decided by the merchant's app, over real HTTP: Daraja's validation request
//! (from the fixtures, or from the Daraja simulator) reaches the gateway, which asks an
//! in-process merchant app that verifies the signature and decides by the account reference.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use malipo_core::{EventStatus, PaymentState, Provider};
use malipo_mpesa::{C2bCommand, C2bResponseType, C2bSimulateRequest, C2bVersion, RegisterUrlsRequest};
use malipo_webhooks::{Verifier, WebhookSecret};

use crate::common::{client_from, kes, SimWorld, TestGateway};

/// An obviously fake signing secret (32 bytes of 0x07).
fn secret() -> WebhookSecret {
    WebhookSecret::from_bytes(&[7u8; 32]).unwrap()
}

/// What the app received: each question's verified body.
#[derive(Default)]
struct AppState {
    questions: Mutex<Vec<serde_json::Value>>,
    unverified: Mutex<usize>,
}

/// The merchant's app on loopback. It decides by `data.account_reference`:
/// `closed…` is refused as an unknown account, `slow…` answers after 10 s, `broken…` answers
/// 500, `chatty…` answers a 200 that is not a decision; anything else is accepted.
struct MerchantApp {
    addr: SocketAddr,
    state: Arc<AppState>,
    task: tokio::task::JoinHandle<()>,
}

async fn decide(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    if Verifier::new(secret()).verify(&headers, &body).is_err() {
        *state.unverified.lock().unwrap() += 1;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let question: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let reference = question["data"]["account_reference"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    state.questions.lock().unwrap().push(question);
    if reference.starts_with("slow") {
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    if reference.starts_with("broken") {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if reference.starts_with("chatty") {
        return "thanks!".into_response();
    }
    let answer = if reference.starts_with("closed") {
        serde_json::json!({"accept": false, "reason": "invalid_account"})
    } else {
        serde_json::json!({"accept": true})
    };
    axum::Json(answer).into_response()
}

impl MerchantApp {
    async fn start() -> MerchantApp {
        let state = Arc::new(AppState::default());
        let app = axum::Router::new()
            .route("/validate", post(decide))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MerchantApp { addr, state, task }
    }

    fn url(&self) -> String {
        format!("http://{}/validate", self.addr)
    }

    fn questions(&self) -> Vec<serde_json::Value> {
        self.state.questions.lock().unwrap().clone()
    }
}

impl Drop for MerchantApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `[mpesa]` lines: till 600638 (the fixture's), and validation by `app` with `extra`.
fn validation_config(app: &MerchantApp, extra: &str) -> String {
    format!(
        "till_number = \"600638\"\n[mpesa.c2b_validation]\nurl = \"{}\"\nsigning_secret = \"{}\"\nallow_private_target = true\ntimeout = \"500ms\"\n{extra}\n",
        app.url(),
        secret().expose_whsec()
    )
}

/// The fixture's validation request with `reference` as its BillRefNumber.
fn validation_body(reference: &str, shortcode: &str) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/c2b-confirmation.json")).unwrap();
    v["BillRefNumber"] = reference.into();
    v["BusinessShortCode"] = shortcode.into();
    v["TransID"] = format!("RKT{:07}", rand_suffix()).into();
    v.to_string()
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// POSTs a validation request from Safaricom's (test) address; Daraja's answer.
async fn ask(gw: &TestGateway, body: String) -> serde_json::Value {
    let res = client_from("127.0.0.2")
        .post(gw.url("/callbacks/daraja/c2b/validation"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// POSTs a validation request from Safaricom's (test) address; the answer and the stored event.
async fn validate(gw: &TestGateway, body: String) -> (serde_json::Value, malipo_store::EventSummary) {
    let answer = ask(gw, body).await;
    let event = gw
        .events()
        .await
        .into_iter()
        .find(|e| e.kind == "c2b_validation")
        .expect("the validation request is stored");
    (answer, event)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merchants_app_accepts_and_rejects_with_a_signed_question() {
    let app = MerchantApp::start().await;
    let gw = TestGateway::start(&validation_config(&app, "")).await;

    let (answer, event) = validate(&gw, validation_body("INV-7", "600638")).await;
    assert_eq!(
        answer,
        serde_json::json!({"ResultCode": "0", "ResultDesc": "Accepted"})
    );
    assert_eq!(event.status, EventStatus::Processed);
    let note = event.last_error.clone().unwrap();
    assert!(
        note.starts_with("validation accepted by the merchant's app in"),
        "{note}"
    );

    let questions = app.questions();
    assert_eq!(questions.len(), 1);
    let q = &questions[0];
    assert_eq!(q["type"], "payment.validation");
    assert_eq!(q["data"]["provider"], "mpesa");
    assert_eq!(q["data"]["account"], "600638");
    assert_eq!(q["data"]["account_reference"], "INV-7");
    assert_eq!(q["data"]["amount"]["minor"], 1000);
    assert_eq!(q["data"]["amount"]["currency"], "KES");
    assert_eq!(q["data"]["payer_name"], "John");
    // The fixture's MSISDN is masked: passed on as Daraja sent it.
    assert_eq!(q["data"]["phone"], "2547 ***** 126");
    assert_eq!(*app.state.unverified.lock().unwrap(), 0);

    let gw2 = gw; // one gateway, a second request
    let res = client_from("127.0.0.2")
        .post(gw2.url("/callbacks/mpesa/c2b/validation"))
        .body(validation_body("closed-2019", "600638"))
        .send()
        .await
        .unwrap();
    let answer: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"ResultCode": "C2B00012", "ResultDesc": "Rejected"})
    );
    let rejected = gw2
        .events()
        .await
        .into_iter()
        .find(|e| e.last_error.as_deref().is_some_and(|n| n.contains("rejected")))
        .expect("the rejection is recorded");
    assert_eq!(
        rejected
            .last_error
            .as_deref()
            .unwrap()
            .split(" in ")
            .next()
            .unwrap(),
        "validation rejected (invalid_account, C2B00012) by the merchant's app"
    );

    let metrics = reqwest::get(gw2.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("malipo_validations_total{decision=\"accept\",by=\"app\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("malipo_validations_total{decision=\"reject\",by=\"app\"} 1"),
        "{metrics}"
    );
    gw2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_usable_answer_is_the_fallback_and_says_why() {
    let app = MerchantApp::start().await;
    let gw = TestGateway::start(&validation_config(&app, "fallback = \"reject\"")).await;

    // Slow: the app's late answer is not waited for.
    let started = Instant::now();
    let (answer, event) = validate(&gw, validation_body("slow-1", "600638")).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "Daraja's answer waited for the slow app: {:?}",
        started.elapsed()
    );
    assert_eq!(answer["ResultCode"], "C2B00016");
    assert_eq!(
        event.last_error.as_deref(),
        Some("validation rejected (other, C2B00016) by the configured fallback: the app did not answer within 500 ms")
    );

    for (reference, why) in [
        ("broken-1", "the app answered 500 Internal Server Error"),
        (
            "chatty-1",
            "the app's answer is not {\"accept\": true|false, \"reason\": \"…\"}",
        ),
    ] {
        let res = client_from("127.0.0.2")
            .post(gw.url("/callbacks/daraja/c2b/validation"))
            .body(validation_body(reference, "600638"))
            .send()
            .await
            .unwrap();
        let answer: serde_json::Value = res.json().await.unwrap();
        assert_eq!(answer["ResultCode"], "C2B00016", "{reference}");
        let expected = format!("validation rejected (other, C2B00016) by the configured fallback: {why}");
        assert!(
            gw.events()
                .await
                .iter()
                .any(|e| e.last_error.as_deref() == Some(expected.as_str())),
            "{expected}"
        );
    }
    let metrics = reqwest::get(gw.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("malipo_validations_total{decision=\"reject\",by=\"fallback\"} 3"),
        "{metrics}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_is_down_gets_the_default_fallback_accept() {
    let app = MerchantApp::start().await;
    let url = app.url();
    let config = validation_config(&app, "");
    drop(app); // nothing listens there any more
    tokio::time::sleep(Duration::from_millis(50)).await;
    let gw = TestGateway::start(&config).await;
    let (answer, event) = validate(&gw, validation_body("INV-8", "600638")).await;
    assert_eq!(answer["ResultCode"], "0");
    let note = event.last_error.unwrap();
    assert!(
        note.starts_with("validation accepted by the configured fallback: the request failed"),
        "{note} ({url})"
    );
    gw.stop().await;
}

/// Regression: a validation request nobody could read was answered Accepted (the callbacks'
/// acknowledgement, with an integer code), without the app being asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_validation_request_is_refused_and_kept() {
    let app = MerchantApp::start().await;
    let gw = TestGateway::start(&validation_config(&app, "")).await;
    for body in ["{\"x\":1}", "]"] {
        let answer = ask(&gw, body.to_string()).await;
        assert_eq!(
            answer,
            serde_json::json!({"ResultCode": "C2B00016", "ResultDesc": "Rejected"}),
            "{body}"
        );
    }
    assert!(app.questions().is_empty(), "nothing to ask the app about");
    let kept = gw.events().await;
    assert_eq!(kept.len(), 2);
    assert!(kept
        .iter()
        .all(|e| e.kind == "c2b_validation_unparseable" && e.status == EventStatus::Failed));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_shortcode_is_refused_without_asking_the_app() {
    let app = MerchantApp::start().await;
    let gw = TestGateway::start(&validation_config(&app, "")).await;
    let (answer, event) = validate(&gw, validation_body("INV-9", "999999")).await;
    assert_eq!(answer["ResultCode"], "C2B00015");
    assert!(
        app.questions().is_empty(),
        "the app is never asked about another till"
    );
    let event = gw.wait_for_status(event.id, EventStatus::Suspicious).await;
    assert!(event.last_error.unwrap().contains("999999"));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_daraja_simulator_a_rejected_payment_never_happens() {
    let app = MerchantApp::start().await;
    let extra = format!(
        "[mpesa.c2b_validation]\nurl = \"{}\"\nsigning_secret = \"{}\"\nallow_private_target = true\n",
        app.url(),
        secret().expose_whsec()
    );
    let world = SimWorld::start_with(
        malipo_sim::mpesa::SimConfig::default(),
        false,
        "enabled = false",
        &extra,
    )
    .await;
    let mpesa = world.mpesa();
    mpesa
        .register_c2b_urls(&RegisterUrlsRequest {
            shortcode: None,
            response_type: C2bResponseType::Completed,
            confirmation_url: world.public.join("/callbacks/daraja/c2b/confirmation").unwrap(),
            validation_url: world.public.join("/callbacks/daraja/c2b/validation").unwrap(),
            version: C2bVersion::V1,
        })
        .await
        .unwrap();
    let pay = |reference: &str| C2bSimulateRequest {
        shortcode: None,
        command: C2bCommand::CustomerPayBillOnline,
        amount: kes(250),
        phone: "0708374149".parse().unwrap(),
        bill_ref_number: Some(reference.into()),
    };
    mpesa.simulate_c2b(&pay("closed-77")).await.unwrap();
    mpesa.simulate_c2b(&pay("INV-77")).await.unwrap();

    // The accepted one is confirmed and recorded; the refused one never is.
    let mut recorded = None;
    for _ in 0..500 {
        let payments = world
            .state
            .store
            .list_payments(&malipo_store::PaymentFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        if let Some(p) = payments.into_iter().find(|p| p.kind == "c2b") {
            recorded = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recorded = recorded.expect("the accepted C2B payment is recorded");
    assert_eq!(recorded.merchant_reference.as_deref(), Some("INV-77"));
    assert_eq!(recorded.state, PaymentState::Succeeded);
    assert_eq!(recorded.provider, Provider::Mpesa);
    // Give a confirmation of the refused one time to (wrongly) arrive, then check it did not.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let payments = world
        .state
        .store
        .list_payments(&malipo_store::PaymentFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(payments.iter().filter(|p| p.kind == "c2b").count(), 1);
    let asked: Vec<_> = app
        .questions()
        .iter()
        .map(|q| q["data"]["account_reference"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked.contains(&"closed-77".to_string()) && asked.contains(&"INV-77".to_string()));
    world.stop().await;
}
